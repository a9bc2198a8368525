package server_test

import (
	"maps"
	"net/http/httptest"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/helmet"

	"manouche/core/server"
)

// TestSecurityHeadersMatchHelmet: the server's precomputed security headers
// are exactly those Fiber's helmet middleware sets with the project's
// configuration (names as written on the wire, values), on a success and on
// an error, and a handler can still replace one of them.
func TestSecurityHeadersMatchHelmet(t *testing.T) {
	t.Parallel()
	withHelmet := helmet.New(helmet.Config{
		XFrameOptions:             "DENY",
		ReferrerPolicy:            "same-origin",
		CrossOriginEmbedderPolicy: "unsafe-none",
		CrossOriginResourcePolicy: "cross-origin",
	})
	headers := func(mw fiber.Handler, path string) map[string][]string {
		app := fiber.New()
		app.Use(mw)
		app.Get("/ok", func(c *fiber.Ctx) error { return c.SendString("ok") })
		app.Get("/framed", func(c *fiber.Ctx) error {
			c.Set(fiber.HeaderXFrameOptions, "SAMEORIGIN")
			return c.SendString("ok")
		})
		res, err := app.Test(httptest.NewRequest("GET", path, nil))
		if err != nil {
			t.Fatal(err)
		}
		h := map[string][]string(res.Header.Clone())
		for _, k := range []string{"Date", "Content-Length", "Content-Type"} {
			delete(h, k)
		}
		return h
	}
	for _, path := range []string{"/ok", "/framed", "/missing"} {
		want, got := headers(withHelmet, path), headers(server.SecurityHeaders(0, false, false), path)
		if len(want) < 11 {
			t.Fatalf("%s: helmet set only %v", path, want)
		}
		if !maps.EqualFunc(got, want, func(a, b []string) bool { return len(a) == 1 && len(b) == 1 && a[0] == b[0] }) {
			t.Errorf("%s: headers\n%v\nwant helmet's\n%v", path, got, want)
		}
	}
	if got := headers(server.SecurityHeaders(0, false, false), "/framed")["X-Frame-Options"]; len(got) != 1 || got[0] != "SAMEORIGIN" {
		t.Errorf("a handler's own X-Frame-Options: %v", got)
	}
}
