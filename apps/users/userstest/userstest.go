// Package userstest makes users of the users app for tests, like Django's
// User.objects.create_user followed by force_login: a user made directly in
// the database (no request, so no throttle counts it) and a bearer token.
//
//	testkit.Run(t, testkit.Scenario{
//		Name: "create", Method: "POST", Path: "/api/blog/posts",
//		As:   userstest.SignedIn("ada@example.com"),
//		Body: map[string]any{"title": "Hi"}, Status: 201,
//	})
package userstest

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"manouche/apps/users"
	"manouche/core/testkit"
)

// Password is the password of every user this package makes.
const Password = "correct-horse-battery-9"

// Register makes an active user with email and Password, named Ada Lovelace,
// and returns its id and a bearer token for it.
func Register(t testing.TB, app *testkit.App, email string) (id, token string) {
	t.Helper()
	return create(t, app, &users.User{Email: email, FirstName: "Ada", LastName: "Lovelace", IsActive: true})
}

// SignedIn is a Scenario's As: it registers email and returns a client that
// sends that user's token.
func SignedIn(email string) func(t testing.TB, app *testkit.App) *testkit.Client {
	return func(t testing.TB, app *testkit.App) *testkit.Client {
		t.Helper()
		_, token := Register(t, app, email)
		return app.Client.WithToken(token)
	}
}

// Staff is SignedIn for a staff user (is_staff, not superuser).
func Staff(email string) func(t testing.TB, app *testkit.App) *testkit.Client {
	return func(t testing.TB, app *testkit.App) *testkit.Client {
		t.Helper()
		_, token := create(t, app, &users.User{Email: email, FirstName: "Ada", LastName: "Lovelace", IsActive: true, IsStaff: true})
		return app.Client.WithToken(token)
	}
}

// Token issues another bearer token for the user id, as a second login would
// (without checking the password, which costs an Argon2 hash).
func Token(t testing.TB, app *testkit.App, id string) string {
	t.Helper()
	uid, err := uuid.Parse(id)
	if err != nil {
		t.Fatalf("userstest: user id %q: %v", id, err)
	}
	token, err := users.NewAccounts(app.Project).IssueToken(context.Background(), app.DB, uid)
	if err != nil {
		t.Fatalf("userstest: token for %s: %v", id, err)
	}
	return token
}

// Create stores u (its Password set to Password) and returns its id and a
// bearer token: for staff members and superusers, or any flags a test needs.
func Create(t testing.TB, app *testkit.App, u *users.User) (id, token string) {
	t.Helper()
	return create(t, app, u)
}

// Grant makes perms ("blog.view_post") the user's own permissions, replacing any it had.
func Grant(t testing.TB, app *testkit.App, id string, perms ...string) {
	t.Helper()
	if err := users.AccountsOf(app.Project).SetUserPermissions(context.Background(), uuid.MustParse(id), perms); err != nil {
		t.Fatalf("userstest: grant %v to %s: %v", perms, id, err)
	}
}

func create(t testing.TB, app *testkit.App, u *users.User) (id, token string) {
	t.Helper()
	accounts := users.NewAccounts(app.Project)
	err := app.DB.RunInTx(context.Background(), nil, func(ctx context.Context, tx bun.Tx) error {
		if err := accounts.CreateUser(ctx, tx, u, Password); err != nil {
			return err
		}
		var err error
		token, err = accounts.IssueToken(ctx, tx, u.ID)
		return err
	})
	if err != nil {
		t.Fatalf("userstest: make user %s: %v", u.Email, err)
	}
	return u.ID.String(), token
}
