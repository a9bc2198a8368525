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

// Routes mounts the auth API and /me.
func (App) Routes(r fiber.Router, p *core.Project) {
	h := &handlers{p: p, accounts: AccountsOf(p)}
	rate := p.Settings.AuthThrottleRate
	auth := p.RequireAuth()
	r.Post("/auth/register", p.Throttle("register", rate, nil), h.register)
	r.Post("/auth/login", p.Throttle("login", rate, nil), h.login)
	r.Post("/auth/logout", auth, h.logout)
	r.Post("/auth/password_change", auth, h.passwordChange)
	r.Post("/auth/password_reset", p.Throttle("password_reset", rate, nil), h.passwordReset)
	r.Post("/auth/password_reset_confirm", p.Throttle("password_reset_confirm", rate, nil), h.passwordResetConfirm)
	r.Get("/me", auth, h.me)
	r.Patch("/me", auth, h.updateMe)
	h.avatarRoutes(r, auth)
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
