package db_test

import (
	"context"
	"database/sql"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"manouche/core/checks"
	"manouche/core/db"
	"manouche/core/testenv"
)

// withQuery returns raw with its query parameter key set to value.
func withQuery(t *testing.T, raw, key, value string) string {
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

// freePort returns a local TCP port nothing listens on.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).AddrPort().Port()
	_ = ln.Close()
	return strconv.Itoa(int(port))
}

func probe(t *testing.T, p db.Probe) []checks.Issue {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return p.Probe(ctx)
}

// find returns the issue with id, or fails t listing what there was.
func find(t *testing.T, issues []checks.Issue, id string) checks.Issue {
	t.Helper()
	for _, is := range issues {
		if is.ID == id {
			return is
		}
	}
	t.Fatalf("no %s in %v", id, issues)
	return checks.Issue{}
}

func TestProbeSQLite(t *testing.T) {
	t.Parallel()
	issues := probe(t, db.Probe{URL: "sqlite://" + filepath.Join(t.TempDir(), "db.sqlite3")})
	if is := find(t, issues, "database.I001"); !strings.Contains(is.Msg, "answers") || len(issues) != 1 {
		t.Errorf("SQLite: %v", issues)
	}
}

// TestProbePostgres probes the test Postgres as `check --deploy` does:
// reachable, TLS in use or not as the URL asks, max_connections against a
// budget, and the failures a user meets (server down, wrong password), each
// naming the variable.
func TestProbePostgres(t *testing.T) {
	t.Parallel()
	base := testenv.Lookup(t, testenv.DatabaseURL)
	plain := withQuery(t, base, "sslmode", "disable")
	u, _ := url.Parse(plain)
	down := *u
	down.Host = "127.0.0.1:" + freePort(t)
	wrong := *u
	wrong.User = url.UserPassword(u.User.Username(), "wrong-password")

	tests := []struct {
		name    string
		probe   db.Probe
		id      string
		level   checks.Level
		want    []string
		wantNot string
	}{
		{"reachable without TLS, not required", db.Probe{URL: plain}, "database.I001", checks.Info, []string{"answers", "TLS not in use"}, ""},
		{"TLS required but sslmode=disable", db.Probe{URL: plain, Options: db.Options{RequireTLS: true}}, "database.E002", checks.Error,
			[]string{"DATABASE_URL", "TLS not in use", "DATABASE_REQUIRE_TLS", u.Host}, ""},
		{"the pooler's variable is named", db.Probe{URL: plain, Options: db.Options{Name: "DATABASE_CONNECTION_POOL_URL", RequireTLS: true, Pooler: true}},
			"database_pool.E002", checks.Error, []string{"DATABASE_CONNECTION_POOL_URL", "TLS not in use"}, ""},
		{"server down", db.Probe{URL: down.String()}, "database.E001", checks.Error, []string{"DATABASE_URL", down.Host, "connection refused", "host and port"}, ""},
		{"wrong password", db.Probe{URL: wrong.String()}, "database.E001", checks.Error, []string{"DATABASE_URL", "password authentication failed", "user and password"}, "wrong-password"},
		{"budget within max_connections", db.Probe{URL: plain, Budget: 3, BudgetText: "1 x 3"}, "database.I002", checks.Info, []string{"max_connections", "1 x 3"}, ""},
		{"budget over max_connections", db.Probe{URL: plain, Budget: 100000, BudgetText: "many processes"}, "database.E003", checks.Error,
			[]string{"DATABASE_URL", "max_connections", "100000", "many processes", "DB_MAX_CONNS"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			issues := probe(t, tt.probe)
			is := find(t, issues, tt.id)
			if is.Level != tt.level {
				t.Errorf("level %s, want %s: %v", is.Level, tt.level, is)
			}
			for _, w := range tt.want {
				if !strings.Contains(is.Msg, w) {
					t.Errorf("%q does not say %q", is.Msg, w)
				}
			}
			if tt.wantNot != "" && strings.Contains(is.Msg, tt.wantNot) {
				t.Errorf("%q shows %q", is.Msg, tt.wantNot)
			}
		})
	}

	// With ssl on in the server (Debian's cluster has it, with the snakeoil
	// certificate), sslmode=require is reported as TLS in use, from the
	// server's own pg_stat_ssl.
	t.Run("sslmode=require", func(t *testing.T) {
		t.Parallel()
		sqldb, err := sql.Open("pgx", plain)
		if err != nil {
			t.Fatal(err)
		}
		defer sqldb.Close()
		var ssl string
		if err := sqldb.QueryRow("SHOW ssl").Scan(&ssl); err != nil {
			t.Fatal(err)
		}
		if ssl != "on" {
			t.Skip("the test server has ssl off")
		}
		issues := probe(t, db.Probe{URL: withQuery(t, base, "sslmode", "require"), Options: db.Options{RequireTLS: true}})
		if is := find(t, issues, "database.I001"); !strings.Contains(is.Msg, "TLS in use (TLSv1.") || len(issues) != 1 {
			t.Errorf("sslmode=require: %v", issues)
		}
		// Through a pooler pg_stat_ssl would describe the pooler's own
		// connection: the probe reads the TLS state of its own connection.
		issues = probe(t, db.Probe{URL: withQuery(t, base, "sslmode", "require"), Options: db.Options{Name: "DATABASE_CONNECTION_POOL_URL", RequireTLS: true, Pooler: true}})
		if is := find(t, issues, "database_pool.I001"); !strings.Contains(is.Msg, "TLS in use (TLS 1.") || len(issues) != 1 {
			t.Errorf("pooler, sslmode=require: %v", issues)
		}
	})
}
