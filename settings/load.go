package settings

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/knadh/koanf/parsers/dotenv"
	"github.com/knadh/koanf/parsers/toml/v2"
	"github.com/knadh/koanf/providers/confmap"
	"github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/providers/rawbytes"
	"github.com/knadh/koanf/v2"
)

//go:embed *.toml
var layerFiles embed.FS

// Section is a settings section an app declares: Target points to a struct
// whose fields carry `setting:"KEY"` tags and whose current values are the
// defaults. Key KEY is read as [App] KEY in the layer files and as APP_KEY in
// .env and the environment.
type Section struct {
	App    string
	Target any
}

// Options tell Load where to read from. The zero value reads SETTINGS, .env
// and the environment of the process.
type Options struct {
	// Layer, when set, wins over SETTINGS.
	Layer string
	// Environ replaces os.Environ() (tests pass their own).
	Environ []string
	// DotEnv is the path of the .env file; "" means ".env", "-" reads none.
	DotEnv string
	// Overrides are applied last, by setting name (the test kit's per-test settings).
	Overrides map[string]any
	// Sections are the apps' own settings.
	Sections []Section
}

// Error lists every problem found while loading settings, so that one failed
// start names every missing or invalid variable at once.
type Error struct {
	Layer    string
	Problems []string
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "settings: %d problem(s) with the %q settings:", len(e.Problems), e.Layer)
	for _, p := range e.Problems {
		b.WriteString("\n  - ")
		b.WriteString(p)
	}
	return b.String()
}

type source struct {
	name string
	k    *koanf.Koanf
}

// Load reads the layers, converts every value to its type and validates the
// result. It returns an *Error naming every problem at once.
func Load(opts Options) (*Settings, error) {
	environ := opts.Environ
	if environ == nil {
		environ = os.Environ()
	}
	known := knownKeys(opts.Sections)
	envKeys := envNames(known)

	dotenvPath := opts.DotEnv
	if dotenvPath == "" {
		dotenvPath = ".env"
	}
	var dotenvK *koanf.Koanf
	if dotenvPath != "-" {
		if b, err := os.ReadFile(dotenvPath); err == nil {
			dotenvK = koanf.New(".")
			parser := dotenv.ParserEnvWithValue("", ".", func(k, v string) (string, any) { return k, v })
			if err := dotenvK.Load(rawbytes.Provider(b), parser); err != nil {
				return nil, fmt.Errorf("settings: read %s: %w", dotenvPath, err)
			}
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("settings: read %s: %w", dotenvPath, err)
		}
	}

	layer := opts.Layer
	if layer == "" {
		layer = lookupEnv(environ, "SETTINGS")
	}
	if layer == "" && dotenvK != nil {
		layer = dotenvK.String("SETTINGS")
	}
	if layer == "" {
		layer = DefaultLayer
	}
	if !slices.Contains(Layers, layer) {
		return nil, &Error{Layer: layer, Problems: []string{fmt.Sprintf(
			"SETTINGS=%q is not a settings layer: use one of %s", layer, strings.Join(Layers, ", "))}}
	}

	var sources []source
	var problems []string
	for _, name := range []string{"common", layer} {
		k, err := loadTOML(name, known)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		sources = append(sources, source{name + ".toml", k})
	}
	if dotenvK != nil {
		sources = append(sources, source{dotenvPath, filterKnown(dotenvK.All(), envKeys)})
	}
	envK := koanf.New(".")
	_ = envK.Load(env.Provider(".", env.Opt{
		EnvironFunc: func() []string { return environ },
		TransformFunc: func(k, v string) (string, any) {
			if key, ok := envKeys[k]; ok {
				return key, v
			}
			return "", nil
		},
	}), nil)
	sources = append(sources, source{"environment", withAliases(envK, environ)})
	if len(opts.Overrides) > 0 {
		k := koanf.New(".")
		_ = k.Load(confmap.Provider(opts.Overrides, "."), nil)
		sources = append(sources, source{"override", k})
	}

	merged := koanf.New(".")
	origin := map[string]string{}
	for _, s := range sources {
		for _, key := range s.k.Keys() {
			origin[key] = s.name
		}
		if err := merged.Merge(s.k); err != nil {
			return nil, fmt.Errorf("settings: merge %s: %w", s.name, err)
		}
	}

	st := &Settings{Layer: layer, Sources: map[string]string{}, Apps: map[string]any{}}
	decode := func(prefix string, target any) {
		fields(target, func(name, _ string, v reflect.Value) {
			key := prefix + name
			if !merged.Exists(key) {
				return
			}
			if err := assign(v, merged.Get(key)); err != nil {
				problems = append(problems, fmt.Sprintf("%s: %v (from %s)", envNameOf(key), err, origin[key]))
			}
			st.Sources[envNameOf(key)] = origin[key]
		})
	}
	decode("", st)
	for _, sec := range opts.Sections {
		decode(sec.App+".", sec.Target)
		st.Apps[sec.App] = sec.Target
	}
	st.loadBackends(decode)
	st.resolve()
	st.resolveBackends()
	problems = append(problems, st.validate()...)
	problems = append(problems, st.validateBackends()...)
	if len(problems) > 0 {
		return nil, &Error{Layer: layer, Problems: problems}
	}
	return st, nil
}

// loadTOML reads one embedded layer file, refusing keys no setting has (a typo
// in a layer file is an error, not a silently ignored line).
func loadTOML(name string, known map[string]bool) (*koanf.Koanf, error) {
	b, err := layerFiles.ReadFile(name + ".toml")
	if err != nil {
		return nil, fmt.Errorf("layer %s: %w", name, err)
	}
	k := koanf.New(".")
	if err := k.Load(rawbytes.Provider(b), toml.Parser()); err != nil {
		return nil, fmt.Errorf("%s.toml: %w", name, err)
	}
	var unknown []string
	for _, key := range k.Keys() {
		if !known[key] {
			unknown = append(unknown, key)
		}
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("%s.toml: unknown setting(s) %s", name, strings.Join(unknown, ", "))
	}
	return k, nil
}

// knownKeys returns every koanf key a setting can have: NAME for the core's
// and the registered backends', app.NAME for the apps' sections.
func knownKeys(sections []Section) map[string]bool {
	known := map[string]bool{}
	fields(&Settings{}, func(name, _ string, _ reflect.Value) { known[name] = true })
	for _, name := range backendKeys() {
		known[name] = true
	}
	for _, sec := range sections {
		fields(sec.Target, func(name, _ string, _ reflect.Value) { known[sec.App+"."+name] = true })
	}
	return known
}

// envNames maps environment variable names to koanf keys.
func envNames(known map[string]bool) map[string]string {
	m := make(map[string]string, len(known))
	for key := range known {
		m[envNameOf(key)] = key
	}
	return m
}

// envNameOf turns a koanf key into its environment variable: blog.PER_PAGE → BLOG_PER_PAGE.
func envNameOf(key string) string {
	return strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

func filterKnown(all map[string]any, envKeys map[string]string) *koanf.Koanf {
	aliases := allAliases()
	out := map[string]any{}
	for name, v := range all {
		if key, ok := envKeys[name]; ok {
			out[key] = v
		} else if canon, ok := aliases[name]; ok {
			if _, set := all[canon]; !set {
				out[canon] = v
			}
		}
	}
	k := koanf.New(".")
	_ = k.Load(confmap.Provider(out, "."), nil)
	return k
}

// withAliases adds the values of alias variables (REDISTOGO_URL, the
// backends' such as DJANGO_AWS_*) under their canonical names when the
// canonical variable is not set.
func withAliases(k *koanf.Koanf, environ []string) *koanf.Koanf {
	aliases := allAliases()
	names := make([]string, 0, len(aliases))
	for a := range aliases {
		names = append(names, a)
	}
	sort.Strings(names)
	for _, alias := range names {
		canon := aliases[alias]
		if v := lookupEnv(environ, alias); v != "" && !k.Exists(canon) {
			_ = k.Set(canon, v)
		}
	}
	return k
}

func lookupEnv(environ []string, name string) string {
	for i := len(environ) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(environ[i], "="); ok && k == name {
			return v
		}
	}
	return ""
}

// resolve fills settings that derive from others: production hosts default
// to SITE_DOMAIN. The backends' sections resolve themselves (resolveBackends).
func (s *Settings) resolve() {
	if len(s.AllowedHosts) == 0 && s.SiteDomain != "" {
		host := s.SiteDomain
		if h, _, ok := strings.Cut(host, ":"); ok && !strings.HasPrefix(host, "[") {
			host = h
		}
		s.AllowedHosts = []string{host}
	}
}

// validate returns every problem with the loaded values.
func (s *Settings) validate() []string {
	var p []string
	req := func(name, value, why string) {
		if strings.TrimSpace(value) == "" {
			p = append(p, fmt.Sprintf("%s is required %s", name, why))
		}
	}
	oneOf := func(name, value string, valid ...string) {
		if !slices.Contains(valid, value) {
			p = append(p, fmt.Sprintf("%s=%q is not valid: use one of %s", name, value, strings.Join(valid, ", ")))
		}
	}
	if s.Layer == "production" {
		req("SECRET_KEY", s.SecretKey, "in production: set it to a long random string (for example `openssl rand -base64 48`)")
		if strings.Contains(s.SecretKey, "insecure") {
			p = append(p, "SECRET_KEY is the development key: set a secret one in production")
		}
		req("DATABASE_URL", s.DatabaseURL, "in production: Heroku Postgres sets it; elsewhere use postgres://USER:PASSWORD@HOST:5432/NAME")
	}
	if s.DatabaseURL != "" {
		if err := checkDatabaseURL(s.DatabaseURL); err != nil {
			p = append(p, "DATABASE_URL "+err.Error())
		}
	}
	if s.RedisURL != "" {
		if u, err := url.Parse(s.RedisURL); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix") {
			p = append(p, "REDIS_URL must be a redis://, rediss:// or unix:// URL")
		}
	}
	if s.Port < 1 || s.Port > 65535 {
		p = append(p, fmt.Sprintf("PORT=%d is not a TCP port (1-65535)", s.Port))
	}
	oneOf("SITE_SCHEME", s.SiteScheme, "http", "https")
	oneOf("LOG_FORMAT", s.LogFormat, "text", "json")
	oneOf("LOG_LEVEL", s.LogLevel, "debug", "info", "warn", "error")
	if s.EmailMaxAttempts < 1 {
		p = append(p, "EMAIL_MAX_ATTEMPTS must be at least 1")
	}
	if s.MaxUploadSize <= 0 {
		p = append(p, "MAX_UPLOAD_SIZE must be more than 0 bytes")
	}
	if s.NumProxies < 0 {
		p = append(p, "NUM_PROXIES must not be negative")
	}
	for _, o := range s.CORSAllowedOrigins {
		if u, err := url.Parse(o); o != "*" && (err != nil || u.Scheme == "" || u.Host == "") {
			p = append(p, fmt.Sprintf("CORS_ALLOWED_ORIGINS: %q is not an origin like https://example.com", o))
		}
	}
	if s.FrontendURL != "" {
		if u, err := url.Parse(s.FrontendURL); err != nil || u.Scheme == "" || u.Host == "" {
			p = append(p, fmt.Sprintf("FRONTEND_URL=%q is not an absolute URL", s.FrontendURL))
		}
	}
	return p
}

// checkDatabaseURL accepts postgres://, postgresql:// and sqlite://PATH.
func checkDatabaseURL(raw string) error {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return fmt.Errorf("%q is not a database URL: use postgres://USER:PASSWORD@HOST:PORT/NAME or sqlite://PATH", redactURL(raw))
	}
	switch scheme {
	case "sqlite":
		if rest == "" {
			return errors.New("sqlite:// needs a file path, such as sqlite://db.sqlite3")
		}
	case "postgres", "postgresql":
		u, err := url.Parse(raw)
		if err != nil {
			return fmt.Errorf("is not a valid URL: %v", redactErr(err, raw))
		}
		if u.Host == "" && u.Query().Get("host") == "" {
			return errors.New("has no host: use postgres://USER:PASSWORD@HOST:PORT/NAME")
		}
	default:
		return fmt.Errorf("has the unknown scheme %q: use postgres://, postgresql:// or sqlite://", scheme)
	}
	return nil
}

func redactErr(err error, raw string) string {
	return strings.ReplaceAll(err.Error(), raw, redactURL(raw))
}
