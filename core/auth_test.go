package core_test

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"manouche/core"
	"manouche/core/cli"
	"manouche/core/testkit"
	"manouche/settings"
)

// guardedApp has a route that needs a signed-in user.
type guardedApp struct{}

func (guardedApp) Name() string   { return "blog" }
func (guardedApp) Prefix() string { return "/api/blog" }
func (guardedApp) Routes(r fiber.Router, p *core.Project) {
	r.Get("/posts", p.RequireAuth(), func(c *fiber.Ctx) error { return c.SendStatus(fiber.StatusNoContent) })
}

// tokenUser is the user tokenAuth returns.
type tokenUser string

func (u tokenUser) UserID() string { return string(u) }

// tokenAuth accepts the token "good"; its authenticator accepts no other.
type tokenAuth struct{ name string }

func (a tokenAuth) Name() string { return a.name }
func (tokenAuth) Authenticator(*core.Project) (core.Authenticator, error) {
	return authFunc(func(_ context.Context, token string) (core.User, error) {
		if token != "good" {
			return nil, errBadToken
		}
		return tokenUser("u1"), nil
	}), nil
}

type authFunc func(ctx context.Context, token string) (core.User, error)

func (f authFunc) Authenticate(ctx context.Context, token string) (core.User, error) {
	return f(ctx, token)
}

var errBadToken = fiber.NewError(fiber.StatusUnauthorized, "bad token")

// newProject builds a project of the given apps on a fresh database.
func newProject(t *testing.T, installed []core.App) (*core.Project, error) {
	t.Helper()
	opts := settings.Options{Layer: "testing", Environ: []string{}, DotEnv: "-", SkipAbsentApps: true, Overrides: map[string]any{
		"DATABASE_URL": testkit.Database(t), "MEDIA_ROOT": filepath.Join(t.TempDir(), "media"),
	}}
	st, err := core.LoadSettings(opts, installed)
	if err != nil {
		t.Fatal(err)
	}
	p, err := core.New(context.Background(), st, core.Options{Apps: installed})
	if p != nil {
		t.Cleanup(func() { _ = p.Close() })
	}
	return p, err
}

const noProvider = `routes of app "blog" need a signed-in user (RequireAuth) but no installed app provides authentication: add users.App{} to apps.Installed in apps/apps.go`

// TestRequireAuthWithoutProvider: routes that need a signed-in user and no
// app that provides authentication stop the project at start, instead of
// answering 401 to everyone.
func TestRequireAuthWithoutProvider(t *testing.T) {
	t.Parallel()
	p, err := newProject(t, []core.App{guardedApp{}})
	if err != nil {
		t.Fatal(err)
	}
	if p.Auth() != nil {
		t.Errorf("Auth() = %v with no provider installed", p.Auth())
	}
	if err := p.MountRoutes(fiber.New(), nil); err == nil || err.Error() != noProvider {
		t.Errorf("MountRoutes error = %v, want %q", err, noProvider)
	}

	// runserver exits 1 with the message, before serving.
	var out, errb bytes.Buffer
	code := cli.Execute(context.Background(), []string{"runserver", "127.0.0.1:0"}, cli.Env{
		Installed: []core.App{guardedApp{}},
		Settings: settings.Options{Layer: "testing", Environ: []string{}, DotEnv: "-", SkipAbsentApps: true, Overrides: map[string]any{
			"DATABASE_URL": testkit.Database(t), "MEDIA_ROOT": filepath.Join(t.TempDir(), "media"), "RUN_WORKER": false,
		}},
		Stdout: &out, Stderr: &errb,
	})
	if code != 1 || !strings.Contains(errb.String(), noProvider) {
		t.Errorf("runserver: exit %d, stderr %q, want 1 and %q", code, errb.String(), noProvider)
	}
	if strings.Contains(out.String(), "serving on") {
		t.Errorf("runserver served: %q", out.String())
	}
}

func TestAuthProvider(t *testing.T) {
	t.Parallel()
	t.Run("one provider", func(t *testing.T) {
		t.Parallel()
		app := testkit.New(t, testkit.Apps{tokenAuth{"accounts"}, guardedApp{}})
		if app.Auth() == nil {
			t.Fatal("Auth() is nil with a provider installed")
		}
		app.Client.Get("/api/blog/posts").AssertStatus(401)
		app.Client.WithToken("good").Get("/api/blog/posts").AssertStatus(204)
	})
	t.Run("two providers", func(t *testing.T) {
		t.Parallel()
		_, err := newProject(t, []core.App{tokenAuth{"accounts"}, tokenAuth{"sso"}})
		if err == nil || !strings.Contains(err.Error(), `apps "accounts" and "sso" both provide authentication`) {
			t.Errorf("New error = %v", err)
		}
	})
}

func TestShared(t *testing.T) {
	t.Parallel()
	p, err := newProject(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	q, err := newProject(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	builds := 0
	build := func(*core.Project) *int { builds++; return new(int) }
	a, b := core.Shared(p, "k", build), core.Shared(p, "k", build)
	if a != b || builds != 1 {
		t.Errorf("Shared built %d values for one project and key (same: %v), want 1", builds, a == b)
	}
	if c := core.Shared(q, "k", build); c == a || builds != 2 {
		t.Errorf("Shared shares a value across projects (builds %d)", builds)
	}
}
