package testkit

import (
	"os"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
)

// TestDocumentSources: an app that serves no document is validated against
// the one its builder makes (API_DOCS=false), and without a builder the test
// fails, saying so, instead of skipping the validation.
func TestDocumentSources(t *testing.T) {
	t.Parallel()
	fixture, err := os.ReadFile("testdata/widgets.openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		build func() ([]byte, error)
		path  string
		want  string // in the failure; "" to pass
	}{
		{"no document, no builder", nil, "/api/widgets/1", "serves no OpenAPI document"},
		{"built: described", func() ([]byte, error) { return fixture, nil }, "/api/widgets/1", ""},
		{"built: undescribed route", func() ([]byte, error) { return fixture, nil }, "/api/gadgets/1", "does not describe"},
		{"built: broken document", func() ([]byte, error) { return []byte("{"), nil }, "/api/widgets/1", "OpenAPI document"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			app := fiber.New()
			app.Get("/api/widgets/:id", func(c *fiber.Ctx) error { return c.JSON(fiber.Map{"id": 1, "name": "w"}) })
			app.Get("/api/gadgets/:id", func(c *fiber.Ctx) error { return c.JSON(fiber.Map{"id": 1}) })
			got := Record(t, func(tb testing.TB) {
				c := &Client{t: tb, app: app, header: map[string]string{}, check: newChecker(app, tt.build)}
				c.Get(tt.path)
			})
			msg := strings.Join(got.Messages, "\n")
			if tt.want == "" {
				if got.Failed {
					t.Fatalf("failed: %s", msg)
				}
				return
			}
			if !got.Failed || !strings.Contains(msg, tt.want) {
				t.Fatalf("want a failure saying %q, got failed=%v: %s", tt.want, got.Failed, msg)
			}
		})
	}
}

func TestFiberMatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pattern, path string
		want          bool
	}{
		{"/api/posts/:id", "/api/posts/7", true},
		{"/api/posts/:id", "/api/posts", false},
		{"/api/posts/:id", "/API/Posts/7/", true},
		{"/api/posts/:id?", "/api/posts", true},
		{"/api/files/*", "/api/files/a/b", true},
		{"/api/files/+", "/api/files", false},
		{"/api/me", "/api/me/avatar", false},
		{"/", "/", true},
	}
	for _, tt := range tests {
		if got := fiberMatch(tt.pattern, tt.path); got != tt.want {
			t.Errorf("fiberMatch(%q, %q) = %v, want %v", tt.pattern, tt.path, got, tt.want)
		}
	}
}
