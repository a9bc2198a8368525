// Package settings holds Manouche's typed configuration and loads it in layers,
// the way a Django project's settings are split into common, development and
// production modules.
//
// Layers, later wins: common.toml → the layer named by SETTINGS (development by
// default, production, testing, or any other NAME.toml in settings/) → a .env
// file → the process environment. Every
// key is also an environment variable of the same name, so a Heroku app's
// config vars (PORT, DATABASE_URL, REDIS_URL, SECRET_KEY, ...) work as they are.
// Apps can declare sections of their own (see Section), read from the same
// layers: key KEY of app blog is [blog] KEY in a layer file and BLOG_KEY in the
// environment.
package settings

import (
	"time"
)

// DefaultLayer is the layer used when SETTINGS is not set.
const DefaultLayer = "development"

// Settings is the typed, validated configuration of one Manouche process.
// Field tags name the setting (and environment variable); `secret` marks
// values that `go run . settings` masks.
type Settings struct {
	// Layer is the name of the layer that was loaded (the value of SETTINGS).
	Layer string

	Debug        bool     `setting:"DEBUG"`
	SecretKey    string   `setting:"SECRET_KEY" secret:"true"`
	AllowedHosts []string `setting:"ALLOWED_HOSTS"`
	ListenHost   string   `setting:"LISTEN_HOST"`
	Port         int      `setting:"PORT"`

	DatabaseURL string `setting:"DATABASE_URL" secret:"url"`
	// DatabaseRequireTLS connects to a Postgres DATABASE_URL without sslmode
	// with sslmode=require (on in production: Heroku Postgres requires TLS).
	DatabaseRequireTLS bool `setting:"DATABASE_REQUIRE_TLS"`
	// DatabaseConnectionPoolURL is a transaction pooler in front of the same
	// database (Heroku's PgBouncer). When set, web traffic goes through it
	// without server-side prepared statements, while migrate, the migration
	// lock and the email queue stay on DATABASE_URL.
	DatabaseConnectionPoolURL string `setting:"DATABASE_CONNECTION_POOL_URL" secret:"url"`
	// DBMaxConns caps each Postgres pool of a process (see the README's
	// connection budget); DBMaxIdleConns of them are kept open when idle;
	// DBConnMaxLifetime recycles a connection after that long. SQLite
	// ignores them.
	// DatabaseReplicaURLs are Postgres followers for reads that tolerate
	// lag (Project.ReadDB); an entry without "://" names the variable that
	// holds the URL (HEROKU_POSTGRESQL_PINK_URL, a Heroku follower's).
	// DatabaseReplicaMaxLag is how far behind a follower may replay and still
	// be used.
	DatabaseReplicaURLs   []string      `setting:"DATABASE_REPLICA_URLS" secret:"url"`
	DatabaseReplicaMaxLag time.Duration `setting:"DATABASE_REPLICA_MAX_LAG"`
	DBMaxConns            int           `setting:"DB_MAX_CONNS"`
	DBMaxIdleConns        int           `setting:"DB_MAX_IDLE_CONNS"`
	DBConnMaxLifetime     time.Duration `setting:"DB_CONN_MAX_LIFETIME"`
	RedisURL              string        `setting:"REDIS_URL" secret:"url"`
	// RedisMaxConns caps the Redis connections of a process.
	RedisMaxConns int `setting:"REDIS_MAX_CONNS"`
	// CacheKeyPrefix is put before every cache key, so projects can share a Redis.
	CacheKeyPrefix string `setting:"CACHE_KEY_PREFIX"`

	SiteName           string   `setting:"SITE_NAME"`
	SiteDomain         string   `setting:"SITE_DOMAIN"`
	SiteScheme         string   `setting:"SITE_SCHEME"`
	FrontendURL        string   `setting:"FRONTEND_URL"`
	CORSAllowedOrigins []string `setting:"CORS_ALLOWED_ORIGINS"`
	// APIDocs serves the API's OpenAPI 3.1 document at /api/openapi.json and
	// its docs page (Swagger UI, assets in the binary) at /api/docs; off,
	// both answer 404.
	APIDocs bool `setting:"API_DOCS"`

	LogFormat string `setting:"LOG_FORMAT"`
	// AccessLog logs a line per request. Production turns it off: Heroku's router
	// already logs every request with its X-Request-ID, which the app echoes and
	// puts on its own error lines.
	AccessLog bool   `setting:"ACCESS_LOG"`
	LogLevel  string `setting:"LOG_LEVEL"`
	// LogSQL logs every SQL statement (migrations included) to stderr; off by
	// default whatever LOG_LEVEL says, since it buries everything else.
	LogSQL bool `setting:"LOG_SQL"`
	// ShutdownTimeout bounds a graceful stop (SIGTERM): in-flight requests
	// and deliveries get this long; Heroku kills a dyno 30 s after SIGTERM.
	ShutdownTimeout time.Duration `setting:"SHUTDOWN_TIMEOUT"`
	// RequestTimeout cancels a request's context after this long and answers
	// 503 ServiceUnavailable (under the Heroku router's 30 s H12). 0 is none.
	RequestTimeout time.Duration `setting:"REQUEST_TIMEOUT"`
	MaxUploadSize  Size          `setting:"MAX_UPLOAD_SIZE"`

	AuthTokenTTL         time.Duration `setting:"AUTH_TOKEN_TTL"`
	PasswordResetTimeout time.Duration `setting:"PASSWORD_RESET_TIMEOUT"`
	AuthThrottleRate     Rate          `setting:"AUTH_THROTTLE_RATE"`
	APIThrottleRate      Rate          `setting:"API_THROTTLE_RATE"`
	NumProxies           int           `setting:"NUM_PROXIES"`

	// SecureSSLRedirect redirects plain-HTTP GET and HEAD requests to https
	// (the scheme read through NUM_PROXIES) and refuses other plain-HTTP
	// methods, as Django's SECURE_SSL_REDIRECT.
	SecureSSLRedirect bool `setting:"SECURE_SSL_REDIRECT"`
	// SecureHSTSSeconds is the Strict-Transport-Security max-age sent on https
	// responses; 0 sends none. The two flags add includeSubDomains and preload.
	SecureHSTSSeconds           int  `setting:"SECURE_HSTS_SECONDS"`
	SecureHSTSIncludeSubdomains bool `setting:"SECURE_HSTS_INCLUDE_SUBDOMAINS"`
	SecureHSTSPreload           bool `setting:"SECURE_HSTS_PRELOAD"`

	// SilencedSystemChecks are ids of `check` issues not to report, as in
	// Django (security.W021 for a site that will not join the HSTS preload list).
	SilencedSystemChecks []string `setting:"SILENCED_SYSTEM_CHECKS"`

	// EmailBackend names the registered mail backend (see core/mail).
	EmailBackend       string        `setting:"EMAIL_BACKEND"`
	DefaultFromEmail   string        `setting:"DEFAULT_FROM_EMAIL"`
	ServerEmail        string        `setting:"SERVER_EMAIL"`
	EmailSubjectPrefix string        `setting:"EMAIL_SUBJECT_PREFIX"`
	EmailMaxAttempts   int           `setting:"EMAIL_MAX_ATTEMPTS"`
	EmailWorkers       int           `setting:"EMAIL_WORKERS"`
	EmailRetryBackoff  time.Duration `setting:"EMAIL_RETRY_BACKOFF"`
	EmailPollInterval  time.Duration `setting:"EMAIL_POLL_INTERVAL"`
	RunWorker          bool          `setting:"RUN_WORKER"`

	// StorageBackend names the registered media storage backend (see
	// core/storage); ENABLE_MEDIA_UPLOAD_TO_S3=true selects s3.
	StorageBackend string `setting:"STORAGE_BACKEND"`

	// Observability (core/telemetry, README "Observability"): on when
	// OTEL_EXPORTER_OTLP_ENDPOINT is set, or NEW_RELIC_LICENSE_KEY is set and
	// NEW_RELIC_ENABLED is not false. Other OTEL_* variables are read by the
	// OpenTelemetry SDK itself. METRICS_ADDR serves Prometheus metrics on
	// a listener of its own (never on PORT). DYNO (set by Heroku) names the
	// instance.
	OTELExporterOTLPEndpoint string `setting:"OTEL_EXPORTER_OTLP_ENDPOINT"`
	OTELServiceName          string `setting:"OTEL_SERVICE_NAME"`
	NewRelicLicenseKey       string `setting:"NEW_RELIC_LICENSE_KEY" secret:"true"`
	NewRelicAppName          string `setting:"NEW_RELIC_APP_NAME"`
	NewRelicEnabled          bool   `setting:"NEW_RELIC_ENABLED"`
	MetricsAddr              string `setting:"METRICS_ADDR"`
	Dyno                     string `setting:"DYNO"`

	// Sources tells, for each setting, which layer its value came from.
	Sources map[string]string
	// Apps holds the apps' own sections, by app name, as the pointers the apps declared.
	Apps map[string]any

	// backends holds every registered backend's section, by kind and name (see Backend).
	backends map[string]map[string]any
}

// aliases are other names accepted for a core setting: the seed project's
// names and Heroku add-ons'. The canonical name wins when both are set.
// Backends declare their own (Module.Aliases).
var aliases = map[string]string{
	"REDISTOGO_URL":     "REDIS_URL",
	"DJANGO_SECRET_KEY": "SECRET_KEY",
}

// SiteURL is the absolute base URL of the site, SITE_SCHEME://SITE_DOMAIN, with no trailing slash.
func (s *Settings) SiteURL() string { return s.SiteScheme + "://" + s.SiteDomain }

// Frontend is FRONTEND_URL, or the site URL when it is not set, with no trailing slash.
func (s *Settings) Frontend() string {
	if s.FrontendURL != "" {
		return trimSlash(s.FrontendURL)
	}
	return s.SiteURL()
}

// App returns the section app declared, or nil.
func (s *Settings) App(name string) any { return s.Apps[name] }

func trimSlash(s string) string {
	for len(s) > 0 && s[len(s)-1] == '/' {
		s = s[:len(s)-1]
	}
	return s
}
