package api_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"manouche/core/api"
)

// newApp is a Fiber app with the API's error handler, RequestID and the
// routes a test adds.
func newApp(routes func(app *fiber.App)) *fiber.App {
	app := fiber.New(fiber.Config{
		DisableStartupMessage: true,
		ErrorHandler:          api.ErrorHandler(slog.New(slog.NewTextHandler(io.Discard, nil)), false, 1024),
	})
	app.Use(api.RequestID())
	routes(app)
	return app
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func do(t *testing.T, app *fiber.App, req *http.Request) response {
	t.Helper()
	res, err := app.Test(req, -1)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{res.StatusCode, res.Header, b}
}

type errorBody struct {
	ErrorType string           `json:"error_type"`
	Errors    []api.FieldError `json:"errors"`
}

func decodeError(t *testing.T, r response) errorBody {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("error body is not JSON: %s", r.body)
	}
	return e
}

func listApp() *fiber.App {
	return newApp(func(app *fiber.App) {
		app.Get("/api/items", func(c *fiber.Ctx) error {
			p, err := api.PageOf(c)
			if err != nil {
				return err
			}
			base := c.Query("base")
			items := []int{}
			for i := p.Offset; i < min(p.Offset+p.PerPage, 120); i++ {
				items = append(items, i)
			}
			return c.JSON(api.NewList(c, base, p, 120, items))
		})
	})
}

func TestPagination(t *testing.T) {
	t.Parallel()
	app := listApp()
	tests := []struct {
		query          string
		wantCount      int
		wantFirst      int
		wantNext       string // "" = null
		wantPrev       string
		wantErrorField string
	}{
		{query: "", wantCount: 30, wantFirst: 0, wantNext: "http://example.com/api/items?offset=30&per_page=30"},
		{query: "offset=30", wantCount: 30, wantFirst: 30, wantNext: "http://example.com/api/items?offset=60&per_page=30", wantPrev: "http://example.com/api/items?offset=0&per_page=30"},
		{query: "offset=10&per_page=20", wantCount: 20, wantFirst: 10, wantNext: "http://example.com/api/items?offset=30&per_page=20", wantPrev: "http://example.com/api/items?offset=0&per_page=20"},
		{query: "per_page=500", wantCount: 100, wantFirst: 0, wantNext: "http://example.com/api/items?offset=100&per_page=100"},
		{query: "offset=100&per_page=100", wantCount: 20, wantFirst: 100, wantPrev: "http://example.com/api/items?offset=0&per_page=100"},
		{query: "offset=500", wantCount: 0, wantPrev: "http://example.com/api/items?offset=470&per_page=30"},
		// The largest offset: no next page (Offset+PerPage would overflow into a negative offset).
		{query: "offset=9223372036854775807", wantCount: 0, wantPrev: "http://example.com/api/items?offset=9223372036854775777&per_page=30"},
		{query: "search=caf%C3%A9+au+lait&offset=30", wantCount: 30, wantFirst: 30,
			wantNext: "http://example.com/api/items?offset=60&per_page=30&search=caf%C3%A9+au+lait",
			wantPrev: "http://example.com/api/items?offset=0&per_page=30&search=caf%C3%A9+au+lait"},
		// Found by FuzzPageOf: a parameter url.ParseQuery finds malformed (a
		// bad escape, a semicolon) was dropped from the links; they keep it as
		// the handler read it.
		{query: "search=%zz&offset=30", wantCount: 30, wantFirst: 30,
			wantNext: "http://example.com/api/items?offset=60&per_page=30&search=%25zz",
			wantPrev: "http://example.com/api/items?offset=0&per_page=30&search=%25zz"},
		{query: "search=a;b&offset=30", wantCount: 30, wantFirst: 30,
			wantNext: "http://example.com/api/items?offset=60&per_page=30&search=a%3Bb",
			wantPrev: "http://example.com/api/items?offset=0&per_page=30&search=a%3Bb"},
		{query: "base=https%3A%2F%2Fapi.example.org&offset=90", wantCount: 30, wantFirst: 90,
			wantPrev: "https://api.example.org/api/items?base=https%3A%2F%2Fapi.example.org&offset=60&per_page=30"},
		{query: "per_page=0", wantErrorField: "per_page"},
		{query: "per_page=-5", wantErrorField: "per_page"},
		{query: "per_page=ten", wantErrorField: "per_page"},
		{query: "per_page=1.5", wantErrorField: "per_page"},
		{query: "offset=-1", wantErrorField: "offset"},
		{query: "offset=abc", wantErrorField: "offset"},
		{query: "offset=99999999999999999999", wantErrorField: "offset"},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			t.Parallel()
			r := do(t, app, httptest.NewRequest(http.MethodGet, "http://example.com/api/items?"+tt.query, nil))
			if tt.wantErrorField != "" {
				e := decodeError(t, r)
				if r.status != 400 || e.ErrorType != api.TypeValidation || len(e.Errors) != 1 || e.Errors[0].Field != tt.wantErrorField {
					t.Fatalf("got %d %s, want 400 ValidationError on %s", r.status, r.body, tt.wantErrorField)
				}
				return
			}
			if r.status != 200 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			var l struct {
				Count    int     `json:"count"`
				Next     *string `json:"next"`
				Previous *string `json:"previous"`
				Results  []int   `json:"results"`
			}
			if err := json.Unmarshal(r.body, &l); err != nil {
				t.Fatal(err)
			}
			if l.Count != 120 || len(l.Results) != tt.wantCount || (tt.wantCount > 0 && l.Results[0] != tt.wantFirst) {
				t.Errorf("count %d, %d results from %v", l.Count, len(l.Results), l.Results)
			}
			if l.Results == nil {
				t.Error("results is null, want []")
			}
			check := func(name string, got *string, want string) {
				switch {
				case want == "" && got != nil:
					t.Errorf("%s = %q, want null", name, *got)
				case want != "" && got == nil:
					t.Errorf("%s = null, want %q", name, want)
				case want != "" && !sameURL(*got, want):
					t.Errorf("%s = %q, want %q", name, *got, want)
				}
			}
			check("next", l.Next, tt.wantNext)
			check("previous", l.Previous, tt.wantPrev)
		})
	}
	// Two bad parameters: both reported.
	r := do(t, app, httptest.NewRequest(http.MethodGet, "http://example.com/api/items?offset=-1&per_page=0", nil))
	if e := decodeError(t, r); len(e.Errors) != 2 {
		t.Errorf("two bad parameters: %s", r.body)
	}
}

// sameURL compares URLs with their query parameters in any order.
func sameURL(a, b string) bool {
	ua, err1 := url.Parse(a)
	ub, err2 := url.Parse(b)
	if err1 != nil || err2 != nil {
		return false
	}
	return ua.Scheme == ub.Scheme && ua.Host == ub.Host && ua.Path == ub.Path && ua.Query().Encode() == ub.Query().Encode()
}

func TestVersioning(t *testing.T) {
	t.Parallel()
	app := newApp(func(app *fiber.App) {
		app.Use("/api", api.Versioning())
		app.Get("/api/ping", func(c *fiber.Ctx) error { return c.JSON(fiber.Map{"pong": true}) })
	})
	tests := []struct {
		accept string
		want   int
	}{
		{"", 200},
		{"*/*", 200},
		{"application/json", 200},
		{"application/json; charset=utf-8", 200},
		{"application/*", 200},
		{"application/vnd.manouche+json", 200},
		{"application/vnd.manouche+json; version=1.0", 200},
		{"application/vnd.manouche+json;version=1.0", 200},
		{"text/html, application/json;q=0.9", 200},
		{"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", 200},
		{"application/vnd.manouche+json; version=2.0", 406},
		{"application/vnd.manouche+json; version=0.9", 406},
		{"application/json; version=2.0", 406},
		{"text/html", 406},
		{"image/png", 406},
		{"application/json;q=0", 406},
		{"garbage;;;", 406},
	}
	for _, tt := range tests {
		t.Run(tt.accept, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest(http.MethodGet, "/api/ping", nil)
			if tt.accept != "" {
				req.Header.Set("Accept", tt.accept)
			}
			r := do(t, app, req)
			if r.status != tt.want {
				t.Fatalf("Accept %q: status %d, want %d: %s", tt.accept, r.status, tt.want, r.body)
			}
			if tt.want == 406 {
				if e := decodeError(t, r); e.ErrorType != api.TypeNotAcceptable || len(e.Errors) != 1 || e.Errors[0].Message == "" {
					t.Errorf("406 body: %s", r.body)
				}
			}
			if r.header.Get("X-Request-ID") == "" {
				t.Error("no X-Request-ID")
			}
		})
	}
}

func TestRequestID(t *testing.T) {
	t.Parallel()
	var seen string
	app := newApp(func(app *fiber.App) {
		app.Get("/", func(c *fiber.Ctx) error {
			seen = api.RequestIDOf(c)
			return c.SendString("ok")
		})
	})
	tests := []struct {
		sent   string
		echoed bool
	}{
		{"abc-123", true},
		{"req_2026.11.26:19:00", true},
		{"550e8400-e29b-41d4-a716-446655440000", true},
		{strings.Repeat("a", 128), true},
		{strings.Repeat("a", 129), false},
		{"has space", false},
		{"<script>", false},
		{"new\\nline", false},
		{"", false},
	}
	for _, tt := range tests {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		if tt.sent != "" {
			req.Header.Set("X-Request-ID", tt.sent)
		}
		r := do(t, app, req)
		got := r.header.Get("X-Request-ID")
		if seen != got {
			t.Errorf("handler saw %q, response says %q", seen, got)
		}
		if tt.echoed {
			if got != tt.sent {
				t.Errorf("sent %q, got %q, want it echoed", tt.sent, got)
			}
			continue
		}
		if got == tt.sent {
			t.Errorf("sent %q: echoed, want it replaced", tt.sent)
		}
		if u, err := uuid.Parse(got); err != nil || u.Version() != 4 || u.Variant() != uuid.RFC4122 || u.String() != got {
			t.Errorf("sent %q: got %q, want a generated UUID (version 4, RFC 4122 variant, lower case)", tt.sent, got)
		}
	}
	// Generated ids never repeat.
	ids := map[string]bool{}
	for range 2000 {
		id := do(t, app, httptest.NewRequest(http.MethodGet, "/", nil)).header.Get("X-Request-ID")
		if ids[id] {
			t.Fatalf("request id %q generated twice", id)
		}
		ids[id] = true
	}
}

func TestErrorHandlerShapes(t *testing.T) {
	t.Parallel()
	app := newApp(func(app *fiber.App) {
		app.Get("/fiber404", func(c *fiber.Ctx) error { return fiber.ErrNotFound })
		app.Get("/teapot", func(c *fiber.Ctx) error { return fiber.NewError(418, "short and stout") })
		app.Get("/plain", func(c *fiber.Ctx) error { return io.ErrUnexpectedEOF })
		app.Get("/throttled", func(c *fiber.Ctx) error { return api.Throttled(3e9) })
		app.Post("/bind", func(c *fiber.Ctx) error {
			var s signup
			if err := api.Bind(c, &s); err != nil {
				return err
			}
			return c.SendStatus(204)
		})
	})
	tests := []struct {
		method, path, ct, body string
		status                 int
		typ                    string
	}{
		{"GET", "/fiber404", "", "", 404, api.TypeNotFound},
		{"GET", "/nowhere", "", "", 404, api.TypeNotFound},
		{"GET", "/teapot", "", "", 418, "ImATeapot"}, // other client errors keep their status, typed by its name
		{"GET", "/plain", "", "", 500, api.TypeServerError},
		{"GET", "/throttled", "", "", 429, api.TypeThrottled},
		{"POST", "/bind", "application/json", `{"email":`, 400, api.TypeParse},
		{"POST", "/bind", "text/csv", `a,b`, 415, api.TypeUnsupportedMedia},
		{"POST", "/bind", "application/json", `{}`, 400, api.TypeValidation},
		{"POST", "/bind", "application/json", `{"email":"a@example.com","password":"longenough"}`, 204, ""},
	}
	for _, tt := range tests {
		req := httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body))
		if tt.ct != "" {
			req.Header.Set("Content-Type", tt.ct)
		}
		r := do(t, app, req)
		if r.status != tt.status {
			t.Errorf("%s %s: status %d, want %d: %s", tt.method, tt.path, r.status, tt.status, r.body)
			continue
		}
		if tt.typ == "" {
			continue
		}
		e := decodeError(t, r)
		if e.ErrorType != tt.typ || len(e.Errors) == 0 {
			t.Errorf("%s %s: %s, want %s", tt.method, tt.path, r.body, tt.typ)
		}
		if !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
			t.Errorf("%s %s: Content-Type %q", tt.method, tt.path, r.header.Get("Content-Type"))
		}
		if tt.status == 429 && r.header.Get("Retry-After") != "3" {
			t.Errorf("Retry-After = %q, want 3", r.header.Get("Retry-After"))
		}
		if tt.status == 500 && strings.Contains(string(r.body), "unexpected EOF") {
			t.Errorf("500 shows the error's text with debug off: %s", r.body)
		}
	}
}
