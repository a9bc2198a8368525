package testdb_test

import (
	"context"
	"strings"
	"testing"

	"github.com/uptrace/bun"

	"manouche/core/db"
	"manouche/core/testenv"
	"manouche/core/testkit"
	"manouche/core/testkit/testdb"
)

// tables lists the tables a test can see in db (its schema on Postgres).
func tables(t *testing.T, bdb *bun.DB) []string {
	t.Helper()
	q := "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
	if db.IsPostgres(bdb) {
		q = "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY table_name"
	}
	var names []string
	if err := bdb.NewRaw(q).Scan(context.Background(), &names); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return names
}

func exists(t *testing.T, bdb *bun.DB, q string, args ...any) bool {
	t.Helper()
	var n int
	if err := bdb.NewRaw(q, args...).Scan(context.Background(), &n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n > 0
}

// Every URL is an empty database of its own, and on Postgres it is gone
// (schema or whole database) once its test has ended.
func TestEachURLIsEmptyAndIsolated(t *testing.T) {
	t.Parallel()
	urls := map[string]func(testing.TB, testdb.Dialect) string{"URL": testdb.URL, "IsolatedURL": testdb.IsolatedURL}
	testdb.Each(t, func(t *testing.T, d testdb.Dialect, first string) {
		a := testdb.Open(t, first)
		if got := a.Dialect().Name().String(); (d == testdb.Postgres) != db.IsPostgres(a) {
			t.Fatalf("%s database has dialect %s", d, got)
		}
		if names := tables(t, a); len(names) != 0 {
			t.Fatalf("fresh database has tables %v", names)
		}
		if _, err := a.ExecContext(context.Background(), "CREATE TABLE probe (x INTEGER)"); err != nil {
			t.Fatal(err)
		}
		for name, fresh := range urls {
			var schema, database string
			t.Run(name, func(t *testing.T) {
				u := fresh(t, d)
				if u == first {
					t.Fatalf("%s returned the same URL twice: %s", name, u)
				}
				b := testdb.Open(t, u)
				if names := tables(t, b); len(names) != 0 {
					t.Fatalf("%s sees tables %v of another test", name, names)
				}
				if db.IsPostgres(b) {
					if err := b.QueryRowContext(context.Background(), "SELECT current_schema(), current_database()").Scan(&schema, &database); err != nil {
						t.Fatal(err)
					}
					if name == "URL" && !strings.HasPrefix(schema, "test_") {
						t.Fatalf("URL's tables go to schema %q, want a test_ schema of its own", schema)
					}
				}
			})
			if d != testdb.Postgres {
				continue
			}
			// The subtest has ended: its schema or database was dropped.
			if name == "URL" && exists(t, a, "SELECT count(*) FROM information_schema.schemata WHERE schema_name = ?", schema) {
				t.Errorf("schema %s outlived its test", schema)
			}
			if name == "IsolatedURL" && exists(t, a, "SELECT count(*) FROM pg_database WHERE datname = ?", database) {
				t.Errorf("database %s outlived its test", database)
			}
		}
	})
}

// Dialects is SQLite, plus Postgres when configured; strict mode refuses to
// run on SQLite alone.
func TestDialects(t *testing.T) {
	pg := testenv.Optional(testenv.DatabaseURL)
	if pg == "" {
		pg = "postgres://nobody@127.0.0.1:1/none"
	}
	tests := []struct {
		name, url, strict string
		want              []testdb.Dialect
		failed            bool
	}{
		{"no Postgres", "", "", []testdb.Dialect{testdb.SQLite}, false},
		{"Postgres", pg, "", []testdb.Dialect{testdb.SQLite, testdb.Postgres}, false},
		{"Postgres, strict", pg, "1", []testdb.Dialect{testdb.SQLite, testdb.Postgres}, false},
		{"strict without Postgres", "", "1", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(testenv.DatabaseURL, tt.url)
			t.Setenv(testenv.Strict, tt.strict)
			var got []testdb.Dialect
			f := testkit.Record(t, func(tb testing.TB) { got = testdb.Dialects(tb) })
			if f.Failed != tt.failed || (tt.failed && !strings.Contains(strings.Join(f.Messages, "\n"), testenv.DatabaseURL)) {
				t.Fatalf("failures %+v, want failed=%v naming %s", f, tt.failed, testenv.DatabaseURL)
			}
			if !tt.failed && strings.Join(dialectNames(got), ",") != strings.Join(dialectNames(tt.want), ",") {
				t.Fatalf("Dialects = %v, want %v", got, tt.want)
			}
			wantDefault := testdb.SQLite
			if tt.url != "" {
				wantDefault = testdb.Postgres
			}
			if got := testdb.Default(); got != wantDefault {
				t.Errorf("Default = %s, want %s", got, wantDefault)
			}
		})
	}
}

func dialectNames(ds []testdb.Dialect) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = string(d)
	}
	return out
}

// A Postgres URL without TEST_DATABASE_URL skips (fails in strict mode)
// rather than handing out a SQLite database under the wrong name.
func TestPostgresNeedsTheServer(t *testing.T) {
	t.Setenv(testenv.DatabaseURL, "")
	for _, strict := range []string{"", "1"} {
		t.Setenv(testenv.Strict, strict)
		for name, fn := range map[string]func(testing.TB, testdb.Dialect) string{"URL": testdb.URL, "IsolatedURL": testdb.IsolatedURL} {
			f := testkit.Record(t, func(tb testing.TB) { fn(tb, testdb.Postgres) })
			if strict == "1" && !f.Failed || strict == "" && !f.Skipped {
				t.Errorf("%s(Postgres), strict=%q, no TEST_DATABASE_URL: %+v", name, strict, f)
			}
		}
	}
}
