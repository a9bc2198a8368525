// Package db opens the project database from a DATABASE_URL: Postgres through
// pgx's database/sql driver, SQLite through the pure-Go modernc driver (so
// CGO_ENABLED=0 builds a static binary), both wrapped by bun.
package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/extra/bundebug"
	"modernc.org/sqlite"
)

// The modernc driver registers itself as "sqlite"; GoAdmin opens SQLite with
// sql.Open("sqlite3", dsn), so the same pure-Go driver is registered under that
// name too (../shared/STACK.md, trap 2) unless something else already did.
func init() {
	for _, d := range sql.Drivers() {
		if d == "sqlite3" {
			return
		}
	}
	sql.Register("sqlite3", &sqlite.Driver{})
}

// Config is a parsed DATABASE_URL.
type Config struct {
	// Dialect is dialect.PG or dialect.SQLite.
	Dialect dialect.Name
	// Driver is the database/sql driver name ("pgx" or "sqlite").
	Driver string
	// DSN is what the driver is opened with.
	DSN string
	// Path is the SQLite file (":memory:" for an in-memory database); empty for Postgres.
	Path string
}

// Defaults of the Postgres pool (Options.MaxConns and friends, the settings
// DB_MAX_CONNS, DB_MAX_IDLE_CONNS and DB_CONN_MAX_LIFETIME). The smallest
// Heroku Postgres plan allows 20 connections for every dyno together: two
// web dynos, a worker, the release phase and one `heroku run` are 5
// processes, 5 x 3 = 15, which leaves 5 for `heroku pg:psql`, the platform's
// own monitoring and a restarting dyno's overlap.
const (
	DefaultMaxConns        = 3
	DefaultMaxIdleConns    = 3
	DefaultConnMaxLifetime = 30 * time.Minute
)

// Options tune how Open connects, beyond what the URL says.
type Options struct {
	// Name is the variable the URL came from, named in error messages
	// (default "DATABASE_URL").
	Name string
	// Debug logs every query to stderr.
	Debug bool
	// RequireTLS gives a postgres:// URL without sslmode sslmode=require, as
	// Heroku Postgres needs (pgx's default, prefer, would fall back to
	// plaintext). Production sets it. An explicit sslmode is kept.
	RequireTLS bool
	// Pooler says the URL goes through a transaction pooler (PgBouncer, as
	// Heroku's DATABASE_CONNECTION_POOL_URL): statements are not prepared on
	// the server (pgx's default_query_exec_mode=exec), since the next
	// statement may run on another server connection. An explicit
	// default_query_exec_mode in the URL is kept.
	Pooler bool
	// MaxConns caps the open connections of the Postgres pool (0: DefaultMaxConns).
	MaxConns int
	// MaxIdleConns is how many idle connections the Postgres pool keeps
	// (0: DefaultMaxIdleConns; negative: none; never more than MaxConns).
	MaxIdleConns int
	// ConnMaxLifetime closes a Postgres connection this long after it was
	// opened (0: DefaultConnMaxLifetime; negative: never).
	ConnMaxLifetime time.Duration
	// NoPing opens the pool without connecting: a server that is down is
	// found when used (a follower, which the application can do without).
	NoPing bool
}

// ParseURL reads postgres://, postgresql:// and sqlite://PATH URLs.
// sqlite://db.sqlite3 is relative to the working directory, sqlite:///abs/path
// is absolute, sqlite://:memory: is an in-memory database.
func ParseURL(raw string) (Config, error) { return parseURL(raw, Options{}) }

// ParseURLOptions is ParseURL applying the URL-level options (Name,
// RequireTLS, Pooler) to the Postgres DSN.
func ParseURLOptions(raw string, o Options) (Config, error) { return parseURL(raw, o) }

func parseURL(raw string, o Options) (Config, error) {
	name := o.Name
	if name == "" {
		name = "DATABASE_URL"
	}
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return Config{}, fmt.Errorf("%s is not a URL: use postgres://USER:PASSWORD@HOST:PORT/NAME or sqlite://PATH", name)
	}
	switch scheme {
	case "postgres", "postgresql":
		u, err := url.Parse(raw)
		if err != nil {
			return Config{}, fmt.Errorf("%s is not a valid postgres:// URL", name)
		}
		if u.Host == "" && u.Query().Get("host") == "" {
			return Config{}, fmt.Errorf("%s has no host: use postgres://USER:PASSWORD@HOST:PORT/NAME", name)
		}
		dsn := raw
		if o.RequireTLS || o.Pooler {
			q, err := url.ParseQuery(u.RawQuery)
			if err != nil {
				return Config{}, fmt.Errorf("%s has a malformed query: %v", name, err)
			}
			if o.RequireTLS && q.Get("sslmode") == "" {
				q.Set("sslmode", "require")
			}
			if o.Pooler && q.Get("default_query_exec_mode") == "" {
				q.Set("default_query_exec_mode", "exec")
			}
			u.RawQuery = q.Encode()
			dsn = u.String()
		}
		// What pgx would refuse when connecting (an unknown sslmode, a bad
		// port), refused now, as a malformed setting rather than a failed
		// connection. pgx's message shows the URL without its password.
		if err := validatePostgres(dsn); err != nil {
			return Config{}, fmt.Errorf("%s is not a valid postgres:// URL: %v", name, err)
		}
		return Config{Dialect: dialect.PG, Driver: "pgx", DSN: dsn}, nil
	case "sqlite":
		if o.Pooler {
			return Config{}, fmt.Errorf("%s must be a postgres:// URL (a connection pooler in front of Postgres)", name)
		}
		path, query, _ := strings.Cut(rest, "?")
		if path == "" {
			return Config{}, errors.New("DATABASE_URL sqlite:// needs a file path, such as sqlite://db.sqlite3")
		}
		params := url.Values{}
		params.Add("_pragma", "busy_timeout(5000)")
		params.Add("_pragma", "foreign_keys(1)")
		if path != ":memory:" {
			params.Add("_pragma", "journal_mode(WAL)")
			params.Add("_pragma", "synchronous(NORMAL)")
		}
		params.Set("_txlock", "immediate")
		if query != "" {
			extra, err := url.ParseQuery(query)
			if err != nil {
				return Config{}, fmt.Errorf("%s has a malformed query: %w", name, err)
			}
			for k, vs := range extra {
				params[k] = append(params[k], vs...)
			}
		}
		return Config{Dialect: dialect.SQLite, Driver: "sqlite", DSN: "file:" + path + "?" + params.Encode(), Path: path}, nil
	}
	return Config{}, fmt.Errorf("%s has the unknown scheme %q: use postgres://, postgresql:// or sqlite://", name, scheme)
}

// fileParams are the DSN parameters that name files pgx reads when it
// connects (certificates, password and service files): they may exist only
// where the process runs, so validatePostgres leaves them out.
var fileParams = []string{"sslrootcert", "sslcert", "sslkey", "sslpassword", "passfile", "service", "servicefile"}

// validatePostgres runs pgx's own parser on dsn, without the file
// parameters, so that what pgx would refuse when connecting is refused first.
func validatePostgres(dsn string) error {
	u, err := url.Parse(dsn)
	if err != nil {
		return err
	}
	q := u.Query()
	for _, p := range fileParams {
		q.Del(p)
	}
	u.RawQuery = q.Encode()
	_, err = pgconn.ParseConfig(u.String())
	return err
}

// Open connects to the database named by a DATABASE_URL and checks that it
// answers. With debug on, every query is logged.
func Open(ctx context.Context, rawURL string, debug bool) (*bun.DB, error) {
	return OpenOptions(ctx, rawURL, Options{Debug: debug})
}

// OpenOptions is Open with Options: TLS, pooler mode and pool limits.
func OpenOptions(ctx context.Context, rawURL string, o Options) (*bun.DB, error) {
	cfg, err := parseURL(rawURL, o)
	if err != nil {
		return nil, err
	}
	return openConfig(ctx, cfg, o)
}

// OpenConfig is Open for an already parsed URL.
func OpenConfig(ctx context.Context, cfg Config, debug bool) (*bun.DB, error) {
	return openConfig(ctx, cfg, Options{Debug: debug})
}

func openConfig(ctx context.Context, cfg Config, o Options) (*bun.DB, error) {
	debug := o.Debug
	if cfg.Path != "" && cfg.Path != ":memory:" {
		if dir := filepath.Dir(cfg.Path); dir != "." {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil, fmt.Errorf("db: create folder for %s: %w", cfg.Path, err)
			}
		}
	}
	sqldb, err := sql.Open(cfg.Driver, cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("db: open: %w", err)
	}
	var bdb *bun.DB
	switch cfg.Dialect {
	case dialect.PG:
		// Bounded: every dyno's pool counts against the plan's connection
		// limit (see DefaultMaxConns). Idle connections are kept: the email
		// worker shares this pool, and a new Postgres connection costs a
		// SCRAM handshake (and a TLS one on Heroku).
		maxConns, maxIdle, lifetime := o.MaxConns, o.MaxIdleConns, o.ConnMaxLifetime
		if maxConns <= 0 {
			maxConns = DefaultMaxConns
		}
		if maxIdle == 0 {
			maxIdle = DefaultMaxIdleConns
		}
		if lifetime == 0 {
			lifetime = DefaultConnMaxLifetime
		}
		sqldb.SetMaxOpenConns(maxConns)
		sqldb.SetMaxIdleConns(min(max(maxIdle, 0), maxConns))
		sqldb.SetConnMaxLifetime(max(lifetime, 0))
		sqldb.SetConnMaxIdleTime(5 * time.Minute)
		bdb = bun.NewDB(sqldb, pgdialect.New())
	default:
		if cfg.Path == ":memory:" {
			// Each connection to :memory: is a different database: keep one.
			sqldb.SetMaxOpenConns(1)
		} else {
			sqldb.SetMaxOpenConns(8)
		}
		sqldb.SetMaxIdleConns(8)
		sqldb.SetConnMaxIdleTime(0)
		bdb = bun.NewDB(sqldb, sqlitedialect.New())
	}
	if debug {
		bdb = bdb.WithQueryHook(bundebug.NewQueryHook(bundebug.WithVerbose(true), bundebug.WithWriter(os.Stderr)))
	}
	if o.NoPing {
		return bdb, nil
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := bdb.PingContext(pingCtx); err != nil {
		_ = bdb.Close()
		name := o.Name
		if name == "" {
			name = "DATABASE_URL"
		}
		return nil, &connectError{msg: fmt.Sprintf("%s: cannot connect to %s: %s", name, describe(cfg), Explain(err, name)), err: err}
	}
	return bdb, nil
}

// connectError is a failed connection, explained (see Explain), wrapping the
// driver's error.
type connectError struct {
	msg string
	err error
}

func (e *connectError) Error() string { return e.msg }
func (e *connectError) Unwrap() error { return e.err }

// IsPostgres reports whether db speaks Postgres.
func IsPostgres(db bun.IDB) bool { return db.Dialect().Name() == dialect.PG }

func describe(cfg Config) string {
	if cfg.Dialect == dialect.SQLite {
		return "SQLite " + cfg.Path
	}
	u, err := url.Parse(cfg.DSN)
	if err != nil {
		return "Postgres"
	}
	return "Postgres at " + u.Host + u.Path
}

// IsUniqueViolation reports whether err is a unique constraint violation, on
// Postgres (SQLSTATE 23505) or SQLite.
func IsUniqueViolation(err error) bool {
	if err == nil {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23505"
	}
	msg := err.Error()
	return strings.Contains(msg, "UNIQUE constraint failed") || strings.Contains(msg, "constraint failed: UNIQUE")
}
