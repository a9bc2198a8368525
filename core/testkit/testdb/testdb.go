// Package testdb is the one place tests get scratch databases from: a SQLite
// file in the test's temporary folder, a fresh schema in the Postgres server of
// TEST_DATABASE_URL, or a whole Postgres database of its own, each removed when
// the test ends; and the list of dialects a test runs on ("each test on SQLite,
// and on Postgres when configured").
//
//	func TestRunner(t *testing.T) {
//		t.Parallel()
//		testdb.Each(t, func(t *testing.T, d testdb.Dialect, url string) {
//			db := testdb.Open(t, url)
//			...
//		})
//	}
//
// It links only core/db and the drivers, so a package's tests can use it
// without building a project (testkit.New does that, on testdb's databases).
package testdb

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"manouche/core/db"
	"manouche/core/testenv"
)

// Dialect is a database a test can run on.
type Dialect string

// The dialects.
const (
	// SQLite is always available: a file in t.TempDir().
	SQLite Dialect = "sqlite"
	// Postgres is the server of TEST_DATABASE_URL.
	Postgres Dialect = "postgres"
)

// Dialects returns the dialects a test should run on: SQLite, and Postgres
// when TEST_DATABASE_URL is set. With MANOUCHE_TEST_STRICT=1 and no
// TEST_DATABASE_URL it fails t, so a strict run never quietly tests SQLite alone.
func Dialects(t testing.TB) []Dialect {
	t.Helper()
	ds := []Dialect{SQLite}
	if testenv.Optional(testenv.DatabaseURL) != "" || os.Getenv(testenv.Strict) == "1" {
		testenv.Lookup(t, testenv.DatabaseURL)
		ds = append(ds, Postgres)
	}
	return ds
}

// Default is the dialect of a test that runs once: Postgres when
// TEST_DATABASE_URL is set, SQLite otherwise.
func Default() Dialect {
	if testenv.Optional(testenv.DatabaseURL) != "" {
		return Postgres
	}
	return SQLite
}

// Each runs fn once per dialect of Dialects, as parallel subtests named after
// the dialect, each with the URL of a fresh, empty database (URL).
func Each(t *testing.T, fn func(t *testing.T, d Dialect, url string)) {
	t.Helper()
	for _, d := range Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			fn(t, d, URL(t, d))
		})
	}
}

// URL returns the DATABASE_URL of a fresh, empty database of dialect d for t:
// a SQLite file in t.TempDir(), or a new schema in TEST_DATABASE_URL's
// database, reached through the URL's search_path and dropped when t ends.
// A Postgres URL skips t without TEST_DATABASE_URL (fails it in strict mode).
func URL(t testing.TB, d Dialect) string {
	t.Helper()
	switch d {
	case SQLite:
		return "sqlite://" + filepath.Join(t.TempDir(), "db.sqlite3")
	case Postgres:
		base := testenv.Lookup(t, testenv.DatabaseURL)
		schema := "test_" + randomHex(8)
		create(t, base, "CREATE SCHEMA "+schema, "DROP SCHEMA IF EXISTS "+schema+" CASCADE")
		return withQuery(t, base, "", "search_path", schema)
	}
	t.Fatalf("testdb: unknown dialect %q", d)
	return ""
}

// IsolatedURL is URL, except that on Postgres the database is a whole one of
// its own (CREATE DATABASE, dropped WITH (FORCE) when t ends) rather than a
// schema. Use it for code whose state is database-wide: LISTEN/NOTIFY channels
// (the River queue) or a process that cannot be told a search_path.
func IsolatedURL(t testing.TB, d Dialect) string {
	t.Helper()
	if d != Postgres {
		return URL(t, d)
	}
	base := testenv.Lookup(t, testenv.DatabaseURL)
	name := "test_" + randomHex(8)
	create(t, base, "CREATE DATABASE "+name, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	return withQuery(t, base, "/"+name, "", "")
}

// Open opens url with core/db (as the project does) and closes it when t ends.
func Open(t testing.TB, url string) *bun.DB {
	t.Helper()
	bdb, err := db.Open(context.Background(), url, false)
	if err != nil {
		t.Fatalf("testdb: open %s: %v", url, err)
	}
	t.Cleanup(func() { _ = bdb.Close() })
	return bdb
}

// create runs stmt on the server of base and registers drop for when t ends.
func create(t testing.TB, base, stmt, drop string) {
	t.Helper()
	if err := exec(base, stmt); err != nil {
		t.Fatalf("testdb: %s: %v", stmt, err)
	}
	t.Cleanup(func() {
		if err := exec(base, drop); err != nil {
			t.Logf("testdb: %s: %v", drop, err)
		}
	})
}

// exec runs one administrative statement on the server of base, on a
// connection of its own: the test's database may be the one being dropped.
func exec(base, stmt string) error {
	admin, err := sql.Open("pgx", base)
	if err != nil {
		return err
	}
	defer admin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, err = admin.ExecContext(ctx, stmt)
	return err
}

// withQuery returns base with its path replaced (when path is not empty) and
// the query parameter key set (when key is not empty).
func withQuery(t testing.TB, base, path, key, value string) string {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("testdb: TEST_DATABASE_URL: %v", err)
	}
	if path != "" {
		u.Path = path
	}
	if key != "" {
		q := u.Query()
		q.Set(key, value)
		u.RawQuery = q.Encode()
	}
	return u.String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
