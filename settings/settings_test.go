package settings_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"manouche/settings"
)

// load reads settings with nothing from the process: only the given
// environment, no .env file unless dotenv names one.
func load(t *testing.T, layer string, environ []string, mut func(*settings.Options)) (*settings.Settings, error) {
	t.Helper()
	if environ == nil {
		environ = []string{}
	}
	opts := settings.Options{Layer: layer, Environ: environ, DotEnv: "-"}
	if mut != nil {
		mut(&opts)
	}
	return settings.Load(opts)
}

func mustLoad(t *testing.T, layer string, environ []string, mut func(*settings.Options)) *settings.Settings {
	t.Helper()
	st, err := load(t, layer, environ, mut)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return st
}

func writeDotEnv(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), ".env")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLayerOrder(t *testing.T) {
	t.Parallel()
	dotenv := writeDotEnv(t, "LOG_LEVEL=warn\nSITE_NAME=From dotenv\n")
	tests := []struct {
		name       string
		environ    []string
		dotenv     bool
		overrides  map[string]any
		wantLevel  string
		wantSource string
	}{
		{"common then layer", nil, false, nil, "info", "development.toml"},
		{".env over layer", nil, true, nil, "warn", dotenv},
		{"environment over .env", []string{"LOG_LEVEL=error"}, true, nil, "error", "environment"},
		{"overrides over environment", []string{"LOG_LEVEL=error"}, true, map[string]any{"LOG_LEVEL": "info"}, "info", "override"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st := mustLoad(t, "development", tt.environ, func(o *settings.Options) {
				if tt.dotenv {
					o.DotEnv = dotenv
				}
				o.Overrides = tt.overrides
			})
			if st.LogLevel != tt.wantLevel {
				t.Errorf("LOG_LEVEL = %q, want %q", st.LogLevel, tt.wantLevel)
			}
			if got := st.Sources["LOG_LEVEL"]; got != tt.wantSource {
				t.Errorf("Sources[LOG_LEVEL] = %q, want %q", got, tt.wantSource)
			}
			// A key only common.toml sets keeps naming common.toml.
			if got := st.Sources["SHUTDOWN_TIMEOUT"]; got != "common.toml" {
				t.Errorf("Sources[SHUTDOWN_TIMEOUT] = %q, want common.toml", got)
			}
			if tt.dotenv && (st.SiteName != "From dotenv" || st.Sources["SITE_NAME"] != dotenv) {
				t.Errorf("SITE_NAME = %q from %q, want the .env value", st.SiteName, st.Sources["SITE_NAME"])
			}
		})
	}
}

func TestDotEnvSetsLayer(t *testing.T) {
	t.Parallel()
	dotenv := writeDotEnv(t, "SETTINGS=testing\n")
	st := mustLoad(t, "", nil, func(o *settings.Options) { o.DotEnv = dotenv })
	if st.Layer != "testing" {
		t.Fatalf("Layer = %q, want testing (from .env)", st.Layer)
	}
	st = mustLoad(t, "", []string{"SETTINGS=production", "SECRET_KEY=" + strings.Repeat("k", 60), "DATABASE_URL=postgres://u:p@db/x"},
		func(o *settings.Options) { o.DotEnv = dotenv })
	if st.Layer != "production" {
		t.Fatalf("Layer = %q, want production (environment over .env)", st.Layer)
	}
}

func TestUnknownLayer(t *testing.T) {
	t.Parallel()
	for _, layer := range []string{"staging", "Production"} {
		_, err := load(t, "", []string{"SETTINGS=" + layer}, nil)
		if err == nil {
			t.Fatalf("SETTINGS=%s: no error", layer)
		}
		for _, want := range []string{layer, "development", "production", "testing"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("SETTINGS=%s: error %q does not mention %q", layer, err, want)
			}
		}
	}
}

func TestProductionNamesEveryMissingVariable(t *testing.T) {
	t.Parallel()
	_, err := load(t, "production", nil, nil)
	var serr *settings.Error
	if !errors.As(err, &serr) {
		t.Fatalf("err = %v (%T), want *settings.Error", err, err)
	}
	msg := err.Error()
	for _, want := range []string{"SECRET_KEY", "DATABASE_URL"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not name %s:\n%s", want, msg)
		}
	}
	if len(serr.Problems) < 2 {
		t.Errorf("Problems = %q, want one per missing variable", serr.Problems)
	}
	// With both set, production loads.
	st := mustLoad(t, "production", []string{"SECRET_KEY=" + strings.Repeat("s", 60), "DATABASE_URL=postgres://u:p@db:5432/app"}, nil)
	if st.Debug || st.SiteScheme != "https" {
		t.Errorf("production: DEBUG=%v SITE_SCHEME=%q", st.Debug, st.SiteScheme)
	}
}

func TestInvalidValuesAreNamed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		env  string
		want []string
	}{
		{"DEBUG=maybe", []string{"DEBUG", "maybe"}},
		{"PORT=99999", []string{"PORT", "99999"}},
		{"PORT=eighty", []string{"PORT", "eighty"}},
		{"MAX_UPLOAD_SIZE=abc", []string{"MAX_UPLOAD_SIZE", "abc"}},
		{"AUTH_THROTTLE_RATE=fast", []string{"AUTH_THROTTLE_RATE", "fast"}},
		{"API_THROTTLE_RATE=10/fortnight", []string{"API_THROTTLE_RATE"}},
		{"DATABASE_URL=mysql://x", []string{"DATABASE_URL", "mysql"}},
		{"DATABASE_URL=not a url", []string{"DATABASE_URL"}},
		{"DATABASE_URL=postgres:///nohost", []string{"DATABASE_URL", "host"}},
		{"SITE_SCHEME=ftp", []string{"SITE_SCHEME", "ftp"}},
		{"AUTH_TOKEN_TTL=soon", []string{"AUTH_TOKEN_TTL", "soon"}},
		{"REDIS_URL=http://cache", []string{"REDIS_URL"}},
		{"LOG_LEVEL=loud", []string{"LOG_LEVEL", "loud"}},
		{"EMAIL_BACKEND=pigeon", []string{"EMAIL_BACKEND", "pigeon"}},
		{"CORS_ALLOWED_ORIGINS=example.com", []string{"CORS_ALLOWED_ORIGINS"}},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			t.Parallel()
			_, err := load(t, "development", []string{tt.env}, nil)
			if err == nil {
				t.Fatalf("%s: no error", tt.env)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not name %q:\n%s", w, err)
				}
			}
		})
	}
	// Several bad values are all reported at once.
	_, err := load(t, "development", []string{"DEBUG=maybe", "PORT=99999", "SITE_SCHEME=ftp"}, nil)
	if err == nil {
		t.Fatal("no error for three bad values")
	}
	for _, w := range []string{"DEBUG", "PORT", "SITE_SCHEME"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("combined error does not name %s:\n%s", w, err)
		}
	}
}

func TestDatabaseURLPasswordNotInErrors(t *testing.T) {
	t.Parallel()
	_, err := load(t, "development", []string{"DATABASE_URL=postgres://app:hunter2secret@db:5432/app%zz"}, nil)
	if err == nil {
		t.Fatal("no error for a malformed URL")
	}
	if strings.Contains(err.Error(), "hunter2secret") {
		t.Fatalf("the error shows the database password: %v", err)
	}
}

func TestRedisURLAliases(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		environ []string
		want    string
	}{
		{"REDISTOGO_URL fallback", []string{"REDISTOGO_URL=redis://togo:6379/0"}, "redis://togo:6379/0"},
		{"REDIS_URL wins", []string{"REDISTOGO_URL=redis://togo:6379/0", "REDIS_URL=redis://main:6379/1"}, "redis://main:6379/1"},
		{"REDIS_URL wins, either order", []string{"REDIS_URL=redis://main:6379/1", "REDISTOGO_URL=redis://togo:6379/0"}, "redis://main:6379/1"},
		{"none", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st := mustLoad(t, "development", tt.environ, nil)
			if st.RedisURL != tt.want {
				t.Errorf("REDIS_URL = %q, want %q", st.RedisURL, tt.want)
			}
		})
	}
	// In a .env file too.
	dotenv := writeDotEnv(t, "REDISTOGO_URL=redis://fromfile:6379/0\n")
	st := mustLoad(t, "development", nil, func(o *settings.Options) { o.DotEnv = dotenv })
	if st.RedisURL != "redis://fromfile:6379/0" {
		t.Errorf(".env REDISTOGO_URL: REDIS_URL = %q", st.RedisURL)
	}
}

func TestDjangoAWSAliases(t *testing.T) {
	t.Parallel()
	st := mustLoad(t, "development", []string{
		"DJANGO_AWS_ACCESS_KEY_ID=AKIAOLD",
		"DJANGO_AWS_SECRET_ACCESS_KEY=oldsecret",
		"DJANGO_AWS_STORAGE_BUCKET_NAME=old-bucket",
		"DJANGO_AWS_S3_REGION_NAME=eu-west-3",
		"DJANGO_SECRET_KEY=" + strings.Repeat("d", 50),
	}, nil)
	got := map[string]string{
		"AWS_ACCESS_KEY_ID":       st.AWSAccessKeyID,
		"AWS_SECRET_ACCESS_KEY":   st.AWSSecretAccessKey,
		"AWS_STORAGE_BUCKET_NAME": st.AWSStorageBucketName,
		"AWS_S3_REGION":           st.AWSS3Region,
		"SECRET_KEY":              st.SecretKey,
	}
	want := map[string]string{
		"AWS_ACCESS_KEY_ID":       "AKIAOLD",
		"AWS_SECRET_ACCESS_KEY":   "oldsecret",
		"AWS_STORAGE_BUCKET_NAME": "old-bucket",
		"AWS_S3_REGION":           "eu-west-3",
		"SECRET_KEY":              strings.Repeat("d", 50),
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %q, want %q", k, got[k], w)
		}
	}
	// The canonical name wins over the alias.
	st = mustLoad(t, "development", []string{"DJANGO_AWS_ACCESS_KEY_ID=AKIAOLD", "AWS_ACCESS_KEY_ID=AKIANEW"}, nil)
	if st.AWSAccessKeyID != "AKIANEW" {
		t.Errorf("AWS_ACCESS_KEY_ID = %q, want the canonical variable's AKIANEW", st.AWSAccessKeyID)
	}
}

func TestMailgunConfiguresSMTP(t *testing.T) {
	t.Parallel()
	st := mustLoad(t, "development", []string{
		"MAILGUN_SMTP_SERVER=smtp.mailgun.org",
		"MAILGUN_SMTP_PORT=587",
		"MAILGUN_SMTP_LOGIN=postmaster@mg.example.com",
		"MAILGUN_SMTP_PASSWORD=mgpass",
		"MAILGUN_DOMAIN=mg.example.com",
	}, nil)
	if st.EmailBackend != "smtp" {
		t.Errorf("EMAIL_BACKEND = %q, want smtp", st.EmailBackend)
	}
	if st.EmailHost != "smtp.mailgun.org" || st.EmailPort != 587 || st.EmailHostUser != "postmaster@mg.example.com" || st.EmailHostPassword != "mgpass" {
		t.Errorf("EMAIL_HOST/PORT/USER/PASSWORD = %q/%d/%q/%q", st.EmailHost, st.EmailPort, st.EmailHostUser, st.EmailHostPassword)
	}
	if !st.EmailUseTLS {
		t.Error("EMAIL_USE_TLS is off on port 587")
	}
	if st.DefaultFromEmail != "noreply@mg.example.com" {
		t.Errorf("DEFAULT_FROM_EMAIL = %q", st.DefaultFromEmail)
	}
	// An explicit EMAIL_BACKEND wins over the Mailgun default.
	st = mustLoad(t, "development", []string{"MAILGUN_SMTP_SERVER=smtp.mailgun.org", "EMAIL_BACKEND=console"}, nil)
	if st.EmailBackend != "console" {
		t.Errorf("explicit EMAIL_BACKEND=console became %q", st.EmailBackend)
	}
}

func TestS3RequiresAWSSettings(t *testing.T) {
	t.Parallel()
	full := map[string]string{
		"AWS_ACCESS_KEY_ID":       "AKIA",
		"AWS_SECRET_ACCESS_KEY":   "secret",
		"AWS_STORAGE_BUCKET_NAME": "bucket",
		"AWS_S3_REGION":           "eu-west-1",
	}
	base := []string{"SECRET_KEY=" + strings.Repeat("p", 60), "DATABASE_URL=postgres://u:p@db:5432/app", "ENABLE_MEDIA_UPLOAD_TO_S3=true"}
	for missing := range full {
		t.Run("without "+missing, func(t *testing.T) {
			t.Parallel()
			env := append([]string(nil), base...)
			for k, v := range full {
				if k == missing {
					env = append(env, k+"=")
				} else {
					env = append(env, k+"="+v)
				}
			}
			_, err := load(t, "production", env, nil)
			if err == nil {
				t.Fatalf("S3 on without %s: no error", missing)
			}
			if !strings.Contains(err.Error(), missing) {
				t.Errorf("error does not name %s:\n%s", missing, err)
			}
			for k := range full {
				if k != missing && strings.Contains(err.Error(), k+" is required") {
					t.Errorf("error names %s, which is set:\n%s", k, err)
				}
			}
		})
	}
	env := append([]string(nil), base...)
	for k, v := range full {
		env = append(env, k+"="+v)
	}
	st := mustLoad(t, "production", env, nil)
	if !st.EnableMediaUploadToS3 || st.AWSStorageBucketName != "bucket" {
		t.Errorf("S3 settings not loaded: %+v", st)
	}
}

type blogSettings struct {
	PerPage int    `setting:"PER_PAGE"`
	Title   string `setting:"TITLE"`
	APIKey  string `setting:"API_KEY" secret:"true"`
}

func TestAppSections(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		environ   []string
		overrides map[string]any
		wantPer   int
		wantTitle string
		wantSrc   string
	}{
		{"defaults", nil, nil, 10, "Blog", ""},
		{"environment", []string{"BLOG_PER_PAGE=25", "BLOG_TITLE=News"}, nil, 25, "News", "environment"},
		{"override", []string{"BLOG_PER_PAGE=25"}, map[string]any{"blog.PER_PAGE": 40}, 40, "Blog", "override"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sec := &blogSettings{PerPage: 10, Title: "Blog"}
			st := mustLoad(t, "development", tt.environ, func(o *settings.Options) {
				o.Overrides = tt.overrides
				o.Sections = []settings.Section{{App: "blog", Target: sec}}
			})
			if sec.PerPage != tt.wantPer || sec.Title != tt.wantTitle {
				t.Errorf("blog = %+v, want PER_PAGE %d TITLE %q", sec, tt.wantPer, tt.wantTitle)
			}
			if got, ok := st.App("blog").(*blogSettings); !ok || got != sec {
				t.Errorf("App(blog) = %#v, want the declared pointer", st.App("blog"))
			}
			if got := st.Sources["BLOG_PER_PAGE"]; got != tt.wantSrc {
				t.Errorf("Sources[BLOG_PER_PAGE] = %q, want %q", got, tt.wantSrc)
			}
		})
	}
	// A bad value in a section is named by its environment variable.
	_, err := load(t, "development", []string{"BLOG_PER_PAGE=lots"}, func(o *settings.Options) {
		o.Sections = []settings.Section{{App: "blog", Target: &blogSettings{}}}
	})
	if err == nil || !strings.Contains(err.Error(), "BLOG_PER_PAGE") {
		t.Errorf("BLOG_PER_PAGE=lots: err = %v, want it named", err)
	}
}

func TestDescribeMasksSecrets(t *testing.T) {
	t.Parallel()
	const secret = "s3cr3t-key-value-that-must-not-be-printed-anywhere-0123"
	sec := &blogSettings{APIKey: "blog-api-key-hidden"}
	st := mustLoad(t, "development", []string{
		"SECRET_KEY=" + secret,
		"DATABASE_URL=postgres://app:hunter2pw@db.internal:5432/app",
		"REDIS_URL=redis://:redispw@cache:6379/0",
		"EMAIL_HOST_PASSWORD=mailpw",
	}, func(o *settings.Options) { o.Sections = []settings.Section{{App: "blog", Target: sec}} })
	lines := map[string]settings.Line{}
	for _, l := range st.Describe() {
		lines[l.Name] = l
	}
	for _, name := range []string{"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "EMAIL_HOST_PASSWORD", "BLOG_API_KEY", "BLOG_PER_PAGE", "PORT"} {
		if _, ok := lines[name]; !ok {
			t.Errorf("Describe has no line for %s", name)
		}
	}
	if l := lines["SECRET_KEY"]; strings.Contains(l.Value, secret) || !strings.Contains(l.Value, "****") || l.Source != "environment" {
		t.Errorf("SECRET_KEY line = %+v", l)
	}
	if l := lines["DATABASE_URL"]; strings.Contains(l.Value, "hunter2pw") || !strings.Contains(l.Value, "app:********@db.internal:5432/app") {
		t.Errorf("DATABASE_URL line = %+v", l)
	}
	if l := lines["PORT"]; l.Value != "8000" || l.Source != "common.toml" {
		t.Errorf("PORT line = %+v", l)
	}
	out := st.String()
	for _, leaked := range []string{secret, "hunter2pw", "redispw", "mailpw", "blog-api-key-hidden"} {
		if strings.Contains(out, leaked) {
			t.Errorf("String() shows the secret %q:\n%s", leaked, out)
		}
	}
	if !strings.HasPrefix(out, "# SETTINGS=development\n") {
		t.Errorf("String() starts %q", out[:min(len(out), 40)])
	}
}

func TestDurationsAndSizes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		env   string
		check func(*settings.Settings) (any, any)
	}{
		{"AUTH_TOKEN_TTL=30d", func(s *settings.Settings) (any, any) { return s.AuthTokenTTL, 30 * 24 * time.Hour }},
		{"AUTH_TOKEN_TTL=1.5d", func(s *settings.Settings) (any, any) { return s.AuthTokenTTL, 36 * time.Hour }},
		{"PASSWORD_RESET_TIMEOUT=259200", func(s *settings.Settings) (any, any) { return s.PasswordResetTimeout, 72 * time.Hour }},
		{"PASSWORD_RESET_TIMEOUT=72h", func(s *settings.Settings) (any, any) { return s.PasswordResetTimeout, 72 * time.Hour }},
		{"SHUTDOWN_TIMEOUT=1h30m", func(s *settings.Settings) (any, any) { return s.ShutdownTimeout, 90 * time.Minute }},
		{"MAX_UPLOAD_SIZE=5MB", func(s *settings.Settings) (any, any) { return s.MaxUploadSize, settings.Size(5 << 20) }},
		{"MAX_UPLOAD_SIZE=512KB", func(s *settings.Settings) (any, any) { return s.MaxUploadSize, settings.Size(512 << 10) }},
		{"MAX_UPLOAD_SIZE=1GiB", func(s *settings.Settings) (any, any) { return s.MaxUploadSize, settings.Size(1 << 30) }},
		{"MAX_UPLOAD_SIZE=1000", func(s *settings.Settings) (any, any) { return s.MaxUploadSize, settings.Size(1000) }},
		{"AUTH_THROTTLE_RATE=5/hour", func(s *settings.Settings) (any, any) {
			return s.AuthThrottleRate, settings.Rate{Count: 5, Period: time.Hour}
		}},
		{"ALLOWED_HOSTS=a.example.com, b.example.com", func(s *settings.Settings) (any, any) {
			return strings.Join(s.AllowedHosts, "|"), "a.example.com|b.example.com"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			t.Parallel()
			st := mustLoad(t, "development", []string{tt.env}, nil)
			if got, want := tt.check(st); got != want {
				t.Errorf("%s: got %v, want %v", tt.env, got, want)
			}
		})
	}
	// The defaults of common.toml.
	st := mustLoad(t, "development", nil, nil)
	if st.AuthTokenTTL != 30*24*time.Hour || st.PasswordResetTimeout != 72*time.Hour || st.MaxUploadSize != 5<<20 {
		t.Errorf("defaults: AUTH_TOKEN_TTL %v, PASSWORD_RESET_TIMEOUT %v, MAX_UPLOAD_SIZE %d", st.AuthTokenTTL, st.PasswordResetTimeout, st.MaxUploadSize)
	}
	if st.AuthThrottleRate.String() != "10/min" || st.APIThrottleRate.String() != "10000/day" {
		t.Errorf("rates: %v %v", st.AuthThrottleRate, st.APIThrottleRate)
	}
}

func TestParsersRejectBadInput(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "abc", "-5", "5XB", "MB", "1.5MB"} {
		if _, err := settings.ParseSize(s); err == nil {
			t.Errorf("ParseSize(%q): no error", s)
		}
	}
	for _, s := range []string{"", "soon", "-1h", "d", "-3d", "3 days"} {
		if _, err := settings.ParseDuration(s); err == nil {
			t.Errorf("ParseDuration(%q): no error", s)
		}
	}
	for _, s := range []string{"", "10", "fast", "0/min", "-1/min", "10/", "10/week", "x/min"} {
		if _, err := settings.ParseRate(s); err == nil {
			t.Errorf("ParseRate(%q): no error", s)
		}
	}
}

func TestSiteURLAndFrontend(t *testing.T) {
	t.Parallel()
	st := mustLoad(t, "development", []string{"SITE_DOMAIN=example.com", "SITE_SCHEME=https"}, nil)
	if st.SiteURL() != "https://example.com" || st.Frontend() != "https://example.com" {
		t.Errorf("SiteURL %q Frontend %q", st.SiteURL(), st.Frontend())
	}
	st = mustLoad(t, "development", []string{"FRONTEND_URL=https://app.example.com/"}, nil)
	if st.Frontend() != "https://app.example.com" {
		t.Errorf("Frontend = %q", st.Frontend())
	}
	// Production hosts default to SITE_DOMAIN without its port.
	st = mustLoad(t, "production", []string{"SECRET_KEY=" + strings.Repeat("x", 60), "DATABASE_URL=postgres://u:p@db/app", "SITE_DOMAIN=api.example.com:8443"}, nil)
	if len(st.AllowedHosts) != 1 || st.AllowedHosts[0] != "api.example.com" {
		t.Errorf("ALLOWED_HOSTS = %q, want [api.example.com]", st.AllowedHosts)
	}
}
