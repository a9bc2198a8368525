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

// ParseURL reads postgres://, postgresql:// and sqlite://PATH URLs.
// sqlite://db.sqlite3 is relative to the working directory, sqlite:///abs/path
// is absolute, sqlite://:memory: is an in-memory database.
func ParseURL(raw string) (Config, error) {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return Config{}, errors.New("DATABASE_URL is not a URL: use postgres://USER:PASSWORD@HOST:PORT/NAME or sqlite://PATH")
	}
	switch scheme {
	case "postgres", "postgresql":
		u, err := url.Parse(raw)
		if err != nil {
			return Config{}, errors.New("DATABASE_URL is not a valid postgres:// URL")
		}
		if u.Host == "" && u.Query().Get("host") == "" {
			return Config{}, errors.New("DATABASE_URL has no host: use postgres://USER:PASSWORD@HOST:PORT/NAME")
		}
		return Config{Dialect: dialect.PG, Driver: "pgx", DSN: raw}, nil
	case "sqlite":
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
				return Config{}, fmt.Errorf("DATABASE_URL has a malformed query: %w", err)
			}
			for k, vs := range extra {
				params[k] = append(params[k], vs...)
			}
		}
		return Config{Dialect: dialect.SQLite, Driver: "sqlite", DSN: "file:" + path + "?" + params.Encode(), Path: path}, nil
	}
	return Config{}, fmt.Errorf("DATABASE_URL has the unknown scheme %q: use postgres://, postgresql:// or sqlite://", scheme)
}

// Open connects to the database named by a DATABASE_URL and checks that it
// answers. With debug on, every query is logged.
func Open(ctx context.Context, rawURL string, debug bool) (*bun.DB, error) {
	cfg, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	return OpenConfig(ctx, cfg, debug)
}

// OpenConfig is Open for an already parsed URL.
func OpenConfig(ctx context.Context, cfg Config, debug bool) (*bun.DB, error) {
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
		// Idle connections are kept: the email worker shares this pool, and a
		// new Postgres connection costs a SCRAM handshake.
		sqldb.SetMaxOpenConns(20)
		sqldb.SetMaxIdleConns(20)
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
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := bdb.PingContext(pingCtx); err != nil {
		_ = bdb.Close()
		return nil, fmt.Errorf("db: connect to %s: %w", describe(cfg), err)
	}
	return bdb, nil
}

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
