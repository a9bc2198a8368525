package db_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/uptrace/bun/dialect"

	"manouche/core/db"
	"manouche/core/testkit/testdb"
)

func TestParseURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url         string
		wantErr     string
		wantDialect dialect.Name
		wantDriver  string
		wantPath    string
		wantWAL     bool
	}{
		{url: "sqlite://db.sqlite3", wantDialect: dialect.SQLite, wantDriver: "sqlite", wantPath: "db.sqlite3", wantWAL: true},
		{url: "sqlite://data/sub/app.db", wantDialect: dialect.SQLite, wantDriver: "sqlite", wantPath: "data/sub/app.db", wantWAL: true},
		{url: "sqlite:///var/lib/app/db.sqlite3", wantDialect: dialect.SQLite, wantDriver: "sqlite", wantPath: "/var/lib/app/db.sqlite3", wantWAL: true},
		{url: "sqlite://:memory:", wantDialect: dialect.SQLite, wantDriver: "sqlite", wantPath: ":memory:"},
		{url: "postgres://app:pw@127.0.0.1:5432/app?sslmode=disable", wantDialect: dialect.PG, wantDriver: "pgx"},
		{url: "postgresql://app:pw@db.example.com/app", wantDialect: dialect.PG, wantDriver: "pgx"},
		{url: "postgres:///app?host=/var/run/postgresql", wantDialect: dialect.PG, wantDriver: "pgx"},
		{url: "mysql://user:pw@host/db", wantErr: "unknown scheme"},
		{url: "postgres:///app", wantErr: "no host"},
		{url: "postgres://", wantErr: "no host"},
		{url: "db.sqlite3", wantErr: "not a URL"},
		{url: "", wantErr: "not a URL"},
		{url: "sqlite://", wantErr: "needs a file path"},
		{url: "sqlite://x.db?%zz", wantErr: "malformed query"},
		// What pgx refuses when connecting is refused when parsing, with the
		// password hidden; certificate files are read only when connecting.
		{url: "postgres://app:hunter2@db/app?sslmode=bogus", wantErr: "sslmode is invalid"},
		{url: "postgres://app:hunter2@db/app?connect_timeout=soon", wantErr: "connect_timeout"},
		{url: "postgres://app:pw@db/app?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem", wantDialect: dialect.PG, wantDriver: "pgx"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			t.Parallel()
			cfg, err := db.ParseURL(tt.url)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("ParseURL(%q) = %+v, want an error containing %q", tt.url, cfg, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "DATABASE_URL") {
					t.Fatalf("error %q does not say %q about DATABASE_URL", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Errorf("error %q shows the password", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseURL(%q): %v", tt.url, err)
			}
			if cfg.Dialect != tt.wantDialect || cfg.Driver != tt.wantDriver || cfg.Path != tt.wantPath {
				t.Fatalf("ParseURL(%q) = %+v", tt.url, cfg)
			}
			if tt.wantDialect == dialect.PG && cfg.DSN != tt.url {
				t.Errorf("Postgres DSN = %q, want the URL unchanged", cfg.DSN)
			}
			if tt.wantDialect == dialect.SQLite {
				if !strings.HasPrefix(cfg.DSN, "file:"+tt.wantPath+"?") {
					t.Errorf("SQLite DSN = %q", cfg.DSN)
				}
				if got := strings.Contains(cfg.DSN, "journal_mode%28WAL%29"); got != tt.wantWAL {
					t.Errorf("DSN %q: WAL %v, want %v", cfg.DSN, got, tt.wantWAL)
				}
				if !strings.Contains(cfg.DSN, "busy_timeout") {
					t.Errorf("DSN %q has no busy_timeout", cfg.DSN)
				}
			}
		})
	}
}

func TestOpenSQLiteFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "nested", "dir", "db.sqlite3")
	ctx := context.Background()
	bdb, err := db.Open(ctx, "sqlite://"+path, false)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer bdb.Close()
	if bdb.Dialect().Name() != dialect.SQLite || db.IsPostgres(bdb) {
		t.Fatalf("dialect = %v", bdb.Dialect().Name())
	}
	pragmas := map[string]string{"journal_mode": "wal", "foreign_keys": "1", "busy_timeout": "5000"}
	for pragma, want := range pragmas {
		var got string
		if err := bdb.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got); err != nil {
			t.Fatalf("PRAGMA %s: %v", pragma, err)
		}
		if got != want {
			t.Errorf("PRAGMA %s = %q, want %q", pragma, got, want)
		}
	}
	// Several connections see the same file.
	if _, err := bdb.ExecContext(ctx, "CREATE TABLE t (x INTEGER)"); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 8)
	for i := range 8 {
		go func() {
			_, err := bdb.ExecContext(ctx, "INSERT INTO t (x) VALUES (?)", i)
			errc <- err
		}()
	}
	for range 8 {
		if err := <-errc; err != nil {
			t.Fatalf("concurrent insert: %v", err)
		}
	}
	var n int
	if err := bdb.QueryRowContext(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil || n != 8 {
		t.Fatalf("count = %d, %v; want 8", n, err)
	}
}

func TestOpenSQLiteMemory(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	bdb, err := db.Open(ctx, "sqlite://:memory:", false)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer bdb.Close()
	// One connection: a table created is seen by the next query.
	if _, err := bdb.ExecContext(ctx, "CREATE TABLE m (x INTEGER)"); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		var n int
		if err := bdb.QueryRowContext(ctx, "SELECT count(*) FROM m").Scan(&n); err != nil {
			t.Fatalf("the in-memory table vanished: %v", err)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		url, want, notWant string
	}{
		{"mysql://x", "unknown scheme", ""},
		{"postgres://app:topsecretpw@127.0.0.1:1/app?sslmode=disable&connect_timeout=2", "Postgres at 127.0.0.1:1/app", "topsecretpw"},
		{"sqlite:///proc/no/such/dir/db.sqlite3", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			t.Parallel()
			bdb, err := db.Open(ctx, tt.url, false)
			if err == nil {
				_ = bdb.Close()
				t.Fatalf("Open(%q): no error", tt.url)
			}
			if tt.want != "" && !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			if tt.notWant != "" && strings.Contains(err.Error(), tt.notWant) {
				t.Errorf("error %q shows %q", err, tt.notWant)
			}
		})
	}
}

func TestOpenPostgres(t *testing.T) {
	t.Parallel()
	url := testdb.URL(t, testdb.Postgres)
	ctx := context.Background()
	bdb, err := db.Open(ctx, url, false)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer bdb.Close()
	if !db.IsPostgres(bdb) {
		t.Fatalf("dialect = %v, want pg", bdb.Dialect().Name())
	}
	// The schema of the URL's search_path is where tables go.
	if _, err := bdb.ExecContext(ctx, "CREATE TABLE probe (x INT)"); err != nil {
		t.Fatal(err)
	}
	var schema string
	if err := bdb.QueryRowContext(ctx, "SELECT table_schema FROM information_schema.tables WHERE table_name = 'probe'").Scan(&schema); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(schema, "test_") {
		t.Errorf("table created in schema %q, want the test's own", schema)
	}
}
