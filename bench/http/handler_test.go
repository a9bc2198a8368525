package httpbench_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"manouche/core/testkit"
)

// serveInMemory is testkit.ServeInMemory on GET /health.
func serveInMemory(b *testing.B, handler fasthttp.RequestHandler) {
	b.Helper()
	testkit.ServeInMemory(b, handler, func(req *fasthttp.Request) {
		req.SetRequestURI("/health")
		req.Header.SetHost("127.0.0.1")
	})
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
