package main_test

import (
	"context"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"manouche/apps"
	"manouche/core"
	"manouche/core/fuzzapi"
	"manouche/core/models"
	"manouche/core/rest"
	"manouche/core/testkit"
)

// fuzzPost is a resource as startapp generates it (the tutorial's blog post,
// with an image): every field kind the view set serves.
type fuzzPost struct {
	bun.BaseModel `bun:"table:fuzzres_posts,alias:p"`

	ID          uuid.UUID    `bun:"id,pk,type:uuid"`
	CreatedAt   time.Time    `bun:"created_at,notnull,default:current_timestamp"`
	UpdatedAt   time.Time    `bun:"updated_at,notnull,default:current_timestamp"`
	Title       string       `bun:"title,type:varchar(120),notnull,default:''"`
	Body        string       `bun:"body,type:text,notnull,default:''"`
	Published   bool         `bun:"published,notnull,default:false"`
	Views       int64        `bun:"views,notnull,default:0"`
	Rating      float64      `bun:"rating,notnull,default:0"`
	PublishedOn time.Time    `bun:"published_on,type:date,notnull"`
	Photo       models.Image `bun:"photo,type:varchar(255),notnull,default:''"`
}

// fuzzResApp serves fuzzPost as a generated app does: a ModelViewSet.
type fuzzResApp struct{}

var fuzzPosts = []rest.Resource{&rest.ModelViewSet[fuzzPost]{Path: "/posts"}}

func (fuzzResApp) Name() string   { return "fuzzres" }
func (fuzzResApp) Prefix() string { return "/api/fuzzres" }
func (fuzzResApp) Models() []any  { return rest.Models(fuzzPosts) }
func (fuzzResApp) Routes(r fiber.Router, p *core.Project) {
	rest.Mount(r, p, fuzzPosts)
}

const createFuzzPosts = `CREATE TABLE fuzzres_posts (id {ID} PRIMARY KEY,
created_at {TS} NOT NULL DEFAULT CURRENT_TIMESTAMP, updated_at {TS} NOT NULL DEFAULT CURRENT_TIMESTAMP,
title VARCHAR(120) NOT NULL DEFAULT '', body TEXT NOT NULL DEFAULT '', published BOOLEAN NOT NULL DEFAULT false,
views BIGINT NOT NULL DEFAULT 0, rating {FLOAT} NOT NULL DEFAULT 0, published_on DATE NOT NULL,
photo VARCHAR(255) NOT NULL DEFAULT '')`

func (fuzzResApp) Migrations() fs.FS {
	pg := strings.NewReplacer("{ID}", "UUID", "{TS}", "TIMESTAMPTZ", "{FLOAT}", "DOUBLE PRECISION").Replace(createFuzzPosts)
	lite := strings.NewReplacer("{ID}", "TEXT", "{TS}", "TIMESTAMP", "{FLOAT}", "REAL").Replace(createFuzzPosts)
	return fstest.MapFS{
		"20260101000001_posts.up.postgres.sql":   {Data: []byte(pg)},
		"20260101000001_posts.down.postgres.sql": {Data: []byte("DROP TABLE fuzzres_posts")},
		"20260101000001_posts.up.sqlite.sql":     {Data: []byte(lite)},
		"20260101000001_posts.down.sqlite.sql":   {Data: []byte("DROP TABLE fuzzres_posts")},
	}
}

// TestFuzzAPI runs the fuzzer (go run . fuzzapi) against the real server with
// the installed apps (the users app) and a generated resource, for a fixed
// budget and seed, signed up through the API: it must find nothing (no 5xx,
// no answer the document does not declare, no slow request). A finding
// prints the fuzzer's report, each with a curl command; once fixed, that
// request becomes a regular test case of the app.
func TestFuzzAPI(t *testing.T) {
	t.Parallel()
	// The budget: 10,000 requests. Under the race detector (several times
	// slower per request; .ci/run also runs this test without it, at the
	// full budget, on both databases) and with -short, 1,500; a request is
	// slow past 5s, or 20s under the race detector.
	n, slow := 10000, 5*time.Second
	if raceEnabled {
		n, slow = 1500, 20*time.Second
	}
	if testing.Short() {
		n = min(n, 1500)
	}
	app := testkit.New(t, testkit.Apps(append(append([]core.App{}, apps.Installed...), fuzzResApp{})), testkit.Settings{
		// The auth routes are throttled (10/min): raised, so that the budget
		// reaches past the throttle; 429s stay declared and are still sent.
		"AUTH_THROTTLE_RATE": "600/min",
		"API_THROTTLE_RATE":  "1000000/day",
	})
	base := app.Serve()
	rep, err := fuzzapi.Run(context.Background(), fuzzapi.Options{
		BaseURL: base, Requests: n, Seed: 1, Concurrency: 4, Register: true,
		Slow: slow, Timeout: 30 * time.Second, BodiesDir: t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	rep.Write(&out)
	if rep.Failed() {
		t.Fatalf("the fuzzer found problems:\n%s", out.String())
	}
	t.Logf("\n%s", out.String())
	if rep.Requests != n {
		t.Errorf("%d requests sent, want the budget, %d", rep.Requests, n)
	}
	for _, op := range []string{"POST /api/auth/register", "POST /api/auth/login", "GET /api/me", "PUT /api/me/avatar"} {
		if st := rep.Stats[op]; st == nil || st.Requests == 0 {
			t.Errorf("%s was not exercised: is it in the document?", op)
		}
	}
	if st := rep.Stats["GET /api/me"]; st != nil && st.Status[200] == 0 {
		t.Errorf("GET /api/me never answered 200: the signed-up user's token was not used")
	}
}
