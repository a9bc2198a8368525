package settings_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	// The built-in backends, as a project links them: EMAIL_BACKEND and
	// STORAGE_BACKEND name registered backends, whose settings (EMAIL_HOST,
	// MEDIA_ROOT, ...) the layers set.
	_ "manouche/core/mail"
	_ "manouche/core/storage"
	"manouche/settings"
)

// load reads settings with nothing from the process: only the given
// environment, no .env file unless dotenv names one. The project's layer files
// may configure apps this test binary does not have: their sections are
// skipped, as the test kit does.
func load(t *testing.T, layer string, environ []string, mut func(*settings.Options)) (*settings.Settings, error) {
	t.Helper()
	if environ == nil {
		environ = []string{}
	}
	opts := settings.Options{Layer: layer, Environ: environ, DotEnv: "-", SkipAbsentApps: true}
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
	for _, layer := range []string{"staging", "Production", "common"} {
		_, err := load(t, "", []string{"SETTINGS=" + layer}, nil)
		if err == nil {
			t.Fatalf("SETTINGS=%s: no error", layer)
		}
		for _, want := range []string{`"` + layer + `"`, "development", "production", "testing", "common.toml, development.toml, production.toml, testing.toml"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("SETTINGS=%s: error %q does not mention %q", layer, err, want)
			}
		}
	}
}

// layerDir copies the project's layer files, without the sections they may
// have for the project's apps, into a folder of the test's own, adds the given
// files (appending to existing ones), and returns it.
func layerDir(t *testing.T, add map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	found, err := fs.Glob(settings.LayerFiles(), "*.toml")
	if err != nil || len(found) == 0 {
		t.Fatalf("the built-in layer files: %v %v", found, err)
	}
	for _, name := range found {
		b, err := fs.ReadFile(settings.LayerFiles(), name)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), frameworkKeys(b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, content := range add {
		f, err := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteString("\n" + content); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// frameworkKeys keeps the top-level keys of a layer file: the framework's
// settings. TOML puts them before the first [table]; an app's keys are in its
// table or dotted (blog.KEY = ...).
func frameworkKeys(toml []byte) []byte {
	var out []string
	for _, line := range strings.Split(string(toml), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "[") && !strings.Contains(trimmed, "=") {
			break
		}
		if key, _, ok := strings.Cut(trimmed, "="); ok && strings.Contains(key, ".") {
			continue
		}
		out = append(out, line)
	}
	return []byte(strings.Join(out, "\n") + "\n")
}

func TestAnyLayerFileIsALayer(t *testing.T) {
	t.Parallel()
	layers, err := settings.Layers(settings.LayerFiles())
	if err != nil || strings.Join(layers, ",") != "development,production,testing" {
		t.Errorf("Layers(built-in) = %q, %v; want development, production, testing", layers, err)
	}
	// Every layer file of settings/ is built in: a new one needs no code.
	onDisk, _ := filepath.Glob("*.toml")
	if builtIn, _ := fs.Glob(settings.LayerFiles(), "*.toml"); !slices.Equal(onDisk, builtIn) {
		t.Errorf("built-in layer files %q, settings/ has %q", builtIn, onDisk)
	}
	dir := layerDir(t, map[string]string{"staging.toml": "# Staging: production-like, on its own site.\nSITE_NAME = \"Staging\"\nLOG_FORMAT = \"json\"\n"})
	files := os.DirFS(dir)
	if layers, _ := settings.Layers(files); !slices.Contains(layers, "staging") || slices.Contains(layers, "common") {
		t.Errorf("Layers(with staging.toml) = %q", layers)
	}
	tests := []struct {
		name    string
		environ []string
		dotenv  string
	}{
		{"SETTINGS in the environment", []string{"SETTINGS=staging"}, ""},
		{"SETTINGS in .env", nil, "SETTINGS=staging\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st := mustLoad(t, "", tt.environ, func(o *settings.Options) {
				o.Files = files
				if tt.dotenv != "" {
					o.DotEnv = writeDotEnv(t, tt.dotenv)
				}
			})
			if st.Layer != "staging" || st.SiteName != "Staging" || st.LogFormat != "json" {
				t.Errorf("Layer %q, SITE_NAME %q, LOG_FORMAT %q: want staging.toml's", st.Layer, st.SiteName, st.LogFormat)
			}
			if st.Sources["SITE_NAME"] != "staging.toml" {
				t.Errorf("Sources[SITE_NAME] = %q, want staging.toml", st.Sources["SITE_NAME"])
			}
			// Built on common, like the others: what staging.toml does not set comes from common.toml.
			if st.Port != 8000 || st.Sources["PORT"] != "common.toml" || st.Debug {
				t.Errorf("PORT %d from %q, DEBUG %v: want common.toml's 8000, false", st.Port, st.Sources["PORT"], st.Debug)
			}
		})
	}
	// An unknown layer is refused with the files that are there.
	_, err = load(t, "", []string{"SETTINGS=qa"}, func(o *settings.Options) { o.Files = files })
	if err == nil || !strings.Contains(err.Error(), "common.toml, development.toml, production.toml, staging.toml, testing.toml") ||
		!strings.Contains(err.Error(), "settings/qa.toml") {
		t.Errorf("SETTINGS=qa: err = %v, want the layer files found and how to add qa", err)
	}
	// A misspelt key in the new layer is an error naming the nearest setting.
	bad := layerDir(t, map[string]string{"staging.toml": "SITE_NAM = \"Staging\"\n"})
	_, err = load(t, "", []string{"SETTINGS=staging"}, func(o *settings.Options) { o.Files = os.DirFS(bad) })
	if err == nil || !strings.Contains(err.Error(), "staging.toml: unknown setting(s) SITE_NAM (did you mean SITE_NAME?)") {
		t.Errorf("SITE_NAM in staging.toml: err = %v", err)
	}
}

type commentSettings struct {
	CommentMaxLength int `setting:"COMMENT_MAX_LENGTH"`
}

// TestAppSectionInLayerFile is the README's [blog] COMMENT_MAX_LENGTH = 10 in
// development.toml: it configures the app where the app is, does not break
// what loads settings without it (the framework's tests), and is refused, with
// the reason, by a binary that has no such app. The settings package's tests
// name their app settingstest: the project's layer files may configure a blog
// of its own, which these tests skip.
func TestAppSectionInLayerFile(t *testing.T) {
	t.Parallel()
	files := os.DirFS(layerDir(t, map[string]string{"development.toml": "[settingstest]\nCOMMENT_MAX_LENGTH = 10\n"}))
	app := func() []settings.Section {
		return []settings.Section{{App: "settingstest", Target: &commentSettings{CommentMaxLength: 500}}}
	}
	tests := []struct {
		name       string
		sections   []settings.Section
		skipAbsent bool
		overrides  map[string]any
		want       int    // the app's COMMENT_MAX_LENGTH, when it is declared
		wantErr    string // part of the error, when one is wanted
	}{
		{name: "the app is installed", sections: app(), want: 10},
		{name: "the app is installed, strict or not", sections: app(), skipAbsent: true, want: 10},
		{name: "an override by the name settings prints", sections: app(), skipAbsent: true, overrides: map[string]any{"SETTINGSTEST_COMMENT_MAX_LENGTH": "5"}, want: 5},
		{name: "a test binary without the app", skipAbsent: true},
		{name: "a binary without the app", wantErr: "development.toml: unknown setting(s) settingstest.COMMENT_MAX_LENGTH (no installed app named settingstest has settings)"},
		{name: "an override of an app the binary lacks", skipAbsent: true, overrides: map[string]any{"SETTINGSTEST_COMMENT_MAX_LENGTH": "5"},
			wantErr: "unknown setting SETTINGSTEST_COMMENT_MAX_LENGTH in the overrides"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st, err := load(t, "development", nil, func(o *settings.Options) {
				o.Files = files
				o.Sections = tt.sections
				o.SkipAbsentApps = tt.skipAbsent
				o.Overrides = tt.overrides
			})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.sections == nil {
				return
			}
			if got := st.App("settingstest").(*commentSettings).CommentMaxLength; got != tt.want {
				t.Errorf("COMMENT_MAX_LENGTH = %d, want %d", got, tt.want)
			}
		})
	}
	// A misspelt key of an installed app's section names the nearest.
	typo := os.DirFS(layerDir(t, map[string]string{"development.toml": "[settingstest]\nCOMMENT_MAX_LENGHT = 10\n"}))
	_, err := load(t, "development", nil, func(o *settings.Options) { o.Files = typo; o.Sections = app() })
	if err == nil || !strings.Contains(err.Error(), "settingstest.COMMENT_MAX_LENGHT (did you mean settingstest.COMMENT_MAX_LENGTH?)") {
		t.Errorf("COMMENT_MAX_LENGHT: err = %v", err)
	}
}

func TestOverrideNames(t *testing.T) {
	t.Parallel()
	sections := func() []settings.Section { return []settings.Section{{App: "settingstest", Target: &blogSettings{}}} }
	tests := []struct {
		name      string
		overrides map[string]any
		check     func(*settings.Settings) (got, want any)
		wantErr   []string
	}{
		{"environment name", map[string]any{"API_THROTTLE_RATE": "5/min"},
			func(s *settings.Settings) (any, any) { return s.APIThrottleRate.String(), "5/min" }, nil},
		{"an app's environment name", map[string]any{"SETTINGSTEST_PER_PAGE": "7"},
			func(s *settings.Settings) (any, any) { return s.App("settingstest").(*blogSettings).PerPage, 7 }, nil},
		{"an app's key", map[string]any{"settingstest.PER_PAGE": 8},
			func(s *settings.Settings) (any, any) { return s.App("settingstest").(*blogSettings).PerPage, 8 }, nil},
		{"an alias", map[string]any{"REDISTOGO_URL": "redis://togo:6379/0"},
			func(s *settings.Settings) (any, any) { return s.RedisURL, "redis://togo:6379/0" }, nil},
		{"the canonical name wins over its alias", map[string]any{"REDISTOGO_URL": "redis://togo:6379/0", "REDIS_URL": "redis://main:6379/0"},
			func(s *settings.Settings) (any, any) { return s.RedisURL, "redis://main:6379/0" }, nil},
		{"a typo", map[string]any{"API_THROTLE_RATE": "5/min"}, nil,
			[]string{"unknown setting API_THROTLE_RATE in the overrides: did you mean API_THROTTLE_RATE?"}},
		{"a typo in an app's name", map[string]any{"SETTINGSTEST_PERPAGE": "7"}, nil,
			[]string{"unknown setting SETTINGSTEST_PERPAGE in the overrides: did you mean SETTINGSTEST_PER_PAGE?"}},
		{"every unknown name at once", map[string]any{"DEBGU": true, "SECRETKEY": "x"}, nil,
			[]string{"DEBGU in the overrides: did you mean DEBUG?", "SECRETKEY in the overrides: did you mean SECRET_KEY?"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st, err := load(t, "testing", nil, func(o *settings.Options) {
				o.Overrides = tt.overrides
				o.Sections = sections()
			})
			if tt.wantErr != nil {
				if err == nil {
					t.Fatal("no error")
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error does not say %q:\n%s", w, err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got, want := tt.check(st); got != want {
				t.Errorf("got %v, want %v", got, want)
			}
			for name := range tt.overrides {
				if src := st.Sources[strings.ToUpper(strings.ReplaceAll(name, ".", "_"))]; src != "override" && name != "REDISTOGO_URL" {
					t.Errorf("Sources[%s] = %q, want override", name, src)
				}
			}
		})
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
		{"DB_MAX_CONNS=abc", []string{"DB_MAX_CONNS", `"abc" is not a whole number`}},
		{"DB_MAX_CONNS=0", []string{"DB_MAX_CONNS", "at least 1"}},
		{"REDIS_MAX_CONNS=many", []string{"REDIS_MAX_CONNS", "many"}},
		{"DB_CONN_MAX_LIFETIME=forever", []string{"DB_CONN_MAX_LIFETIME", "forever"}},
		{"DATABASE_URL=postgres://%zz", []string{"DATABASE_URL", "not a valid URL"}},
		{"DATABASE_CONNECTION_POOL_URL=postgres://%zz", []string{"DATABASE_CONNECTION_POOL_URL", "not a valid URL"}},
		{"REDIS_URL=notaurl", []string{"REDIS_URL", "not a URL", "redis://"}},
		{"REDIS_URL=redis://cache:99999/0", []string{"REDIS_URL", "99999", "not a TCP port"}},
		{"REDIS_URL=redis://cache/x", []string{"REDIS_URL", `"x"`, "not a number"}},
		{"REDIS_URL=redis://:hunter2@[::1", []string{"REDIS_URL", "not a valid URL"}},
		{"REDIS_URL=rediss://", []string{"REDIS_URL", "no host"}},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			t.Parallel()
			_, err := load(t, "development", []string{tt.env}, nil)
			if err == nil {
				t.Fatalf("%s: no error", tt.env)
			}
			// One bad value is one problem: not also the problems of the
			// zero value it could not be read as (DB_MAX_CONNS=abc is not
			// also "DB_MAX_CONNS=0 must be at least 1").
			var se *settings.Error
			if !errors.As(err, &se) || len(se.Problems) != 1 {
				t.Errorf("want exactly one problem:\n%v", err)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("a password is shown:\n%v", err)
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
		{"environment", []string{"SETTINGSTEST_PER_PAGE=25", "SETTINGSTEST_TITLE=News"}, nil, 25, "News", "environment"},
		{"override", []string{"SETTINGSTEST_PER_PAGE=25"}, map[string]any{"settingstest.PER_PAGE": 40}, 40, "Blog", "override"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sec := &blogSettings{PerPage: 10, Title: "Blog"}
			st := mustLoad(t, "development", tt.environ, func(o *settings.Options) {
				o.Overrides = tt.overrides
				o.Sections = []settings.Section{{App: "settingstest", Target: sec}}
			})
			if sec.PerPage != tt.wantPer || sec.Title != tt.wantTitle {
				t.Errorf("blog = %+v, want PER_PAGE %d TITLE %q", sec, tt.wantPer, tt.wantTitle)
			}
			if got, ok := st.App("settingstest").(*blogSettings); !ok || got != sec {
				t.Errorf("App(blog) = %#v, want the declared pointer", st.App("settingstest"))
			}
			if got := st.Sources["SETTINGSTEST_PER_PAGE"]; got != tt.wantSrc {
				t.Errorf("Sources[SETTINGSTEST_PER_PAGE] = %q, want %q", got, tt.wantSrc)
			}
		})
	}
	// A bad value in a section is named by its environment variable.
	_, err := load(t, "development", []string{"SETTINGSTEST_PER_PAGE=lots"}, func(o *settings.Options) {
		o.Sections = []settings.Section{{App: "settingstest", Target: &blogSettings{}}}
	})
	if err == nil || !strings.Contains(err.Error(), "SETTINGSTEST_PER_PAGE") {
		t.Errorf("SETTINGSTEST_PER_PAGE=lots: err = %v, want it named", err)
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
	}, func(o *settings.Options) { o.Sections = []settings.Section{{App: "settingstest", Target: sec}} })
	lines := map[string]settings.Line{}
	for _, l := range st.Describe() {
		lines[l.Name] = l
	}
	for _, name := range []string{"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "EMAIL_HOST_PASSWORD", "SETTINGSTEST_API_KEY", "SETTINGSTEST_PER_PAGE", "PORT"} {
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
