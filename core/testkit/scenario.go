package testkit

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// Vars are values a scenario's Setup made (the id of a fixture row), used as
// {name} in Path, in Header values, in string values of Body, in JSON and
// NotJSON fragments and in string DB arguments.
type Vars map[string]string

// Scenario is one request to a fresh test project and what must come of it,
// like PocketBase's ApiScenario: a row of a table-driven API test.
//
//	testkit.Run(t,
//		testkit.Scenario{Name: "anonymous", Method: "POST", Path: "/api/blog/posts",
//			Body: map[string]any{"title": "Hi"}, Status: 401,
//			Error: &testkit.WantError{Type: "NotAuthenticated"}},
//		testkit.Scenario{Name: "create", Method: "POST", Path: "/api/blog/posts",
//			As: userstest.SignedIn("ada@example.com"), Body: map[string]any{"title": "Hi"},
//			Status: 201, JSON: []string{`"title":"Hi"`},
//			DB: []testkit.Query{{SQL: "SELECT count(*) FROM blog_posts", Want: 1}}},
//	)
//
// Every check runs and every mismatch is reported, so one failing row shows
// all that is wrong with it.
type Scenario struct {
	// Name names the subtest.
	Name string
	// Method is the HTTP method; GET when empty.
	Method string
	// Path is the request's path and query, with {name} Vars.
	Path string
	// Options are testkit.New's options for the scenario's project (Settings, Templates).
	Options []any
	// Shared runs the scenario on a project that the Shared scenarios of the
	// same Run share (built once, with the first one's Options, which the
	// others must repeat), instead of one of its own: for read-only requests,
	// to save building and migrating a project per row. A Shared scenario has
	// no Setup and no Emails (its As may make a user with an email of its
	// own), and its DB checks see the other rows' requests.
	Shared bool
	// Setup makes fixtures before the request and returns Vars for the rest.
	Setup func(t testing.TB, app *App) Vars
	// As returns the client that sends the request (userstest.SignedIn, or a
	// client WithToken); nil sends it anonymously with app.Client.
	As func(t testing.TB, app *App) *Client
	// Body is sent as JSON; a string or []byte is sent as it is.
	Body any
	// Header is set on the request, over the client's own headers.
	Header map[string]string

	// Status is the expected HTTP status; required.
	Status int
	// JSON are fragments the compacted JSON body must contain: `"title":"Hi"`.
	JSON []string
	// NotJSON are fragments it must not contain: `"password"`.
	NotJSON []string
	// Error, when set, is the API error the body must be (core/api's shape).
	Error *WantError
	// DB are queries run after the request, each with the value it must give.
	DB []Query
	// Emails, when not nil, are the recipients of the emails the request
	// queued, one entry per email (its To addresses joined by ", "), in any
	// order; an empty, non-nil slice means no email. The project's email worker
	// runs, and the check waits until the queue is idle.
	Emails []string
	// Check runs last, for what the fields above cannot say; vars are Setup's.
	Check func(t testing.TB, app *App, res *Response, vars Vars)
}

// WantError is the API error a Scenario expects.
type WantError struct {
	// Type is the error_type: "ValidationError", "NotAuthenticated"...
	Type string
	// Fields, when set, are exactly the fields the errors name (in any order).
	Fields []string
}

// Query is a database check: the first column of the first row of SQL,
// scanned into a value of Want's type (nil: the column must be NULL), must
// equal Want.
type Query struct {
	SQL  string
	Args []any
	Want any
}

// Run runs each scenario as a parallel subtest of t, each on a project and
// database of its own, except Shared ones, which share one.
func Run(t *testing.T, scenarios ...Scenario) {
	t.Helper()
	var shared *App
	var sharedOpts []any
	for _, sc := range scenarios {
		if !sc.Shared {
			continue
		}
		if shared == nil {
			shared, sharedOpts = New(t, sc.Options...), sc.Options
		} else if !reflect.DeepEqual(sc.Options, sharedOpts) {
			t.Fatalf("scenario %q: Shared scenarios of one Run must have the same Options: %v, the first had %v", sc.Name, sc.Options, sharedOpts)
		}
	}
	for _, sc := range scenarios {
		t.Run(sc.Name, func(t *testing.T) {
			t.Parallel()
			if sc.Shared {
				sc.run(t, shared.sharedBy(t))
				return
			}
			sc.Test(t)
		})
	}
}

// For returns a view of the project whose Client, Raw and other helpers
// report to t instead of the test that built it: for a subtest that shares
// the project, or a test of a test helper run under Record.
func (a *App) For(t testing.TB) *App { return a.sharedBy(t) }

// sharedBy returns a view of the shared project a for one subtest: its
// clients and responses report to t, not to the test that built a.
func (a *App) sharedBy(t testing.TB) *App {
	v := &App{Project: a.Project, Server: a.Server, Handler: a.Handler, DatabaseURL: a.DatabaseURL, t: t, settings: a.settings, options: a.options}
	v.Client = &Client{t: t, app: a.Handler, header: map[string]string{}, check: a.Client.check}
	return v
}

// emailWait bounds how long a scenario waits for its emails to be delivered.
const emailWait = 15 * time.Second

// Test runs the scenario under t (a subtest, or a Record for tests of the
// runner itself) on a project of its own.
func (sc Scenario) Test(t testing.TB) {
	t.Helper()
	sc.run(t, nil)
}

// run runs the scenario on app, or on a new project when app is nil.
func (sc Scenario) run(t testing.TB, app *App) {
	t.Helper()
	if sc.Status == 0 {
		t.Fatalf("scenario %q: no Status: say which status the request must get", sc.Name)
	}
	if sc.Shared && (sc.Setup != nil || sc.Emails != nil) {
		t.Fatalf("scenario %q: a Shared scenario cannot have a Setup or Emails: the project is not its own", sc.Name)
	}
	if app == nil {
		app = New(t, sc.Options...)
	}
	vars := Vars{}
	if sc.Setup != nil {
		for k, v := range sc.Setup(t, app) {
			vars[k] = v
		}
	}
	client := app.Client
	if sc.As != nil {
		client = sc.As(t, app)
	}
	sent := 0
	if sc.Emails != nil {
		// Emails from Setup are delivered first, so that they are not counted.
		app.Outbox()
		sent = app.waitEmails(t)
	}

	method := sc.Method
	if method == "" {
		method = http.MethodGet
	}
	req := client.Request(method, vars.expand(sc.Path), vars.body(sc.Body))
	for k, v := range sc.Header {
		req.Header.Set(k, vars.expand(v))
	}
	res := client.Send(req)

	if res.Status != sc.Status {
		t.Errorf("%s %s: status %d, want %d; body: %s", method, req.URL, res.Status, sc.Status, res.Body)
	}
	if len(sc.JSON)+len(sc.NotJSON) > 0 {
		var compact bytes.Buffer
		if err := json.Compact(&compact, res.Body); err != nil {
			t.Errorf("body is not JSON (%v): %s", err, res.Body)
		}
		for _, f := range sc.JSON {
			if f = vars.expand(f); !strings.Contains(compact.String(), f) {
				t.Errorf("body has no %s: %s", f, compact.Bytes())
			}
		}
		for _, f := range sc.NotJSON {
			if f = vars.expand(f); strings.Contains(compact.String(), f) {
				t.Errorf("body has %s, which it must not: %s", f, compact.Bytes())
			}
		}
	}
	if sc.Error != nil {
		checkError(t, sc.Error, res)
	}
	if sc.Emails != nil {
		app.waitEmails(t)
		delivered := app.Outbox().Outbox()
		var got []string
		for _, m := range delivered[min(sent, len(delivered)):] {
			got = append(got, strings.Join(m.To, ", "))
		}
		want := slices.Clone(sc.Emails)
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("emails to %q, want %q", got, want)
		}
	}
	for _, q := range sc.DB {
		checkQuery(t, app, vars, q)
	}
	if sc.Check != nil {
		sc.Check(t, app, res, vars)
	}
}

// checkError compares the body with the API error want.
func checkError(t testing.TB, want *WantError, res *Response) {
	t.Helper()
	var e APIError
	if err := json.Unmarshal(res.Body, &e); err != nil {
		t.Errorf("body is not an API error (%v): %s", err, res.Body)
		return
	}
	if e.ErrorType != want.Type {
		t.Errorf("error_type %q, want %q; body: %s", e.ErrorType, want.Type, res.Body)
	}
	if len(e.Errors) == 0 {
		t.Errorf("error with no entries: %s", res.Body)
	}
	if want.Fields == nil {
		return
	}
	var got []string
	for _, fe := range e.Errors {
		if !slices.Contains(got, fe.Field) {
			got = append(got, fe.Field)
		}
	}
	wantFields := slices.Clone(want.Fields)
	slices.Sort(got)
	slices.Sort(wantFields)
	if !slices.Equal(got, slices.Compact(wantFields)) {
		t.Errorf("errors for fields %q, want %q; body: %s", got, want.Fields, res.Body)
	}
}

// checkQuery runs q on the project's database and compares its value.
func checkQuery(t testing.TB, app *App, vars Vars, q Query) {
	t.Helper()
	args := make([]any, len(q.Args))
	for i, a := range q.Args {
		if s, ok := a.(string); ok {
			a = vars.expand(s)
		}
		args[i] = a
	}
	ctx := context.Background()
	if q.Want == nil {
		var v sql.NullString
		if err := app.DB.QueryRowContext(ctx, q.SQL, args...).Scan(&v); err != nil {
			t.Errorf("%s %v: %v", q.SQL, args, err)
		} else if v.Valid {
			t.Errorf("%s %v = %q, want NULL", q.SQL, args, v.String)
		}
		return
	}
	got := reflect.New(reflect.TypeOf(q.Want))
	if err := app.DB.QueryRowContext(ctx, q.SQL, args...).Scan(got.Interface()); err != nil {
		t.Errorf("%s %v: %v", q.SQL, args, err)
		return
	}
	if !reflect.DeepEqual(got.Elem().Interface(), q.Want) {
		t.Errorf("%s %v = %#v, want %#v", q.SQL, args, got.Elem().Interface(), q.Want)
	}
}

// waitEmails waits until the email queue has nothing left to send, and
// returns how many emails the outbox then holds.
func (a *App) waitEmails(t testing.TB) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), emailWait)
	defer cancel()
	for {
		s, err := a.Queue.Stats(ctx)
		if err == nil && s.Pending+s.Retrying+s.Sending == 0 {
			if s.Failed > 0 {
				t.Errorf("%d emails failed to send", s.Failed)
			}
			return a.Outbox().Len()
		}
		select {
		case <-ctx.Done():
			t.Errorf("emails still queued after %s: %+v (%v)", emailWait, s, err)
			return a.Outbox().Len()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// expand replaces every {name} of v in s.
func (v Vars) expand(s string) string {
	if len(v) == 0 || !strings.Contains(s, "{") {
		return s
	}
	pairs := make([]string, 0, 2*len(v))
	for k, val := range v {
		pairs = append(pairs, "{"+k+"}", val)
	}
	return strings.NewReplacer(pairs...).Replace(s)
}

// body expands Vars in the string values of a JSON body made of maps, slices
// and strings, and in a raw string body; other values are sent as they are.
func (v Vars) body(b any) any {
	if len(v) == 0 {
		return b
	}
	switch b := b.(type) {
	case string:
		return v.expand(b)
	case map[string]any:
		out := make(map[string]any, len(b))
		for k, x := range b {
			out[k] = v.body(x)
		}
		return out
	case []any:
		out := make([]any, len(b))
		for i, x := range b {
			out[i] = v.body(x)
		}
		return out
	}
	return b
}
