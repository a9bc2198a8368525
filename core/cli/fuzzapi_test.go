package cli_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"manouche/core/testkit"
)

// pingDoc describes GET /api/ping: 200 {"ok": true}.
const pingDoc = `{"openapi":"3.1.0","info":{"title":"ping","version":"1"},"paths":{"/api/ping":{"get":{
"parameters":[{"name":"n","in":"query","schema":{"type":"integer","minimum":0,"maximum":10}}],
"responses":{"200":{"description":"pong","content":{"application/json":{"schema":{
"type":"object","additionalProperties":false,"required":["ok"],"properties":{"ok":{"type":"boolean"}}}}}}}}}}}`

func TestFuzzAPICommand(t *testing.T) {
	t.Parallel()
	app := testkit.New(t, testkit.NoMigrate{})
	serve := func(broken bool) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			switch {
			case r.URL.Path == "/api/openapi.json":
				_, _ = w.Write([]byte(pingDoc))
			case r.URL.Path == "/api/ping" && broken && r.URL.Query().Get("n") != "":
				w.WriteHeader(http.StatusInternalServerError)
				_, _ = w.Write([]byte(`{"error_type":"ServerError","errors":[{"message":"boom"}]}`))
			case r.URL.Path == "/api/ping":
				_, _ = w.Write([]byte(`{"ok":true}`))
			default:
				http.NotFound(w, r)
			}
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"sound", []string{"fuzzapi", serve(false), "-n", "60", "--seed", "3"}, 0, "No findings.", ""},
		{"a 500", []string{"fuzzapi", serve(true), "-n", "60", "--seed", "3", "--concurrency", "1"}, 1, "[server error] GET /api/ping → 500", "findings"},
		{"no URL", []string{"fuzzapi"}, 2, "", "accepts 1 arg"},
		{"no document", []string{"fuzzapi", serve(false) + "/nowhere", "-n", "5"}, 1, "", "answered 404"},
	}
	for _, tt := range tests {
		stdout, stderr, code := app.Command("", tt.args...)
		if code != tt.code || !strings.Contains(stdout, tt.stdout) || !strings.Contains(stderr, tt.stderr) {
			t.Errorf("%s: exit %d, stdout:\n%s\nstderr:\n%s\nwant exit %d, %q in stdout and %q in stderr", tt.name, code, stdout, stderr, tt.code, tt.stdout, tt.stderr)
		}
	}
}
