package main_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	_ "manouche/apps"
	"manouche/core"
	"manouche/core/testkit"
)

// routesApp guards a whole group with RequireAuth mounted by Use.
type routesApp struct{}

func (routesApp) Name() string   { return "routestest" }
func (routesApp) Prefix() string { return "/api/routestest" }
func (routesApp) Routes(r fiber.Router, p *core.Project) {
	r.Use(p.RequireAuth())
	r.Get("/things", listThings)
}

func listThings(c *fiber.Ctx) error { return c.SendStatus(fiber.StatusNoContent) }

func init() { core.Register(routesApp{}) }

func TestRoutes(t *testing.T) {
	a := testkit.New(t)
	routes := a.Project.Routes()
	byKey := map[string]core.Route{}
	for _, r := range routes {
		if r.Method == fiber.MethodHead {
			t.Errorf("HEAD %s is listed: Fiber adds one beside each GET", r.Path)
		}
		byKey[r.Method+" "+r.Path] = r
	}
	tests := []core.Route{
		{Method: "GET", Path: "/health", App: "core", Handler: "core.(*Project).buildHandler", Auth: "none"},
		{Method: "POST", Path: "/api/auth/register", App: "users", Handler: "users.(*handlers).register", Auth: "none"},
		{Method: "POST", Path: "/api/auth/logout", App: "users", Handler: "users.(*handlers).logout", Auth: "token"},
		{Method: "GET", Path: "/api/me", App: "users", Handler: "users.(*handlers).me", Auth: "token"},
		{Method: "PUT", Path: "/api/me/avatar", App: "users", Handler: "users.(*handlers).putAvatar", Auth: "token"},
		{Method: "GET", Path: "/robots.txt", App: "pages", Handler: "pages.App.Routes.textFile", Auth: "none"},
		{Method: "GET", Path: "/api/routestest/things", App: "routestest", Handler: "manouche_test.listThings", Auth: "token"},
		{Method: "GET", Path: "/admin/login", App: "admin", Auth: "none"},
		{Method: "POST", Path: "/admin/signin", App: "admin", Auth: "none"},
		{Method: "GET", Path: "/admin", App: "admin", Auth: "staff session"},
		{Method: "GET", Path: "/admin/info/:__prefix", App: "admin", Auth: "staff session"},
		{Method: "GET", Path: "/admin/install", App: "admin", Auth: "blocked"},
		{Method: "GET", Path: "/admin/assets/*", App: "admin", Auth: "none"},
	}
	for _, want := range tests {
		got, ok := byKey[want.Method+" "+want.Path]
		if !ok {
			t.Errorf("%s %s is not listed", want.Method, want.Path)
			continue
		}
		if want.Handler == "" {
			want.Handler = got.Handler
		}
		if got != want {
			t.Errorf("%s %s = %+v, want %+v", want.Method, want.Path, got, want)
		}
	}
	for i := 1; i < len(routes); i++ {
		if routes[i-1].Path > routes[i].Path {
			t.Errorf("not in path order: %s before %s", routes[i-1].Path, routes[i].Path)
		}
	}

	out, errOut, code := a.Command("", "routes")
	if code != 0 {
		t.Fatalf("routes: exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if !regexp.MustCompile(`^METHOD +PATH +APP +HANDLER +AUTH$`).MatchString(lines[0]) {
		t.Errorf("header = %q", lines[0])
	}
	// The command builds a project of its own, which has no admin: GoAdmin
	// serves one project per process, and this test's has it.
	if len(lines) < 15 {
		t.Errorf("%d rows, want every route but the admin's:\n%s", len(lines)-1, out)
	}
	row := regexp.MustCompile(`(?m)^GET +/api/me +users +users\.\(\*handlers\)\.me +token$`)
	if !row.MatchString(out) {
		t.Errorf("no aligned row for GET /api/me:\n%s", out)
	}
}
