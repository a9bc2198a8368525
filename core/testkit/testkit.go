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
//
// # Never out of date: the OpenAPI document
//
// Every request the Client sends and every response it receives are validated
// against the app's OpenAPI document (github.com/pb33f/libopenapi-validator),
// in every test, with nothing to opt into. The document is the app's own: GET
// /api/openapi.json through the Fiber app, once per App (parsed once per
// process for identical bytes); an app that serves none (API_DOCS=false) is
// validated against the document built in process, and no document at all
// fails the test. Requests under the first path segments of the document's
// paths (/api, /health) are checked; others (/admin, /media, pages) are not:
//
//   - an operation the document lacks fails the test if a route of the app
//     serves it (the route is undescribed); otherwise the answer must be the
//     router's 404 or 405 in the API error shape;
//   - a request that breaks the document (bad JSON, missing or mistyped
//     fields, no bearer token) must be answered by a 4xx in the error shape:
//     a 2xx fails ("the handler accepted input the document says is
//     invalid"), and so does a 5xx;
//   - the response's status (or a default) must be declared, its content type
//     declared for it, its body valid against the schema, and a status
//     declared without content must come without a body.
//
// App.Raw and RawJSON validate the response only, when the request maps to a
// documented operation. Failures name the method, path, status, the
// validator's reasons and the (truncated) body. Client.Unchecked turns the
// validation off for the rare test of behaviour outside the document on
// purpose; a mismatch is a bug in the handler or in its description, to fix.
package testkit

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"manouche/core"
	"manouche/core/cli"
	"manouche/core/fixtures"
	"manouche/core/mail"
	"manouche/core/server"
	"manouche/core/testenv"
	"manouche/core/testkit/testdb"
	"manouche/settings"
)

// Settings overrides settings for one test, by the name `go run . settings`
// prints and the environment accepts: "API_THROTTLE_RATE", or
// "BLOG_COMMENT_MAX_LENGTH" for key COMMENT_MAX_LENGTH of the blog app's
// section. A name no setting has fails the test, naming the nearest one.
type Settings map[string]any

// Templates replaces the project's templates/ folder for one test.
type Templates struct{ FS fs.FS }

// NoMigrate leaves the database empty (for tests of the migration commands).
type NoMigrate struct{}

// Apps is the installed list of one test's project, instead of the one given
// to Main.
type Apps []core.App

// installed is the list Main was given: the default of every New.
var installed []core.App

// Main runs the package's tests with installed as every test project's
// installed list (Django runs tests with INSTALLED_APPS). Call it from the
// package's TestMain:
//
//	func TestMain(m *testing.M) { testkit.Main(m, apps.Installed) }
func Main(m *testing.M, apps []core.App) {
	installed = apps
	os.Exit(m.Run())
}

// App is a running test project.
type App struct {
	*core.Project
	// Server is the project's HTTP stack (core/server); Handler its Fiber application.
	Server  *server.Server
	Handler *fiber.App
	// Client sends requests to Handler in memory.
	Client *Client
	// DatabaseURL is the URL of the test's own database.
	DatabaseURL string

	t          testing.TB
	settings   settings.Options
	options    core.Options
	workerOnce sync.Once
	serveOnce  sync.Once
	base       string
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
// registers its cleanup. Options are Settings, Templates, NoMigrate and Apps
// values; without Apps, the project has the apps given to Main.
func New(t testing.TB, options ...any) *App {
	t.Helper()
	overrides := map[string]any{}
	var coreOpts core.Options
	migrate := true
	coreOpts.Apps = installed
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
		case Apps:
			coreOpts.Apps = o
		default:
			t.Fatalf("testkit.New: unknown option %T", o)
		}
	}
	if coreOpts.Apps == nil {
		t.Fatalf("testkit.New: no installed apps: call testkit.Main(m, apps.Installed) from the package's TestMain, or pass testkit.Apps{...}")
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
	// The project's layer files may configure apps this test binary does not
	// link (it has those its package imports): their sections are skipped.
	sopts := settings.Options{Layer: "testing", Environ: []string{}, DotEnv: "-", Overrides: overrides, SkipAbsentApps: true}
	st, err := core.LoadSettings(sopts, coreOpts.Apps)
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
	srv, err := server.New(p)
	if err != nil {
		t.Fatalf("testkit: %v", err)
	}
	app.Server = srv
	app.Handler = srv.Handler()
	app.Client = &Client{t: t, app: app.Handler, header: map[string]string{}, check: newChecker(app.Handler, srv.OpenAPIJSON)}
	return app
}

// Command runs a command line (`migrate`, `createsuperuser --noinput`, ...)
// against the test's settings and database, and returns its output and exit
// status. stdin is what the command reads.
func (a *App) Command(stdin string, args ...string) (stdout, stderr string, code int) {
	a.t.Helper()
	var out, errb bytes.Buffer
	code = cli.Execute(context.Background(), args, cli.Env{
		Installed: a.options.Apps,
		Settings:  a.settings,
		Options:   a.options,
		Stdin:     strings.NewReader(stdin),
		Stdout:    &out,
		Stderr:    &errb,
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
		ln, err := server.Listen("127.0.0.1:0")
		if err != nil {
			done <- err
			return
		}
		done <- a.Server.Serve(ctx, ln, func(addr net.Addr) { addrc <- addr.String() })
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

// Raw writes request, one HTTP/1.1 request written by hand ("\r\n" line
// ends, a Content-Length that matches its body), to the project's real
// server (started with Serve on first use, kept for the rest of the test)
// over a new TCP connection, and returns the response. Nothing between the
// test and the server normalises what it sends, as an attacker's tools would
// not: use it for headers, URLs and bodies that net/http or app.Test would
// refuse or rewrite. {addr} in request is replaced by the server's host:port.
func (a *App) Raw(request string) *Response {
	a.t.Helper()
	a.serveOnce.Do(func() { a.base = strings.TrimPrefix(a.Serve(), "http://") })
	conn, err := net.DialTimeout("tcp", a.base, 5*time.Second)
	if err != nil {
		a.t.Fatalf("testkit: raw: dial: %v", err)
	}
	defer func() { _ = conn.Close() }()
	// A request the server never answers fails the test instead of hanging it.
	_ = conn.SetDeadline(time.Now().Add(15 * time.Second))
	request = strings.ReplaceAll(request, "{addr}", a.base)
	if _, err := io.WriteString(conn, request); err != nil {
		a.t.Fatalf("testkit: raw: write: %v", err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		a.t.Fatalf("testkit: raw: read response to %q: %v", firstLine(request), err)
	}
	defer func() { _ = res.Body.Close() }()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		a.t.Fatalf("testkit: raw: read body: %v", err)
	}
	if a.Client != nil && a.Client.check != nil && !a.Client.unchecked {
		a.Client.check.validateRaw(a.t, request, res.StatusCode, res.Header, b)
	}
	return &Response{t: a.t, Status: res.StatusCode, Header: res.Header, Body: b}
}

// RawJSON is Raw for a request with a JSON body (sent as it is) and extra
// header lines ("Authorization: Bearer x"): Host is the server's address.
func (a *App) RawJSON(method, target, body string, header ...string) *Response {
	a.t.Helper()
	var b strings.Builder
	b.WriteString(method + " " + target + " HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n")
	for _, h := range header {
		b.WriteString(h + "\r\n")
	}
	if body != "" {
		b.WriteString("Content-Type: application/json\r\n")
	}
	b.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
	return a.Raw(b.String())
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\r\n")
	return line
}

// LoadData loads fixture files (dumpdata's JSON, see core/fixtures) into the
// test's database, in one transaction, like Django's TestCase.fixtures. A
// fixture that cannot be loaded fails the test.
func (a *App) LoadData(files ...string) {
	a.t.Helper()
	ms, err := fixtures.Models(a.options.Apps)
	if err != nil {
		a.t.Fatalf("testkit: LoadData: %v", err)
	}
	data := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			a.t.Fatalf("testkit: LoadData: %v", err)
		}
		data[f] = b
	}
	if _, err := fixtures.Load(context.Background(), a.DB, ms, data, files); err != nil {
		a.t.Fatalf("testkit: LoadData: %v", err)
	}
}
