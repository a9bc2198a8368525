package queue_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"manouche/core/mail"
	"manouche/core/queue"
	"manouche/core/testkit/testdb"
)

// testDB is one database a test runs against.
type testDB struct {
	name string
	open func(t testing.TB) *bun.DB // a fresh database with the queue's tables
}

// databases returns SQLite, and Postgres when TEST_DATABASE_URL is set. A
// Postgres database is a whole one (River's LISTEN/NOTIFY channels are per
// database), not a schema.
func databases(t testing.TB) []testDB {
	var dbs []testDB
	for _, d := range testdb.Dialects(t) {
		dbs = append(dbs, testDB{string(d), func(t testing.TB) *bun.DB { return openMigrated(t, testdb.IsolatedURL(t, d)) }})
	}
	return dbs
}

func randomName(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// openMigrated opens url as the project does and creates the queue's tables.
func openMigrated(t testing.TB, url string) *bun.DB {
	t.Helper()
	db := testdb.Open(t, url)
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
