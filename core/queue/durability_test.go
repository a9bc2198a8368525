package queue_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	netmail "net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"manouche/core/mail"
	"manouche/core/queue"
	"manouche/core/testkit/testdb"
)

// sharedDB is a migrated database a subprocess can open too.
type sharedDB struct {
	name string
	open func(t *testing.T) (*bun.DB, string) // the DB and its URL, the QUEUE_TEST_DB value
}

func sharedDatabases(t *testing.T) []sharedDB {
	var dbs []sharedDB
	for _, d := range testdb.Dialects(t) {
		dbs = append(dbs, sharedDB{string(d), func(t *testing.T) (*bun.DB, string) {
			u := testdb.IsolatedURL(t, d)
			return openMigrated(t, u), u
		}})
	}
	return dbs
}

func enqueueNumbered(t *testing.T, q *queue.Queue, prefix string, n int) {
	t.Helper()
	msgs := make([]*mail.Message, n)
	for i := range msgs {
		msgs[i] = msgTo(fmt.Sprintf("%s %04d", prefix, i), "ann@example.com")
	}
	if got, err := q.EnqueueMany(context.Background(), msgs); err != nil || got != n {
		t.Fatalf("EnqueueMany = %d, %v", got, err)
	}
}

// emlSubjects counts the .eml files in dir by subject.
func emlSubjects(t *testing.T, dir string) map[string]int {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.eml"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m, err := netmail.ReadMessage(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[m.Header.Get("Subject")]++
	}
	return out
}

func startHelper(t *testing.T, dsn, out string, delay time.Duration, env ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "QUEUE_TEST_HELPER=worker", "QUEUE_TEST_DB="+dsn, "QUEUE_TEST_OUT="+out, "QUEUE_TEST_DELAY="+delay.String())
	cmd.Env = append(cmd.Env, env...)
	var buf bytes.Buffer
	cmd.Stdout = &buf
	cmd.Stderr = &buf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd, &buf
}

// A worker process killed with SIGKILL in the middle of a batch loses
// nothing: a new worker delivers every message (those the dead one held are
// rescued once RescueAfter has passed and the dead leader's lease expired).
func TestWorkerKilledLosesNothing(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("takes ~20s: waits for the dead worker's leadership to expire")
	}
	for _, d := range sharedDatabases(t) {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			db, dsn := d.open(t)
			out := t.TempDir()
			n := volume(300)
			q := mustNew(t, helperConfig(db, nil))
			enqueueNumbered(t, q, "crash", n)

			cmd, logs := startHelper(t, dsn, out, 20*time.Millisecond)
			waitFor(t, 60*time.Second, "the helper to deliver 20 messages", func() (bool, error) {
				return len(emlSubjects(t, out)) >= n/15, nil
			})
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			_ = cmd.Wait()
			before := len(emlSubjects(t, out))
			ctx := context.Background()
			s, err := q.Stats(ctx)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("killed after %d deliveries; stats then %+v", before, s)
			if before >= n || s.Sent >= int64(n) {
				t.Fatalf("the helper finished before it was killed; logs:\n%s", logs)
			}

			file, err := mail.NewFile(out)
			if err != nil {
				t.Fatal(err)
			}
			q2 := mustNew(t, helperConfig(db, file))
			if err := q2.Start(ctx); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 90*time.Second, "every message to be sent", func() (bool, error) {
				s, err := q2.Stats(ctx)
				return s.Sent == int64(n) && s.Pending+s.Retrying+s.Sending+s.Failed == 0, err
			})
			got := emlSubjects(t, out)
			dups := 0
			for i := range n {
				c := got[fmt.Sprintf("crash %04d", i)]
				if c == 0 {
					t.Errorf("message %d was lost", i)
				}
				dups += c - 1
			}
			// At most the messages in hand at the kill (4 workers) may go twice.
			if dups > 4 {
				t.Errorf("%d duplicate deliveries", dups)
			}
			t.Logf("%d duplicates (messages in hand when killed)", dups)
		})
	}
}

// SIGTERM lets the worker finish the messages in hand, then exit 0.
func TestWorkerSIGTERMFinishesMessagesInHand(t *testing.T) {
	t.Parallel()
	for _, d := range sharedDatabases(t) {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			db, dsn := d.open(t)
			out := t.TempDir()
			const n = 40
			q := mustNew(t, helperConfig(db, nil))
			enqueueNumbered(t, q, "term", n)
			cmd, logs := startHelper(t, dsn, out, 400*time.Millisecond)
			ctx := context.Background()
			waitFor(t, 30*time.Second, "messages in hand", func() (bool, error) {
				s, err := q.Stats(ctx)
				return s.Sending > 0, err
			})
			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("worker exited with %v; output:\n%s", err, logs)
				}
			case <-time.After(20 * time.Second):
				t.Fatalf("worker did not stop after SIGTERM; output:\n%s", logs)
			}
			if !strings.Contains(logs.String(), "Worker stopped.") {
				t.Errorf("output lacks the stop message:\n%s", logs)
			}
			s, err := q.Stats(ctx)
			if err != nil {
				t.Fatal(err)
			}
			delivered := emlSubjects(t, out)
			if s.Sending != 0 || s.Retrying != 0 || s.Failed != 0 || int(s.Sent) != len(delivered) || s.Sent+s.Pending != n || s.Sent == 0 {
				t.Fatalf("after SIGTERM: stats %+v, %d delivered", s, len(delivered))
			}
		})
	}
}

// A worker restarted (SIGTERM, then a new worker, as a deploy or a daily
// dyno restart does) while deliveries run loses no email and sends none
// twice, and exits within SHUTDOWN_TIMEOUT: deliveries that can finish in
// time finish and are recorded; those that cannot are cancelled before the
// mail server took them and put back, and the next worker sends them.
func TestWorkerRestartDuringDeliveries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		delay    time.Duration // one delivery
		shutdown time.Duration // SHUTDOWN_TIMEOUT
		putBack  bool
	}{
		{"deliveries finish", 300 * time.Millisecond, 5 * time.Second, false},
		// The stop keeps a quarter of SHUTDOWN_TIMEOUT to cancel: 1s here,
		// enough for the cancelled deliveries to be recorded under -race on
		// a loaded 2-core machine (200ms, from an 800ms timeout, was not at load
		// 30; recording the cancellations took 2s then).
		// One delivery (5s) outlasts the timeout but not its own time limit
		// (QUEUE_TEST_JOB_TIMEOUT below).
		{"deliveries put back", 5 * time.Second, 4 * time.Second, true},
	}
	for _, d := range sharedDatabases(t) {
		for _, tt := range tests {
			t.Run(d.name+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				db, dsn := d.open(t)
				out := t.TempDir()
				const n = 12
				q := mustNew(t, helperConfig(db, nil))
				enqueueNumbered(t, q, "restart", n)
				cmd, logs := startHelper(t, dsn, out, tt.delay, "QUEUE_TEST_SHUTDOWN="+tt.shutdown.String(), "QUEUE_TEST_JOB_TIMEOUT=10s")
				ctx := context.Background()
				waitFor(t, 30*time.Second, "deliveries in hand", func() (bool, error) {
					s, err := q.Stats(ctx)
					return s.Sending > 0, err
				})
				if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
					t.Fatal(err)
				}
				signalled := time.Now()
				done := make(chan error, 1)
				go func() { done <- cmd.Wait() }()
				select {
				case err := <-done:
					if err != nil {
						t.Fatalf("worker exited with %v; output:\n%s", err, logs)
					}
				case <-time.After(tt.shutdown + 10*time.Second):
					t.Fatalf("worker still running after SIGTERM; output:\n%s", logs)
				}
				took := time.Since(signalled)
				t.Logf("exited %v after SIGTERM", took)
				// SHUTDOWN_TIMEOUT, and a little for the process to end under
				// -race on a loaded machine (the stop itself keeps a quarter of
				// the timeout in hand for that: Heroku's SIGKILL comes 5 s after
				// the default 25 s).
				if took > tt.shutdown+1500*time.Millisecond {
					t.Errorf("the worker exited %v after SIGTERM, want within SHUTDOWN_TIMEOUT (%v); output:\n%s", took, tt.shutdown, logs)
				}
				s, err := q.Stats(ctx)
				if err != nil {
					t.Fatal(err)
				}
				first := emlSubjects(t, out)
				if s.Sending != 0 || s.Failed != 0 || int(s.Sent) != len(first) || s.Sent+s.Pending+s.Retrying != n {
					t.Fatalf("after the restart: stats %+v, %d delivered; output:\n%s", s, len(first), logs)
				}
				if tt.putBack {
					// The messages that were in hand are back in the queue, available
					// at once (River does not count an attempt a stop interrupted),
					// not stuck as "sending" until rescued.
					back, err := db.NewSelect().TableExpr("river_job").
						Where("attempted_at IS NOT NULL AND state = 'available'").Count(ctx)
					if err != nil {
						t.Fatal(err)
					}
					if len(first) != 0 || back == 0 || !strings.Contains(logs.String(), "put back") {
						t.Errorf("put back: %d delivered, %d attempted messages back in the queue, stats %+v: want none sent and those in hand back; output:\n%s", len(first), back, s, logs)
					}
				}
				if !tt.putBack && len(first) == 0 {
					t.Errorf("the deliveries in hand did not finish: stats %+v", s)
				}

				// The next worker sends the rest, each message once.
				startHelper(t, dsn, out, 10*time.Millisecond)
				waitFor(t, 60*time.Second, "every message to be sent", func() (bool, error) {
					s, err := q.Stats(ctx)
					return s.Sent == n, err
				})
				got := emlSubjects(t, out)
				for i := range n {
					if c := got[fmt.Sprintf("restart %04d", i)]; c != 1 {
						t.Errorf("message %d delivered %d times, want once", i, c)
					}
				}
			})
		}
	}
}

// Stop with a deadline shorter than a delivery cancels it; the message is
// not lost: another worker sends it.
func TestStopTimeoutPutsMessagesBack(t *testing.T) {
	t.Parallel()
	for _, d := range databases(t) {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			db := d.open(t)
			b := newTestBackend()
			b.gate = make(chan struct{}) // never opens
			b.entered = make(chan struct{}, 1)
			q, err := queue.New(context.Background(), fastConfig(db, b))
			if err != nil {
				t.Fatal(err)
			}
			defer q.Close()
			ctx := context.Background()
			if _, err := q.Enqueue(ctx, msgTo("stuck", "a@example.com")); err != nil {
				t.Fatal(err)
			}
			if err := q.Start(ctx); err != nil {
				t.Fatal(err)
			}
			select {
			case <-b.entered:
			case <-time.After(20 * time.Second):
				t.Fatal("the worker never picked the message")
			}
			sctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			defer cancel()
			if err := q.Stop(sctx); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Stop = %v, want a deadline error", err)
			}
			good := newTestBackend()
			q2 := mustNew(t, fastConfig(db, good))
			if err := q2.Start(ctx); err != nil {
				t.Fatal(err)
			}
			wctx, cancel2 := context.WithTimeout(ctx, 30*time.Second)
			defer cancel2()
			if err := good.box.Wait(wctx, 1); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// Several workers (separate River clients, as in separate processes) share
// the queue without double sends.
func TestSeveralWorkersNoDoubleSend(t *testing.T) {
	t.Parallel()
	for _, d := range databases(t) {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			db := d.open(t)
			n := volume(300)
			backends := []*testBackend{newTestBackend(), newTestBackend(), newTestBackend()}
			var queues []*queue.Queue
			for _, b := range backends {
				queues = append(queues, mustNew(t, fastConfig(db, b)))
			}
			enqueueNumbered(t, queues[0], "shared", n)
			ctx := context.Background()
			for _, q := range queues {
				if err := q.Start(ctx); err != nil {
					t.Fatal(err)
				}
			}
			waitFor(t, 60*time.Second, "all sent", func() (bool, error) {
				s, err := queues[0].Stats(ctx)
				return s.Sent == int64(n), err
			})
			seen := map[string]int{}
			for i, b := range backends {
				out := b.box.Outbox()
				t.Logf("worker %d sent %d", i, len(out))
				for _, m := range out {
					seen[m.Subject]++
				}
			}
			if len(seen) != n {
				t.Fatalf("%d distinct messages sent, want %d", len(seen), n)
			}
			for s, c := range seen {
				if c != 1 {
					t.Errorf("%q sent %d times", s, c)
				}
			}
		})
	}
}

// A delivery the worker could not record is not sent again by that worker:
// the retry only records it.
func TestDeliveryNotResentWhenRecordingFails(t *testing.T) {
	t.Parallel()
	for _, d := range databases(t) {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			db := d.open(t)
			ctx := context.Background()
			// A trigger refuses to mark jobs completed while the flag is set.
			var stmts []string
			if d.name == "sqlite" {
				stmts = []string{
					"CREATE TABLE fail_flag (on_ INTEGER NOT NULL)",
					"INSERT INTO fail_flag VALUES (1)",
					`CREATE TRIGGER fail_complete BEFORE UPDATE ON river_job
					 WHEN NEW.state = 'completed' AND (SELECT on_ FROM fail_flag) = 1
					 BEGIN SELECT RAISE(ABORT, 'injected: cannot record'); END`,
				}
			} else {
				stmts = []string{
					"CREATE TABLE fail_flag (on_ INTEGER NOT NULL)",
					"INSERT INTO fail_flag VALUES (1)",
					`CREATE FUNCTION fail_complete() RETURNS trigger AS $$
					 BEGIN
					   IF NEW.state = 'completed' AND (SELECT on_ FROM fail_flag) = 1 THEN
					     RAISE EXCEPTION 'injected: cannot record';
					   END IF;
					   RETURN NEW;
					 END $$ LANGUAGE plpgsql`,
					`CREATE TRIGGER fail_complete BEFORE UPDATE ON river_job FOR EACH ROW EXECUTE FUNCTION fail_complete()`,
				}
			}
			for _, s := range stmts {
				if _, err := db.ExecContext(ctx, s); err != nil {
					t.Fatal(err)
				}
			}
			b := newTestBackend()
			cfg := fastConfig(db, b)
			cfg.MaxAttempts = 10
			cfg.RetryBackoff = 200 * time.Millisecond
			q := mustNew(t, cfg)
			id, err := q.Enqueue(ctx, msgTo("once", "a@example.com"))
			if err != nil {
				t.Fatal(err)
			}
			if err := q.Start(ctx); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 30*time.Second, "a failed attempt to record", func() (bool, error) {
				s, err := q.Stats(ctx)
				return s.Retrying > 0 || b.calls.Load() > 0 && s.Pending > 0, err
			})
			if _, err := db.ExecContext(ctx, "UPDATE fail_flag SET on_ = 0"); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 30*time.Second, "the delivery to be recorded", func() (bool, error) {
				s, err := q.Stats(ctx)
				return s.Sent == 1, err
			})
			if c := b.calls.Load(); c != 1 {
				t.Fatalf("backend called %d times for message %d, want 1", c, id)
			}
			var errs string
			if err := db.NewSelect().TableExpr("river_job").ColumnExpr("CAST(errors AS TEXT)").Where("id = ?", id).Scan(ctx, &errs); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(errs, "could not record delivery") || !strings.Contains(errs, "injected") {
				t.Fatalf("job errors = %s, want the failed recording", errs)
			}
		})
	}
}
