package userstest_test

import (
	"net/http"
	"testing"

	"manouche/apps/users/userstest"
	"manouche/core/testkit"
)

func TestUsers(t *testing.T) {
	t.Parallel()
	staff := func(want bool) testkit.Query {
		return testkit.Query{SQL: "SELECT is_staff FROM users WHERE email = 'ada@example.com'", Want: want}
	}
	testkit.Run(t,
		testkit.Scenario{
			Name: "signed in", Path: "/api/me", As: userstest.SignedIn("ada@example.com"),
			Status: http.StatusOK, JSON: []string{`"email":"ada@example.com"`, `"first_name":"Ada"`, `"last_name":"Lovelace"`},
			DB: []testkit.Query{staff(false), {SQL: "SELECT is_superuser FROM users", Want: false}},
		},
		testkit.Scenario{
			Name: "staff", Path: "/api/me", As: userstest.Staff("ada@example.com"),
			Status: http.StatusOK, DB: []testkit.Query{staff(true), {SQL: "SELECT is_superuser FROM users", Want: false}},
		},
		testkit.Scenario{
			Name: "a second token, and the password", Method: http.MethodPost, Path: "/api/auth/login",
			Setup: func(t testing.TB, app *testkit.App) testkit.Vars {
				id, _ := userstest.Register(t, app, "ada@example.com")
				return testkit.Vars{"other": userstest.Token(t, app, id)}
			},
			Body:   map[string]any{"email": "ada@example.com", "password": userstest.Password},
			Status: http.StatusOK,
			DB:     []testkit.Query{{SQL: "SELECT count(*) FROM users_tokens", Want: 3}},
			Check: func(t testing.TB, app *testkit.App, _ *testkit.Response, vars testkit.Vars) {
				app.Client.WithToken(vars["other"]).Get("/api/me").AssertStatus(http.StatusOK)
			},
		},
	)
}
