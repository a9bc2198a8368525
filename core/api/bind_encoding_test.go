package api_test

import (
	"bytes"
	"compress/gzip"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"manouche/core/api"
)

// A gzip body would inflate past the body limit: Bind refuses any encoding.
func TestBindRefusesCompressedBodies(t *testing.T) {
	t.Parallel()
	app := fiber.New(fiber.Config{ErrorHandler: api.ErrorHandler(nil, false, 1<<20), BodyLimit: 1 << 20})
	app.Post("/", func(c *fiber.Ctx) error {
		var in struct {
			Name string `json:"name"`
		}
		if err := api.Bind(c, &in); err != nil {
			return err
		}
		return c.SendString(in.Name)
	})
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write([]byte(`{"name": "` + strings.Repeat("a", 4<<20) + `"}`))
	_ = zw.Close()
	req := httptest.NewRequest("POST", "/", &buf)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Content-Encoding", "gzip")
	res, err := app.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != fiber.StatusUnsupportedMediaType {
		t.Fatalf("status %d, want 415", res.StatusCode)
	}
	plain := httptest.NewRequest("POST", "/", strings.NewReader(`{"name": "ok"}`))
	plain.Header.Set("Content-Type", "application/json")
	plain.Header.Set("Content-Encoding", "identity")
	if res, err := app.Test(plain, -1); err != nil || res.StatusCode != 200 {
		t.Fatalf("identity: %v %v", res, err)
	}
}
