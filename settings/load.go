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
	"strconv"
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

// LayerFiles are the layer files built into the binary: every settings/*.toml
// of the project when it was compiled.
func LayerFiles() fs.FS { return layerFiles }

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
	// Files holds the layer files (common.toml, development.toml, ...); nil
	// means the project's settings/*.toml, built into the binary.
	Files fs.FS
	// SkipAbsentApps ignores the layer files' sections of apps that Sections
	// does not declare, instead of refusing them. A test binary links only the
	// apps its package imports while the layer files configure every installed
	// app, so the test kit sets it; the project's binary, which has them all,
	// leaves it off so that a misspelt [app] section is an error.
	SkipAbsentApps bool
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
	files := opts.Files
	if files == nil {
		files = layerFiles
	}
	layers, err := Layers(files)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(layers, layer) {
		found, _ := fs.Glob(files, "*.toml")
		return nil, &Error{Layer: layer, Problems: []string{fmt.Sprintf(
			"SETTINGS=%q is not a settings layer: use one of %s (the layer files found in settings/ are %s; add settings/%s.toml, built on common.toml, to make one)",
			layer, strings.Join(layers, ", "), strings.Join(found, ", "), layer)}}
	}

	var sources []source
	var problems []string
	sectionApps := map[string]bool{}
	for _, sec := range opts.Sections {
		sectionApps[sec.App] = true
	}
	for _, name := range []string{"common", layer} {
		k, err := loadTOML(files, name, known, sectionApps, opts.SkipAbsentApps)
		if err != nil {
			problems = append(problems, err.Error())
		}
		if k != nil {
			sources = append(sources, source{name + ".toml", k})
		}
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
		k, unknown := overrides(opts.Overrides, known, envKeys)
		problems = append(problems, unknown...)
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
				// Keep the value of the layers below, so that one bad value
				// is one problem, not also the problems of a zero value
				// (DB_MAX_CONNS=abc is not also "DB_MAX_CONNS=0 must be at least 1").
				for i := len(sources) - 1; i >= 0; i-- {
					if sources[i].name != origin[key] && sources[i].k.Exists(key) && assign(v, sources[i].k.Get(key)) == nil {
						break
					}
				}
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

// Layers lists the valid values of SETTINGS in files: the name of every
// layer file but common.toml, which every layer is built on.
func Layers(files fs.FS) ([]string, error) {
	found, err := fs.Glob(files, "*.toml")
	if err != nil {
		return nil, fmt.Errorf("settings: list the layer files: %w", err)
	}
	var layers []string
	for _, f := range found {
		if name := strings.TrimSuffix(f, ".toml"); name != "common" {
			layers = append(layers, name)
		}
	}
	return layers, nil
}

// loadTOML reads one layer file, refusing keys no setting has (a typo in a
// layer file is an error, not a silently ignored line): it returns the file
// without them and an error naming them, so that they are the only problems
// reported. Keys of an [app] section whose app is not in apps are skipped when
// skipAbsent is set.
func loadTOML(files fs.FS, name string, known, apps map[string]bool, skipAbsent bool) (*koanf.Koanf, error) {
	b, err := fs.ReadFile(files, name+".toml")
	if err != nil {
		return nil, fmt.Errorf("layer %s: %w", name, err)
	}
	k := koanf.New(".")
	if err := k.Load(rawbytes.Provider(b), toml.Parser()); err != nil {
		return nil, fmt.Errorf("%s.toml: %w", name, err)
	}
	var unknown []string
	for _, key := range k.Keys() {
		if known[key] {
			continue
		}
		app, _, inSection := strings.Cut(key, ".")
		k.Delete(key)
		switch {
		case inSection && !apps[app] && skipAbsent:
		case inSection && !apps[app]:
			unknown = append(unknown, fmt.Sprintf("%s (no installed app named %s has settings)", key, app))
		default:
			unknown = append(unknown, fmt.Sprintf("%s (did you mean %s?)", key, nearest(key, known)))
		}
	}
	if len(unknown) > 0 {
		return k, fmt.Errorf("%s.toml: unknown setting(s) %s", name, strings.Join(unknown, ", "))
	}
	return k, nil
}

// overrides turns Options.Overrides into a layer. A setting is named as in the
// environment (BLOG_PER_PAGE, as `go run . settings` prints it) or by its key
// (blog.PER_PAGE); aliases such as REDISTOGO_URL are accepted too. Every
// other name is returned as a problem naming the nearest valid one.
func overrides(values map[string]any, known map[string]bool, envKeys map[string]string) (*koanf.Koanf, []string) {
	names := make([]string, 0, len(values))
	for name := range values {
		names = append(names, name)
	}
	sort.Strings(names)
	var problems []string
	k := koanf.New(".")
	aliases := allAliases()
	for _, name := range names {
		key, ok := envKeys[name]
		if !ok && known[name] {
			key, ok = name, true
		}
		if !ok {
			if canon, alias := aliases[name]; alias {
				if _, set := values[canon]; set {
					continue // the canonical name wins
				}
				key, ok = canon, true
			}
		}
		if !ok {
			problems = append(problems, fmt.Sprintf("unknown setting %s in the overrides: did you mean %s?", name, nearest(envNameOf(name), envNamesOf(known))))
			continue
		}
		_ = k.Set(key, values[name])
	}
	return k, problems
}

// envNamesOf returns the environment names of the known keys, as a set.
func envNamesOf(known map[string]bool) map[string]bool {
	names := make(map[string]bool, len(known))
	for key := range known {
		names[envNameOf(key)] = true
	}
	return names
}

// nearest returns the valid name nearest to name (the first in order of
// several as near).
func nearest(name string, valid map[string]bool) string {
	best, bestDist := "", -1
	for v := range valid {
		d := editDistance(strings.ToUpper(name), strings.ToUpper(v))
		if bestDist < 0 || d < bestDist || d == bestDist && v < best {
			best, bestDist = v, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
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
	if s.DatabaseConnectionPoolURL != "" {
		if err := checkDatabaseURL(s.DatabaseConnectionPoolURL); err != nil {
			p = append(p, "DATABASE_CONNECTION_POOL_URL "+err.Error())
		} else if strings.HasPrefix(s.DatabaseConnectionPoolURL, "sqlite") {
			p = append(p, "DATABASE_CONNECTION_POOL_URL must be a postgres:// URL (a connection pooler such as PgBouncer in front of DATABASE_URL's database)")
		} else if strings.HasPrefix(s.DatabaseURL, "sqlite") {
			p = append(p, "DATABASE_CONNECTION_POOL_URL is set but DATABASE_URL is SQLite: both must name the same Postgres database")
		}
	}
	if s.DBMaxConns < 1 {
		p = append(p, fmt.Sprintf("DB_MAX_CONNS=%d must be at least 1: it caps each Postgres pool of a process", s.DBMaxConns))
	}
	if s.DBMaxIdleConns < 0 || s.DBMaxConns >= 1 && s.DBMaxIdleConns > s.DBMaxConns {
		p = append(p, fmt.Sprintf("DB_MAX_IDLE_CONNS=%d must be between 0 and DB_MAX_CONNS (%d)", s.DBMaxIdleConns, s.DBMaxConns))
	}
	if s.RedisURL != "" {
		if err := checkRedisURL(s.RedisURL); err != nil {
			p = append(p, fmt.Sprintf("REDIS_URL=%q %v: use redis://[:PASSWORD@]HOST:PORT[/DB], rediss://... for TLS (Heroku Redis), or unix:///PATH", redactURL(s.RedisURL), err))
		}
	}
	if s.RedisMaxConns < 1 {
		p = append(p, fmt.Sprintf("REDIS_MAX_CONNS=%d must be at least 1: it caps the Redis connections of a process", s.RedisMaxConns))
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
	if s.SecureHSTSSeconds < 0 {
		p = append(p, "SECURE_HSTS_SECONDS must not be negative")
	}
	if s.RequestTimeout < 0 {
		p = append(p, "REQUEST_TIMEOUT must not be negative (0s turns it off)")
	}
	if s.ShutdownTimeout <= 0 {
		p = append(p, "SHUTDOWN_TIMEOUT must be more than 0s")
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

// checkRedisURL accepts what go-redis's ParseURL accepts: redis:// and
// rediss:// with a host and an optional database number, unix:// with a path.
func checkRedisURL(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil && !strings.Contains(raw, "://"):
		return errors.New("is not a URL")
	case err != nil:
		return fmt.Errorf("is not a valid URL (%s)", strings.ReplaceAll(errors.Unwrap(err).Error(), raw, redactURL(raw)))
	case u.Scheme == "unix":
		if u.Path == "" {
			return errors.New("has no socket path")
		}
		return nil
	case u.Scheme != "redis" && u.Scheme != "rediss":
		if u.Scheme == "" {
			return errors.New("is not a URL")
		}
		return fmt.Errorf("has the scheme %q, not redis, rediss or unix", u.Scheme)
	case u.Hostname() == "":
		return errors.New("has no host")
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("has the port %q, not a TCP port", port)
		}
	}
	if db := strings.Trim(u.Path, "/"); db != "" {
		if n, err := strconv.Atoi(db); err != nil || n < 0 {
			return fmt.Errorf("names the database %q, not a number", db)
		}
	}
	return nil
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
