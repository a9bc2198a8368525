package rest_test

import (
	"context"
	"io/fs"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"manouche/core"
	"manouche/core/api"
	"manouche/core/rest"
	"manouche/core/testkit"
)

// thing is the test model: a bounded string, a write-only candidate, a
// number and a nullable text.
type thing struct {
	bun.BaseModel `bun:"table:rest_things,alias:t"`

	ID        uuid.UUID `bun:"id,pk,type:uuid"`
	CreatedAt time.Time `bun:"created_at,notnull,default:current_timestamp"`
	UpdatedAt time.Time `bun:"updated_at,notnull,default:current_timestamp"`
	Name      string    `bun:"name,type:varchar(10),notnull,default:''"`
	Secret    string    `bun:"secret,type:varchar(50),notnull,default:''"`
	Score     int64     `bun:"score,notnull,default:0"`
	Note      *string   `bun:"note,type:text"`
}

// things is served as derived; limited declares differences.
var (
	things  = &rest.ModelViewSet[thing]{Path: "/things", Public: true}
	limited = &rest.ModelViewSet[thing]{Path: "/limited", Public: true, Ordering: "name", Search: []string{"name"},
		Serializer: rest.Serializer[thing]{ReadOnly: []string{"score"}, WriteOnly: []string{"secret"},
			Validate: func(_ context.Context, obj *thing, changed []string) []api.FieldError {
				if obj.Name == "bad" {
					return []api.FieldError{api.FieldErr("name", "Not that name.")}
				}
				return nil
			}}}
)

type restApp struct{}

func (restApp) Name() string   { return "resttest" }
func (restApp) Prefix() string { return "/api/resttest" }
func (restApp) Routes(r fiber.Router, p *core.Project) {
	rest.Mount(r, p, []rest.Resource{things, limited})
}

const createThings = `CREATE TABLE rest_things (id {ID} PRIMARY KEY, created_at {TS} NOT NULL DEFAULT CURRENT_TIMESTAMP,
updated_at {TS} NOT NULL DEFAULT CURRENT_TIMESTAMP, name VARCHAR(10) NOT NULL DEFAULT '',
secret VARCHAR(50) NOT NULL DEFAULT '', score BIGINT NOT NULL DEFAULT 0, note TEXT)`

func (restApp) Migrations() fs.FS {
	return fstest.MapFS{
		"20260101000001_things.up.postgres.sql":   {Data: []byte(strings.NewReplacer("{ID}", "UUID", "{TS}", "TIMESTAMPTZ").Replace(createThings))},
		"20260101000001_things.down.postgres.sql": {Data: []byte("DROP TABLE rest_things")},
		"20260101000001_things.up.sqlite.sql":     {Data: []byte(strings.NewReplacer("{ID}", "TEXT", "{TS}", "TIMESTAMP").Replace(createThings))},
		"20260101000001_things.down.sqlite.sql":   {Data: []byte("DROP TABLE rest_things")},
	}
}

func TestMain(m *testing.M) { testkit.Main(m, []core.App{restApp{}}) }

const base = "/api/resttest"

var outRe = regexp.MustCompile(`^\{"id":"[0-9a-f-]{36}","created_at":"[^"]+Z","updated_at":"[^"]+Z","name":"a","secret":"s","score":3,"note":null\}$`)

func TestDerived(t *testing.T) {
	t.Parallel()
	app := testkit.New(t)
	c := app.Client
	res := c.Post(base+"/things", map[string]any{"name": "a", "secret": "s", "score": 3}).AssertStatus(http.StatusCreated)
	if !outRe.Match(res.Body) {
		t.Errorf("output %s: want the columns in struct order, a nullable column as null", res.Body)
	}
	id := res.Map()["id"].(string)
	cases := []struct {
		name   string
		body   map[string]any
		status int
		field  string // of a ValidationError
		note   any    // expected note after a success
	}{
		{"nullable set", map[string]any{"note": "hi"}, http.StatusOK, "", "hi"},
		{"nullable blank", map[string]any{"note": " "}, http.StatusBadRequest, "note", nil},
		{"null leaves it", map[string]any{"note": nil}, http.StatusOK, "", "hi"},
		{"too long", map[string]any{"name": "12345678901"}, http.StatusBadRequest, "name", nil},
		{"NUL", map[string]any{"secret": "a\x00"}, http.StatusBadRequest, "secret", nil},
	}
	for _, tc := range cases {
		r := c.Patch(base+"/things/"+id, tc.body)
		if tc.status != http.StatusOK {
			r.AssertError(tc.status, "ValidationError", tc.field)
			continue
		}
		if got := r.AssertStatus(tc.status).Map()["note"]; got != tc.note {
			t.Errorf("%s: note %v, want %v", tc.name, got, tc.note)
		}
	}
	// A create needs every non-nullable field but booleans; the nullable one is optional.
	c.Post(base+"/things", map[string]any{}).AssertError(http.StatusBadRequest, "ValidationError", "name", "secret", "score")
}

func TestDeclaredDifferences(t *testing.T) {
	t.Parallel()
	app := testkit.New(t)
	c := app.Client
	created := c.Post(base+"/limited", map[string]any{"name": "b", "secret": "s3", "score": 9}).AssertStatus(http.StatusCreated).Map()
	if _, shown := created["secret"]; shown {
		t.Error("a write-only field is shown")
	}
	if created["score"] != float64(0) {
		t.Errorf("a read-only field was written: score %v", created["score"])
	}
	var secret string
	if err := app.DB.NewSelect().Table("rest_things").Column("secret").Where("id = ?", created["id"]).Scan(context.Background(), &secret); err != nil || secret != "s3" {
		t.Errorf("write-only field stored %q, %v", secret, err)
	}
	c.Post(base+"/limited", map[string]any{"name": "bad", "secret": "x"}).AssertError(http.StatusBadRequest, "ValidationError", "name")
	c.Post(base+"/limited", map[string]any{"name": "a", "secret": "b"}).AssertStatus(http.StatusCreated)
	list := c.Get(base + "/limited").AssertStatus(http.StatusOK).Map()["results"].([]any)
	if len(list) != 2 || list[0].(map[string]any)["name"] != "a" {
		t.Errorf("ordering by name: %v", list)
	}
	// Search looks in the declared columns only: "s3" is a secret, not a name.
	if n := c.Get(base + "/limited?search=s3").AssertStatus(http.StatusOK).Map()["count"]; n != float64(0) {
		t.Errorf("search in an undeclared column: %v matches", n)
	}
	if n := c.Get(base + "/things?search=s3").AssertStatus(http.StatusOK).Map()["count"]; n != float64(1) {
		t.Errorf("derived search: %v matches, want the secret's row", n)
	}
}

func TestBadDeclarations(t *testing.T) {
	t.Parallel()
	app := testkit.New(t)
	cases := []struct {
		name string
		vs   *rest.ModelViewSet[thing]
		want string
	}{
		{"unknown field", &rest.ModelViewSet[thing]{Path: "/x", Serializer: rest.Serializer[thing]{Fields: []string{"nope"}}}, `Fields names "nope"`},
		{"unknown read-only", &rest.ModelViewSet[thing]{Path: "/x", Serializer: rest.Serializer[thing]{ReadOnly: []string{"nope"}}}, `ReadOnly names "nope"`},
		{"unknown search", &rest.ModelViewSet[thing]{Path: "/x", Search: []string{"nope"}}, `Search names "nope"`},
		{"unknown ordering", &rest.ModelViewSet[thing]{Path: "/x", Ordering: "-nope"}, `Ordering names "nope"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				r := recover()
				err, _ := r.(error)
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("Routes panicked with %v, want an error saying %q", r, tc.want)
				}
			}()
			tc.vs.Routes(fiber.New(), app.Project)
		})
	}
}
