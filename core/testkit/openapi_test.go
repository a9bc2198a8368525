package testkit_test

import (
	_ "embed"
	"strconv"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"manouche/core"
	"manouche/core/api"
	"manouche/core/testkit"
)

// widgetsDoc describes the widgets app below, by hand.
//
//go:embed testdata/widgets.openapi.json
var widgetsDoc []byte

// docs serves widgetsDoc at /api/openapi.json.
type docs struct{}

func (docs) Name() string   { return "docs" }
func (docs) Prefix() string { return "/api" }
func (docs) Routes(r fiber.Router, _ *core.Project) {
	r.Get("/openapi.json", func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		return c.Send(widgetsDoc)
	})
}

// widgets is a tiny API whose handlers break their description in the way
// its bug names ("" for none).
type widgets struct{ bug string }

func (widgets) Name() string   { return "widgets" }
func (widgets) Prefix() string { return "/api/widgets" }
func (w widgets) Routes(r fiber.Router, _ *core.Project) {
	r.Post("/", func(c *fiber.Ctx) error {
		if c.Get(fiber.HeaderAuthorization) == "" {
			return api.NotAuthenticated()
		}
		var in struct {
			Name string `json:"name" validate:"required"`
		}
		err := api.Bind(c, &in)
		if err != nil && w.bug == "server error on invalid input" {
			return c.Status(500).JSON(fiber.Map{"error_type": "ServerError", "errors": []fiber.Map{{"message": "boom"}}})
		}
		if err != nil && w.bug != "accepts invalid input" {
			return err
		}
		return c.Status(fiber.StatusCreated).JSON(fiber.Map{"id": 1, "name": in.Name})
	})
	r.Get("/:id", func(c *fiber.Ctx) error {
		id, err := strconv.Atoi(c.Params("id"))
		if err != nil || id != 1 {
			return api.NotFound("No such widget.")
		}
		switch w.bug {
		case "undeclared field":
			return c.JSON(fiber.Map{"id": 1, "name": "w", "secret": "x"})
		case "missing field":
			return c.JSON(fiber.Map{"id": 1})
		case "wrong type":
			return c.JSON(fiber.Map{"id": "1", "name": "w"})
		case "undeclared status":
			return c.Status(fiber.StatusAccepted).JSON(fiber.Map{"id": 1, "name": "w"})
		case "undeclared content type":
			return c.Type("txt").SendString(`{"id":1,"name":"w"}`)
		case "error not in the error shape":
			return c.Status(fiber.StatusNotFound).JSON(fiber.Map{"detail": "not found"})
		}
		return c.JSON(fiber.Map{"id": 1, "name": "w"})
	})
	r.Delete("/:id", func(c *fiber.Ctx) error {
		if c.Get(fiber.HeaderAuthorization) == "" {
			return api.NotAuthenticated()
		}
		if w.bug == "body on a status without content" {
			return c.Status(fiber.StatusAccepted).JSON(fiber.Map{"ok": true})
		}
		return c.SendStatus(fiber.StatusNoContent)
	})
	// An API route the document does not describe.
	r.Get("/:id/undocumented", func(c *fiber.Ctx) error { return c.JSON(fiber.Map{"ok": true}) })
}

// TestClientValidatesAgainstOpenAPI runs the same requests against the
// widgets app as described and with each kind of bug: the described one
// passes, each bug fails the test with a message that names it.
func TestClientValidatesAgainstOpenAPI(t *testing.T) {
	t.Parallel()
	type request struct {
		method, path string
		body         any
		token        bool
	}
	get := request{method: "GET", path: "/api/widgets/1"}
	tests := []struct {
		bug  string
		req  request
		want string // in the failure message; "" when the test must pass
	}{
		{"", get, ""},
		{"", request{"GET", "/api/widgets/2", nil, false}, ""},
		{"", request{"POST", "/api/widgets", map[string]any{"name": "w"}, true}, ""},
		{"", request{"POST", "/api/widgets", map[string]any{}, true}, ""},             // invalid, answered 400
		{"", request{"POST", "/api/widgets", `{"name":`, true}, ""},                   // bad JSON, answered 400
		{"", request{"POST", "/api/widgets", map[string]any{"name": "w"}, false}, ""}, // no token, answered 401
		{"", request{"DELETE", "/api/widgets/1", nil, true}, ""},
		{"", request{"GET", "/api/nothing/here", nil, false}, ""}, // the router's 404
		{"", request{"GET", "/elsewhere", nil, false}, ""},        // not an API route
		{"undeclared field", get, "secret"},
		{"missing field", get, "name"},
		{"wrong type", get, "integer"},
		{"undeclared status", get, "202"},
		{"undeclared content type", get, "text/plain"},
		{"error not in the error shape", request{"GET", "/api/widgets/1", nil, false}, "error_type"},
		{"accepts invalid input", request{"POST", "/api/widgets", map[string]any{"name": 5}, true}, "the handler accepted input the document says is invalid"},
		{"server error on invalid input", request{"POST", "/api/widgets", map[string]any{"name": ""}, true}, "not a server error"},
		{"body on a status without content", request{"DELETE", "/api/widgets/1", nil, true}, "declares no content"},
		{"", request{"GET", "/api/widgets/1/undocumented", nil, false}, "does not describe"},
	}
	for _, tt := range tests {
		name := tt.bug
		if name == "" {
			name = "described " + tt.req.method + " " + tt.req.path
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			app := testkit.New(t, testkit.Apps{docs{}, widgets{bug: tt.bug}})
			got := testkit.Record(t, func(tb testing.TB) {
				c := app.For(tb).Client
				if tt.req.token {
					c = c.WithToken("t")
				}
				c.Do(tt.req.method, tt.req.path, tt.req.body)
			})
			msg := strings.Join(got.Messages, "\n")
			if tt.want == "" {
				if got.Failed {
					t.Fatalf("a request and response the document describes failed the test:\n%s", msg)
				}
				return
			}
			if !got.Failed {
				t.Fatalf("the bug %q did not fail the test", tt.bug)
			}
			if !strings.Contains(msg, tt.want) || !strings.Contains(msg, tt.req.method+" "+tt.req.path) {
				t.Errorf("the failure does not say %q (or the request): %s", tt.want, msg)
			}
			// The escape hatch: an Unchecked client does not validate.
			if again := testkit.Record(t, func(tb testing.TB) {
				c := app.For(tb).Client.Unchecked()
				if tt.req.token {
					c = c.WithToken("t")
				}
				c.Do(tt.req.method, tt.req.path, tt.req.body)
			}); again.Failed {
				t.Errorf("Unchecked still validated: %v", again.Messages)
			}
		})
	}
}

// TestRawValidatesDocumentedResponses: App.Raw's responses are validated
// when the request maps to a documented operation.
func TestRawValidatesDocumentedResponses(t *testing.T) {
	t.Parallel()
	for _, bug := range []string{"", "undeclared field"} {
		app := testkit.New(t, testkit.Apps{docs{}, widgets{bug: bug}})
		got := testkit.Record(t, func(tb testing.TB) {
			app.For(tb).RawJSON("GET", "/api/widgets/1", "")
		})
		if got.Failed != (bug != "") {
			t.Errorf("bug %q: failed %v: %v", bug, got.Failed, got.Messages)
		}
	}
}
