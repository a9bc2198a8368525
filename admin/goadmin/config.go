// Package goadmin serves package admin's page declarations with GoAdmin on Fiber, at /admin:
// the users app's accounts as the only way in, and a guard in front of GoAdmin that closes its
// known security reports (SQL injection through sort and join parameters, XSS through the login
// ref parameter and unescaped output, CSRF on state-changing requests). It is the only package
// that imports GoAdmin, and it holds all of GoAdmin's process-global state (its configuration,
// the once-per-process guard, the standard output filter). Its tables and the email queue's view
// are its migrations (Migrations), installed by the admin app (admin/site).
//
// GoAdmin keeps its configuration in process-global state: Mount can run once per process.
package goadmin

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"manouche/admin"
)

// Dialect names the SQL database the admin runs on.
type Dialect string

// The dialects the admin supports.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// Config is everything Mount needs. The core maps its settings and services to it.
type Config struct {
	// DB is the application's pool; GoAdmin's queries run on it too.
	DB *sql.DB
	// Dialect is SQLite or Postgres.
	Dialect Dialect
	// DSN is the data source GoAdmin's connection code opens and pings once at start
	// (modernc syntax for SQLite, a postgres:// URL for Postgres) before the admin swaps
	// DB in for it. SQLite needs the driver name "sqlite3" registered (core/db does);
	// Postgres uses the name "postgres", which Mount registers for pgx if nobody has.
	DSN string
	// SecretKey signs the admin's CSRF tokens. Required, at least 16 bytes.
	SecretKey string
	// SiteName is the title of the admin pages.
	SiteName string
	// Debug turns on GoAdmin's debug mode (more logs).
	Debug bool
	// SecureCookies marks the session and CSRF cookies Secure (set it behind HTTPS).
	SecureCookies bool
	// Authenticate checks an email and a password, returning the account or
	// ErrInvalidCredentials. The users app provides it (case-insensitive email, argon2id).
	Authenticate func(ctx context.Context, email, password string) (admin.User, error)
	// LoadUser returns the account with the given id, for the check made on every request.
	LoadUser func(ctx context.Context, id string) (admin.User, error)
	// HasPerm reports whether the account with the given id holds a permission
	// ("blog.view_post"), for the pages with Permissions; the users app
	// provides it (from the cache). Nil: every staff member may use every page
	// that is not SuperuserOnly.
	HasPerm func(ctx context.Context, id, perm string) (bool, error)
	// Models are the pages to serve.
	Models []admin.ModelAdmin
	// Stats adds figures to the dashboard (e.g. the email queue's counts); may be nil.
	Stats func(ctx context.Context) ([]admin.Stat, error)
	// LoginLimiter runs before every login attempt (POST /admin/signin); use the API's throttle.
	// When nil, a per-IP limit of 10 attempts a minute applies.
	LoginLimiter fiber.Handler
	// ClientIP returns the client's address for the operation log (behind a proxy, the
	// trusted one, not a client-supplied X-Forwarded-For); nil means the socket's.
	ClientIP func(*fiber.Ctx) string
	// Logger receives the admin's logs; nil means slog.Default().
	Logger *slog.Logger
	// FilterStdout drops the debug line GoAdmin prints to standard output on every list
	// and form request (see SilenceGoAdminStdout) until Close. Serving processes set it;
	// tests that read stdout leave it off.
	FilterStdout bool
}

func (c *Config) validate() error {
	var errs []error
	if c.DB == nil {
		errs = append(errs, errors.New("field DB is nil"))
	}
	if c.Dialect != SQLite && c.Dialect != Postgres {
		errs = append(errs, fmt.Errorf("dialect %q is neither %q nor %q", c.Dialect, SQLite, Postgres))
	}
	if c.DSN == "" {
		errs = append(errs, errors.New("field DSN is empty"))
	}
	if len(c.SecretKey) < 16 {
		errs = append(errs, errors.New("field SecretKey must be at least 16 bytes"))
	}
	if c.Authenticate == nil {
		errs = append(errs, errors.New("field Authenticate is nil"))
	}
	if c.LoadUser == nil {
		errs = append(errs, errors.New("field LoadUser is nil"))
	}
	names := map[string]bool{}
	for _, m := range c.Models {
		if err := m.Validate(); err != nil {
			errs = append(errs, err)
			continue
		}
		if names[m.URLName()] {
			errs = append(errs, fmt.Errorf("two models are named %q", m.URLName()))
		}
		names[m.URLName()] = true
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("admin: config: %w", err)
	}
	return nil
}

// Admin is the mounted admin site.
type Admin struct {
	cfg     Config
	restore func() error // gives os.Stdout back; nil unless Config.FilterStdout
	db      *sql.DB
	log     *slog.Logger
	models  map[string]admin.ModelAdmin
}

// rebind turns ? placeholders into $N on Postgres. Queries here never hold a literal "?".
func (a *Admin) rebind(q string) string {
	if a.cfg.Dialect != Postgres {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (a *Admin) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return a.db.ExecContext(ctx, a.rebind(q), args...)
}

func (a *Admin) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return a.db.QueryRowContext(ctx, a.rebind(q), args...)
}

// boolValue is how a boolean is written in the dialect's SQL parameters and filters.
func (a *Admin) boolValue(b bool) string {
	if a.cfg.Dialect == Postgres {
		if b {
			return "true"
		}
		return "false"
	}
	if b {
		return "1"
	}
	return "0"
}

// bgContext is for the GoAdmin callbacks that carry no context.
func bgContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 10*time.Second)
}

// CookieFlags are the attributes the admin gives its cookies.
type CookieFlags struct {
	SessionSecure, SessionHTTPOnly, CSRFSecure bool
}

// Cookies returns the attributes the admin gives its session and CSRF cookies
// under c: the guard sets them from it, and `check --deploy` reports them
// (Django's security.W012, W013, W016).
func (c Config) Cookies() CookieFlags {
	return CookieFlags{SessionSecure: c.SecureCookies, SessionHTTPOnly: true, CSRFSecure: c.SecureCookies}
}
