package db_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"manouche/core/db"
	"manouche/core/testkit/testdb"
)

func TestParseURLOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, url string
		opts      db.Options
		want      map[string]string // query parameters of the DSN ("" = absent)
		wantErr   string
	}{
		{"production adds sslmode=require", "postgres://u:p@db.example.com:5432/d", db.Options{RequireTLS: true}, map[string]string{"sslmode": "require", "default_query_exec_mode": ""}, ""},
		{"explicit sslmode kept", "postgres://u:p@127.0.0.1/d?sslmode=disable", db.Options{RequireTLS: true}, map[string]string{"sslmode": "disable"}, ""},
		{"verify-full kept", "postgresql://u:p@h/d?sslmode=verify-full&sslrootcert=/x.pem", db.Options{RequireTLS: true}, map[string]string{"sslmode": "verify-full", "sslrootcert": "/x.pem"}, ""},
		{"development leaves sslmode", "postgres://u:p@h/d", db.Options{}, map[string]string{"sslmode": ""}, ""},
		{"pooler: no prepared statements", "postgres://u:p@h:6000/d", db.Options{Pooler: true, RequireTLS: true}, map[string]string{"default_query_exec_mode": "exec", "sslmode": "require"}, ""},
		{"pooler keeps an explicit mode", "postgres://u:p@h/d?default_query_exec_mode=simple_protocol", db.Options{Pooler: true}, map[string]string{"default_query_exec_mode": "simple_protocol"}, ""},
		{"other parameters kept", "postgres://u:p@h/d?search_path=s1&application_name=web", db.Options{RequireTLS: true}, map[string]string{"search_path": "s1", "application_name": "web", "sslmode": "require"}, ""},
		{"pooler on SQLite", "sqlite://x.db", db.Options{Pooler: true, Name: "DATABASE_CONNECTION_POOL_URL"}, nil, "DATABASE_CONNECTION_POOL_URL must be a postgres:// URL"},
		{"names its variable", "mysql://h/d", db.Options{Name: "DATABASE_CONNECTION_POOL_URL"}, nil, "DATABASE_CONNECTION_POOL_URL has the unknown scheme"},
		{"no host names its variable", "postgres:///d", db.Options{Name: "DATABASE_CONNECTION_POOL_URL"}, nil, "DATABASE_CONNECTION_POOL_URL has no host"},
		{"malformed query", "postgres://u:p@h/d?%zz", db.Options{RequireTLS: true}, nil, "DATABASE_URL has a malformed query"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := db.ParseURLOptions(tt.url, tt.opts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			u, err := url.Parse(cfg.DSN)
			if err != nil {
				t.Fatal(err)
			}
			q := u.Query()
			for k, want := range tt.want {
				if got := q.Get(k); got != want {
					t.Errorf("DSN %q: %s = %q, want %q", cfg.DSN, k, got, want)
				}
			}
			if u.User.String() != "u:p" {
				t.Errorf("DSN %q lost its credentials", cfg.DSN)
			}
		})
	}
}

func withParam(t *testing.T, raw, key, value string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String()
}

func randomName(t *testing.T) string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "pooltest_" + hex.EncodeToString(b)
}

// A burst of 64 concurrent queries never opens more than DB_MAX_CONNS
// connections, as the server counts them (pg_stat_activity): the bounded pool
// is what keeps every dyno inside the plan's connection limit.
func TestPoolCapsTheBurst(t *testing.T) {
	t.Parallel()
	base := testdb.URL(t, testdb.Postgres)
	for _, tc := range []struct {
		name     string
		maxConns int
		want     int
	}{
		{"DB_MAX_CONNS=5", 5, 5},
		{"default", 0, db.DefaultMaxConns},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app := randomName(t)
			ctx := context.Background()
			pool, err := db.OpenOptions(ctx, withParam(t, base, "application_name", app), db.Options{MaxConns: tc.maxConns})
			if err != nil {
				t.Fatal(err)
			}
			defer pool.Close()
			monitor := testdb.Open(t, base)

			var peak atomic.Int64
			stop := make(chan struct{})
			done := make(chan error, 1)
			go func() {
				for {
					var n int64
					if err := monitor.QueryRowContext(ctx, "SELECT count(*) FROM pg_stat_activity WHERE application_name = ?", app).Scan(&n); err != nil {
						done <- err
						return
					}
					if n > peak.Load() {
						peak.Store(n)
					}
					select {
					case <-stop:
						done <- nil
						return
					case <-time.After(2 * time.Millisecond):
					}
				}
			}()
			var wg sync.WaitGroup
			errs := make(chan error, 64)
			for range 64 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := pool.ExecContext(ctx, "SELECT pg_sleep(0.02)")
					errs <- err
				}()
			}
			wg.Wait()
			close(stop)
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatalf("a query of the burst failed: %v", err)
				}
			}
			if got := int(peak.Load()); got > tc.want {
				t.Errorf("the burst of 64 opened %d connections, want at most %d", got, tc.want)
			} else if got < 1 {
				t.Errorf("the monitor saw no connection: it missed the burst")
			}
			if got := pool.Stats().MaxOpenConnections; got != tc.want {
				t.Errorf("MaxOpenConnections = %d, want %d", got, tc.want)
			}
		})
	}
}

// Through a transaction pooler the next statement may run on another server
// connection, so nothing may be prepared on the server: with Pooler the
// session has no prepared statement after queries with arguments, while the
// direct pool (pgx's default statement cache) does prepare them.
func TestPoolerModePreparesNothing(t *testing.T) {
	t.Parallel()
	base := testdb.URL(t, testdb.Postgres)
	ctx := context.Background()
	for _, tc := range []struct {
		name         string
		pooler       bool
		wantPrepared bool
	}{
		{"direct", false, true},
		{"pooler", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bdb, err := db.OpenOptions(ctx, base, db.Options{Pooler: tc.pooler, MaxConns: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer bdb.Close()
			conn, err := bdb.DB.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			for i := range 3 {
				var n int
				if err := conn.QueryRowContext(ctx, "SELECT $1::int + 1", i).Scan(&n); err != nil || n != i+1 {
					t.Fatalf("query: %d %v", n, err)
				}
			}
			var prepared int
			if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM pg_prepared_statements").Scan(&prepared); err != nil {
				t.Fatal(err)
			}
			if got := prepared > 0; got != tc.wantPrepared {
				t.Errorf("%d statements prepared on the server, want prepared=%v", prepared, tc.wantPrepared)
			}
		})
	}
}
