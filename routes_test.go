package main_test

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"manouche/apps"
	"manouche/core"
	"manouche/core/server"
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

// testApps is the project's installed list and this package's test apps.
var testApps = append(append([]core.App{}, apps.Installed...),
	routesApp{}, checkApp{"synccheck", (*syncNote)(nil)}, checkApp{"driftcheck", (*driftNote)(nil)})

func TestRoutes(t *testing.T) {
	a := testkit.New(t, testkit.Apps(testApps))
	routes := a.Server.Routes()
	byKey := map[string]server.Route{}
	for _, r := range routes {
		if r.Method == fiber.MethodHead {
			t.Errorf("HEAD %s is listed: Fiber adds one beside each GET", r.Path)
		}
		byKey[r.Method+" "+r.Path] = r
	}
	tests := []server.Route{
		{Method: "GET", Path: "/health", App: "core", Handler: "server.(*Server).build", Auth: "none"},
		{Method: "POST", Path: "/api/auth/register", App: "users", Handler: "users.(*handlers).register", Auth: "none"},
		{Method: "POST", Path: "/api/auth/logout", App: "users", Handler: "users.(*handlers).logout", Auth: "token"},
		{Method: "GET", Path: "/api/me", App: "users", Handler: "users.(*handlers).me", Auth: "token"},
		{Method: "PUT", Path: "/api/me/avatar", App: "users", Handler: "users.(*handlers).putAvatar", Auth: "token"},
		{Method: "GET", Path: "/robots.txt", App: "pages", Handler: "pages.App.Routes.textFile", Auth: "none"},
		{Method: "GET", Path: "/api/routestest/things", App: "routestest", Handler: "manouche_test.listThings", Auth: "token"},
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

}

// TestRoutesCommand runs `routes` as a user does, after `migrate`, in a
// process of its own (GoAdmin serves one project per process: the admin's
// routes are only there in the first).
func TestRoutesCommand(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	// The table is stdout; stderr has the logs (the startup line).
	run := func(args ...string) string {
		cmd := exec.Command(bin, args...)
		cmd.Dir, cmd.Env = dir, baseEnv("SETTINGS=development")
		var stderr strings.Builder
		cmd.Stderr = &stderr
		b, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: %v\n%s%s", args[0], err, b, stderr.String())
		}
		return string(b)
	}
	run("migrate")
	out := run("routes")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if !regexp.MustCompile(`^METHOD +PATH +APP +HANDLER +AUTH$`).MatchString(lines[0]) {
		t.Errorf("header = %q", lines[0])
	}
	for _, row := range []string{
		`GET +/api/me +users +users\.\(\*handlers\)\.me +token`,
		`POST +/api/auth/register +users +users\.\(\*handlers\)\.register +none`,
		`GET +/health +core +\S+ +none`,
		`GET +/admin/login +admin +\S+ +none`,
		`POST +/admin/signin +admin +\S+ +none`,
		`GET +/admin +admin +\S+ +staff session`,
		`GET +/admin/info/:__prefix +admin +\S+ +staff session`,
		`GET +/admin/install +admin +\S+ +blocked`,
		`GET +/admin/assets/\* +admin +\S+ \(\d+ files\) +none`,
	} {
		if !regexp.MustCompile(`(?m)^` + row + `$`).MatchString(out) {
			t.Errorf("no row matches %s:\n%s", row, out)
		}
	}
	if strings.Contains(out, "HEAD ") {
		t.Errorf("HEAD routes are listed:\n%s", out)
	}
}
