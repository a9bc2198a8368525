package core_test

import (
	"context"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"manouche/core"
	"manouche/core/testkit/testdb"
	"manouche/settings"
)

func schemaOf(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("search_path")
}

// With DATABASE_CONNECTION_POOL_URL the web traffic (Project.DB) goes
// through it without server-side prepared statements, while migrations stay
// on DATABASE_URL. The two URLs name different schemas here, so where the
// migrations' tables land shows which URL they used.
func TestDatabaseConnectionPoolURL(t *testing.T) {
	t.Parallel()
	direct := testdb.URL(t, testdb.Postgres)
	pooler := testdb.URL(t, testdb.Postgres)
	ctx := context.Background()
	st, err := core.LoadSettings(settings.Options{Layer: "testing", Environ: []string{}, DotEnv: "-", SkipAbsentApps: true, Overrides: map[string]any{
		"DATABASE_URL":                 direct,
		"DATABASE_CONNECTION_POOL_URL": pooler,
		"DB_MAX_CONNS":                 4,
		"MEDIA_ROOT":                   filepath.Join(t.TempDir(), "media"),
	}}, []core.App{coreTestApp{}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := core.New(ctx, st, core.Options{Apps: []core.App{coreTestApp{}}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if p.DB == p.DirectDB {
		t.Fatal("Project.DB is the direct pool although DATABASE_CONNECTION_POOL_URL is set")
	}
	if got := p.DB.Stats().MaxOpenConnections; got != 4 {
		t.Errorf("pooled MaxOpenConnections = %d, want DB_MAX_CONNS=4", got)
	}
	if got := p.DirectDB.Stats().MaxOpenConnections; got != 4 {
		t.Errorf("direct MaxOpenConnections = %d, want DB_MAX_CONNS=4", got)
	}

	// The web pool prepares nothing on the server.
	conn, err := p.DB.DB.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var n, prepared int
	if err := conn.QueryRowContext(ctx, "SELECT $1::int", 7).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM pg_prepared_statements").Scan(&prepared); err != nil {
		t.Fatal(err)
	}
	_ = conn.Close()
	if prepared != 0 {
		t.Errorf("the pooled web connection has %d prepared statements, want none", prepared)
	}

	if _, err := p.Migrations().Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	count := func(schema string) int {
		var c int
		if err := p.DirectDB.QueryRowContext(ctx, "SELECT count(*) FROM information_schema.tables WHERE table_schema = ?", schema).Scan(&c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	if c := count(schemaOf(t, direct)); c == 0 {
		t.Error("migrate created no table through DATABASE_URL")
	}
	if c := count(schemaOf(t, pooler)); c != 0 {
		t.Errorf("migrate created %d tables through DATABASE_CONNECTION_POOL_URL, want none", c)
	}
}

// Without it, the web traffic and the rest share the one DATABASE_URL pool.
func TestNoPoolURLSharesThePool(t *testing.T) {
	t.Parallel()
	st, err := core.LoadSettings(settings.Options{Layer: "testing", Environ: []string{}, DotEnv: "-", SkipAbsentApps: true, Overrides: map[string]any{
		"DATABASE_URL": testdb.URL(t, testdb.SQLite),
		"MEDIA_ROOT":   filepath.Join(t.TempDir(), "media"),
	}}, []core.App{coreTestApp{}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := core.New(context.Background(), st, core.Options{Apps: []core.App{coreTestApp{}}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if p.DB != p.DirectDB || p.DB == nil {
		t.Fatal("without DATABASE_CONNECTION_POOL_URL Project.DB and DirectDB must be the same pool")
	}
}

// Malformed database and Redis settings are named in the error, without a
// stack trace or a password.
func TestMalformedConnectionSettings(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		env     []string
		want    string
		notWant string
	}{
		{"pool URL scheme", []string{"DATABASE_CONNECTION_POOL_URL=mysql://u:pw@h/d"}, "DATABASE_CONNECTION_POOL_URL has the unknown scheme", ""},
		{"pool URL SQLite", []string{"DATABASE_CONNECTION_POOL_URL=sqlite://x.db"}, "DATABASE_CONNECTION_POOL_URL must be a postgres:// URL", ""},
		{"pool URL without host", []string{"DATABASE_CONNECTION_POOL_URL=postgres:///d"}, "DATABASE_CONNECTION_POOL_URL has no host", ""},
		{"DATABASE_URL", []string{"DATABASE_URL=postgres//nothing"}, "DATABASE_URL", ""},
		{"DB_MAX_CONNS word", []string{"DB_MAX_CONNS=lots"}, `DB_MAX_CONNS: "lots" is not a whole number`, ""},
		{"DB_MAX_CONNS zero", []string{"DB_MAX_CONNS=0"}, "DB_MAX_CONNS=0 must be at least 1", ""},
		{"DB_MAX_IDLE_CONNS above", []string{"DB_MAX_CONNS=2", "DB_MAX_IDLE_CONNS=5"}, "DB_MAX_IDLE_CONNS=5 must be between 0 and DB_MAX_CONNS (2)", ""},
		{"DB_CONN_MAX_LIFETIME", []string{"DB_CONN_MAX_LIFETIME=soon"}, "DB_CONN_MAX_LIFETIME", ""},
		{"REDIS_MAX_CONNS", []string{"REDIS_MAX_CONNS=-1"}, "REDIS_MAX_CONNS=-1 must be at least 1", ""},
		{"REDIS_URL", []string{"REDIS_URL=http://u:secretpw@h"}, `REDIS_URL="http://u:********@h" has the scheme "http", not redis, rediss or unix`, "secretpw"},
		{"REDIS_URL not a URL", []string{"REDIS_URL=notaurl"}, `REDIS_URL="notaurl" is not a URL: use redis://`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := core.LoadSettings(settings.Options{Layer: "development", Environ: tc.env, DotEnv: "-", SkipAbsentApps: true}, []core.App{coreTestApp{}})
			if err == nil {
				t.Fatalf("no error for %v", tc.env)
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.want) {
				t.Errorf("error %q does not say %q", msg, tc.want)
			}
			if tc.notWant != "" && strings.Contains(msg, tc.notWant) {
				t.Errorf("error %q shows %q", msg, tc.notWant)
			}
			if strings.Contains(msg, "goroutine ") || strings.Contains(msg, ".go:") {
				t.Errorf("error %q looks like a stack trace", msg)
			}
		})
	}
}

// DATABASE_REQUIRE_TLS (on in production) connects a DATABASE_URL without
// sslmode over TLS (the test server has ssl = on, as Heroku's); an explicit
// sslmode=disable is kept.
func TestDatabaseRequireTLS(t *testing.T) {
	t.Parallel()
	withMode := testdb.URL(t, testdb.Postgres)
	u, err := url.Parse(withMode)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Del("sslmode")
	u.RawQuery = q.Encode()
	without := u.String()
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		url     string
		wantTLS bool
	}{
		{"no sslmode", without, true},
		{"explicit sslmode kept", withMode, strings.Contains(withMode, "sslmode=require") || !strings.Contains(withMode, "sslmode=")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := core.LoadSettings(settings.Options{Layer: "testing", Environ: []string{}, DotEnv: "-", SkipAbsentApps: true, Overrides: map[string]any{
				"DATABASE_URL":         tc.url,
				"DATABASE_REQUIRE_TLS": true,
				"MEDIA_ROOT":           filepath.Join(t.TempDir(), "media"),
			}}, []core.App{coreTestApp{}})
			if err != nil {
				t.Fatal(err)
			}
			p, err := core.New(ctx, st, core.Options{Apps: []core.App{coreTestApp{}}})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			var ssl bool
			if err := p.DB.QueryRowContext(ctx, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&ssl); err != nil {
				t.Fatal(err)
			}
			if ssl != tc.wantTLS {
				t.Errorf("TLS in use = %v, want %v (URL sslmode %q)", ssl, tc.wantTLS, q.Get("sslmode"))
			}
		})
	}
}
