package core_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestCoreDeps keeps the core small: the packages every app and every app's
// tests link must not pull in the command line's generators, the admin's
// GoAdmin, or the browser the end-to-end tests drive.
func TestCoreDeps(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list: skipped with -short")
	}
	out, err := exec.Command("go", "list", "-deps", "manouche/core").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps manouche/core: %v\n%s", err, out)
	}
	forbidden := []string{
		"manouche/core/cli",              // the command line's generators: linked by main.go only
		"manouche/core/server",           // the HTTP stack, once it is a package of its own
		"manouche/core/scaffold",         // startapp's generator
		"manouche/migrations/autodetect", // makemigrations' autodetector, once it is a package of its own
		"go/parser",                      // the scaffold's source editing
		"GoAdminGroup",                   // the admin
		"chromedp",                       // the browser tests
	}
	for _, pkg := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if pkg == f || strings.HasPrefix(pkg, f+"/") || (!strings.HasPrefix(f, "manouche/") && !strings.HasPrefix(f, "go/") && strings.Contains(pkg, f)) {
				t.Errorf("manouche/core links %s (%s must stay out of the core)", pkg, f)
			}
		}
	}
}
