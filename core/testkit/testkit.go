// Package testkit is Manouche's django.test: a test project with a fresh,
// migrated database of its own for every test, settings overridable per test,
// an in-memory HTTP client with JSON helpers, and a way to run commands.
//
//	func TestPosts(t *testing.T) {
//		t.Parallel()
//		app := testkit.New(t, testkit.Settings{"API_THROTTLE_RATE": "5/min"})
//		res := app.Client.Post("/api/blog/posts", map[string]any{"title": "Hi"})
//		res.AssertStatus(201)
//	}
//
// The database is a temporary SQLite file, or, when TEST_DATABASE_URL names a
// Postgres server, a fresh schema in it, dropped when the test ends. When
// TEST_REDIS_URL is set the cache uses that Redis under a prefix of the test's own.
package testkit

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io/fs"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"manouche/core"
	"manouche/core/mail"
	"manouche/core/testenv"
	"manouche/core/testkit/testdb"
	"manouche/settings"
)

// Settings overrides settings for one test, by name (as in the environment).
type Settings map[string]any

// Templates replaces the project's templates/ folder for one test.
type Templates struct{ FS fs.FS }

// NoMigrate leaves the database empty (for tests of the migration commands).
type NoMigrate struct{}

// App is a running test project.
type App struct {
	*core.Project
	// Handler is the project's Fiber application.
	Handler *fiber.App
	// Client sends requests to Handler in memory.
	Client *Client
	// DatabaseURL is the URL of the test's own database.
	DatabaseURL string

	t          testing.TB
	settings   settings.Options
	options    core.Options
	workerOnce sync.Once
}

// Outbox starts the project's email worker (once per test) and returns the
// in-memory outbox that the testing settings' EMAIL_BACKEND=memory delivers
// to, like Django's mail.outbox. Use its Wait to wait for queued emails.
func (a *App) Outbox() *mail.Memory {
	a.t.Helper()
	mem, ok := a.Mail.(*mail.Memory)
	if !ok {
		a.t.Fatalf("testkit: Outbox needs EMAIL_BACKEND=memory, the project has %T", a.Mail)
	}
	a.workerOnce.Do(func() {
		if err := a.Queue.Start(context.Background()); err != nil {
			a.t.Fatalf("testkit: start the email worker: %v", err)
		}
		a.t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = a.Queue.Stop(ctx)
		})
	})
	return mem
}

// New builds a test project for t with a fresh database, migrated, and
// registers its cleanup. Options are Settings, Templates and NoMigrate values.
func New(t testing.TB, options ...any) *App {
	t.Helper()
	overrides := map[string]any{}
	var coreOpts core.Options
	migrate := true
	for _, o := range options {
		switch o := o.(type) {
		case Settings:
			for k, v := range o {
				overrides[k] = v
			}
		case Templates:
			coreOpts.Templates = o.FS
		case NoMigrate:
			migrate = false
		default:
			t.Fatalf("testkit.New: unknown option %T", o)
		}
	}
	dbURL := Database(t)
	if _, ok := overrides["DATABASE_URL"]; !ok {
		overrides["DATABASE_URL"] = dbURL
	}
	if redisURL := testenv.Optional(testenv.RedisURL); redisURL != "" {
		if _, ok := overrides["REDIS_URL"]; !ok {
			overrides["REDIS_URL"] = redisURL
		}
		if _, ok := overrides["CACHE_KEY_PREFIX"]; !ok {
			overrides["CACHE_KEY_PREFIX"] = "test:" + randomHex(6) + ":"
		}
	}
	if _, ok := overrides["MEDIA_ROOT"]; !ok {
		overrides["MEDIA_ROOT"] = filepath.Join(t.TempDir(), "media")
	}
	sopts := settings.Options{Layer: "testing", Environ: []string{}, DotEnv: "-", Overrides: overrides}
	st, err := core.LoadSettings(sopts)
	if err != nil {
		t.Fatalf("testkit: settings: %v", err)
	}
	ctx := context.Background()
	p, err := core.New(ctx, st, coreOpts)
	if err != nil {
		t.Fatalf("testkit: project: %v", err)
	}
	t.Cleanup(func() { _ = p.Close() })
	if migrate {
		if _, err := p.Migrations().Migrate(ctx); err != nil {
			t.Fatalf("testkit: migrate: %v", err)
		}
	}
	app := &App{Project: p, DatabaseURL: dbURL, t: t, settings: sopts, options: coreOpts}
	app.Handler = p.Handler()
	app.Client = &Client{t: t, app: app.Handler, header: map[string]string{}}
	return app
}

// Command runs a command line (`migrate`, `createsuperuser --noinput`, ...)
// against the test's settings and database, and returns its output and exit
// status. stdin is what the command reads.
func (a *App) Command(stdin string, args ...string) (stdout, stderr string, code int) {
	a.t.Helper()
	var out, errb bytes.Buffer
	code = core.Execute(context.Background(), args, core.Env{
		Settings: a.settings,
		Options:  a.options,
		Stdin:    strings.NewReader(stdin),
		Stdout:   &out,
		Stderr:   &errb,
	})
	return out.String(), errb.String(), code
}

// Database returns the URL of a fresh, empty database for t: a SQLite file in
// t.TempDir(), or a new schema in the Postgres server of TEST_DATABASE_URL,
// dropped when t ends (testdb.URL on testdb.Default()).
func Database(t testing.TB) string {
	t.Helper()
	return testdb.URL(t, testdb.Default())
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Serve runs the project's real HTTP server on a free loopback port until the
// test ends, and returns its base URL (http://127.0.0.1:PORT). Use it for what
// the in-memory client cannot show: body limits enforced while reading,
// connection handling, concurrency.
func (a *App) Serve() string {
	a.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- a.Project.Serve(ctx, "127.0.0.1:0", func(addr net.Addr) { addrc <- addr.String() })
	}()
	select {
	case addr := <-addrc:
		a.t.Cleanup(func() {
			cancel()
			<-done
		})
		return "http://" + addr
	case err := <-done:
		cancel()
		a.t.Fatalf("testkit: serve: %v", err)
	}
	return ""
}
