package telemetry_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"manouche/core/telemetry"
	"manouche/core/telemetry/telemetrytest"
)

func noEnv(string) string { return "" }

func TestEnabled(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  telemetry.Config
		want bool
	}{
		{"nothing set", telemetry.Config{}, false},
		{"app name alone", telemetry.Config{NewRelicAppName: "shop"}, false},
		{"license key", telemetry.Config{NewRelicLicenseKey: "abc"}, true},
		{"license key, NEW_RELIC_ENABLED=false", telemetry.Config{NewRelicLicenseKey: "abc", NewRelicDisabled: true}, false},
		{"OTLP endpoint", telemetry.Config{Endpoint: "http://127.0.0.1:4318"}, true},
		{"OTLP endpoint, New Relic disabled", telemetry.Config{Endpoint: "http://127.0.0.1:4318", NewRelicDisabled: true}, true},
		{"Prometheus only", telemetry.Config{MetricsAddr: "127.0.0.1:0"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.cfg.Enabled(); got != tc.want {
				t.Errorf("Enabled() = %v, want %v", got, tc.want)
			}
			tel, err := telemetry.New(context.Background(), tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = tel.Shutdown(context.Background()) }()
			if (tel != nil) != tc.want {
				t.Errorf("New returned %v, want on=%v", tel, tc.want)
			}
		})
	}
}

func TestNewRelicEndpoint(t *testing.T) {
	t.Parallel()
	for key, want := range map[string]string{
		"0123456789abcdef0123456789abcdef0123NRAL": "https://otlp.nr-data.net:4318",
		"eu01xx6789abcdef0123456789abcdef0123NRAL": "https://otlp.eu01.nr-data.net:4318",
		"EU01XX6789abcdef0123456789abcdef0123NRAL": "https://otlp.eu01.nr-data.net:4318",
		"  eu01xxkey ": "https://otlp.eu01.nr-data.net:4318",
	} {
		if got := telemetry.NewRelicEndpoint(key); got != want {
			t.Errorf("NewRelicEndpoint(%q) = %q, want %q", key, got, want)
		}
	}
}

// newApp is a Fiber app with the middleware and a few routes.
func newApp(tel *telemetry.Telemetry) *fiber.App {
	app := fiber.New(fiber.Config{ErrorHandler: func(c *fiber.Ctx, err error) error {
		var fe *fiber.Error
		if errors.As(err, &fe) {
			return c.Status(fe.Code).SendString(fe.Message)
		}
		return c.Status(500).SendString("boom")
	}})
	app.Use(tel.Middleware())
	app.Use(func(c *fiber.Ctx) error { return c.Next() })
	app.Get("/posts/:id", func(c *fiber.Ctx) error { return c.SendString(c.Params("id")) })
	app.Get("/fail", func(c *fiber.Ctx) error { return errors.New("kaput") })
	return app
}

func TestMiddlewareExportsToNewRelicShapedReceiver(t *testing.T) {
	t.Parallel()
	recv := telemetrytest.New(t, 0)
	tel, err := telemetry.New(context.Background(), telemetry.Config{
		Endpoint: recv.URL, NewRelicLicenseKey: "eu01xxsecret", NewRelicAppName: "shop", Instance: "web.1", Getenv: noEnv,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tel.Shutdown(context.Background()) }()
	app := newApp(tel)

	parentTrace := "4bf92f3577b34da6a3ce929d0e0e4736"
	req := httptest.NewRequest("GET", "/posts/42", nil)
	req.Header.Set("traceparent", "00-"+parentTrace+"-00f067aa0ba902b7-01")
	for _, r := range []*http.Request{req, httptest.NewRequest("GET", "/nowhere/7", nil), httptest.NewRequest("GET", "/fail", nil)} {
		res, err := app.Test(r, -1)
		if err != nil {
			t.Fatal(err)
		}
		_ = res.Body.Close()
	}
	if err := tel.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	spans := map[string]telemetrytest.Span{}
	for _, s := range recv.Spans() {
		spans[s.Name] = s
	}
	post, ok := spans["GET /posts/:id"]
	if !ok {
		t.Fatalf("no span named by the route pattern; got %v", recv.Spans())
	}
	if post.TraceID != parentTrace || post.ParentSpanID != "00f067aa0ba902b7" {
		t.Errorf("incoming traceparent not honoured: trace %s parent %s", post.TraceID, post.ParentSpanID)
	}
	if post.Attrs["http.route"] != "/posts/:id" || post.Attrs["http.response.status_code"] != "200" || post.Kind != "SPAN_KIND_SERVER" {
		t.Errorf("span attributes = %v, kind %s", post.Attrs, post.Kind)
	}
	if post.Resource["service.name"] != "shop" || post.Resource["service.instance.id"] != "web.1" {
		t.Errorf("resource = %v", post.Resource)
	}
	if s, ok := spans["GET"]; !ok || s.Attrs["http.response.status_code"] != "404" {
		t.Errorf("an unrouted request is named by its method alone (never its raw path): %v", recv.Spans())
	}
	if s, ok := spans["GET /fail"]; !ok || s.Attrs["http.response.status_code"] != "500" || s.Attrs["error.type"] != "500" {
		t.Errorf("failed request span = %+v", s)
	}
	for _, s := range recv.Spans() {
		if strings.Contains(s.Name, "42") || strings.Contains(s.Name, "nowhere") {
			t.Errorf("span named by a raw path: %q", s.Name)
		}
	}
	reqs := recv.Requests()
	if len(reqs) == 0 {
		t.Fatal("nothing received")
	}
	for _, r := range reqs {
		if got := r.Header.Get("api-key"); got != "eu01xxsecret" {
			t.Errorf("%s: api-key header = %q", r.Path, got)
		}
		if !r.Gzip {
			t.Errorf("%s: not gzip-compressed", r.Path)
		}
	}
	if p := recv.Problems(); len(p) > 0 {
		t.Errorf("receiver problems: %v", p)
	}
	names := strings.Join(recv.MetricNames(), " ")
	for _, want := range []string{"http.server.request.duration", "go.goroutine.count", "go.memory.used"} {
		if !strings.Contains(names, want) {
			t.Errorf("metric %s not exported; got %s", want, names)
		}
	}
}

// The standard OTEL_* variables win over the New Relic defaults.
func TestEnvironmentOverridesNewRelicDefaults(t *testing.T) {
	recv := telemetrytest.New(t, 0)
	t.Setenv("OTEL_EXPORTER_OTLP_HEADERS", "api-key=from-env")
	t.Setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "none")
	t.Setenv("OTEL_SERVICE_NAME", "env-name")
	tel, err := telemetry.New(context.Background(), telemetry.Config{Endpoint: recv.URL, NewRelicLicenseKey: "settings-key", NewRelicAppName: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tel.Shutdown(context.Background()) }()
	_, span := tel.TracerProvider().Tracer("test").Start(context.Background(), "work")
	span.End()
	if err := tel.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	reqs := recv.Requests()
	if len(reqs) == 0 {
		t.Fatal("nothing received")
	}
	for _, r := range reqs {
		if r.Header.Get("api-key") != "from-env" || r.Gzip {
			t.Errorf("%s: api-key %q gzip %v: the environment should win", r.Path, r.Header.Get("api-key"), r.Gzip)
		}
	}
	if s := recv.Spans(); len(s) != 1 || s[0].Resource["service.name"] != "env-name" {
		t.Errorf("spans = %+v", s)
	}
}

// A backend that is slow or down never slows a request: spans past the
// bounded queue are dropped and counted.
func TestSlowOrDownBackendNeverBlocks(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + ln.Addr().String()
	_ = ln.Close()
	for name, endpoint := range map[string]string{
		"slow": telemetrytest.New(t, 3*time.Second).URL, // past ExportTimeout
		"down": down,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tel, err := telemetry.New(context.Background(), telemetry.Config{
				Endpoint: endpoint, NewRelicLicenseKey: "k", Getenv: noEnv, MaxQueue: 50, ExportTimeout: 2 * time.Second,
			})
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
				defer cancel()
				_ = tel.Shutdown(ctx)
			}()
			app := newApp(tel)
			// A request that waited on the exporter would take its whole
			// ExportTimeout (2s): no request may come near it. (Not a speed
			// target: a request here takes microseconds, on any machine.)
			var slowest time.Duration
			const n = 1000
			for i := 0; i < n; i++ {
				start := time.Now()
				res, err := app.Test(httptest.NewRequest("GET", "/posts/1", nil), -1)
				slowest = max(slowest, time.Since(start))
				if err != nil {
					t.Fatal(err)
				}
				if res.StatusCode != 200 {
					t.Fatalf("status %d", res.StatusCode)
				}
				_ = res.Body.Close()
			}
			if slowest >= time.Second {
				t.Errorf("a request took %v with a %s backend: it waited on the exporter", slowest, name)
			}
			if tel.Dropped() < n-50-512 {
				t.Errorf("dropped %d spans, want at least %d (bounded queue of 50 + one batch in flight)", tel.Dropped(), n-50-512)
			}
		})
	}
}

func TestLogHandlerAddsTraceIDs(t *testing.T) {
	t.Parallel()
	var off *telemetry.Telemetry
	base := slog.NewJSONHandler(&bytes.Buffer{}, nil)
	if off.LogHandler(base) != slog.Handler(base) {
		t.Error("telemetry off must leave the log handler as it is")
	}
	recv := telemetrytest.New(t, 0)
	tel, err := telemetry.New(context.Background(), telemetry.Config{Endpoint: recv.URL, Getenv: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tel.Shutdown(context.Background()) }()
	var buf bytes.Buffer
	log := slog.New(tel.LogHandler(slog.NewJSONHandler(&buf, nil))).With("app", "x")
	ctx, span := tel.TracerProvider().Tracer("t").Start(context.Background(), "op")
	log.InfoContext(ctx, "inside")
	span.End()
	log.Info("outside")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	want := `"trace_id":"` + span.SpanContext().TraceID().String() + `","span_id":"` + span.SpanContext().SpanID().String() + `"`
	if !strings.Contains(lines[0], want) {
		t.Errorf("line in a span = %s, want %s", lines[0], want)
	}
	if strings.Contains(lines[1], "trace_id") {
		t.Errorf("line outside a span = %s", lines[1])
	}
}

func TestPrometheusEndpoint(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	tel, err := telemetry.New(context.Background(), telemetry.Config{MetricsAddr: addr, Getenv: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tel.Shutdown(context.Background()) }()
	app := newApp(tel)
	res, err := app.Test(httptest.NewRequest("GET", "/posts/1", nil), -1)
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	mres, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = mres.Body.Close() }()
	var b bytes.Buffer
	_, _ = b.ReadFrom(mres.Body)
	for _, want := range []string{`http_server_request_duration_seconds_count{`, `http_route="/posts/:id"`, "go_goroutine_count"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
