package cli_test

import (
	"context"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"manouche/core"
	"manouche/core/checks"
	"manouche/core/cli"
	"manouche/core/mail/smtptest"
	"manouche/core/storage/storagetest"
	"manouche/core/testenv"
	"manouche/core/testkit"
	"manouche/settings"
)

// soundProduction is a production environment `check --deploy` finds
// nothing to say about from the settings alone.
var soundProduction = []string{
	"SECRET_KEY=" + strings.Repeat("Zx9-q", 12),
	"DATABASE_URL=postgres://u:p@db:5432/app",
	"SITE_DOMAIN=api.example.com",
	"REDIS_URL=rediss://cache:6380/0",
	"EMAIL_HOST=smtp.example.com",
	"SECURE_HSTS_PRELOAD=true",
	"ENABLE_MEDIA_UPLOAD_TO_S3=true",
	"AWS_ACCESS_KEY_ID=AKIA", "AWS_SECRET_ACCESS_KEY=x", "AWS_STORAGE_BUCKET_NAME=b",
}

func ids(issues []checks.Issue) []string {
	var out []string
	for _, is := range issues {
		out = append(out, is.ID)
	}
	return out
}

// TestDeployIssuesDjangoIDs: each production setting Django's deployment
// checklist covers is reported under Django's id, and only then.
func TestDeployIssuesDjangoIDs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  []string
		want []string // ids reported, in order
	}{
		{"sound", nil, nil},
		{"DEBUG", []string{"DEBUG=true"}, []string{"security.W018"}},
		{"SECRET_KEY short", []string{"SECRET_KEY=" + strings.Repeat("Zx9-q", 9)}, []string{"security.W009"}},
		{"SECRET_KEY of 4 characters repeated", []string{"SECRET_KEY=" + strings.Repeat("abcd", 20)}, []string{"security.W009"}},
		{"SECRET_KEY of 5 characters repeated", []string{"SECRET_KEY=" + strings.Repeat("abcde", 20)}, nil},
		{"ALLOWED_HOSTS any", []string{"ALLOWED_HOSTS=*"}, []string{"security.W020"}},
		{"no HSTS", []string{"SECURE_HSTS_SECONDS=0"}, []string{"security.W004"}},
		{"HSTS without subdomains", []string{"SECURE_HSTS_INCLUDE_SUBDOMAINS=false"}, []string{"security.W005"}},
		{"HSTS without preload", []string{"SECURE_HSTS_PRELOAD=false"}, []string{"security.W021"}},
		{"no SSL redirect", []string{"SECURE_SSL_REDIRECT=false"}, []string{"security.W008"}},
		{"http site", []string{"SITE_SCHEME=http"}, []string{"site.W001"}},
		{"plain redis:// in production", []string{"REDIS_URL=redis://cache:6379/0"}, []string{"cache.W002"}},
		{"no Redis", []string{"REDIS_URL="}, []string{"cache.W001"}},
		{"console email", []string{"EMAIL_BACKEND=console"}, []string{"mail.W001"}},
		{"CORS any origin", []string{"CORS_ALLOWED_ORIGINS=*"}, []string{"security.W040"}},
	}
	// Production refuses a development key outright; the other layers' keys
	// are reported.
	for _, layer := range []string{"development", "testing"} {
		st, err := core.LoadSettings(settingsOptions(layer, nil), nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(cli.DeployIssues(st)); !slices.Contains(got, "security.W009") {
			t.Errorf("the %s layer's SECRET_KEY is not reported: %v", layer, got)
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st, err := core.LoadSettings(settingsOptions("production", append(slices.Clone(soundProduction), tt.env...)), nil)
			if err != nil {
				t.Fatal(err)
			}
			issues := cli.DeployIssues(st)
			if got := ids(issues); !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v: %v", got, tt.want, issues)
			}
			for _, is := range issues {
				if is.Level != checks.Warning {
					t.Errorf("%s is %s, want WARNING as in Django", is.ID, is.Level)
				}
			}
		})
	}
}

// deployChecker is an app with a deployment check of its own.
type deployChecker struct{}

func (deployChecker) Name() string { return "deploychecker" }
func (deployChecker) DeployChecks(st *settings.Settings) []checks.Issue {
	return []checks.Issue{checks.Warningf("deploychecker.W001", "site %s", st.SiteDomain)}
}

// headerApp changes the security headers of every response the way a
// misconfigured middleware would: "drop" removes X-Frame-Options and
// Referrer-Policy, "sameorigin" relaxes X-Frame-Options.
type headerApp struct{ mode string }

func (headerApp) Name() string   { return "headers" }
func (headerApp) Prefix() string { return "/" }
func (a headerApp) Routes(r fiber.Router, _ *core.Project) {
	r.Use(func(c *fiber.Ctx) error {
		err := c.Next()
		switch a.mode {
		case "drop":
			c.Response().Header.Del("X-Frame-Options")
			c.Response().Header.Del("Referrer-Policy")
		case "sameorigin":
			c.Set("X-Frame-Options", "SAMEORIGIN")
		}
		return err
	})
}

// TestCheckDeployHeaders: X-Frame-Options and Referrer-Policy are read from
// what the project's handler answers, so a middleware that drops or relaxes
// them is reported with Django's ids; the installed apps' own deployment
// checks are run.
func TestCheckDeployHeaders(t *testing.T) {
	t.Parallel()
	tests := []struct {
		mode    string
		want    []string
		notWant []string
	}{
		{"", []string{"WARNING deploychecker.W001: site testserver"}, []string{"security.W002", "security.W019", "security.W022"}},
		{"drop", []string{"WARNING security.W002", "WARNING security.W022"}, []string{"security.W019"}},
		{"sameorigin", []string{"WARNING security.W019", "SAMEORIGIN"}, []string{"security.W002", "security.W022"}},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			t.Parallel()
			app := testkit.New(t, testkit.Apps{coreTestApp{}, headerApp{tt.mode}, deployChecker{}})
			stdout, stderr, code := app.Command("", "check", "--deploy")
			if code != 0 {
				t.Errorf("exit %d (warnings only): %s%s", code, stdout, stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(stdout, w) {
					t.Errorf("no %q in:\n%s", w, stdout)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(stdout, w) {
					t.Errorf("%q reported:\n%s", w, stdout)
				}
			}
		})
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// TestCheckDeployProbes runs `check --deploy` on a project whose settings
// name live services (the test Redis, an SMTP server requiring AUTH, an S3
// server) and breaks one at a time: each break is an ERROR naming the
// setting, and the exit status says so.
func TestCheckDeployProbes(t *testing.T) {
	t.Parallel()
	redisURL := testenv.Lookup(t, testenv.RedisURL)
	smtp := smtptest.NewServer(t, smtptest.Accept, smtptest.WithAuth("user", "right"))
	s3 := storagetest.NewS3Server(t, "media")
	good := testkit.Settings{
		"REDIS_URL":     redisURL,
		"EMAIL_BACKEND": "smtp", "EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": smtp.Port(),
		"EMAIL_HOST_USER": "user", "EMAIL_HOST_PASSWORD": "right",
		"STORAGE_BACKEND": "s3", "AWS_S3_ENDPOINT_URL": s3.URL, "AWS_STORAGE_BUCKET_NAME": "media",
		"AWS_ACCESS_KEY_ID": "key", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_S3_REGION": "us-east-1",
	}
	with := func(k string, v any) testkit.Settings {
		s := testkit.Settings{}
		for key, val := range good {
			s[key] = val
		}
		s[k] = v
		return s
	}
	tests := []struct {
		name     string
		settings testkit.Settings
		code     int
		want     []string
	}{
		{"all up", good, 0, []string{"INFO database.I001", "INFO cache.I001", "INFO mail.I001", `AUTH as "user" accepted`, "INFO storage.I001"}},
		{"Redis down", with("REDIS_URL", "redis://127.0.0.1:"+freePort(t)+"/0"), 1, []string{"ERROR cache.E001", "REDIS_URL", "INFO mail.I001"}},
		{"wrong SMTP password", with("EMAIL_HOST_PASSWORD", "wrong"), 1, []string{"ERROR mail.E001", "EMAIL_HOST_USER", "EMAIL_HOST_PASSWORD", "INFO cache.I001"}},
		{"missing bucket", with("AWS_STORAGE_BUCKET_NAME", "nosuchbucket"), 1, []string{"ERROR storage.E001", `"nosuchbucket"`, "AWS_STORAGE_BUCKET_NAME"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			app := testkit.New(t, tt.settings)
			stdout, stderr, code := app.Command("", "check", "--deploy")
			if code != tt.code {
				t.Errorf("exit %d, want %d:\n%s%s", code, tt.code, stdout, stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(stdout, w) {
					t.Errorf("no %q in:\n%s", w, stdout)
				}
			}
			if tt.code == 0 && strings.Contains(stdout, "ERROR") {
				t.Errorf("errors on a sound configuration:\n%s", stdout)
			}
			if strings.Contains(stdout, "right") || strings.Contains(stdout, "secret") {
				t.Errorf("a password is shown:\n%s", stdout)
			}
		})
	}
	// The web process starts without Redis (the cache falls back); only
	// check --deploy fails on it.
	app := testkit.New(t, with("REDIS_URL", "redis://127.0.0.1:"+freePort(t)+"/0"))
	if _, stderr, code := app.Command("", "check"); code != 1 || !strings.Contains(stderr, "issue(s) at or above ERROR") {
		t.Errorf("check without --deploy and Redis down: exit %d, %s", code, stderr)
	}
	if res := app.Client.Get("/health"); res.Status != fiber.StatusOK {
		t.Errorf("the web process without Redis: %d %s", res.Status, res.Body)
	}
}

// TestCheckDeployUnreachable: with the database and Redis both unreachable,
// `check --deploy` still runs every probe and names both variables, with no
// stack trace, and exits 1; plain `check` fails on the database as
// `migrate` and `runserver` do.
func TestCheckDeployUnreachable(t *testing.T) {
	t.Parallel()
	env := append(slices.Clone(soundProduction),
		"DATABASE_URL=postgres://u:p@127.0.0.1:"+freePort(t)+"/app",
		"REDIS_URL=redis://127.0.0.1:"+freePort(t)+"/0",
		"EMAIL_BACKEND=console", "STORAGE_BACKEND=local", "MEDIA_ROOT="+t.TempDir())
	var out, errb strings.Builder
	code := cli.Execute(context.Background(), []string{"check", "--deploy", "--timeout", "2s"}, cli.Env{
		Installed: []core.App{coreTestApp{}}, Settings: settingsOptions("production", env), Stdout: &out, Stderr: &errb,
	})
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	for _, w := range []string{"ERROR database.E001: DATABASE_URL: cannot connect", "connection refused", "ERROR cache.E001: Redis at 127.0.0.1:", "(REDIS_URL)"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("no %q in:\n%s", w, out.String())
		}
	}
	if strings.Contains(out.String()+errb.String(), "goroutine ") || strings.Contains(out.String(), "core.E001") {
		t.Errorf("a stack trace or a second report of the database:\n%s%s", out.String(), errb.String())
	}
	out.Reset()
	errb.Reset()
	code = cli.Execute(context.Background(), []string{"check"}, cli.Env{
		Installed: []core.App{coreTestApp{}}, Settings: settingsOptions("production", env), Stdout: &out, Stderr: &errb,
	})
	if code != 1 || !strings.HasPrefix(errb.String(), "Error: DATABASE_URL: cannot connect") || !strings.Contains(errb.String(), "Check the host and port in DATABASE_URL") {
		t.Errorf("check: exit %d, stderr %q", code, errb.String())
	}
}

// TestCheckDeployPendingMigrations: under --deploy, unapplied migrations
// are an ERROR (the release phase runs migrate first).
func TestCheckDeployPendingMigrations(t *testing.T) {
	t.Parallel()
	app := testkit.New(t, testkit.NoMigrate{})
	stdout, _, code := app.Command("", "check", "--deploy")
	if code != 1 || !strings.Contains(stdout, "ERROR migrations.E003") {
		t.Errorf("exit %d:\n%s", code, stdout)
	}
}

// TestCheckSilenced: SILENCED_SYSTEM_CHECKS hides issues by id, as in
// Django, and the summary says how many; a silenced ERROR does not fail.
func TestCheckSilenced(t *testing.T) {
	t.Parallel()
	app := testkit.New(t, testkit.NoMigrate{}, testkit.Settings{"SILENCED_SYSTEM_CHECKS": "security.W008,migrations.E003,queue.E001"})
	stdout, stderr, code := app.Command("", "check", "--deploy")
	if code != 0 {
		t.Errorf("exit %d with the ERRORs silenced: %s%s", code, stdout, stderr)
	}
	if strings.Contains(stdout, "security.W008") || strings.Contains(stdout, "migrations.E003") || !strings.Contains(stdout, "security.W004") {
		t.Errorf("silenced ids reported, or others not:\n%s", stdout)
	}
	if !regexp.MustCompile(`System check identified \d+ issue\(s\) \(3 silenced\)\.`).MatchString(stdout) {
		t.Errorf("summary does not count the silenced issues:\n%s", stdout)
	}
}
