package users_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/valyala/fasthttp"

	"manouche/core/testkit"
)

// BenchmarkMeTelemetry serves GET /api/me (valid token, warm cache) in
// memory, telemetry off and on (every request sampled, exported to a
// discarding receiver on 127.0.0.1), and reports the process CPU time per
// request, which a busy machine does not inflate the way ns/op is.
func BenchmarkMeTelemetry(b *testing.B) {
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.Copy(io.Discard, r.Body) }))
	b.Cleanup(sink.Close)
	for _, tc := range []struct {
		name     string
		settings testkit.Settings
	}{
		{"off", testkit.Settings{}},
		{"on", testkit.Settings{"OTEL_EXPORTER_OTLP_ENDPOINT": sink.URL, "NEW_RELIC_LICENSE_KEY": "bench"}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			tc.settings["API_THROTTLE_RATE"] = "100000000/day"
			tc.settings["LOG_LEVEL"] = "error"
			app := testkit.New(b, tc.settings)
			res := app.Client.Post("/api/auth/register", map[string]any{"email": "bench@example.com", "password": goodPassword})
			res.AssertStatus(http.StatusCreated)
			token := res.Map()["auth_token"].(string)
			handler := app.Handler.Handler()
			testkit.ServeInMemory(b, handler, func(req *fasthttp.Request) {
				req.SetRequestURI("/api/me")
				req.Header.SetHost("example.com")
				req.Header.Set("Authorization", "Bearer "+token)
			})
		})
	}
}
