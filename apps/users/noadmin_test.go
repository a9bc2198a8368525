package users_test

import (
	"context"
	"net/http"
	"os/exec"
	"strings"
	"testing"

	"manouche/apps/pages"
	"manouche/apps/users"
	"manouche/core/db"
	"manouche/core/testkit"
)

// TestNoGoAdminLinked checks that the apps that do not serve the admin, and the core
// (the command line included), build without GoAdmin: only admin/goadmin imports it.
func TestNoGoAdminLinked(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	t.Parallel()
	for _, pkg := range []string{"manouche/apps/users", "manouche/apps/pages", "manouche/core", "manouche/admin"} {
		out, err := exec.Command("go", "list", "-deps", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			if strings.Contains(dep, "GoAdminGroup") || dep == "manouche/admin/goadmin" {
				t.Errorf("%s links %s: only the admin app (admin/site, admin/goadmin) may", pkg, dep)
			}
		}
	}
}

// TestProjectWithoutAdmin runs a project whose installed apps do not include the admin
// (pages and users only): the API works, /admin is an ordinary
// unknown route, and no GoAdmin table is created.
func TestProjectWithoutAdmin(t *testing.T) {
	t.Parallel()
	app := testkit.New(t, testkit.Apps{pages.App{}, users.App{}})
	for _, a := range app.Project.Apps() {
		if a.Name() == "admin" {
			t.Fatal("the admin app is installed in this test binary: the test proves nothing")
		}
	}
	register(t, app, "noadmin@example.com")
	for _, path := range []string{"/admin", "/admin/login", "/admin/info/users"} {
		app.Client.Get(path).AssertError(http.StatusNotFound, "NotFound")
	}
	q := "SELECT count(*) FROM sqlite_master WHERE name LIKE 'goadmin%' OR name = 'manouche_email_queue'"
	if db.IsPostgres(app.Project.DB) {
		q = "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace " +
			"WHERE n.nspname = current_schema() AND (c.relname LIKE 'goadmin%' OR c.relname = 'manouche_email_queue')"
	}
	var n int
	if err := app.Project.DB.QueryRowContext(context.Background(), q).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%d GoAdmin relations in a project without the admin app", n)
	}
	var river int
	if err := app.Project.DB.QueryRowContext(context.Background(), "SELECT count(*) FROM river_job").Scan(&river); err != nil {
		t.Errorf("the framework's own migrations (River) did not run: %v", err)
	}
}
