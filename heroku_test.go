package main_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// herokuDirectives returns the values of go.mod's "// +heroku NAME VALUE..."
// lines, read the way the Go buildpack reads them (awk on the fields
// "//", "+heroku", NAME: the space after // is required).
func herokuDirectives(t *testing.T) map[string][]string {
	t.Helper()
	data, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[0] == "//" && f[1] == "+heroku" {
			out[f[2]] = append(out[f[2]], f[3:]...)
		}
	}
	return out
}

// TestHerokuGoMod checks the Go buildpack's directives: the latest patch
// release of Go 1.26 (go.mod's own "go 1.26.0" would pin that exact release),
// and only the project's command installed into bin/ (without the directive
// the buildpack installs every main package, bench/ programs included).
func TestHerokuGoMod(t *testing.T) {
	d := herokuDirectives(t)
	if got := d["goVersion"]; len(got) != 1 || got[0] != "go1.26" {
		t.Errorf("// +heroku goVersion = %q, want [go1.26] (the latest 1.26 patch release)", got)
	}
	install := d["install"]
	if len(install) == 0 {
		t.Fatal("go.mod has no // +heroku install directive: the buildpack would install every main package, bench/ programs included")
	}
	args := append([]string{"list", "-tags", "heroku", "-f", `{{if eq .Name "main"}}{{.ImportPath}}{{end}}`}, install...)
	out, err := exec.Command("go", args...).Output()
	if err != nil {
		t.Fatalf("go %s: %v", strings.Join(args, " "), err)
	}
	mains := strings.Fields(string(out))
	if len(mains) != 1 || mains[0] != "manouche" {
		t.Errorf("the install directive %q yields the main packages %q, want only manouche (bin/manouche, as the Procfile runs)", install, mains)
	}
}
