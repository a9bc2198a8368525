package testkit_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io/fs"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/gofiber/fiber/v2"

	"manouche/core"
	"manouche/core/api"
	"manouche/core/testkit"
)

// notesApp is the tiny app the scenario runner is tested against: signed-in
// users (bearer token "tok-NAME") create notes, which emails NAME@example.com;
// anyone reads a note.
type notesApp struct{}

func (notesApp) Name() string   { return "kitnotes" }
func (notesApp) Prefix() string { return "/kitnotes" }

func (notesApp) Migrations() fs.FS {
	return fstest.MapFS{
		"20260101000001_notes.up.sql":   {Data: []byte("CREATE TABLE kitnotes (id VARCHAR(32) PRIMARY KEY, title VARCHAR(100) NOT NULL, owner VARCHAR(50) NOT NULL, done BOOLEAN NOT NULL DEFAULT FALSE, body TEXT);")},
		"20260101000001_notes.down.sql": {Data: []byte("DROP TABLE kitnotes;")},
	}
}

func (notesApp) Templates() fs.FS {
	return fstest.MapFS{"kitnotes/email/created.txt": {Data: []byte(`{{define "subject"}}Note created{{end}}Your note {{.}} is saved.`)}}
}

// noteUser is a user of tokenAuth.
type noteUser string

func (u noteUser) UserID() string { return string(u) }

// tokenAuth accepts "tok-NAME" as user NAME.
type tokenAuth struct{}

func (tokenAuth) Authenticate(_ context.Context, token string) (core.User, error) {
	name, ok := strings.CutPrefix(token, "tok-")
	if !ok || name == "" {
		return nil, api.AuthenticationFailed("Invalid token.")
	}
	return noteUser(name), nil
}

func (notesApp) Ready(_ context.Context, p *core.Project) error {
	p.Auth = tokenAuth{}
	return nil
}

func (notesApp) Routes(r fiber.Router, p *core.Project) {
	r.Post("/", p.RequireAuth(), func(c *fiber.Ctx) error {
		var in struct {
			Title string `json:"title" validate:"required,max=100"`
		}
		if err := api.Bind(c, &in); err != nil {
			return err
		}
		owner := core.CurrentUser(c).UserID()
		id := insertNote(c.UserContext(), p, in.Title, owner)
		if id == "" {
			return api.Unavailable(api.FieldErr("database", "could not save"))
		}
		if err := p.SendMail(c.UserContext(), nil, "kitnotes/email/created", in.Title, owner+"@example.com"); err != nil {
			return err
		}
		return c.Status(http.StatusCreated).JSON(fiber.Map{"id": id, "title": in.Title, "owner": owner})
	})
	r.Get("/:id", func(c *fiber.Ctx) error {
		var title, owner string
		if err := p.DB.QueryRowContext(c.UserContext(), "SELECT title, owner FROM kitnotes WHERE id = ?", c.Params("id")).Scan(&title, &owner); err != nil {
			return api.NotFound("")
		}
		return c.JSON(fiber.Map{"id": c.Params("id"), "title": title, "owner": owner, "lang": c.Get("Accept-Language")})
	})
}

func insertNote(ctx context.Context, p *core.Project, title, owner string) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	id := hex.EncodeToString(b)
	if _, err := p.DB.ExecContext(ctx, "INSERT INTO kitnotes (id, title, owner) VALUES (?, ?, ?)", id, title, owner); err != nil {
		return ""
	}
	return id
}

func init() { core.Register(notesApp{}) }

var (
	_ core.Router    = notesApp{}
	_ core.Migrator  = notesApp{}
	_ core.Templater = notesApp{}
	_ core.ReadyHook = notesApp{}
)

// as signs the request in as name.
func as(name string) func(testing.TB, *testkit.App) *testkit.Client {
	return func(_ testing.TB, app *testkit.App) *testkit.Client { return app.Client.WithToken("tok-" + name) }
}

// aNote makes a note by bob and returns its id as {id}.
func aNote(t testing.TB, app *testkit.App) testkit.Vars {
	id := insertNote(context.Background(), app.Project, "Bob's", "bob")
	if id == "" {
		t.Fatal("insert a note")
	}
	return testkit.Vars{"id": id}
}

var (
	createHi = testkit.Scenario{
		Name: "create", Method: "POST", Path: "/kitnotes/", As: as("ann"),
		Body:   map[string]any{"title": "Hi"},
		Status: http.StatusCreated, JSON: []string{`"title":"Hi"`, `"owner":"ann"`}, NotJSON: []string{`"error_type"`},
		DB: []testkit.Query{
			{SQL: "SELECT count(*) FROM kitnotes WHERE title = ?", Args: []any{"Hi"}, Want: 1},
			{SQL: "SELECT owner FROM kitnotes WHERE title = 'Hi'", Want: "ann"},
			{SQL: "SELECT done FROM kitnotes WHERE title = 'Hi'", Want: false},
			{SQL: "SELECT body FROM kitnotes WHERE title = 'Hi'", Want: nil},
		},
		Emails: []string{"ann@example.com"},
	}
	anonymous = testkit.Scenario{
		Name: "anonymous", Method: "POST", Path: "/kitnotes/", Body: map[string]any{"title": "Hi"},
		Status: http.StatusUnauthorized, Error: &testkit.WantError{Type: api.TypeNotAuthenticated},
		DB:     []testkit.Query{{SQL: "SELECT count(*) FROM kitnotes", Want: 0}},
		Emails: []string{},
	}
	invalid = testkit.Scenario{
		Name: "no title", Method: "POST", Path: "/kitnotes/", As: as("ann"), Body: map[string]any{"title": ""},
		Status: http.StatusBadRequest, Error: &testkit.WantError{Type: api.TypeValidation, Fields: []string{"title"}},
		Emails: []string{},
	}
	read = testkit.Scenario{
		Name: "read", Path: "/kitnotes/{id}", Setup: aNote, Header: map[string]string{"Accept-Language": "fr-{id}"},
		Status: http.StatusOK, JSON: []string{`"id":"{id}"`, `"owner":"bob"`, `"lang":"fr-{id}"`},
		DB: []testkit.Query{{SQL: "SELECT title FROM kitnotes WHERE id = ?", Args: []any{"{id}"}, Want: "Bob's"}},
	}
)

func TestScenarios(t *testing.T) {
	t.Parallel()
	testkit.Run(t,
		createHi, anonymous, invalid, read,
		testkit.Scenario{
			Name: "bad token", Method: "POST", Path: "/kitnotes/", As: as(""), Body: map[string]any{"title": "Hi"},
			Status: http.StatusUnauthorized, Error: &testkit.WantError{Type: api.TypeAuthenticationFailed},
		},
		testkit.Scenario{
			Name: "malformed JSON", Method: "POST", Path: "/kitnotes/", As: as("ann"), Body: `{"title": "Hi`,
			Status: http.StatusBadRequest, Error: &testkit.WantError{Type: api.TypeParse},
		},
		testkit.Scenario{
			Name: "missing", Path: "/kitnotes/nope", Status: http.StatusNotFound, Error: &testkit.WantError{Type: api.TypeNotFound},
		},
		testkit.Scenario{
			Name: "setup emails are not the request's", Method: "POST", Path: "/kitnotes/", As: as("ann"),
			Body: map[string]any{"title": "Second"},
			Setup: func(t testing.TB, app *testkit.App) testkit.Vars {
				app.Client.WithToken("tok-carl").Post("/kitnotes/", map[string]any{"title": "First"}).AssertStatus(http.StatusCreated)
				return nil
			},
			Status: http.StatusCreated, Emails: []string{"ann@example.com"},
			DB: []testkit.Query{{SQL: "SELECT count(*) FROM kitnotes", Want: 2}},
		},
		testkit.Scenario{
			Name: "body vars and a custom check", Method: "POST", Path: "/kitnotes/", As: as("dan"),
			Setup: aNote, Body: map[string]any{"title": "after {id}"},
			Status: http.StatusCreated, JSON: []string{`"title":"after {id}"`},
			Check: func(t testing.TB, app *testkit.App, res *testkit.Response, vars testkit.Vars) {
				if id := res.Map()["id"]; id == "" || id == vars["id"] {
					t.Errorf("no new id in %s", res.Body)
				}
			},
		},
	)
}

// Rows that must fail: each one's mistake is reported, run under testkit.Record.
func TestScenarioMismatchesAreReported(t *testing.T) {
	t.Parallel()
	with := func(sc testkit.Scenario, change func(*testkit.Scenario)) testkit.Scenario {
		change(&sc)
		return sc
	}
	tests := []struct {
		name string
		sc   testkit.Scenario
		want []string // in the failure messages
	}{
		{"wrong status", with(anonymous, func(sc *testkit.Scenario) { sc.Status = 201 }), []string{"status 401, want 201"}},
		{"no status", with(anonymous, func(sc *testkit.Scenario) { sc.Status = 0 }), []string{"no Status"}},
		{"missing JSON fragment", with(createHi, func(sc *testkit.Scenario) { sc.JSON = []string{`"title":"Bye"`} }), []string{`body has no "title":"Bye"`}},
		{"present NotJSON fragment", with(createHi, func(sc *testkit.Scenario) { sc.NotJSON = []string{`"owner"`} }), []string{`body has "owner"`}},
		{"fragment of a var", with(read, func(sc *testkit.Scenario) { sc.JSON = []string{`"lang":"en-{id}"`} }), []string{`body has no "lang":"en-`}},
		{"fragment of an error body", with(createHi, func(sc *testkit.Scenario) {
			sc.Path, sc.Method, sc.Body, sc.DB, sc.Emails = "/health/nope.txt", "GET", nil, nil, nil
			sc.Status, sc.JSON = 404, []string{`"x"`}
		}), []string{`body has no "x"`}},
		{"wrong error type", with(invalid, func(sc *testkit.Scenario) { sc.Error = &testkit.WantError{Type: api.TypeParse} }), []string{`error_type "ValidationError", want "ParseError"`}},
		{"wrong error fields", with(invalid, func(sc *testkit.Scenario) {
			sc.Error = &testkit.WantError{Type: api.TypeValidation, Fields: []string{"title", "owner"}}
		}), []string{`errors for fields ["title"], want ["title" "owner"]`}},
		{"error wanted, success given", with(createHi, func(sc *testkit.Scenario) { sc.Error = &testkit.WantError{Type: api.TypeValidation} }), []string{`error_type "", want "ValidationError"`}},
		{"wrong DB count", with(createHi, func(sc *testkit.Scenario) { sc.DB = []testkit.Query{{SQL: "SELECT count(*) FROM kitnotes", Want: 2}} }), []string{"= 1, want 2"}},
		{"wrong DB text", with(createHi, func(sc *testkit.Scenario) {
			sc.DB = []testkit.Query{{SQL: "SELECT owner FROM kitnotes", Want: "bob"}}
		}), []string{`= "ann", want "bob"`}},
		{"wrong DB bool", with(createHi, func(sc *testkit.Scenario) {
			sc.DB = []testkit.Query{{SQL: "SELECT done FROM kitnotes", Want: true}}
		}), []string{"= false, want true"}},
		{"NULL wanted", with(createHi, func(sc *testkit.Scenario) { sc.DB = []testkit.Query{{SQL: "SELECT title FROM kitnotes", Want: nil}} }), []string{`= "Hi", want NULL`}},
		{"no DB row", with(anonymous, func(sc *testkit.Scenario) { sc.DB = []testkit.Query{{SQL: "SELECT title FROM kitnotes", Want: "Hi"}} }), []string{"no rows"}},
		{"bad SQL", with(anonymous, func(sc *testkit.Scenario) { sc.DB = []testkit.Query{{SQL: "SELECT nope FROM nowhere", Want: 1}} }), []string{"SELECT nope FROM nowhere"}},
		{"wrong recipient", with(createHi, func(sc *testkit.Scenario) { sc.Emails = []string{"bob@example.com"} }), []string{`emails to ["ann@example.com"], want ["bob@example.com"]`}},
		{"email wanted, none sent", with(anonymous, func(sc *testkit.Scenario) { sc.Emails = []string{"ann@example.com"} }), []string{`emails to [], want ["ann@example.com"]`}},
		{"email sent, none wanted", with(createHi, func(sc *testkit.Scenario) { sc.Emails = []string{} }), []string{`emails to ["ann@example.com"], want []`}},
		{"custom check", with(read, func(sc *testkit.Scenario) {
			sc.Check = func(t testing.TB, _ *testkit.App, res *testkit.Response, _ testkit.Vars) {
				t.Errorf("custom: %d", res.Status)
			}
		}), []string{"custom: 200"}},
		{"every mismatch of a row", with(createHi, func(sc *testkit.Scenario) {
			sc.Status, sc.JSON, sc.Emails = 200, []string{`"title":"Bye"`}, []string{}
		}), []string{"status 201, want 200", `body has no "title":"Bye"`, `emails to ["ann@example.com"], want []`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := testkit.Record(t, tt.sc.Test)
			got := strings.Join(f.Messages, "\n")
			if !f.Failed {
				t.Fatalf("the scenario passed; want a failure with %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("failures %q lack %q", got, w)
				}
			}
		})
	}
}

// Shared scenarios run on one project; the others each on their own.
func TestSharedScenarios(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	projects := map[string]*core.Project{}
	record := func(name string) func(testing.TB, *testkit.App, *testkit.Response, testkit.Vars) {
		return func(_ testing.TB, app *testkit.App, _ *testkit.Response, _ testkit.Vars) {
			mu.Lock()
			defer mu.Unlock()
			projects[name] = app.Project
		}
	}
	t.Cleanup(func() {
		if len(projects) != 4 {
			t.Fatalf("%d scenarios ran, want 4", len(projects))
		}
		if projects["shared 1"] == nil || projects["shared 1"] != projects["shared 2"] {
			t.Error("the Shared scenarios ran on different projects")
		}
		if projects["own"] == projects["shared 1"] || projects["own"] == projects["own 2"] {
			t.Error("a scenario that is not Shared ran on another's project")
		}
	})
	missing := testkit.Scenario{Path: "/kitnotes/nope", Status: http.StatusNotFound, Shared: true}
	shared1, shared2, own, own2 := missing, missing, missing, missing
	shared1.Name, shared1.Check = "shared 1", record("shared 1")
	shared2.Name, shared2.Check = "shared 2", record("shared 2")
	own.Name, own.Shared, own.Check = "own", false, record("own")
	own2.Name, own2.Shared, own2.Check = "own 2", false, record("own 2")
	testkit.Run(t, shared1, own, shared2, own2)
}

// A Shared scenario cannot change the project the others see.
func TestSharedScenarioMisuse(t *testing.T) {
	t.Parallel()
	for name, sc := range map[string]testkit.Scenario{
		"with Setup":  {Name: "setup", Path: "/kitnotes/{id}", Setup: aNote, Status: http.StatusOK, Shared: true},
		"with Emails": {Name: "emails", Path: "/kitnotes/x", Emails: []string{}, Status: http.StatusNotFound, Shared: true},
	} {
		f := testkit.Record(t, sc.Test)
		if !f.Failed || !strings.Contains(strings.Join(f.Messages, "\n"), "a Shared scenario cannot") {
			t.Errorf("%s: %+v", name, f)
		}
	}
}
