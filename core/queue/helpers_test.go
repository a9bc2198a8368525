package queue_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	_ "modernc.org/sqlite"

	"manouche/core/mail"
	"manouche/core/queue"
	"manouche/core/testenv"
)

// testDB is one database a test runs against.
type testDB struct {
	name string
	open func(t testing.TB) *bun.DB
}

// databases returns SQLite always, and Postgres when TEST_DATABASE_URL is set.
func databases(t testing.TB) []testDB {
	dbs := []testDB{{"sqlite", func(t testing.TB) *bun.DB { return openSQLite(t, t.TempDir()) }}}
	if testenv.Optional(testenv.DatabaseURL) != "" {
		dbs = append(dbs, testDB{"postgres", func(t testing.TB) *bun.DB { return openPostgres(t) }})
	}
	return dbs
}

func randomName(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

func sqliteDSN(path string) string {
	// As core/db opens it: write transactions take the lock at BEGIN, so they
	// wait for busy_timeout instead of failing with SQLITE_BUSY on upgrade.
	return "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_txlock=immediate"
}

// openSQLite opens (and migrates) dir/db.sqlite3.
func openSQLite(t testing.TB, dir string) *bun.DB {
	t.Helper()
	path := filepath.Join(dir, "db.sqlite3")
	sqldb, err := sql.Open("sqlite", sqliteDSN(path))
	if err != nil {
		t.Fatal(err)
	}
	db := bun.NewDB(sqldb, sqlitedialect.New())
	t.Cleanup(func() { _ = db.Close() })
	migrateUp(t, db)
	return db
}

// createPostgres creates a fresh database and returns its URL; it is dropped
// when the test ends.
func createPostgres(t testing.TB) string {
	t.Helper()
	base := testenv.Lookup(t, testenv.DatabaseURL)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	name := randomName("queue_test_")
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
		_ = admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

func openPostgresURL(t testing.TB, dsn string) *bun.DB {
	t.Helper()
	sqldb, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	// Keep connections: Go's default of 2 idle ones makes every concurrent
	// delivery open a new connection (and pay for SCRAM authentication).
	sqldb.SetMaxIdleConns(50)
	db := bun.NewDB(sqldb, pgdialect.New())
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func openPostgres(t testing.TB) *bun.DB {
	t.Helper()
	db := openPostgresURL(t, createPostgres(t))
	migrateUp(t, db)

	return db
}

func migrateUp(t testing.TB, db *bun.DB) {
	t.Helper()
	ctx := context.Background()
	err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		return queue.MigrateUp(ctx, tx, queue.SchemaVersion)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond until it is true or the timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func mustNew(t testing.TB, cfg queue.Config) *queue.Queue {
	t.Helper()
	q, err := queue.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = q.Stop(ctx)
		_ = q.Close()
	})
	return q
}

// testBackend is a mail.Backend tests control: it can fail, or block until
// released, and records what it delivered.
type testBackend struct {
	box     *mail.Memory
	calls   atomic.Int64
	mu      sync.Mutex
	fail    error
	gate    chan struct{} // when set, Send waits for it to close (or ctx)
	entered chan struct{} // receives once per Send call, when set (non-blocking)
}

func newTestBackend() *testBackend { return &testBackend{box: mail.NewMemory()} }

func (b *testBackend) setFail(err error) { b.mu.Lock(); b.fail = err; b.mu.Unlock() }

func (b *testBackend) Send(ctx context.Context, m *mail.Message) error {
	b.calls.Add(1)
	b.mu.Lock()
	fail, gate, entered := b.fail, b.gate, b.entered
	b.mu.Unlock()
	if entered != nil {
		select {
		case entered <- struct{}{}:
		default:
		}
	}
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if fail != nil {
		return fail
	}
	return b.box.Send(ctx, m)
}

func unique(prefix string) string { return fmt.Sprintf("%s %s", prefix, randomName("")) }

func regexpMatch(s, re string) bool { return regexp.MustCompile(re).MatchString(s) }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func openSQLiteUnmigrated(t testing.TB) *bun.DB {
	t.Helper()
	sqldb, err := sql.Open("sqlite", sqliteDSN(filepath.Join(t.TempDir(), "db.sqlite3")))
	if err != nil {
		t.Fatal(err)
	}
	db := bun.NewDB(sqldb, sqlitedialect.New())
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// testLogger shows River's warnings and errors when QUEUE_TEST_LOG=1.
func testLogger() *slog.Logger {
	if os.Getenv("QUEUE_TEST_LOG") == "1" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return slog.New(slog.DiscardHandler)
}

// volume scales a message count down under the race detector.
func volume(n int) int {
	if raceEnabled {
		return max(n/5, 20)
	}
	return n
}
