package httpbench_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// serveInMemory runs handler b.N times on one reused fasthttp request: the
// server-side CPU cost of a request with no network and no client, which
// stays comparable on a busy machine where the loopback figures do not.
func serveInMemory(b *testing.B, handler fasthttp.RequestHandler) {
	b.Helper()
	var req fasthttp.Request
	req.Header.SetMethod("GET")
	req.SetRequestURI("/health")
	req.Header.SetHost("127.0.0.1")
	var ctx fasthttp.RequestCtx
	ctx.Init(&req, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}, nil)
	handler(&ctx)
	if ctx.Response.StatusCode() != 200 {
		b.Fatalf("status %d: %s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for range b.N {
		ctx.Response.Reset()
		handler(&ctx)
	}
	b.StopTimer()
	// Process CPU time per request: unlike ns/op, it does not grow when other
	// processes take the CPU away.
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// cpuTime is the user and system CPU time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkHandlerFullStack is the project's handler for GET /health, JSON
// access log at info to a drained pipe, in memory.
func BenchmarkHandlerFullStack(b *testing.B) {
	serveInMemory(b, projectHandler(b, "info", false).Handler())
}

// BenchmarkHandlerFullStackBufferedLog is the same with the log buffered.
func BenchmarkHandlerFullStackBufferedLog(b *testing.B) {
	serveInMemory(b, projectHandler(b, "info", true).Handler())
}

// BenchmarkHandlerFullStackNoAccessLog is the same at LOG_LEVEL=warn.
func BenchmarkHandlerFullStackNoAccessLog(b *testing.B) {
	serveInMemory(b, projectHandler(b, "warn", false).Handler())
}

// BenchmarkHandlerFullStackTelemetry is BenchmarkHandlerFullStackNoAccessLog
// with telemetry on, every request sampled and exported to an OTLP receiver
// on 127.0.0.1 (README "Observability").
func BenchmarkHandlerFullStackTelemetry(b *testing.B) {
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	b.Cleanup(sink.Close)
	serveInMemory(b, projectHandler(b, "warn", false, map[string]any{
		"OTEL_EXPORTER_OTLP_ENDPOINT": sink.URL, "NEW_RELIC_LICENSE_KEY": "bench",
	}).Handler())
}

// BenchmarkHandlerBare is a Fiber app with only the /health handler, in memory.
func BenchmarkHandlerBare(b *testing.B) {
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Get("/health", func(c *fiber.Ctx) error { return c.JSON(fiber.Map{"status": "ok"}) })
	serveInMemory(b, app.Handler())
}
