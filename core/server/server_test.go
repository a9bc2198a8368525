package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/fstest"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"manouche/core"
	"manouche/core/api"
	"manouche/core/server"
	"manouche/core/telemetry/telemetrytest"
	"manouche/core/testkit"
)

// coreTestApp is a test-only app: routes that panic, fail, sleep and read a
// JSON body, and one migration, so the server and the commands have something
// of an app's to work on.
type coreTestApp struct{}

func (coreTestApp) Name() string   { return "coretestapp" }
func (coreTestApp) Prefix() string { return "/coretest" }

func (coreTestApp) Routes(r fiber.Router, p *core.Project) {
	r.Get("/panic", func(c *fiber.Ctx) error { panic("secret internal detail: the launch codes") })
	r.Get("/error", func(c *fiber.Ctx) error { return errors.New("secret internal detail: dsn=postgres://u:pw@db") })
	r.Get("/sleep", func(c *fiber.Ctx) error {
		time.Sleep(500 * time.Millisecond)
		return c.JSON(fiber.Map{"slept": true})
	})
	// /nap sleeps ?ms= milliseconds ignoring its context, sets a cookie and succeeds.
	r.Get("/nap", func(c *fiber.Ctx) error {
		time.Sleep(time.Duration(c.QueryInt("ms")) * time.Millisecond)
		c.Cookie(&fiber.Cookie{Name: "late", Value: "1"})
		return c.JSON(fiber.Map{"napped": true})
	})
	// /waitctx waits for its context to end (at most 10 s) and returns its error.
	r.Get("/waitctx", func(c *fiber.Ctx) error {
		select {
		case <-c.UserContext().Done():
			return c.UserContext().Err()
		case <-time.After(10 * time.Second):
			return c.JSON(fiber.Map{"waited": true})
		}
	})
	// /slowwrite inserts a row in a transaction, then runs a query that takes
	// seconds (pg_sleep on Postgres, a long recursive count on SQLite), with
	// the request's context, then commits.
	r.Post("/slowwrite", func(c *fiber.Ctx) error {
		ctx := c.UserContext()
		err := p.DB.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			if _, err := tx.ExecContext(ctx, "INSERT INTO coretest_things (id) VALUES (?)", c.QueryInt("id")); err != nil {
				return err
			}
			slow := "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 2000000000) SELECT count(*) FROM r"
			if p.DB.Dialect().Name() == dialect.PG {
				slow = "SELECT pg_sleep(5)"
			}
			_, err := tx.ExecContext(ctx, slow)
			return err
		})
		if err != nil {
			return err
		}
		return c.Status(fiber.StatusCreated).JSON(fiber.Map{"written": true})
	})
	r.Get("/list", func(c *fiber.Ctx) error {
		page, err := api.PageOf(c)
		if err != nil {
			return err
		}
		return c.JSON(api.NewList(c, "", page, 100, []int{}))
	})
	r.Post("/echo", func(c *fiber.Ctx) error {
		var in struct {
			Name string `json:"name" validate:"required,max=50"`
		}
		if err := api.Bind(c, &in); err != nil {
			return err
		}
		return c.JSON(fiber.Map{"name": in.Name})
	})
}

func (coreTestApp) Migrations() fs.FS {
	return fstest.MapFS{
		"20260101000001_create_things.up.sql":   {Data: []byte("CREATE TABLE coretest_things (id INTEGER);")},
		"20260101000001_create_things.down.sql": {Data: []byte("DROP TABLE coretest_things;")},
	}
}

var (
	_ core.Router   = coreTestApp{}
	_ core.Migrator = coreTestApp{}
)

type errorBody struct {
	ErrorType string           `json:"error_type"`
	Errors    []api.FieldError `json:"errors"`
}

func TestHealth(t *testing.T) {
	t.Parallel()
	app := testkit.New(t)
	res := app.Client.Get("/health").AssertStatus(200)
	if m := res.Map(); m["status"] != "ok" || len(m) != 1 {
		t.Errorf("/health = %s", res.Body)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q", ct)
	}
	app.Client.Get("/health/ready").AssertStatus(200)

	// With the database gone, readiness fails naming it; liveness does not care.
	if err := app.DB.Close(); err != nil {
		t.Fatal(err)
	}
	res = app.Client.Get("/health/ready")
	e := res.AssertError(503, api.TypeServiceUnavailable, "database")
	for _, fe := range e.Errors {
		if fe.Field == "database" && (fe.Message == "" || strings.Contains(fe.Message, "sql:")) {
			t.Errorf("database entry %q: want a message without internals (DEBUG off)", fe.Message)
		}
	}
	app.Client.Get("/health").AssertStatus(200)
}

func TestErrorShapes(t *testing.T) {
	t.Parallel()
	app := testkit.New(t)
	tests := []struct {
		name       string
		req        func() *http.Request
		status     int
		typ        string
		notInBody  string
		wantHeader map[string]string
	}{
		{"unknown route", func() *http.Request { return httptest.NewRequest("GET", "/no/such/route", nil) }, 404, api.TypeNotFound, "", nil},
		{"unknown route under app", func() *http.Request { return httptest.NewRequest("GET", "/coretest/nope", nil) }, 404, api.TypeNotFound, "", nil},
		{"wrong method", func() *http.Request { return httptest.NewRequest("DELETE", "/health", nil) }, 405, api.TypeMethodNotAllowed, "", nil},
		{"malformed JSON", func() *http.Request {
			r := httptest.NewRequest("POST", "/coretest/echo", strings.NewReader(`{"name": "x`))
			r.Header.Set("Content-Type", "application/json")
			return r
		}, 400, api.TypeParse, "", nil},
		{"wrong JSON type", func() *http.Request {
			r := httptest.NewRequest("POST", "/coretest/echo", strings.NewReader(`{"name": 42}`))
			r.Header.Set("Content-Type", "application/json")
			return r
		}, 400, api.TypeParse, "", nil},
		{"missing field", func() *http.Request {
			r := httptest.NewRequest("POST", "/coretest/echo", strings.NewReader(`{}`))
			r.Header.Set("Content-Type", "application/json")
			return r
		}, 400, api.TypeValidation, "", nil},
		{"not JSON", func() *http.Request {
			r := httptest.NewRequest("POST", "/coretest/echo", strings.NewReader(`name=x`))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return r
		}, 415, api.TypeUnsupportedMedia, "", nil},
		{"panic", func() *http.Request { return httptest.NewRequest("GET", "/coretest/panic", nil) }, 500, api.TypeServerError, "launch codes", nil},
		{"plain error", func() *http.Request { return httptest.NewRequest("GET", "/coretest/error", nil) }, 500, api.TypeServerError, "secret internal detail", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := app.Client.Send(tt.req())
			e := res.AssertError(tt.status, tt.typ)
			if tt.notInBody != "" && strings.Contains(string(res.Body), tt.notInBody) {
				t.Errorf("body shows internals: %s", res.Body)
			}
			if tt.typ != api.TypeValidation && (len(e.Errors) != 1 || e.Errors[0].Field != "" || e.Errors[0].Message == "") {
				t.Errorf("entries %+v: want one message without a field", e.Errors)
			}
			if res.Header.Get("X-Request-ID") == "" {
				t.Error("no X-Request-ID on an error response")
			}
			if ct := res.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
}

func TestMethodNotAllowedHasAllow(t *testing.T) {
	t.Parallel()
	app := testkit.New(t)
	res := app.Client.Send(httptest.NewRequest("DELETE", "/health", nil))
	res.AssertError(405, api.TypeMethodNotAllowed)
	allow := res.Header.Get("Allow")
	if !strings.Contains(allow, "GET") || strings.Contains(allow, "DELETE") {
		t.Errorf("Allow = %q, want the route's methods (GET, HEAD)", allow)
	}
	res = app.Client.Send(httptest.NewRequest("GET", "/coretest/echo", nil))
	res.AssertError(405, api.TypeMethodNotAllowed)
	if allow := res.Header.Get("Allow"); !strings.Contains(allow, "POST") || strings.Contains(allow, "GET") {
		t.Errorf("Allow = %q on /coretest/echo, want POST", allow)
	}
}

func TestPanicIsLoggedWithRequestID(t *testing.T) {
	t.Parallel()
	app := testkit.New(t, testkit.Settings{"DEBUG": true})
	res := app.Client.WithHeader("X-Request-ID", "trace-panic-1").Get("/coretest/panic")
	e := res.AssertError(500, api.TypeServerError)
	if !strings.Contains(e.Errors[0].Message, "launch codes") {
		t.Errorf("with DEBUG on, the message %q should say what failed", e.Errors[0].Message)
	}
	if res.Header.Get("X-Request-ID") != "trace-panic-1" {
		t.Errorf("X-Request-ID = %q", res.Header.Get("X-Request-ID"))
	}
}

func TestRequestIDAndSecurityHeaders(t *testing.T) {
	t.Parallel()
	app := testkit.New(t)
	res := app.Client.WithHeader("X-Request-ID", "client-id-42").Get("/health")
	if got := res.Header.Get("X-Request-ID"); got != "client-id-42" {
		t.Errorf("X-Request-ID = %q, want it echoed", got)
	}
	res = app.Client.WithHeader("X-Request-ID", "bad id\twith tab").Get("/health")
	if got := res.Header.Get("X-Request-ID"); got == "" || strings.Contains(got, " ") {
		t.Errorf("X-Request-ID = %q, want a generated one", got)
	}
	for _, path := range []string{"/health", "/nope"} {
		res = app.Client.Get(path)
		for h, want := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY"} {
			if got := res.Header.Get(h); got != want {
				t.Errorf("%s: %s = %q, want %q", path, h, got, want)
			}
		}
	}
}

func TestCORS(t *testing.T) {
	t.Parallel()
	app := testkit.New(t, testkit.Settings{"CORS_ALLOWED_ORIGINS": "https://app.example.com,https://other.example.com"})
	preflight := func(origin string) *testkit.Response {
		req := httptest.NewRequest("OPTIONS", "/coretest/echo", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "Authorization, Content-Type")
		return app.Client.Send(req)
	}
	res := preflight("https://app.example.com")
	if res.Status != 204 {
		t.Fatalf("preflight status %d: %s", res.Status, res.Body)
	}
	if got := res.Header.Get("Access-Control-Allow-Origin"); got != "https://app.example.com" {
		t.Errorf("Access-Control-Allow-Origin = %q", got)
	}
	if got := res.Header.Get("Access-Control-Allow-Headers"); !strings.Contains(got, "Authorization") {
		t.Errorf("Access-Control-Allow-Headers = %q", got)
	}
	res = preflight("https://evil.example.net")
	if got := res.Header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("disallowed origin got Access-Control-Allow-Origin %q", got)
	}
	// A simple request from an allowed origin is answered with ACAO and exposes X-Request-ID.
	res = app.Client.WithHeader("Origin", "https://other.example.com").Get("/health")
	if res.Header.Get("Access-Control-Allow-Origin") != "https://other.example.com" || !strings.Contains(res.Header.Get("Access-Control-Expose-Headers"), "X-Request-ID") {
		t.Errorf("simple CORS request headers: %v", res.Header)
	}
}

func TestAllowedHosts(t *testing.T) {
	t.Parallel()
	app := testkit.New(t, testkit.Settings{"ALLOWED_HOSTS": "api.example.com,.example.org,[::1],Admin.Example.NET:8443"})
	tests := []struct {
		host string
		ok   bool
	}{
		{"api.example.com", true},
		{"API.Example.com", true},
		{"api.example.com:8443", true},
		{"example.org", true},
		{"www.example.org", true},
		{"evil.com", false},
		{"example.com", false},
		{"notexample.org", false},
		{"api.example.com.evil.com", false},
		{"[::1]", true},
		{"[::1]:8000", true},
		{"[::2]", false},
		{"admin.example.net", true},
		{"admin.example.net.", true},
	}
	for _, tt := range tests {
		req := httptest.NewRequest("GET", "/health", nil)
		req.Host = tt.host
		res := app.Client.Send(req)
		if tt.ok {
			if res.Status != 200 {
				t.Errorf("Host %s: status %d, want 200: %s", tt.host, res.Status, res.Body)
			}
			continue
		}
		e := res.AssertError(400, api.TypeValidation)
		if !strings.Contains(e.Errors[0].Message, "ALLOWED_HOSTS") {
			t.Errorf("Host %s: message %q does not say what to do", tt.host, e.Errors[0].Message)
		}
	}
}

// The body limit is tested on a real listener: fiber's in-memory app.Test
// refuses an oversized body itself ("body size exceeds the given limit")
// before the server's error handler can answer.

// serve runs srv on a loopback port and returns its base URL and a stop
// function that cancels the server and returns Serve's error.
func serve(t *testing.T, srv *server.Server) (string, context.CancelFunc, <-chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan net.Addr, 1)
	done := make(chan error, 1)
	ln, err := server.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { done <- srv.Serve(ctx, ln, func(a net.Addr) { addrc <- a }) }()
	select {
	case a := <-addrc:
		t.Cleanup(cancel)
		return "http://" + a.String(), cancel, done
	case err := <-done:
		cancel()
		t.Fatalf("Serve: %v", err)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("Serve did not start")
	}
	return "", nil, nil
}

func TestBodyLimitOnRealListener(t *testing.T) {
	t.Parallel()
	app := testkit.New(t, testkit.Settings{"MAX_UPLOAD_SIZE": "1KB"})
	base, _, _ := serve(t, app.Server)
	tests := []struct {
		size   int
		status int
	}{{100, 200}, {900, 200}, {1100, 413}, {10 << 20, 413}}
	for _, tt := range tests {
		body := `{"name": "` + strings.Repeat("x", tt.size) + `"}`
		if tt.size < 1000 {
			body = `{"name": "` + strings.Repeat("x", 40) + `", "pad": "` + strings.Repeat("p", tt.size) + `"}`
		}
		res, err := http.Post(base+"/coretest/echo", "application/json", strings.NewReader(body))
		if err != nil {
			// The server may close the connection while a huge body is still being sent.
			if tt.status == 413 {
				continue
			}
			t.Fatalf("%d bytes: %v", len(body), err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != tt.status {
			t.Errorf("%d bytes: status %d, want %d: %s", len(body), res.StatusCode, tt.status, b)
			continue
		}
		if tt.status == 413 {
			var e errorBody
			if err := json.Unmarshal(b, &e); err != nil || e.ErrorType != api.TypePayloadTooLarge {
				t.Errorf("%d bytes: body %s, want PayloadTooLarge", len(body), b)
			}
		}
	}
}

// TestGracefulDrain: on cancel (SIGTERM) the server closes its idle
// keep-alive connections at once, refuses new connections, lets the
// in-flight request finish with its answer, and returns as soon as it has,
// well within SHUTDOWN_TIMEOUT.
func TestGracefulDrain(t *testing.T) {
	t.Parallel()
	app := testkit.New(t, testkit.Settings{"SHUTDOWN_TIMEOUT": "5s"})
	base, cancel, done := serve(t, app.Server)
	addr := strings.TrimPrefix(base, "http://")

	// An idle keep-alive connection, as the router keeps them.
	idle, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	if _, err := io.WriteString(idle, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	idleReader := bufio.NewReader(idle)
	res, err := http.ReadResponse(idleReader, nil)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("keep-alive request: %v %v", res, err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()

	type result struct {
		status int
		body   string
		err    error
	}
	resc := make(chan result, 1)
	go func() {
		res, err := http.Get(base + "/coretest/nap?ms=1000")
		if err != nil {
			resc <- result{err: err}
			return
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		resc <- result{res.StatusCode, string(b), err}
	}()
	time.Sleep(200 * time.Millisecond)
	stopped := time.Now()
	cancel()

	// The idle connection is closed at once, long before the in-flight request ends.
	_ = idle.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := idleReader.ReadByte(); !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("idle keep-alive connection: read %v, want it closed by the server", err)
	}
	if took := time.Since(stopped); took > 500*time.Millisecond {
		t.Errorf("the idle connection was closed %v after the stop, want at once", took)
	}
	// New connections are refused while the request is still running.
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Error("a new connection was accepted during the drain")
	}
	select {
	case r := <-resc:
		if r.err != nil || r.status != 200 || !strings.Contains(r.body, "napped") {
			t.Fatalf("in-flight request: %d %q %v, want 200", r.status, r.body, r.err)
		}
		if time.Since(stopped) < 700*time.Millisecond {
			t.Errorf("the request returned %v after the stop, before the handler's sleep ended", time.Since(stopped))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("in-flight request did not finish")
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve returned %v", err)
		}
		if took := time.Since(stopped); took > 2*time.Second {
			t.Errorf("Serve returned %v after the stop, want as soon as the request was answered", took)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after the drain")
	}
	// New connections are refused once it has stopped.
	if res, err := http.Get(base + "/health"); err == nil {
		res.Body.Close()
		t.Errorf("the server still answers after Serve returned: %d", res.StatusCode)
	}
}

// TestDrainCutsRequestsAtShutdownTimeout: requests still running when the
// drain runs out of time are cancelled (a handler that honours its context
// answers 503 saying the server restarts; one that ignores it has its
// connection closed) and Serve returns within SHUTDOWN_TIMEOUT.
func TestDrainCutsRequestsAtShutdownTimeout(t *testing.T) {
	t.Parallel()
	// With telemetry on, the request's context carries its span from a
	// middleware that runs before the deadline's: the drain cuts it all the same.
	for _, telemetry := range []bool{false, true} {
		t.Run(fmt.Sprintf("telemetry=%v", telemetry), func(t *testing.T) {
			t.Parallel()
			settings := testkit.Settings{"SHUTDOWN_TIMEOUT": "1500ms", "REQUEST_TIMEOUT": "30s"}
			if telemetry {
				settings["OTEL_EXPORTER_OTLP_ENDPOINT"] = telemetrytest.New(t, 0).URL
			}
			drainCutsRequests(t, settings)
		})
	}
}

func drainCutsRequests(t *testing.T, settings testkit.Settings) {
	const timeout = 1500 * time.Millisecond
	app := testkit.New(t, settings)
	base, cancel, done := serve(t, app.Server)
	type result struct {
		status int
		body   string
		err    error
	}
	send := func(path string) chan result {
		c := make(chan result, 1)
		go func() {
			res, err := http.Get(base + path)
			if err != nil {
				c <- result{err: err}
				return
			}
			defer res.Body.Close()
			b, err := io.ReadAll(res.Body)
			c <- result{res.StatusCode, string(b), err}
		}()
		return c
	}
	polite, stubborn := send("/coretest/waitctx"), send("/coretest/nap?ms=3000")
	time.Sleep(200 * time.Millisecond)
	stopped := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve returned %v", err)
		}
		if took := time.Since(stopped); took > timeout {
			t.Errorf("Serve returned %v after the stop, want within SHUTDOWN_TIMEOUT (%v)", took, timeout)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return")
	}
	r := <-polite
	var e errorBody
	if r.err != nil || r.status != http.StatusServiceUnavailable || json.Unmarshal([]byte(r.body), &e) != nil ||
		e.ErrorType != api.TypeServiceUnavailable || !strings.Contains(e.Errors[0].Message, "restarting") {
		t.Errorf("a request honouring its context: %d %s %v, want 503 ServiceUnavailable", r.status, r.body, r.err)
	}
	select {
	case r := <-stubborn:
		if r.err == nil {
			t.Errorf("a request ignoring its context: %d %s, want its connection cut", r.status, r.body)
		}
	case <-time.After(3 * time.Second):
		t.Error("the connection of a request ignoring its context was left open")
	}
	// The stubborn handler returns later, on a connection the drain cut:
	// the server must take that quietly (fasthttp panics on a closed
	// connection's deadline; a panic here ends the test binary).
	time.Sleep(time.Until(stopped.Add(3500 * time.Millisecond)))
}

func TestServeConcurrentRequests(t *testing.T) {
	t.Parallel()
	app := testkit.New(t)
	base, _, _ := serve(t, app.Server)
	var wg sync.WaitGroup
	errc := make(chan error, 64)
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("GET", base+"/health", nil)
			req.Header.Set("X-Request-ID", fmt.Sprintf("req-%d", i))
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				errc <- err
				return
			}
			res.Body.Close()
			if res.StatusCode != 200 || res.Header.Get("X-Request-ID") != fmt.Sprintf("req-%d", i) {
				errc <- fmt.Errorf("request %d: %d, id %q", i, res.StatusCode, res.Header.Get("X-Request-ID"))
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
}

func TestServeRefusesBusyAddress(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	app := testkit.New(t)
	err = server.Serve(context.Background(), app.Project, ln.Addr().String(), nil)
	if err == nil || !strings.Contains(err.Error(), ln.Addr().String()) {
		t.Fatalf("Serve on a busy address: %v, want an error naming it", err)
	}
}
