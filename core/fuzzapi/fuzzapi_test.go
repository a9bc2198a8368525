package fuzzapi_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"manouche/core/api"
	"manouche/core/fuzzapi"
)

// flaw is a bug the test app can be given.
type flaw int

const (
	sound         flaw = iota
	panics             // POST /api/things fails (500) on a count above 1000
	extraField         // GET /api/things/{id} answers a field its schema does not declare
	slow               // GET /api/things sleeps past the limit when per_page is above 90
	undeclared404      // DELETE /api/things/{id} answers 410, which it does not declare
)

// testApp serves testdata/openapi.json and the operations it describes,
// correctly unless given a flaw.
func testApp(t *testing.T, bug flaw) string {
	t.Helper()
	doc, err := os.ReadFile("testdata/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	app := fiber.New(fiber.Config{DisableStartupMessage: true, BodyLimit: 8 << 20,
		ErrorHandler: api.ErrorHandler(slog.New(slog.DiscardHandler), false, 8<<20)})
	app.Use(func(c *fiber.Ctx) error {
		defer func() {
			if r := recover(); r != nil {
				_ = api.Write(c, &api.Error{Status: 500, Type: api.TypeServerError, Errors: []api.FieldError{{Message: "A server error occurred."}}})
			}
		}()
		return c.Next()
	})
	var mu sync.Mutex
	tokens := map[string]string{}
	things := map[string]fiber.Map{}
	var order []string
	window, hits := time.Now(), 0
	user := func(c *fiber.Ctx) (string, error) {
		h := c.Get("Authorization")
		if h == "" {
			return "", api.NotAuthenticated()
		}
		tok, ok := strings.CutPrefix(h, "Bearer ")
		mu.Lock()
		defer mu.Unlock()
		if id, found := tokens[tok]; ok && found {
			return id, nil
		}
		return "", api.AuthenticationFailed("")
	}
	app.Get("/api/openapi.json", func(c *fiber.Ctx) error {
		c.Set("Content-Type", "application/json")
		return c.Send(doc)
	})
	app.Post("/api/auth/register", func(c *fiber.Ctx) error {
		mu.Lock()
		if time.Since(window) > time.Second {
			window, hits = time.Now(), 0
		}
		hits++
		n := hits
		mu.Unlock()
		if n > 20 {
			return api.Throttled(time.Second)
		}
		var in struct {
			Email    string `json:"email" validate:"required,email"`
			Password string `json:"password" validate:"required,min=8"`
		}
		if err := api.Bind(c, &in); err != nil {
			return err
		}
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		tok, id := hex.EncodeToString(b), uuid.NewString()
		mu.Lock()
		tokens[tok] = id
		mu.Unlock()
		return c.Status(201).JSON(fiber.Map{"id": id, "email": in.Email, "auth_token": tok})
	})
	app.Post("/api/auth/logout", func(c *fiber.Ctx) error {
		if _, err := user(c); err != nil {
			return err
		}
		mu.Lock()
		delete(tokens, strings.TrimPrefix(c.Get("Authorization"), "Bearer "))
		mu.Unlock()
		return c.SendStatus(204)
	})
	app.Get("/api/me", func(c *fiber.Ctx) error {
		id, err := user(c)
		if err != nil {
			return err
		}
		return c.JSON(fiber.Map{"id": id, "email": "me@example.com"})
	})
	app.Get("/api/things", func(c *fiber.Ctx) error {
		p, err := api.PageOf(c)
		if err != nil {
			return err
		}
		if bug == slow && p.PerPage > 90 {
			time.Sleep(1200 * time.Millisecond)
		}
		mu.Lock()
		defer mu.Unlock()
		results := []fiber.Map{}
		for i := p.Offset; i < len(order) && i-p.Offset < p.PerPage && i >= 0; i++ {
			results = append(results, things[order[i]])
		}
		return c.JSON(fiber.Map{"count": len(order), "results": results})
	})
	app.Post("/api/things", func(c *fiber.Ctx) error {
		var in struct {
			Name  *string `json:"name" validate:"required,min=1,max=10"`
			Count *int64  `json:"count" validate:"required"`
		}
		if err := api.Bind(c, &in); err != nil {
			return err
		}
		if *in.Count > 1000 && bug == panics {
			panic("count out of range")
		}
		if *in.Count < 0 || *in.Count > 100 {
			return api.Validation(api.FieldErr("count", "Ensure this value is between 0 and 100."))
		}
		id := uuid.NewString()
		obj := fiber.Map{"id": id, "name": *in.Name, "count": *in.Count}
		mu.Lock()
		things[id] = obj
		order = append(order, id)
		mu.Unlock()
		return c.Status(201).JSON(obj)
	})
	find := func(c *fiber.Ctx) (fiber.Map, error) {
		mu.Lock()
		defer mu.Unlock()
		obj, ok := things[c.Params("id")]
		if !ok {
			return nil, api.NotFound("")
		}
		return obj, nil
	}
	app.Get("/api/things/:id", func(c *fiber.Ctx) error {
		obj, err := find(c)
		if err != nil {
			return err
		}
		if bug == extraField {
			out := fiber.Map{"secret": "s3cr3t"}
			for k, v := range obj {
				out[k] = v
			}
			return c.JSON(out)
		}
		return c.JSON(obj)
	})
	app.Delete("/api/things/:id", func(c *fiber.Ctx) error {
		if _, err := user(c); err != nil {
			return err
		}
		if _, err := find(c); err != nil {
			if bug == undeclared404 {
				return c.Status(410).JSON(fiber.Map{"error_type": "Gone", "errors": []fiber.Map{{"message": "Gone."}}})
			}
			return err
		}
		mu.Lock()
		delete(things, c.Params("id"))
		order = slices.DeleteFunc(order, func(id string) bool { return id == c.Params("id") })
		mu.Unlock()
		return c.SendStatus(204)
	})
	app.Put("/api/things/:id/picture", func(c *fiber.Ctx) error {
		obj, err := find(c)
		if err != nil {
			return err
		}
		if _, err := api.FormFile(c, "file"); err != nil {
			return err
		}
		return c.JSON(obj)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = app.Listener(ln) }()
	t.Cleanup(func() { _ = app.Shutdown() })
	return "http://" + ln.Addr().String()
}

func run(t *testing.T, base string, n int) *fuzzapi.Report {
	t.Helper()
	rep, err := fuzzapi.Run(context.Background(), fuzzapi.Options{BaseURL: base, Requests: n, Seed: 7,
		Concurrency: 4, Register: true, Slow: time.Second, Timeout: 5 * time.Second, BodiesDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestSoundAppHasNoFindings(t *testing.T) {
	t.Parallel()
	rep := run(t, testApp(t, sound), 1500)
	var out strings.Builder
	rep.Write(&out)
	if rep.Failed() {
		t.Fatalf("findings on a sound app:\n%s", out.String())
	}
	if rep.Requests != 1500 {
		t.Errorf("%d requests, want the budget, 1500", rep.Requests)
	}
	// Every operation was exercised, the secured ones with the real token
	// too, and created ids were reused.
	for _, op := range rep.Operations {
		if rep.Stats[op].Requests < 100 {
			t.Errorf("%s: %d requests", op, rep.Stats[op].Requests)
		}
	}
	for op, code := range map[string]int{"GET /api/me": 200, "POST /api/auth/logout": 204, "POST /api/things": 201,
		"GET /api/things/{id}": 200, "DELETE /api/things/{id}": 204, "PUT /api/things/{id}/picture": 200,
		"POST /api/auth/register": 429, "GET /api/things": 400} {
		if rep.Stats[op].Status[code] == 0 {
			t.Errorf("%s never answered %d:\n%s", op, code, out.String())
		}
	}
	if !strings.Contains(out.String(), "No findings.") {
		t.Errorf("report:\n%s", out.String())
	}
}

func TestFindsFlaws(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		bug    flaw
		kind   string
		op     string
		status int
		detail string
	}{
		{"a panic", panics, fuzzapi.KindServerError, "POST /api/things", 500, "ServerError"},
		{"an undeclared field", extraField, fuzzapi.KindUndeclared, "GET /api/things/{id}", 200, "secret"},
		{"a slow answer", slow, fuzzapi.KindSlow, "GET /api/things", 200, "limit"},
		{"an undeclared status", undeclared404, fuzzapi.KindUndeclared, "DELETE /api/things/{id}", 410, "410"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rep := run(t, testApp(t, tt.bug), 800)
			var out strings.Builder
			rep.Write(&out)
			if len(rep.Findings) == 0 {
				t.Fatalf("no findings:\n%s", out.String())
			}
			for _, f := range rep.Findings {
				if f.Kind != tt.kind || f.Operation != tt.op || f.Status != tt.status || !strings.Contains(f.Detail, tt.detail) {
					t.Errorf("finding %+v, want only [%s] %s → %d about %q", *f, tt.kind, tt.op, tt.status, tt.detail)
				}
				if !strings.HasPrefix(f.Curl, "curl ") || !strings.Contains(f.Curl, strings.SplitN(tt.op, " ", 2)[0]) {
					t.Errorf("finding without a curl command: %q", f.Curl)
				}
			}
			if !strings.Contains(out.String(), "Findings:") || !strings.Contains(out.String(), "["+tt.kind+"] "+tt.op) {
				t.Errorf("report:\n%s", out.String())
			}
		})
	}
}
