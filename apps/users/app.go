// Package users is the users app: the account model, the auth API of
// ../shared/API.md (register, login, logout, password change and reset, /me),
// bearer tokens read through the cache, and the createsuperuser and
// changepassword commands.
package users

import (
	"embed"
	"io/fs"

	"github.com/gofiber/fiber/v2"

	"manouche/core"
	"manouche/core/db"
	"manouche/core/openapi"
)

//go:embed migrations
var migrationFiles embed.FS

//go:embed templates
var templateFiles embed.FS

// App is the users app.
type App struct{}

// Name is the app's name.
func (App) Name() string { return "users" }

// Prefix mounts the app's routes under /api.
func (App) Prefix() string { return "/api" }

// Migrations returns the app's migrations folder.
func (App) Migrations() fs.FS { return sub(migrationFiles, "migrations") }

// Templates returns the app's templates (the password reset email).
func (App) Templates() fs.FS { return sub(templateFiles, "templates") }

// Models lists the app's bun models.
func (App) Models() []any {
	return []any{(*User)(nil), (*Token)(nil), (*Permission)(nil), (*Group)(nil),
		(*GroupPermission)(nil), (*UserGroup)(nil), (*UserPermission)(nil)}
}

// Authenticator makes the project's accounts service its authenticator:
// the users app is the project's AuthProvider.
func (App) Authenticator(p *core.Project) (core.Authenticator, error) { return AccountsOf(p), nil }

// Routes mounts the auth API and /me, each route with its OpenAPI
// description (package openapi): the structs the handlers bind and answer.
func (App) Routes(r fiber.Router, p *core.Project) {
	h := &handlers{p: p, accounts: AccountsOf(p)}
	rate := p.Settings.AuthThrottleRate
	auth := p.RequireAuth()
	d := openapi.Describe(r, p)
	d.Post("/auth/register", openapi.Op{
		ID: "register", Summary: "Create an account and sign in",
		Description: "Password rules: at least 8 characters, not entirely numeric, not a common password, not too similar to the email.",
		Body:        RegisterRequest{},
		Responses:   openapi.Responses{201: AuthResponse{}},
	}, p.Throttle("register", rate, nil), h.register)
	d.Post("/auth/login", openapi.Op{
		ID: "login", Summary: "Sign in: a new bearer token",
		Description: "A wrong email or password, or an inactive user, is one non_field_errors ValidationError that does not say which.",
		Body:        LoginRequest{},
		Responses:   openapi.Responses{200: AuthResponse{}},
	}, p.Throttle("login", rate, nil), h.login)
	d.Post("/auth/logout", openapi.Op{
		ID: "logout", Summary: "Sign out: revoke this token",
		Responses: openapi.Responses{204: openapi.NoContent},
	}, auth, h.logout)
	d.Post("/auth/password_change", openapi.Op{
		ID: "password_change", Summary: "Change the password",
		Description: "Every other token of the user is revoked; this one keeps working.",
		Body:        PasswordChangeRequest{},
		Responses:   openapi.Responses{204: openapi.NoContent},
	}, auth, h.passwordChange)
	d.Post("/auth/password_reset", openapi.Op{
		ID: "password_reset", Summary: "Email a password reset link",
		Description: "Answers the same whether the email has an account or not.",
		Body:        PasswordResetRequest{},
		Responses:   openapi.Responses{200: Message{}},
	}, p.Throttle("password_reset", rate, nil), h.passwordReset)
	d.Post("/auth/password_reset_confirm", openapi.Op{
		ID: "password_reset_confirm", Summary: "Set a new password with a reset token",
		Description: "The token is single-use; every auth token of the user is revoked.",
		Body:        PasswordResetConfirmRequest{},
		Responses:   openapi.Responses{204: openapi.NoContent},
	}, p.Throttle("password_reset_confirm", rate, nil), h.passwordResetConfirm)
	d.Get("/me", openapi.Op{
		ID: "me_retrieve", Summary: "The signed-in user",
		Responses: openapi.Responses{200: Me{}},
	}, auth, h.me)
	d.Patch("/me", openapi.Op{
		ID: "me_partial_update", Summary: "Change the signed-in user's names or email",
		Body:      MeUpdate{},
		Responses: openapi.Responses{200: Me{}},
	}, auth, h.updateMe)
	h.avatarRoutes(d, auth)
}

func sub(f fs.FS, dir string) fs.FS {
	s, err := fs.Sub(f, dir)
	if err != nil {
		panic(err)
	}
	return s
}

func isUnique(err error) bool { return db.IsUniqueViolation(err) }

var (
	_ core.Router        = App{}
	_ core.Migrator      = App{}
	_ core.Templater     = App{}
	_ core.AuthProvider  = App{}
	_ core.Commander     = App{}
	_ core.Modeler       = App{}
	_ core.User          = (*User)(nil)
	_ core.Authenticator = (*Accounts)(nil)
)
