package main_test

import (
	"bytes"
	"encoding/json"
	"manouche/apps"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"manouche/core"
	"manouche/settings"
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

// appJSON is the part of app.json the tests read.
type appJSON struct {
	Addons []struct {
		Plan string `json:"plan"`
	} `json:"addons"`
	Formation map[string]struct {
		Quantity int `json:"quantity"`
	} `json:"formation"`
	Scripts struct {
		Postdeploy string `json:"postdeploy"`
	} `json:"scripts"`
	Env map[string]struct {
		Description string `json:"description"`
		Value       string `json:"value"`
		Generator   string `json:"generator"`
		Required    *bool  `json:"required"`
	} `json:"env"`
}

func readAppJSON(t *testing.T) appJSON {
	t.Helper()
	data, err := os.ReadFile("app.json")
	if err != nil {
		t.Fatal(err)
	}
	var a appJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&a); err != nil {
		t.Fatalf("app.json: %v", err)
	}
	return a
}

// procfileTypes returns the Procfile's process types and their commands.
func procfileTypes(t *testing.T) map[string]string {
	t.Helper()
	data, err := os.ReadFile("Procfile")
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if name, cmd, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(name) != "" && !strings.HasPrefix(name, "#") {
			types[strings.TrimSpace(name)] = strings.TrimSpace(cmd)
		}
	}
	return types
}

// TestAppJSON checks app.json against the code: the add-ons the production
// settings read, the Procfile's process types, and every variable it names
// being one the project reads.
func TestAppJSON(t *testing.T) {
	a := readAppJSON(t)

	var addons []string
	for _, ad := range a.Addons {
		name, _, _ := strings.Cut(ad.Plan, ":")
		addons = append(addons, name)
	}
	for _, want := range []string{"heroku-postgresql", "heroku-redis", "mailgun"} {
		if !slices.Contains(addons, want) {
			t.Errorf("app.json's add-ons %q lack %s", addons, want)
		}
	}

	// The Procfile and the formation agree: every formation entry is a
	// Procfile process, and every long-running process (all but release,
	// which Heroku runs once per deploy) has a formation entry.
	procs := procfileTypes(t)
	for name := range a.Formation {
		if _, ok := procs[name]; !ok {
			t.Errorf("app.json's formation has %q, which the Procfile does not declare (it has %v)", name, slices.Sorted(maps.Keys(procs)))
		}
	}
	for name := range procs {
		if _, ok := a.Formation[name]; !ok && name != "release" {
			t.Errorf("the Procfile's %q process has no formation entry in app.json", name)
		}
	}
	for _, want := range []string{"web", "worker", "release"} {
		if _, ok := procs[want]; !ok {
			t.Errorf("the Procfile has no %s process", want)
		}
	}

	if e := a.Env["SETTINGS"]; e.Value != "production" {
		t.Errorf("app.json SETTINGS = %q, want production", e.Value)
	}
	if e := a.Env["SECRET_KEY"]; e.Generator != "secret" || e.Value != "" {
		t.Errorf("app.json SECRET_KEY must have generator secret and no value, has %+v", e)
	}

	// Every variable is one the project reads: a setting (core, backend,
	// app, or an alias of one), SETTINGS itself, a variable a command reads
	// (checked in its --help), or one the Go buildpack reads.
	st, err := core.LoadSettings(settings.Options{Environ: []string{}, DotEnv: "-"}, apps.Installed)
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]string{"SETTINGS": "the settings layer"}
	for _, l := range st.Describe() {
		known[l.Name] = "a setting"
	}
	for alias, canon := range settings.Aliases() {
		known[alias] = "an alias of " + canon
	}
	known["GO_LINKER_SYMBOL"] = "read by the Go buildpack"
	commandVars := map[string]string{"SUPERUSER_EMAIL": "createsuperuser", "SUPERUSER_PASSWORD": "createsuperuser"}
	for name, e := range a.Env {
		if e.Description == "" {
			t.Errorf("app.json %s has no description", name)
		}
		if _, ok := known[name]; ok {
			continue
		}
		if _, ok := commandVars[name]; ok {
			continue
		}
		t.Errorf("app.json names %s, which is neither a setting nor a variable a command reads", name)
	}
	if testing.Short() {
		return
	}
	bin := buildBinary(t)
	for name, command := range commandVars {
		if _, ok := a.Env[name]; !ok {
			continue
		}
		out, err := exec.Command(bin, command, "--help").CombinedOutput()
		if err != nil {
			t.Fatalf("%s --help: %v\n%s", command, err, out)
		}
		if !strings.Contains(string(out), name) || !strings.Contains(string(out), "--noinput") {
			t.Errorf("app.json names %s for %s, whose --help does not mention it (or --noinput):\n%s", name, command, out)
		}
	}
}

// TestAppJSONPostdeploy runs app.json's postdeploy script the way Heroku
// does (bash -c, in the app's folder) against a stand-in bin/manouche: it
// creates the superuser only when both variables are set, and otherwise
// says so and succeeds (a failed postdeploy fails the review app).
func TestAppJSONPostdeploy(t *testing.T) {
	script := readAppJSON(t).Scripts.Postdeploy
	if script == "" {
		t.Fatal("app.json has no scripts.postdeploy")
	}
	for _, tc := range []struct {
		name     string
		env      []string
		wantCall string
		wantOut  string
	}{
		{"both set", []string{"SUPERUSER_EMAIL=admin@example.com", "SUPERUSER_PASSWORD=correct horse"}, "createsuperuser --noinput", ""},
		{"email only", []string{"SUPERUSER_EMAIL=admin@example.com"}, "", "no superuser was created"},
		{"password only", []string{"SUPERUSER_PASSWORD=x"}, "", "no superuser was created"},
		{"empty values", []string{"SUPERUSER_EMAIL=", "SUPERUSER_PASSWORD="}, "", "no superuser was created"},
		{"neither", nil, "", "no superuser was created"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			calls := filepath.Join(dir, "calls")
			if err := os.Mkdir(filepath.Join(dir, "bin"), 0o755); err != nil {
				t.Fatal(err)
			}
			stub := "#!/bin/sh\necho \"$*\" >> " + calls + "\n"
			if err := os.WriteFile(filepath.Join(dir, "bin", "manouche"), []byte(stub), 0o755); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("bash", "-c", script)
			cmd.Dir = dir
			cmd.Env = baseEnv(tc.env...)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("postdeploy failed: %v\n%s", err, out)
			}
			got, _ := os.ReadFile(calls)
			if strings.TrimSpace(string(got)) != tc.wantCall {
				t.Errorf("bin/manouche was called with %q, want %q", got, tc.wantCall)
			}
			if !strings.Contains(string(out), tc.wantOut) {
				t.Errorf("postdeploy said %q, want it to contain %q", out, tc.wantOut)
			}
		})
	}
}
