package queue_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"manouche/core/mail"
	"manouche/core/queue"
	"manouche/core/testkit/testdb"
)

// run executes the queue commands with args and returns their output.
func run(t *testing.T, open queue.OpenFunc, args ...string) (string, error) {
	t.Helper()
	root := &cobra.Command{Use: "manage", SilenceErrors: true}
	root.AddCommand(queue.Commands(open)...)
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

func TestCommands(t *testing.T) {
	t.Parallel()
	for _, d := range databases(t) {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			db := d.open(t)
			b := newTestBackend()
			cfg := fastConfig(db, b)
			cfg.MaxAttempts = 1
			open := func(ctx context.Context) (*queue.Queue, error) { return queue.New(ctx, cfg) }
			ctx := context.Background()

			out, err := run(t, open, "sendtestemail", "ann@example.com", "bob@example.com")
			if err != nil || !strings.Contains(out, "Queued test email #") || !strings.Contains(out, "ann@example.com, bob@example.com") {
				t.Fatalf("sendtestemail: %q, %v", out, err)
			}
			out, err = run(t, open, "sendtestemail", "--now", "carl@example.com")
			if err != nil || !strings.Contains(out, "Sent a test email to carl@example.com") {
				t.Fatalf("sendtestemail --now: %q, %v", out, err)
			}
			sent := b.box.Outbox()
			if len(sent) != 1 || !strings.HasPrefix(sent[0].Subject, "[T] Test email from ") || sent[0].To[0] != "carl@example.com" {
				t.Fatalf("--now sent %+v", sent)
			}
			if _, err := run(t, open, "sendtestemail"); err == nil {
				t.Fatal("sendtestemail without address: no error")
			}
			if out, err := run(t, open, "sendtestemail", "not-an-address"); err == nil || !strings.Contains(err.Error(), "not-an-address") {
				t.Fatalf("sendtestemail bad address: %q, %v", out, err)
			}

			out, err = run(t, open, "mailqueue")
			if err != nil || !regexpMatch(out, `pending\s+1`) || !regexpMatch(out, `failed\s+0`) {
				t.Fatalf("mailqueue: %q, %v", out, err)
			}

			// Make the queued message fail.
			b.setFail(errors.New("550 no such user"))
			q, err := open(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer q.Close()
			if err := q.Start(ctx); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 30*time.Second, "failure", func() (bool, error) {
				s, err := q.Stats(ctx)
				return s.Failed == 1, err
			})
			failed, _ := q.Failed(ctx, 1)
			id := failed[0].ID
			idStr := itoa(id)

			out, err = run(t, open, "mailqueue", "failed")
			if err != nil || !strings.Contains(out, "550 no such user") || !strings.Contains(out, "ann@example.com") || !strings.Contains(out, idStr) {
				t.Fatalf("mailqueue failed: %q, %v", out, err)
			}
			for _, bad := range [][]string{
				{"mailqueue", "retry"},
				{"mailqueue", "retry", "abc"},
				{"mailqueue", "retry", "1", "--all"},
				{"mailqueue", "discard", "-5"},
				{"mailqueue", "retry", "987654"},
				{"mailqueue", "bogus"},
			} {
				if out, err := run(t, open, bad...); err == nil {
					t.Errorf("%v: no error; output %q", bad, out)
				}
			}
			b.setFail(nil)
			out, err = run(t, open, "mailqueue", "retry", idStr)
			if err != nil || !strings.Contains(out, "Queued email #"+idStr+" again") {
				t.Fatalf("retry: %q, %v", out, err)
			}
			waitFor(t, 30*time.Second, "retried delivery", func() (bool, error) {
				s, err := q.Stats(ctx)
				return s.Sent == 1, err
			})
			if _, err := run(t, open, "mailqueue", "retry", idStr); !errors.Is(err, queue.ErrNotFailed) {
				t.Fatalf("retry of a sent email = %v", err)
			}
			b.setFail(errors.New("451 later"))
			for range 2 {
				if _, err := q.Enqueue(ctx, msgTo("x", "a@example.com")); err != nil {
					t.Fatal(err)
				}
			}
			waitFor(t, 30*time.Second, "failures", func() (bool, error) {
				s, err := q.Stats(ctx)
				return s.Failed == 2, err
			})
			failed, _ = q.Failed(ctx, 1)
			out, err = run(t, open, "mailqueue", "discard", itoa(failed[0].ID))
			if err != nil || !strings.Contains(out, "Discarded email #") {
				t.Fatalf("discard: %q, %v", out, err)
			}
			out, err = run(t, open, "mailqueue", "discard", "--all")
			if err != nil || !strings.Contains(out, "Discarded 1 failed email(s).") {
				t.Fatalf("discard --all: %q, %v", out, err)
			}
			out, err = run(t, open, "mailqueue", "failed")
			if err != nil || !strings.Contains(out, "No failed emails.") {
				t.Fatalf("failed when empty: %q, %v", out, err)
			}
			out, err = run(t, open, "mailqueue", "retry", "--all")
			if err != nil || !strings.Contains(out, "Queued 0 failed email(s) again.") {
				t.Fatalf("retry --all: %q, %v", out, err)
			}
		})
	}
}

func TestCommandsReportOpenErrors(t *testing.T) {
	t.Parallel()
	boom := errors.New("settings: DATABASE_URL is not set")
	open := func(context.Context) (*queue.Queue, error) { return nil, boom }
	for _, args := range [][]string{{"mailqueue"}, {"worker"}, {"sendtestemail", "a@example.com"}, {"mailqueue", "failed"}} {
		if _, err := run(t, open, args...); !errors.Is(err, boom) {
			t.Errorf("%v: %v", args, err)
		}
	}
}

// A database without the queue's tables gives an error that says what to do.
func TestMissingTables(t *testing.T) {
	t.Parallel()
	db := testdb.Open(t, testdb.URL(t, testdb.SQLite))
	q := mustNew(t, queue.Config{DB: db, Backend: mail.NewMemory()})
	ctx := context.Background()
	if err := q.Ping(ctx); err == nil || !strings.Contains(err.Error(), "migrate") {
		t.Fatalf("Ping = %v", err)
	}
	if _, err := q.Stats(ctx); err == nil || !strings.Contains(err.Error(), "run `migrate`") {
		t.Fatalf("Stats = %v", err)
	}
	if err := q.Start(ctx); err == nil || !strings.Contains(err.Error(), "migrate") {
		t.Fatalf("Start = %v", err)
	}
	out, err := run(t, func(context.Context) (*queue.Queue, error) { return queue.New(ctx, queue.Config{DB: db}) }, "mailqueue")
	if err == nil || !strings.Contains(err.Error(), "migrate") {
		t.Fatalf("mailqueue = %q, %v", out, err)
	}
}
