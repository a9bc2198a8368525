package users_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"manouche/core/telemetry/telemetrytest"
	"manouche/core/testenv"
	"manouche/core/testkit"
)

// handlersOf returns how many handlers a GET /health passes through: the
// middleware stack plus the route's own.
func handlersOf(app *fiber.App, path string) int {
	n := 0
	for _, r := range app.GetRoutes() {
		if r.Method == fiber.MethodGet && (r.Path == path || r.Path == "/") {
			n += len(r.Handlers)
		}
	}
	return n
}

// What leaves the process with New Relic's add-on variables, the endpoint
// pointed at a receiver on 127.0.0.1: the request spans named by route, their
// SQL, cache and Redis children, and the password reset email's delivery in
// the request's trace; the metrics; the api-key header and gzip.
func TestTelemetryEndToEnd(t *testing.T) {
	t.Parallel()
	recv := telemetrytest.New(t, 0)
	app := testkit.New(t, testkit.Settings{
		"NEW_RELIC_LICENSE_KEY":       "eu01xxtestlicensekey",
		"NEW_RELIC_APP_NAME":          "manouche-test",
		"OTEL_EXPORTER_OTLP_ENDPOINT": recv.URL,
		"DYNO":                        "web.1",
	})
	if app.Telemetry == nil {
		t.Fatal("telemetry is off with NEW_RELIC_LICENSE_KEY set")
	}
	off := testkit.New(t)
	if off.Telemetry != nil {
		t.Fatal("telemetry is on with nothing set")
	}
	if on, base := handlersOf(app.Handler, "/health"), handlersOf(off.Handler, "/health"); on != base+1 {
		t.Errorf("handlers on the /health path: %d on, %d off: want exactly the telemetry middleware more", on, base)
	}

	reg := app.Client.Post("/api/auth/register", map[string]any{"email": "otel@example.com", "password": "correct-horse-battery-9"}).AssertStatus(201).Map()
	token := reg["auth_token"].(string)
	app.Client.WithToken(token).Get("/api/me").AssertStatus(200)
	app.Client.WithToken(token).Get("/api/me").AssertStatus(200)
	app.Client.Post("/api/auth/password_reset", map[string]any{"email": "otel@example.com"}).AssertStatus(200)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := app.Outbox().Wait(ctx, 1); err != nil {
		t.Fatal(err)
	}

	deliver, ok := recv.WaitSpan(ctx, 10*time.Second, func(s telemetrytest.Span) bool { return s.Name == "email deliver" })
	if !ok {
		// The worker's span ends after it records the delivery: flush then.
		_ = app.Telemetry.ForceFlush(ctx)
		deliver, ok = recv.WaitSpan(ctx, 5*time.Second, func(s telemetrytest.Span) bool { return s.Name == "email deliver" })
	}
	if err := app.Telemetry.ForceFlush(ctx); err != nil {
		t.Fatal(err)
	}
	spans := recv.Spans()
	byID := map[string]telemetrytest.Span{}
	for _, s := range spans {
		byID[s.SpanID] = s
	}
	// root returns the server span s descends from.
	root := func(s telemetrytest.Span) telemetrytest.Span {
		for s.ParentSpanID != "" {
			p, ok := byID[s.ParentSpanID]
			if !ok {
				break
			}
			s = p
		}
		return s
	}
	find := func(name string) []telemetrytest.Span {
		var out []telemetrytest.Span
		for _, s := range spans {
			if s.Name == name {
				out = append(out, s)
			}
		}
		return out
	}
	children := func(parent telemetrytest.Span) map[string]bool {
		names := map[string]bool{}
		for _, s := range spans {
			if s.TraceID == parent.TraceID && s.SpanID != parent.SpanID && root(s).SpanID == parent.SpanID {
				names[s.Name] = true
				if s.Attrs["db.system"] != "" {
					names["db:"+s.Attrs["db.system"]] = true
				}
			}
		}
		return names
	}

	me := find("GET /api/me")
	if len(me) != 2 {
		t.Fatalf("spans named GET /api/me: %d; all: %v", len(me), names(spans))
	}
	if me[0].Resource["service.name"] != "manouche-test" || me[0].Resource["service.instance.id"] != "web.1" {
		t.Errorf("resource = %v", me[0].Resource)
	}
	first := children(me[0])
	if !first["db:sqlite"] && !first["db:postgresql"] {
		t.Errorf("GET /api/me (cold cache) has no SQL child: %v", first)
	}
	if testenv.Optional(testenv.RedisURL) != "" {
		found := false
		for _, m := range me {
			if c := children(m); c["db:redis"] {
				found = true
			}
		}
		if !found {
			t.Errorf("GET /api/me with Redis has no Redis child: %v", children(me[1]))
		}
	}
	// The token lookup: a miss on the first call, a hit on the second, as
	// events on the request spans.
	lookups := func(s telemetrytest.Span) []string {
		var out []string
		for _, e := range s.Events {
			if strings.HasPrefix(e.Name, "cache ") && e.Attrs["cache.operation"] != "" {
				out = append(out, e.Name)
			}
		}
		return out
	}
	if got := lookups(me[0]); !slices.Contains(got, "cache miss") {
		t.Errorf("first GET /api/me cache events = %v, want a miss", got)
	}
	if got := lookups(me[1]); !slices.Equal(got, []string{"cache hit"}) {
		t.Errorf("second GET /api/me cache events = %v, want one hit", got)
	}

	reset := find("POST /api/auth/password_reset")
	if len(reset) != 1 {
		t.Fatalf("password reset spans: %d; all: %v", len(reset), names(spans))
	}
	if !ok {
		t.Fatalf("no email deliver span; all: %v", names(spans))
	}
	if deliver.TraceID != reset[0].TraceID || root(deliver).SpanID != reset[0].SpanID {
		t.Errorf("the delivery is not in the reset request's trace: deliver %+v, request %+v", deliver, reset[0])
	}
	if p := byID[deliver.ParentSpanID]; p.Name != "email enqueue" {
		t.Errorf("the delivery's parent is %q, want the email enqueue span", p.Name)
	}

	for _, r := range recv.Requests() {
		if r.Header.Get("api-key") != "eu01xxtestlicensekey" || !r.Gzip {
			t.Errorf("%s: api-key %q gzip %v", r.Path, r.Header.Get("api-key"), r.Gzip)
		}
	}
	if p := recv.Problems(); len(p) > 0 {
		t.Errorf("receiver: %v", p)
	}
	got := " " + strings.Join(recv.MetricNames(), " ") + " "
	for _, want := range []string{
		"http.server.request.duration", "db.client.connection.count", "db.client.connection.waits",
		"manouche.cache.lookups", "manouche.email.queue.depth", "manouche.email.delivery.duration",
		"go.goroutine.count", "go.memory.used", "go.sql.query_timing",
	} {
		if !strings.Contains(got, " "+want+" ") {
			t.Errorf("metric %s not exported; got%s", want, got)
		}
	}
}

// Off, nothing is sent: a license key with NEW_RELIC_ENABLED=false.
func TestTelemetryOffSendsNothing(t *testing.T) {
	t.Parallel()
	recv := telemetrytest.New(t, 0)
	app := testkit.New(t, testkit.Settings{"NEW_RELIC_LICENSE_KEY": "key", "NEW_RELIC_ENABLED": "false"})
	if app.Telemetry != nil {
		t.Fatal("telemetry on with NEW_RELIC_ENABLED=false")
	}
	app.Client.Get("/health").AssertStatus(200)
	app.Client.Post("/api/auth/register", map[string]any{"email": "off@example.com", "password": "correct-horse-battery-9"}).AssertStatus(201)
	time.Sleep(200 * time.Millisecond)
	if n := len(recv.Requests()); n != 0 {
		t.Errorf("%d export requests with telemetry off", n)
	}
}

func names(spans []telemetrytest.Span) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name)
	}
	return out
}
