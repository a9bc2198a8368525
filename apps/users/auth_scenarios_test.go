package users_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"manouche/apps/users"
	"manouche/apps/users/userstest"
	"manouche/core/testkit"
)

// The auth API as a table of scenarios: each row is one request to a project
// of its own. Flows that need a real server, concurrency, time or two
// processes stay functions in auth_test.go.

const badCredentials = `"message":"Unable to log in with provided credentials."`

// users counts the rows of users with that email (any case).
func usersWithEmail(email string, want int) testkit.Query {
	return testkit.Query{SQL: "SELECT count(*) FROM users WHERE lower(email) = lower(?)", Args: []any{email}, Want: want}
}

// noUsers is the check of a refused registration.
var noUsers = testkit.Query{SQL: "SELECT count(*) FROM users", Want: 0}

// registered makes a user in Setup and names its id {id} and token {token}.
func registered(email string) func(testing.TB, *testkit.App) testkit.Vars {
	return func(t testing.TB, app *testkit.App) testkit.Vars {
		id, token := userstest.Register(t, app, email)
		return testkit.Vars{"id": id, "token": token}
	}
}

// bearer is the Authorization header of the {token} Setup made.
var bearer = map[string]string{"Authorization": "Bearer {token}"}

// loginAgain makes another token for the user setup made, and names it {other}.
func loginAgain(setup func(testing.TB, *testkit.App) testkit.Vars) func(testing.TB, *testkit.App) testkit.Vars {
	return func(t testing.TB, app *testkit.App) testkit.Vars {
		vars := setup(t, app)
		vars["other"] = userstest.Token(t, app, vars["id"])
		// Both tokens are cached, as in a running site.
		meStatus(t, app, vars["token"], http.StatusOK)
		meStatus(t, app, vars["other"], http.StatusOK)
		return vars
	}
}

// meStatus checks what the API answers to GET /api/me with token.
func meStatus(t testing.TB, app *testkit.App, token string, want int) {
	t.Helper()
	if res := app.Client.WithToken(token).Get("/api/me"); res.Status != want {
		t.Errorf("GET /api/me with a token: %d, want %d; body: %s", res.Status, want, res.Body)
	}
}

// loginStatus checks what the API answers to a login.
func loginStatus(t testing.TB, app *testkit.App, email, password string, want int) {
	t.Helper()
	if res := app.Client.Post("/api/auth/login", map[string]any{"email": email, "password": password}); res.Status != want {
		t.Errorf("login %s with %q: %d, want %d; body: %s", email, password, res.Status, want, res.Body)
	}
}

func TestRegisterScenarios(t *testing.T) {
	t.Parallel()
	// Refused registrations change nothing: they share one project.
	post := func(name string, body any, status int, typ string, fields ...string) testkit.Scenario {
		sc := testkit.Scenario{
			Name: name, Method: http.MethodPost, Path: "/api/auth/register", Body: body,
			Shared: true, Options: []any{testkit.Settings{"AUTH_THROTTLE_RATE": "1000/min"}},
			Status: status, Error: &testkit.WantError{Type: typ}, DB: []testkit.Query{noUsers},
		}
		if len(fields) > 0 {
			sc.Error.Fields = fields
		}
		return sc
	}
	long := strings.Repeat("a", 990) + "@example.com"
	taken := post("taken, other case", map[string]any{"email": "TAKEN@example.com", "password": goodPassword}, 400, "ValidationError", "email")
	taken.Shared, taken.Setup = false, registered("taken@example.com")
	taken.DB = []testkit.Query{usersWithEmail("taken@example.com", 1)}
	testkit.Run(t,
		testkit.Scenario{
			Name: "register", Method: http.MethodPost, Path: "/api/auth/register",
			Body:   map[string]any{"email": "Ada@Example.com", "password": goodPassword, "first_name": "Ada"},
			Status: http.StatusCreated,
			JSON:   []string{`"email":"Ada@Example.com"`, `"first_name":"Ada"`, `"last_name":""`, `"id":"`, `"auth_token":"`},
			// The password hash is never returned.
			NotJSON: []string{`"password"`},
			DB:      []testkit.Query{usersWithEmail("ada@example.com", 1), {SQL: "SELECT count(*) FROM users_tokens", Want: 1}},
			Check: func(t testing.TB, app *testkit.App, res *testkit.Response, _ testkit.Vars) {
				body := res.Map()
				token, _ := body["auth_token"].(string)
				if len(token) < 43 {
					t.Errorf("token %q is shorter than 32 bytes of entropy", token)
				}
				me := app.Client.WithToken(token).Get("/api/me").AssertStatus(http.StatusOK).Map()
				if v, ok := me["avatar_url"]; me["id"] != body["id"] || me["email"] != "Ada@Example.com" || !ok || v != nil {
					t.Errorf("me: %v", me)
				}
				// The token is stored only as a hash.
				var stored string
				if err := app.DB.NewRaw("SELECT key_hash FROM users_tokens").Scan(context.Background(), &stored); err != nil {
					t.Fatal(err)
				}
				if stored == token || stored != users.HashToken(token) {
					t.Errorf("stored %q, want the SHA-256 of the token", stored)
				}
			},
		},
		// HTML and SQL in names are stored and returned as data, not interpreted.
		testkit.Scenario{
			Name: "HTML and SQL in names", Method: http.MethodPost, Path: "/api/auth/register",
			Body:   map[string]any{"email": "html@example.com", "password": goodPassword, "first_name": "<script>alert(1)</script>", "last_name": "'; DROP TABLE users;--"},
			Status: http.StatusCreated,
			DB: []testkit.Query{
				{SQL: "SELECT first_name FROM users", Want: "<script>alert(1)</script>"},
				{SQL: "SELECT last_name FROM users", Want: "'; DROP TABLE users;--"},
			},
			Check: func(t testing.TB, _ *testkit.App, res *testkit.Response, _ testkit.Vars) {
				if got := res.Map()["first_name"]; got != "<script>alert(1)</script>" {
					t.Errorf("first_name round trip: %v", got)
				}
			},
		},
		taken,
		post("missing email", map[string]any{"password": goodPassword}, 400, "ValidationError", "email"),
		post("null email", map[string]any{"email": nil, "password": goodPassword}, 400, "ValidationError", "email"),
		post("bad email", map[string]any{"email": "not-an-email", "password": goodPassword}, 400, "ValidationError", "email"),
		post("1000-char email", map[string]any{"email": long, "password": goodPassword}, 400, "ValidationError", "email"),
		post("missing password", map[string]any{"email": "a@example.com"}, 400, "ValidationError", "password"),
		post("short password", map[string]any{"email": "a@example.com", "password": "x7!a"}, 400, "ValidationError", "password"),
		post("numeric password", map[string]any{"email": "a@example.com", "password": "9384756301"}, 400, "ValidationError", "password"),
		post("common password", map[string]any{"email": "a@example.com", "password": "password123"}, 400, "ValidationError", "password"),
		post("similar password", map[string]any{"email": "margaret.hamilton@example.com", "password": "margaret.hamilton"}, 400, "ValidationError", "password"),
		post("long first name", map[string]any{"email": "a@example.com", "password": goodPassword, "first_name": strings.Repeat("x", 121)}, 400, "ValidationError", "first_name"),
		post("number for email", map[string]any{"email": 42, "password": goodPassword}, 400, "ParseError"),
		post("list body", []any{1, 2}, 400, "ParseError"),
		post("malformed JSON", `{"email": "a@example.com",`, 400, "ParseError"),
		post("invalid UTF-8", "{\"email\": \"\xff\xfe@example.com\", \"password\": \"x\"}", 400, "ParseError"),
		post("SQL in email", map[string]any{"email": "x'); DROP TABLE users;--@example.com", "password": goodPassword}, 400, "ValidationError", "email"),
		func() testkit.Scenario {
			sc := post("not JSON", "email=a@example.com", http.StatusUnsupportedMediaType, "UnsupportedMediaType")
			sc.Header = map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
			return sc
		}(),
	)
}

func TestLoginScenarios(t *testing.T) {
	t.Parallel()
	login := func(name string, body map[string]any, status int) testkit.Scenario {
		return testkit.Scenario{
			Name: name, Method: http.MethodPost, Path: "/api/auth/login", Setup: registered("Grace@Example.com"),
			Body: body, Status: status,
		}
	}
	// A wrong password, an unknown email and an inactive user read the same.
	refused := func(sc testkit.Scenario) testkit.Scenario {
		sc.Error = &testkit.WantError{Type: "ValidationError", Fields: []string{"non_field_errors"}}
		sc.JSON = []string{badCredentials}
		sc.NotJSON = []string{`"auth_token"`}
		return sc
	}
	ok := login("email in another case", map[string]any{"email": "grace@example.COM", "password": goodPassword}, http.StatusOK)
	ok.JSON = []string{`"email":"Grace@Example.com"`, `"auth_token":"`}
	ok.DB = []testkit.Query{{SQL: "SELECT count(*) FROM users_tokens", Want: 2}}
	inactive := refused(login("inactive user", map[string]any{"email": "grace@example.com", "password": goodPassword}, 400))
	register := inactive.Setup
	inactive.Setup = func(t testing.TB, app *testkit.App) testkit.Vars {
		vars := register(t, app)
		if _, err := app.DB.NewRaw("UPDATE users SET is_active = ?", false).Exec(context.Background()); err != nil {
			t.Fatal(err)
		}
		return vars
	}
	missing := login("missing password", map[string]any{"email": "grace@example.com"}, 400)
	missing.Error = &testkit.WantError{Type: "ValidationError", Fields: []string{"password"}}
	testkit.Run(t,
		ok,
		refused(login("wrong password", map[string]any{"email": "grace@example.com", "password": "wrong-password-1"}, 400)),
		refused(login("unknown email", map[string]any{"email": "nobody@example.com", "password": goodPassword}, 400)),
		inactive,
		missing,
	)
}

func TestAuthErrorScenarios(t *testing.T) {
	t.Parallel()
	scs := []testkit.Scenario{{
		Name: "no credentials", Path: "/api/me", Shared: true,
		Status: http.StatusUnauthorized, Error: &testkit.WantError{Type: "NotAuthenticated"},
		Check: func(t testing.TB, _ *testkit.App, res *testkit.Response, _ testkit.Vars) {
			if !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("WWW-Authenticate: %q", res.Header.Get("WWW-Authenticate"))
			}
		},
	}}
	for _, h := range []string{"Bearer nonsense", "Bearer " + strings.Repeat("x", 5000), "Token abc", "Bearer", "Basic dXNlcjpwYXNz"} {
		scs = append(scs, testkit.Scenario{
			Name: h[:min(len(h), 20)], Path: "/api/me", Header: map[string]string{"Authorization": h}, Shared: true,
			Status: http.StatusUnauthorized, Error: &testkit.WantError{Type: "AuthenticationFailed"},
		})
	}
	testkit.Run(t, scs...)
}

func TestLogoutScenarios(t *testing.T) {
	t.Parallel()
	testkit.Run(t,
		testkit.Scenario{
			Name: "revokes that token only", Method: http.MethodPost, Path: "/api/auth/logout",
			Setup: loginAgain(registered("logout@example.com")), Header: bearer,
			Status: http.StatusNoContent,
			DB:     []testkit.Query{{SQL: "SELECT count(*) FROM users_tokens", Want: 1}},
			Check: func(t testing.TB, app *testkit.App, _ *testkit.Response, vars testkit.Vars) {
				meStatus(t, app, vars["token"], http.StatusUnauthorized)
				meStatus(t, app, vars["other"], http.StatusOK)
			},
		},
		testkit.Scenario{
			Name: "anonymous", Method: http.MethodPost, Path: "/api/auth/logout",
			Status: http.StatusUnauthorized, Error: &testkit.WantError{Type: "NotAuthenticated"},
		},
	)
}

func TestPasswordChangeScenarios(t *testing.T) {
	t.Parallel()
	change := func(name string, body map[string]any, status int, fields ...string) testkit.Scenario {
		sc := testkit.Scenario{
			Name: name, Method: http.MethodPost, Path: "/api/auth/password_change",
			Setup: loginAgain(registered("change@example.com")), Header: bearer,
			Body: body, Status: status,
		}
		if len(fields) > 0 {
			sc.Error = &testkit.WantError{Type: "ValidationError", Fields: fields}
			// A refused change changes nothing.
			sc.Check = func(t testing.TB, app *testkit.App, _ *testkit.Response, vars testkit.Vars) {
				meStatus(t, app, vars["other"], http.StatusOK)
				loginStatus(t, app, "change@example.com", goodPassword, http.StatusOK)
			}
		}
		return sc
	}
	ok := change("changed", map[string]any{"current_password": goodPassword, "new_password": "another-fine-pass-7"}, http.StatusNoContent)
	// The token used stays valid, every other one is revoked.
	ok.DB = []testkit.Query{{SQL: "SELECT count(*) FROM users_tokens", Want: 1}}
	ok.Check = func(t testing.TB, app *testkit.App, _ *testkit.Response, vars testkit.Vars) {
		meStatus(t, app, vars["token"], http.StatusOK)
		meStatus(t, app, vars["other"], http.StatusUnauthorized)
		loginStatus(t, app, "change@example.com", goodPassword, http.StatusBadRequest)
		loginStatus(t, app, "change@example.com", "another-fine-pass-7", http.StatusOK)
	}
	testkit.Run(t,
		ok,
		change("wrong current password", map[string]any{"current_password": "nope-nope-nope", "new_password": "another-fine-pass-7"}, 400, "current_password"),
		change("weak new password", map[string]any{"current_password": goodPassword, "new_password": "123"}, 400, "new_password"),
		change("no new password", map[string]any{"current_password": goodPassword}, 400, "new_password"),
		testkit.Scenario{
			Name: "anonymous", Method: http.MethodPost, Path: "/api/auth/password_change",
			Body:   map[string]any{"current_password": "x", "new_password": "y"},
			Status: http.StatusUnauthorized, Error: &testkit.WantError{Type: "NotAuthenticated"},
		},
	)
}

func TestPasswordResetScenarios(t *testing.T) {
	t.Parallel()
	const sent = `"message":"Further instructions will be sent to the email if it exists"`
	reset := func(name, email string) testkit.Scenario {
		return testkit.Scenario{
			Name: name, Method: http.MethodPost, Path: "/api/auth/password_reset",
			Setup: registered("reset@example.com"), Body: map[string]any{"email": email},
			Options: []any{testkit.Settings{"FRONTEND_URL": "https://app.example.com"}},
			Status:  http.StatusOK, JSON: []string{sent},
		}
	}
	known := reset("known email, other case", "Reset@example.com")
	known.Emails = []string{"reset@example.com"}
	known.Check = func(t testing.TB, app *testkit.App, _ *testkit.Response, _ testkit.Vars) {
		msg := app.Outbox().Outbox()[0]
		if !strings.Contains(msg.Text, "https://app.example.com/reset-password/") || msg.HTML == "" {
			t.Errorf("reset email: text %q, html %d bytes", msg.Text, len(msg.HTML))
		}
	}
	// An unknown email gets the same answer, and no email goes out.
	unknown := reset("unknown email", "unknown@example.com")
	unknown.Emails = []string{}
	inactive := reset("inactive user", "reset@example.com")
	inactive.Setup = func(t testing.TB, app *testkit.App) testkit.Vars {
		userstest.Register(t, app, "reset@example.com")
		if _, err := app.DB.NewRaw("UPDATE users SET is_active = ?", false).Exec(context.Background()); err != nil {
			t.Fatal(err)
		}
		return nil
	}
	inactive.Emails = []string{}
	bad := func(name string, body map[string]any) testkit.Scenario {
		return testkit.Scenario{
			Name: name, Method: http.MethodPost, Path: "/api/auth/password_reset", Body: body,
			Status: http.StatusBadRequest, Error: &testkit.WantError{Type: "ValidationError", Fields: []string{"email"}},
			Emails: []string{},
		}
	}
	testkit.Run(t, known, unknown, inactive, bad("bad email", map[string]any{"email": "bad"}), bad("no email", map[string]any{}))
}

func TestPatchMeScenarios(t *testing.T) {
	t.Parallel()
	patch := func(name string, body map[string]any, status int) testkit.Scenario {
		return testkit.Scenario{
			Name: name, Method: http.MethodPatch, Path: "/api/me", Header: bearer, Body: body, Status: status,
			Setup: func(t testing.TB, app *testkit.App) testkit.Vars {
				userstest.Register(t, app, "other@example.com")
				return registered("me@example.com")(t, app)
			},
		}
	}
	refused := func(sc testkit.Scenario, typ string, fields ...string) testkit.Scenario {
		sc.Error = &testkit.WantError{Type: typ, Fields: fields}
		sc.DB = []testkit.Query{
			{SQL: "SELECT email FROM users WHERE id = ?", Args: []any{"{id}"}, Want: "me@example.com"},
			{SQL: "SELECT last_name FROM users WHERE id = ?", Args: []any{"{id}"}, Want: "Lovelace"},
		}
		return sc
	}
	// Read-only and unknown fields are ignored.
	names := patch("names; read-only fields ignored", map[string]any{"first_name": "Katherine", "id": "00000000-0000-0000-0000-000000000000", "is_staff": true, "unknown": 1}, http.StatusOK)
	names.JSON = []string{`"id":"{id}"`, `"first_name":"Katherine"`, `"last_name":"Lovelace"`}
	names.DB = []testkit.Query{
		{SQL: "SELECT is_staff FROM users WHERE id = ?", Args: []any{"{id}"}, Want: false},
		{SQL: "SELECT first_name FROM users WHERE id = ?", Args: []any{"{id}"}, Want: "Katherine"},
	}
	// The cached /me is updated too.
	names.Check = func(t testing.TB, app *testkit.App, _ *testkit.Response, vars testkit.Vars) {
		if again := app.Client.WithToken(vars["token"]).Get("/api/me").AssertStatus(http.StatusOK).Map(); again["first_name"] != "Katherine" {
			t.Errorf("the cached /me was not updated: %v", again)
		}
	}
	email := patch("email", map[string]any{"email": "new@example.com"}, http.StatusOK)
	email.JSON = []string{`"email":"new@example.com"`}
	email.DB = []testkit.Query{usersWithEmail("new@example.com", 1), usersWithEmail("me@example.com", 0)}
	email.Check = func(t testing.TB, app *testkit.App, _ *testkit.Response, _ testkit.Vars) {
		loginStatus(t, app, "new@example.com", goodPassword, http.StatusOK)
	}
	testkit.Run(t,
		names,
		email,
		refused(patch("email taken, other case", map[string]any{"email": "OTHER@example.com"}, 400), "ValidationError", "email"),
		refused(patch("bad email", map[string]any{"email": "nope"}, 400), "ValidationError", "email"),
		refused(patch("number for a name", map[string]any{"first_name": 7}, 400), "ParseError"),
		refused(patch("long last name", map[string]any{"last_name": strings.Repeat("y", 121)}, 400), "ValidationError", "last_name"),
	)
}

func TestVersioningScenarios(t *testing.T) {
	t.Parallel()
	// The rows share a project, each with a user of its own.
	var scs []testkit.Scenario
	for i, accept := range []string{"", "*/*", "application/json", "application/vnd.manouche+json; version=1.0", "application/vnd.manouche+json; version=2.0"} {
		email := fmt.Sprintf("v%d@example.com", i)
		sc := testkit.Scenario{
			Name: "accept " + accept, Path: "/api/me", As: userstest.SignedIn(email), Shared: true,
			Header: map[string]string{"Accept": accept}, Status: http.StatusOK, JSON: []string{`"email":"` + email + `"`},
		}
		if strings.HasSuffix(accept, "version=2.0") {
			sc.Status, sc.JSON, sc.Error = http.StatusNotAcceptable, nil, &testkit.WantError{Type: "NotAcceptable"}
		}
		scs = append(scs, sc)
	}
	testkit.Run(t, scs...)
}
