package main_test

import (
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/uptrace/bun"
	"github.com/valyala/fasthttp"

	"manouche/apps"
	"manouche/core"
	"manouche/core/models"
	"manouche/core/openapi"
	"manouche/core/rest"
	"manouche/core/testkit"
)

// benchPost is a generated resource's model, as `startapp blog --model Post
// --fields title:string body:text published:bool published_at:datetime
// cover:image` writes it.
type benchPost struct {
	bun.BaseModel `bun:"table:blog_posts,alias:bp"`

	ID          uuid.UUID    `bun:"id,pk,type:uuid"`
	CreatedAt   time.Time    `bun:"created_at,notnull,default:current_timestamp"`
	UpdatedAt   time.Time    `bun:"updated_at,notnull,default:current_timestamp"`
	Title       string       `bun:"title,type:varchar(200),notnull"`
	Body        string       `bun:"body,type:text,notnull"`
	Published   bool         `bun:"published,notnull,default:false"`
	PublishedAt *time.Time   `bun:"published_at"`
	Cover       models.Image `bun:"cover,type:varchar(255),notnull,default:''"`
}

// blogApp serves benchPost as a generated app does (the document needs its
// routes, not its table).
type blogApp struct{}

func (blogApp) Name() string   { return "blog" }
func (blogApp) Prefix() string { return "/api/blog" }
func (blogApp) Routes(r fiber.Router, p *core.Project) {
	rest.Mount(r, p, []rest.Resource{&rest.ModelViewSet[benchPost]{Path: "/posts"}})
}

// benchBuild measures building and encoding the document of a project's
// routes, as the server does once at start-up, and reports its size.
func benchBuild(b *testing.B, installed []core.App) {
	a := testkit.New(b, testkit.Apps(installed))
	doc, err := a.Server.OpenAPIJSON()
	if err != nil {
		b.Fatal(err)
	}
	d, _, _ := a.Server.OpenAPI()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := a.Server.OpenAPIJSON(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(len(doc)), "bytes")
	b.ReportMetric(float64(len(d.Paths)), "paths")
}

// BenchmarkOpenAPIBuild is the document of the shipped apps.
func BenchmarkOpenAPIBuild(b *testing.B) { benchBuild(b, apps.Installed) }

// BenchmarkOpenAPIBuildResource is the shipped apps and one generated resource.
func BenchmarkOpenAPIBuildResource(b *testing.B) {
	benchBuild(b, append(append([]core.App{}, apps.Installed...), blogApp{}))
}

// BenchmarkOpenAPIServe is GET /api/openapi.json: the encoded bytes.
func BenchmarkOpenAPIServe(b *testing.B) {
	a := testkit.New(b, testkit.Apps(apps.Installed))
	testkit.ServeInMemory(b, a.Handler.Handler(), func(req *fasthttp.Request) {
		req.SetRequestURI(openapi.DocumentPath)
		req.Header.SetHost("127.0.0.1")
	})
}

// BenchmarkAPIDocs is an /api route (a page of the generated resource,
// answered from the model cache) and /health with the document and docs
// page on and off: their routes cost the other routes nothing. The /api
// request carries a token (an authenticated request is not counted by the
// anonymous throttle).
func BenchmarkAPIDocs(b *testing.B) {
	for _, on := range []bool{true, false} {
		name := "on"
		if !on {
			name = "off"
		}
		for _, path := range []string{"/health", "/api/blog/posts?per_page=1"} {
			b.Run(name+path, func(b *testing.B) {
				installed := append(append([]core.App{}, apps.Installed...), blogApp{})
				a := testkit.New(b, testkit.Apps(installed), testkit.Settings{"API_DOCS": on})
				if _, err := a.DB.NewCreateTable().Model((*benchPost)(nil)).Exec(b.Context()); err != nil {
					b.Fatal(err)
				}
				tok := ""
				if path != "/health" {
					tok = token(b, a)
				}
				testkit.ServeInMemory(b, a.Handler.Handler(), func(req *fasthttp.Request) {
					req.SetRequestURI(path)
					req.Header.SetHost("127.0.0.1")
					if tok != "" {
						req.Header.Set("Authorization", "Bearer "+tok)
					}
				})
			})
		}
	}
}

// token registers a user and returns its bearer token.
func token(b *testing.B, a *testkit.App) string {
	var out struct {
		AuthToken string `json:"auth_token"`
	}
	a.Client.Post("/api/auth/register", map[string]string{"email": "bench@example.com", "password": "a-long-pass-phrase-9"}).AssertStatus(201).JSON(&out)
	return out.AuthToken
}
