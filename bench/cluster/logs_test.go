package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestServerLines: the report finds what each web process logged about the
// requests it names, by their X-Request-ID, and nothing else.
func TestServerLines(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, lines ...string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("web.1.log",
		"\n--- start 1 at 2026-12-02T11:00:00Z",
		`{"time":"t","level":"ERROR","msg":"request failed","request_id":"cl-7","method":"POST","path":"/api/auth/register","error":"users: create: conn closed"}`,
		`{"time":"t","level":"WARN","msg":"request failed: a service is unavailable","request_id":"cl-70","error":"dial tcp: connection refused"}`,
		`not JSON, but names "request_id":"cl-7"`,
	)
	write("web.2.log",
		`{"time":"t","level":"ERROR","msg":"panic serving request","request_id":"cl-9","panic":"boom","stack":"`+strings.Repeat("x", 100000)+`"}`,
		`{"time":"t","level":"ERROR","msg":"request failed","request_id":"cl-7","error":"second"}`,
		`{"time":"t","level":"ERROR","msg":"request failed","request_id":"cl-7","error":"third"}`,
	)
	write("worker.1.log", `{"level":"ERROR","msg":"x","request_id":"cl-7","error":"not a web process"}`)

	got := serverLines(dir, []string{"cl-7", "cl-9", "cl-8"}, 2)
	want := map[string][]string{
		"cl-7": {
			`web.1 ERROR "request failed" error="users: create: conn closed"`,
			`web.2 ERROR "request failed" error="second"`,
		},
		"cl-9": {`web.2 ERROR "panic serving request" panic="boom"`},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("serverLines = %q\nwant %q", got, want)
	}
}
