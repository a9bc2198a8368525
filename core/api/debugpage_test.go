package api_test

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"manouche/core/api"
)

// debugApp is the middleware the server puts around every route (request
// id, recover, the error handler with debug on or off) and routes that fail.
func debugApp(debug bool) *fiber.App {
	app := fiber.New(fiber.Config{
		DisableStartupMessage: true,
		ErrorHandler:          api.ErrorHandler(slog.New(slog.NewTextHandler(io.Discard, nil)), debug, 1024),
	})
	app.Use(api.RequestID(), api.Recover(slog.New(slog.NewTextHandler(io.Discard, nil))))
	panicking := func(c *fiber.Ctx) error { panic("the <launch> codes") }
	app.Get("/pages/boom", panicking)
	app.Get("/api/boom", panicking)
	app.Get("/pages/fail", func(c *fiber.Ctx) error {
		return fmt.Errorf("render invoice %d: %w", 7, errors.Join(errors.New("template missing"), io.ErrUnexpectedEOF))
	})
	return app
}

const browserAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"

// TestDebugPage: with DEBUG on, a page request that fails answers the
// technical 500 page (the error, the stack of a panic, the route and the
// request with its secrets masked, all escaped); with DEBUG off it shows no
// detail; an /api route, or a client that does not take HTML, keeps the JSON
// error shape.
func TestDebugPage(t *testing.T) {
	t.Parallel()
	secretHeaders := map[string]string{
		"Authorization": "Bearer tok-SECRET-1",
		"Cookie":        "session=cookie-SECRET-2",
		"X-Api-Key":     "key-SECRET-3",
	}
	tests := []struct {
		name     string
		debug    bool
		path     string
		accept   string
		wantHTML bool
		want     []string
		notWant  []string
	}{
		{"panic on a page, debug", true, "/pages/boom?q=visible&token=query-SECRET-4", browserAccept, true,
			[]string{
				"panic: the &lt;launch&gt; codes",                    // the message, escaped
				"api_test.debugApp.func1",                            // the stack: the panicking function's frame
				"debugpage_test.go:",                                 // and its file
				"GET /pages/boom",                                    // the route
				"<th>Host</th><td class=\"v\">example.com</td>",      // the request's headers
				"<th>Authorization</th><td class=\"v\">*****",        // masked
				"<th>q</th><td class=\"v\">visible</td>",             // the query
				"<th>token</th><td class=\"v\">********************", // masked
			},
			[]string{"SECRET", "<launch>"}},
		{"returned error on a page, debug", true, "/pages/fail", browserAccept, true,
			[]string{
				"render invoice 7: template missing",
				"*fmt.wrapError",
				"*errors.joinError",
				"*errors.errorString",
				"unexpected EOF",
				"api_test.debugApp.func2", // the handler that returned it
			},
			[]string{"SECRET", "id=\"stack\""}},
		{"panic on a page, no debug", false, "/pages/boom", browserAccept, false, []string{"A server error occurred."}, []string{"launch", "debugpage_test.go", "SECRET"}},
		{"panic under /api, debug", true, "/api/boom", browserAccept, false, []string{"panic: the \\u003claunch\\u003e codes"}, []string{"<html", "SECRET", "debugpage_test.go"}},
		{"panic on a page, debug, a JSON client", true, "/pages/boom", "application/json", false, []string{"launch"}, []string{"<html", "SECRET"}},
		{"panic on a page, debug, HTML refused", true, "/pages/boom", "text/html;q=0, application/json", false, []string{"launch"}, []string{"<html"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest("GET", tt.path, nil)
			req.Header.Set("Accept", tt.accept)
			for k, v := range secretHeaders {
				req.Header.Set(k, v)
			}
			res := do(t, debugApp(tt.debug), req)
			if res.status != 500 {
				t.Fatalf("status %d, want 500", res.status)
			}
			body := string(res.body)
			ct := res.header.Get("Content-Type")
			if tt.wantHTML {
				if ct != "text/html; charset=utf-8" {
					t.Errorf("Content-Type %q, want HTML", ct)
				}
			} else {
				if e := decodeError(t, res); e.ErrorType != api.TypeServerError {
					t.Errorf("error_type %q", e.ErrorType)
				}
			}
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("the body lacks %q:\n%s", w, body)
				}
			}
			for _, nw := range tt.notWant {
				if strings.Contains(body, nw) {
					t.Errorf("the body shows %q:\n%s", nw, body)
				}
			}
		})
	}
}
