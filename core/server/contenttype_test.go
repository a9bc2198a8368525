package server_test

import (
	"net/http"
	"strings"
	"testing"

	"manouche/core/testkit"
)

// TestJSONContentType walks successes and errors of every kind, over a real
// TCP connection, including those the HTTP server raises before any route or
// middleware runs, and checks that each JSON response says
// application/json; charset=utf-8 (the contract) and is JSON, with the
// request id when the request reached the application.
func TestJSONContentType(t *testing.T) {
	t.Parallel()
	app := testkit.New(t, testkit.Settings{"ALLOWED_HOSTS": "127.0.0.1", "API_THROTTLE_RATE": "30/min", "MAX_UPLOAD_SIZE": "4096"})
	req := func(lines ...string) string { return strings.Join(lines, "\r\n") + "\r\n\r\n" }
	const host = "Host: {addr}"
	tests := []struct {
		name    string
		request string
		status  int
	}{
		{"health", req("GET /health HTTP/1.1", host), 200},
		{"readiness", req("GET /health/ready HTTP/1.1", host), 200},
		{"health, Accept */*", req("GET /health HTTP/1.1", host, "Accept: */*"), 200},
		{"app list", req("GET /coretest/list HTTP/1.1", host), 200},
		{"app JSON", req("POST /coretest/echo HTTP/1.1", host, "Content-Type: application/json", "Content-Length: 12") + `{"name":"x"}`, 200},
		{"unknown route", req("GET /no/such HTTP/1.1", host), 404},
		{"unknown API route", req("GET /api/no/such HTTP/1.1", host), 404},
		{"method not allowed", req("DELETE /health HTTP/1.1", host), 405},
		{"unknown method", req("FOO /health HTTP/1.1", host), 405},
		{"lower-case method", req("get /api/x HTTP/1.1", host), 405},
		{"not acceptable", req("GET /api/x HTTP/1.1", host, "Accept: application/vnd.manouche+json; version=9"), 406},
		{"too large, declared", req("POST /coretest/echo HTTP/1.1", host, "Content-Type: application/json", "Content-Length: 99999") + strings.Repeat("x", 9000), 413},
		{"unsupported media type", req("POST /coretest/echo HTTP/1.1", host, "Content-Type: text/plain", "Content-Length: 1") + "x", 415},
		{"parse error", req("POST /coretest/echo HTTP/1.1", host, "Content-Type: application/json", "Content-Length: 1") + "{", 400},
		{"validation error", req("POST /coretest/echo HTTP/1.1", host, "Content-Type: application/json", "Content-Length: 2") + "{}", 400},
		{"NUL in query", req("GET /coretest/list?search=%00 HTTP/1.1", host), 400},
		{"bad page", req("GET /coretest/list?offset=-1 HTTP/1.1", host), 400},
		{"host not allowed", req("GET /health HTTP/1.1", "Host: evil.com"), 400},
		{"panic", req("GET /coretest/panic HTTP/1.1", host), 500},
		{"error", req("GET /coretest/error HTTP/1.1", host), 500},
		{"header too large, before routing", req("GET /health HTTP/1.1", host, "X-Big: "+strings.Repeat("a", 20<<10)), 431},
		{"bad Content-Length, before routing", req("POST /coretest/echo HTTP/1.1", host, "Content-Length: abc"), 400},
	}
	for _, tt := range tests {
		res := app.Raw(tt.request)
		if res.Status != tt.status {
			t.Errorf("%s: status %d, want %d: %s", tt.name, res.Status, tt.status, res.Body)
		}
		if ct := res.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
			t.Errorf("%s: Content-Type %q, want application/json; charset=utf-8", tt.name, ct)
		}
		res.Map()
		if !strings.Contains(tt.name, "before routing") && res.Header.Get("X-Request-ID") == "" {
			t.Errorf("%s: no X-Request-ID", tt.name)
		}
	}
	// The throttle's 429.
	var last *testkit.Response
	for range 31 {
		last = app.RawJSON(http.MethodGet, "/api/x", "")
	}
	if ct := last.Header.Get("Content-Type"); last.Status != 429 || ct != "application/json; charset=utf-8" {
		t.Errorf("throttled: %d %q", last.Status, ct)
	}
}

// TestUnknownMethod: a method Fiber does not know, which it answers itself
// before any middleware, is a 405 MethodNotAllowed in the error shape that
// echoes the request's X-Request-ID, like any route's 405.
func TestUnknownMethod(t *testing.T) {
	t.Parallel()
	app := testkit.New(t, testkit.Settings{"ALLOWED_HOSTS": "127.0.0.1"})
	for _, method := range []string{"FOO", "PROPFIND", "get"} {
		res := app.Raw(method + " /api/auth/login HTTP/1.1\r\nHost: {addr}\r\nX-Request-ID: req-" + method + "\r\n\r\n")
		if res.Status != http.StatusMethodNotAllowed || res.Map()["error_type"] != "MethodNotAllowed" {
			t.Errorf("%s: %d %s, want 405 MethodNotAllowed", method, res.Status, res.Body)
		}
		if got := res.Header.Get("X-Request-ID"); got != "req-"+method {
			t.Errorf("%s: X-Request-ID %q, want the request's", method, got)
		}
	}
}

// TestParseErrorsQuoteNothing: a request fasthttp cannot parse is a 400
// ParseError whose message names the problem without quoting the request
// (fasthttp's own text carries the bytes it read: cookies, tokens).
func TestParseErrorsQuoteNothing(t *testing.T) {
	t.Parallel()
	app := testkit.New(t, testkit.Settings{"ALLOWED_HOSTS": "127.0.0.1", "MAX_UPLOAD_SIZE": "4096"})
	const secret = "Authorization: Bearer s3cret-token-value\r\nCookie: sessionid=s3cret-cookie"
	tests := []struct{ name, request string }{
		{"header without a colon", "POST /coretest/echo HTTP/1.1\r\nHost: {addr}\r\n" + secret + "\r\nBadHeaderNoColon\r\nContent-Length: 2\r\n\r\n{}"},
		{"bad request line", "GET /health HTTP/9.9 extra\r\nHost: {addr}\r\n" + secret + "\r\n\r\n"},
		{"bad chunk size", "POST /coretest/echo HTTP/1.1\r\nHost: {addr}\r\n" + secret + "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"},
		{"bad Content-Length", "POST /coretest/echo HTTP/1.1\r\nHost: {addr}\r\n" + secret + "\r\nContent-Length: abc\r\n\r\n"},
	}
	for _, tt := range tests {
		res := app.Raw(tt.request)
		if res.Status != http.StatusBadRequest || !strings.Contains(string(res.Body), `"error_type":"ParseError"`) {
			t.Errorf("%s: %d %s, want 400 ParseError", tt.name, res.Status, res.Body)
		}
		if strings.Contains(string(res.Body), "s3cret") || strings.Contains(string(res.Body), "Buffer size") {
			t.Errorf("%s: the answer quotes the request: %s", tt.name, res.Body)
		}
	}
}
