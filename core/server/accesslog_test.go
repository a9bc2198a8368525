package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gofiber/fiber/v2"

	"manouche/core"
	"manouche/core/server"
	"manouche/core/telemetry/telemetrytest"
	"manouche/core/testkit"
	"manouche/settings"
)

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// loggedProject builds a project whose JSON log goes to the returned buffer.
func loggedProject(t *testing.T, overrides map[string]any) (*core.Project, *syncBuffer) {
	t.Helper()
	overrides["DATABASE_URL"] = testkit.Database(t)
	overrides["MEDIA_ROOT"] = filepath.Join(t.TempDir(), "media")
	st, err := core.LoadSettings(settings.Options{Layer: "testing", Environ: []string{}, DotEnv: "-", Overrides: overrides, SkipAbsentApps: true}, []core.App{coreTestApp{}})
	if err != nil {
		t.Fatal(err)
	}
	buf := &syncBuffer{}
	p, err := core.New(context.Background(), st, core.Options{Apps: []core.App{coreTestApp{}}, Logger: slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p, buf
}

func TestAccessLog(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		numProxies int
		xff        string
		wantIP     string
	}{
		{"no proxy: the socket's address, X-Forwarded-For ignored", 0, "6.6.6.6", "0.0.0.0"},
		{"one proxy: the address it appended", 1, "6.6.6.6, 203.0.113.7", "203.0.113.7"},
		{"one proxy, no header: the socket's address", 1, "", "0.0.0.0"},
		{"two proxies", 2, "6.6.6.6, 198.51.100.4, 10.0.0.1", "198.51.100.4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, buf := loggedProject(t, map[string]any{"NUM_PROXIES": tt.numProxies})
			req := httptest.NewRequest("GET", "/health", nil)
			req.Header.Set("X-Request-ID", "log-test-1")
			if tt.xff != "" {
				req.Header.Set("X-Forwarded-For", tt.xff)
			}
			res, err := handler(t, p).Test(req, -1)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			var line map[string]any
			for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
				var m map[string]any
				if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == "request" {
					line = m
				}
			}
			if line == nil {
				t.Fatalf("no access log line in:\n%s", buf.String())
			}
			want := map[string]any{"method": "GET", "path": "/health", "status": float64(200), "request_id": "log-test-1", "ip": tt.wantIP, "level": "INFO"}
			for k, v := range want {
				if line[k] != v {
					t.Errorf("%s = %v, want %v (line %v)", k, line[k], v, line)
				}
			}
		})
	}
}

// handler returns p's HTTP handler, failing the test when it cannot be built.
func handler(t testing.TB, p *core.Project) *fiber.App {
	t.Helper()
	srv, err := server.New(p)
	if err != nil {
		t.Fatal(err)
	}
	return srv.Handler()
}

// With telemetry on, every line logged while serving a request (the access
// line, a failure, a panic) carries the request's trace_id and span_id.
func TestLogLinesCarryTraceIDs(t *testing.T) {
	t.Parallel()
	recv := telemetrytest.New(t, 0)
	p, buf := loggedProject(t, map[string]any{"ACCESS_LOG": true, "OTEL_EXPORTER_OTLP_ENDPOINT": recv.URL})
	s, err := server.New(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/health", "/coretest/error", "/coretest/panic"} {
		res, err := s.Handler().Test(httptest.NewRequest("GET", path, nil), -1)
		if err != nil {
			t.Fatal(err)
		}
		_ = res.Body.Close()
	}
	// Unmigrated: the queue depth metric fails, the spans are flushed all the same.
	_ = p.Telemetry.ForceFlush(context.Background())
	spans := map[string]string{} // trace id -> span name
	for _, sp := range recv.Spans() {
		if sp.ParentSpanID == "" {
			spans[sp.TraceID] = sp.Name
		}
	}
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		msg, _ := rec["msg"].(string)
		if msg != "request" && msg != "request failed" && msg != "panic serving request" {
			continue
		}
		tid, _ := rec["trace_id"].(string)
		if spans[tid] == "" || rec["span_id"] == nil {
			t.Errorf("line %q: trace_id %q is not a request's trace (%v)", msg, tid, spans)
		}
		seen[msg] = true
	}
	for _, msg := range []string{"request", "request failed", "panic serving request"} {
		if !seen[msg] {
			t.Errorf("no %q line logged: %s", msg, buf.String())
		}
	}
}
