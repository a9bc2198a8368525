package cli_test

import (
	"bytes"
	"context"
	"manouche/core/version"
	"regexp"
	"strings"
	"testing"

	"manouche/core"
	"manouche/core/cli"
	"manouche/core/testkit"
	"manouche/settings"
)

func TestUnknownCommand(t *testing.T) {
	t.Parallel()
	app := testkit.New(t, testkit.NoMigrate{})
	tests := []struct {
		args    []string
		suggest string
	}{
		{[]string{"migrat"}, "migrate"},
		{[]string{"runservr"}, "runserver"},
		{[]string{"frobnicate"}, ""},
	}
	for _, tt := range tests {
		stdout, stderr, code := app.Command("", tt.args...)
		if code != 2 {
			t.Errorf("%v: exit %d, want 2 (stdout %q stderr %q)", tt.args, code, stdout, stderr)
		}
		if !strings.Contains(stderr, "unknown command") || !strings.Contains(stderr, "Available commands:") {
			t.Errorf("%v: stderr %q, want the error and the command list", tt.args, stderr)
		}
		for _, c := range []string{"migrate", "runserver", "showmigrations", "check", "settings"} {
			if !strings.Contains(stderr[strings.Index(stderr, "Available commands:"):], c) {
				t.Errorf("%v: command list does not name %s: %q", tt.args, c, stderr)
			}
		}
		if tt.suggest != "" && (!strings.Contains(stderr, "Did you mean") || !strings.Contains(stderr, "\t"+tt.suggest)) {
			t.Errorf("%v: stderr %q, want the suggestion %s", tt.args, stderr, tt.suggest)
		}
	}
	// An unknown flag is a usage error too.
	if _, stderr, code := app.Command("", "migrate", "--frob"); code != 2 || !strings.Contains(stderr, "unknown flag") {
		t.Errorf("unknown flag: exit %d, stderr %q", code, stderr)
	}
}

func TestHelpOnEveryCommand(t *testing.T) {
	t.Parallel()
	app := testkit.New(t, testkit.NoMigrate{})
	stdout, _, code := app.Command("", "--help")
	if code != 0 {
		t.Fatalf("--help: exit %d", code)
	}
	_, list, ok := strings.Cut(stdout, "Available Commands:")
	if !ok {
		t.Fatalf("--help lists no commands:\n%s", stdout)
	}
	list, _, _ = strings.Cut(list, "\n\n")
	var names []string
	for _, line := range strings.Split(strings.TrimSpace(list), "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			names = append(names, f[0])
		}
	}
	for _, want := range []string{"runserver", "migrate", "showmigrations", "makemigrations", "settings", "check", "dbshell"} {
		found := false
		for _, n := range names {
			found = found || n == want
		}
		if !found {
			t.Errorf("--help does not list %s: %v", want, names)
		}
	}
	for _, name := range names {
		if name == "help" {
			continue
		}
		t.Run(name, func(t *testing.T) {
			stdout, stderr, code := app.Command("", name, "--help")
			if code != 0 {
				t.Fatalf("%s --help: exit %d, stderr %q", name, code, stderr)
			}
			if !strings.Contains(stdout, "Usage:") || !strings.Contains(stdout, name) {
				t.Errorf("%s --help:\n%s", name, stdout)
			}
		})
	}
	// The bare command prints help too and succeeds.
	if stdout, _, code := app.Command(""); code != 0 || !strings.Contains(stdout, "Available Commands:") {
		t.Errorf("no arguments: exit %d:\n%s", code, stdout)
	}
}

func TestMigrateCommands(t *testing.T) {
	t.Parallel()
	app := testkit.New(t, testkit.NoMigrate{})
	run := func(wantCode int, args ...string) string {
		t.Helper()
		stdout, stderr, code := app.Command("", args...)
		if code != wantCode {
			t.Fatalf("%v: exit %d, want %d\nstdout: %s\nstderr: %s", args, code, wantCode, stdout, stderr)
		}
		return stdout + stderr
	}
	out := run(0, "showmigrations")
	for _, want := range []string{"manouche\n [ ] 20261126000002_river\n", "coretestapp\n [ ] 20260101000001_create_things\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("showmigrations before migrate does not contain %q:\n%s", want, out)
		}
	}
	out = run(0, "migrate")
	if !strings.HasPrefix(out, "Running migrations:\n") || !regexp.MustCompile(`  Applying manouche\.20261126000002_river\.\.\. OK \(\d`).MatchString(out) ||
		!strings.Contains(out, "Applying coretestapp.20260101000001_create_things... OK") {
		t.Errorf("first migrate:\n%s", out)
	}
	if strings.Index(out, "manouche.") > strings.Index(out, "coretestapp.") {
		t.Errorf("the app's migration ran before the framework's:\n%s", out)
	}
	out = run(0, "migrate")
	if out != "Running migrations:\n  No migrations to apply.\n" {
		t.Errorf("second migrate = %q, want No migrations to apply.", out)
	}
	out = run(0, "showmigrations", "coretestapp")
	if out != "coretestapp\n [X] 20260101000001_create_things\n" {
		t.Errorf("showmigrations coretestapp = %q", out)
	}
	out = run(0, "migrate", "coretestapp", "zero")
	if !strings.Contains(out, "Migrating coretestapp to zero:") || !strings.Contains(out, "Unapplying coretestapp.20260101000001_create_things... OK") {
		t.Errorf("migrate coretestapp zero:\n%s", out)
	}
	if out = run(0, "showmigrations", "coretestapp"); !strings.Contains(out, " [ ] 20260101000001_create_things") {
		t.Errorf("after zero: %s", out)
	}
	out = run(0, "migrate", "coretestapp")
	if !strings.Contains(out, "Applying coretestapp.20260101000001_create_things... OK") {
		t.Errorf("migrate coretestapp:\n%s", out)
	}
	if out = run(0, "migrate", "coretestapp"); !strings.Contains(out, "No migrations to apply.") {
		t.Errorf("migrate coretestapp again:\n%s", out)
	}
	if out = run(1, "migrate", "nosuchapp", "zero"); !strings.Contains(out, `"nosuchapp"`) {
		t.Errorf("migrate nosuchapp: %s", out)
	}
	if out = run(1, "migrate", "coretestapp", "20990101"); !strings.Contains(out, "no migration") {
		t.Errorf("migrate to an unknown target: %s", out)
	}
	if out = run(1, "showmigrations", "nosuchapp"); !strings.Contains(out, "nosuchapp") {
		t.Errorf("showmigrations nosuchapp: %s", out)
	}
	run(2, "migrate", "a", "b", "c")
}

func TestMakemigrationsErrors(t *testing.T) {
	t.Parallel()
	app := testkit.New(t, testkit.NoMigrate{})
	tests := []struct {
		args []string
		code int
		want []string
	}{
		{[]string{"makemigrations", "nosuchapp", "add_x", "--empty"}, 2, []string{`no installed app named "nosuchapp"`, "coretestapp"}},
		{[]string{"makemigrations", "nosuchapp"}, 2, []string{`no installed app named "nosuchapp"`}},
		{[]string{"makemigrations", "coretestapp", "a", "b"}, 2, []string{"arg"}},
		{[]string{"makemigrations"}, 2, []string{"arg"}},
		// Run from core/, not the project root: the app folder is not found, and nothing is written.
		{[]string{"makemigrations", "coretestapp", "add_x", "--empty"}, 1, []string{"apps/coretestapp", "root folder"}},
	}
	for _, tt := range tests {
		stdout, stderr, code := app.Command("", tt.args...)
		if code != tt.code {
			t.Errorf("%v: exit %d, want %d (stdout %q stderr %q)", tt.args, code, tt.code, stdout, stderr)
		}
		for _, w := range tt.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("%v: stderr %q does not contain %q", tt.args, stderr, w)
			}
		}
	}
}

func TestSettingsCommandMasksSecrets(t *testing.T) {
	t.Parallel()
	const secret = "a-very-secret-key-for-this-test-only-0123456789abcdef"
	app := testkit.New(t, testkit.NoMigrate{}, testkit.Settings{"SECRET_KEY": secret, "EMAIL_HOST_PASSWORD": "mailpw-hidden"})
	stdout, stderr, code := app.Command("", "settings")
	if code != 0 {
		t.Fatalf("settings: exit %d: %s", code, stderr)
	}
	if !strings.HasPrefix(stdout, "# SETTINGS=testing\n") {
		t.Errorf("settings output starts %q", stdout[:min(40, len(stdout))])
	}
	if strings.Contains(stdout, secret) || strings.Contains(stdout, "mailpw-hidden") {
		t.Errorf("settings shows a secret:\n%s", stdout)
	}
	for _, want := range []string{"SECRET_KEY = '********'  # override", "DEBUG = false  # testing.toml", "PORT = 8000  # common.toml"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("settings output lacks %q:\n%s", want, stdout)
		}
	}
}

func TestCheckDeploy(t *testing.T) {
	t.Parallel()
	app := testkit.New(t)
	stdout, stderr, code := app.Command("", "check")
	if code != 0 || !strings.Contains(stdout, "System check identified no issues.") {
		t.Errorf("check on a migrated test project: exit %d\n%s%s", code, stdout, stderr)
	}
	stdout, stderr, code = app.Command("", "check", "--deploy")
	if code != 0 {
		t.Errorf("check --deploy: exit %d (warnings only), stderr %q", code, stderr)
	}
	for _, id := range []string{"WARNING security.W009", "WARNING security.W020", "WARNING security.W008", "WARNING mail.W001", "WARNING storage.W001"} {
		if !strings.Contains(stdout, id) {
			t.Errorf("check --deploy on testing settings does not report %s:\n%s", id, stdout)
		}
	}
	if !regexp.MustCompile(`System check identified \d+ issue\(s\)\.`).MatchString(stdout) {
		t.Errorf("no summary line:\n%s", stdout)
	}
	_, stderr, code = app.Command("", "check", "--deploy", "--fail-level", "WARNING")
	if code != 1 || !strings.Contains(stderr, "WARNING") {
		t.Errorf("check --deploy --fail-level WARNING: exit %d, stderr %q; want 1", code, stderr)
	}

	// Pending migrations are reported.
	fresh := testkit.New(t, testkit.NoMigrate{})
	if stdout, _, _ := fresh.Command("", "check"); !strings.Contains(stdout, "migrations.W001") {
		t.Errorf("check with pending migrations:\n%s", stdout)
	}
}

func TestRunserverBadAddress(t *testing.T) {
	t.Parallel()
	app := testkit.New(t)
	for _, addr := range []string{"99999", "0", "nohostport", "127.0.0.1:http"} {
		_, stderr, code := app.Command("", "runserver", "--nomigrate", addr)
		if code != 2 || !strings.Contains(stderr, addr) {
			t.Errorf("runserver %s: exit %d, stderr %q; want 2 naming the address", addr, code, stderr)
		}
	}
}

func TestExecuteSettingsError(t *testing.T) {
	t.Parallel()
	var out, errb bytes.Buffer
	code := cli.Execute(context.Background(), []string{"migrate"}, cli.Env{
		Settings: settingsOptions("production", nil),
		Stdout:   &out, Stderr: &errb,
	})
	if code != 1 || !strings.Contains(errb.String(), "SECRET_KEY") || !strings.Contains(errb.String(), "DATABASE_URL") {
		t.Errorf("migrate with production settings and no variables: exit %d, stderr %q", code, errb.String())
	}
}

func settingsOptions(layer string, environ []string) settings.Options {
	if environ == nil {
		environ = []string{}
	}
	return settings.Options{Layer: layer, Environ: environ, DotEnv: "-", SkipAbsentApps: true}
}

// TestBadInstalledList: a bad installed list fails every command before it
// runs, with every problem named.
func TestBadInstalledList(t *testing.T) {
	t.Parallel()
	var out, errb bytes.Buffer
	code := cli.Execute(context.Background(), []string{"settings"}, cli.Env{
		Installed: []core.App{namedApp{name: "blog", deps: []string{"users"}}, namedApp{name: "Bad"}},
		Settings:  settingsOptions("testing", nil),
		Stdout:    &out, Stderr: &errb,
	})
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	for _, want := range []string{`app "blog" depends on "users", which is not installed`, `"Bad"`, "apps/apps.go"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("stderr %q does not contain %q", errb.String(), want)
		}
	}
	if out.Len() != 0 {
		t.Errorf("the command ran: %q", out.String())
	}
}

// TestVersionCommand: `version` prints the build's version, as core/version
// resolves it (a linked -X value, SOURCE_VERSION, the VCS revision or "dev").
func TestVersionCommand(t *testing.T) {
	t.Parallel()
	app := testkit.New(t, testkit.NoMigrate{})
	stdout, stderr, code := app.Command("", "version")
	if want := "manouche " + version.Get() + "\n"; code != 0 || stdout != want {
		t.Errorf("version: exit %d, %q (stderr %q), want %q", code, stdout, stderr, want)
	}
	if _, _, code := app.Command("", "version", "extra"); code != 2 {
		t.Errorf("version with an argument: exit %d, want 2", code)
	}
}
