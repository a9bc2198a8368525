package queue_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"manouche/core/mail"
	"manouche/core/queue"
)

func msgTo(subject string, to ...string) *mail.Message {
	return &mail.Message{To: to, Subject: subject, Text: "body of " + subject}
}

func fastConfig(db *bun.DB, b mail.Backend) queue.Config {
	return queue.Config{
		DB: db, Backend: b,
		Defaults:     mail.Defaults{From: "Site <noreply@example.com>", SubjectPrefix: "[T] "},
		MaxAttempts:  3,
		Workers:      4,
		RetryBackoff: 50 * time.Millisecond,
		PollInterval: 50 * time.Millisecond,
		Logger:       testLogger(),
	}
}

func TestEnqueueAndDeliver(t *testing.T) {
	t.Parallel()
	for _, d := range databases(t) {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			db := d.open(t)
			box := mail.NewMemory()
			q := mustNew(t, fastConfig(db, box))
			ctx := context.Background()

			id, err := q.Enqueue(ctx, msgTo("hello", "ann@example.com"))
			if err != nil {
				t.Fatal(err)
			}
			if id <= 0 {
				t.Fatalf("id = %d", id)
			}
			if err := q.Start(ctx); err != nil {
				t.Fatal(err)
			}
			wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			defer cancel()
			if err := box.Wait(wctx, 1); err != nil {
				t.Fatal(err)
			}
			got := box.Outbox()[0]
			if got.Subject != "[T] hello" || got.From != "Site <noreply@example.com>" || got.Headers["Message-Id"] == "" {
				t.Fatalf("delivered %+v", got)
			}
			waitFor(t, 10*time.Second, "sent count", func() (bool, error) {
				s, err := q.Stats(ctx)
				return s.Sent == 1 && s.Pending == 0, err
			})
		})
	}
}

func TestRolledBackTransactionQueuesNothing(t *testing.T) {
	t.Parallel()
	for _, d := range databases(t) {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			db := d.open(t)
			q := mustNew(t, fastConfig(db, mail.NewMemory()))
			ctx := context.Background()
			boom := errors.New("boom")
			err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
				if _, err := q.EnqueueTx(ctx, tx, msgTo("rolled back", "a@example.com")); err != nil {
					return err
				}
				if _, err := q.EnqueueManyTx(ctx, tx, []*mail.Message{msgTo("b1", "b@example.com"), msgTo("b2", "b@example.com")}); err != nil {
					return err
				}
				return boom
			})
			if !errors.Is(err, boom) {
				t.Fatalf("err = %v", err)
			}
			s, err := q.Stats(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if s != (queue.Stats{}) {
				t.Fatalf("stats after rollback = %+v", s)
			}
			// And a committed one is queued.
			err = db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
				_, err := q.EnqueueTx(ctx, tx, msgTo("committed", "a@example.com"))
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if s, err = q.Stats(ctx); err != nil || s.Pending != 1 {
				t.Fatalf("stats after commit = %+v, %v", s, err)
			}
		})
	}
}

// Batch-enqueued messages get the same defaults, ID header and attempt
// budget as single ones.
func TestEnqueueManyBehavesLikeEnqueue(t *testing.T) {
	t.Parallel()
	for _, d := range databases(t) {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			db := d.open(t)
			b := newTestBackend()
			b.setFail(errors.New("nope"))
			cfg := fastConfig(db, b)
			cfg.MaxAttempts = 2
			q := mustNew(t, cfg)
			ctx := context.Background()
			m1, m2 := msgTo("m1", "a@example.com"), msgTo("m2", "b@example.com")
			const html = `<p class="x">Tom & Jerry <b>é</b> \u003c</p>`
			m1.HTML = html
			n, err := q.EnqueueMany(ctx, []*mail.Message{m1, m2})
			if err != nil || n != 2 {
				t.Fatalf("EnqueueMany = %d, %v", n, err)
			}
			if n, err := q.EnqueueMany(ctx, nil); err != nil || n != 0 {
				t.Fatalf("EnqueueMany(nil) = %d, %v", n, err)
			}
			if err := q.Start(ctx); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 30*time.Second, "2 failures", func() (bool, error) {
				s, err := q.Stats(ctx)
				return s.Failed == 2, err
			})
			failed, err := q.Failed(ctx, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range failed {
				if f.Attempts != 2 || f.LastError != "nope" || f.Message.From != "Site <noreply@example.com>" ||
					!strings.HasPrefix(f.Message.Subject, "[T] m") || f.Message.Headers["Message-Id"] == "" {
					t.Fatalf("failed = %+v", f)
				}
			}
			b.setFail(nil)
			if _, err := q.RetryAll(ctx); err != nil {
				t.Fatal(err)
			}
			wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			if err := b.box.Wait(wctx, 2); err != nil {
				t.Fatal(err)
			}
			for _, m := range b.box.Outbox() {
				if m.Subject == "[T] m1" && m.HTML != html {
					t.Fatalf("HTML changed on the way: %q", m.HTML)
				}
			}
		})
	}
}
