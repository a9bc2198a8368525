package queue_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"manouche/core/mail"
	"manouche/core/mail/smtptest"
	"manouche/core/queue"
)

func TestEnqueueBadInput(t *testing.T) {
	t.Parallel()
	db := databases(t)[0].open(t)
	q := mustNew(t, fastConfig(db, mail.NewMemory()))
	noFrom := mustNew(t, queue.Config{DB: db})
	ctx := context.Background()
	tests := []struct {
		name string
		q    *queue.Queue
		msg  *mail.Message
		want string
	}{
		{"no recipient", q, &mail.Message{Subject: "x"}, "no recipient"},
		{"invalid address", q, msgTo("x", "not an address"), `to address "not an address"`},
		{"nil message", q, nil, "nil message"},
		{"no sender configured", noFrom, msgTo("x", "a@example.com"), "DEFAULT_FROM_EMAIL"},
	}
	for _, tt := range tests {
		_, err := tt.q.Enqueue(ctx, tt.msg)
		if !errors.Is(err, mail.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Enqueue = %v, want ErrInvalid containing %q", tt.name, err, tt.want)
		}
	}
	_, err := q.EnqueueMany(ctx, []*mail.Message{msgTo("ok", "a@example.com"), msgTo("bad", "@")})
	if !errors.Is(err, mail.ErrInvalid) || !strings.Contains(err.Error(), "message 2 of 2") {
		t.Errorf("EnqueueMany = %v", err)
	}
	if s, err := q.Stats(ctx); err != nil || s != (queue.Stats{}) {
		t.Fatalf("bad input queued something: %+v, %v", s, err)
	}
	if _, err := queue.New(ctx, queue.Config{}); err == nil {
		t.Error("New without DB: no error")
	}
	if err := noFrom.Start(ctx); err == nil || !strings.Contains(err.Error(), "no mail backend") {
		t.Errorf("Start without backend = %v", err)
	}
}

// closedPort returns a localhost port nothing listens on.
func closedPort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	return port
}

// SMTP servers that refuse, time out or are down lead to retries, then to a
// failed message keeping its last error; the worker keeps going, and a
// retried message is delivered once the server is back.
func TestSMTPFailuresEndInFailedMessages(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		mode smtptest.Mode
		down bool
		want string
	}{
		{"refuses 5xx", smtptest.Reject5xx, false, "mailbox unavailable"},
		{"refuses 4xx", smtptest.Reject4xx, false, "try again later"},
		{"times out", smtptest.Silent, false, "greeting"},
		{"is down", 0, true, "connect"},
	}
	for _, d := range databases(t) {
		for _, c := range cases {
			t.Run(d.name+"/"+c.name, func(t *testing.T) {
				t.Parallel()
				db := d.open(t)
				srv := smtptest.NewServer(t, c.mode)
				port := srv.Port()
				if c.down {
					port = closedPort(t)
				}
				backend, err := mail.NewSMTP(mail.SMTPConfig{Host: "127.0.0.1", Port: port, Security: mail.SecurityNone, Timeout: 300 * time.Millisecond})
				if err != nil {
					t.Fatal(err)
				}
				defer backend.Close()
				q := mustNew(t, fastConfig(db, backend))
				ctx := context.Background()
				subject := unique("failing")
				id, err := q.Enqueue(ctx, msgTo(subject, "ann@example.com"))
				if err != nil {
					t.Fatal(err)
				}
				if err := q.Start(ctx); err != nil {
					t.Fatal(err)
				}
				waitFor(t, 30*time.Second, "the message to fail", func() (bool, error) {
					s, err := q.Stats(ctx)
					return s.Failed == 1, err
				})
				failed, err := q.Failed(ctx, 10)
				if err != nil {
					t.Fatal(err)
				}
				if len(failed) != 1 {
					t.Fatalf("Failed = %+v", failed)
				}
				f := failed[0]
				if f.ID != id || f.Attempts != 3 || !strings.Contains(f.LastError, c.want) ||
					f.Message == nil || f.Message.Subject != "[T] "+subject || f.FailedAt.IsZero() {
					t.Fatalf("failed message = %+v (error %q), want id %d, 3 attempts, error containing %q", f, f.LastError, id, c.want)
				}
				if c.down {
					return
				}
				// The server recovers: the worker is still alive, a retried
				// message and a new one are both delivered.
				srv.SetMode(smtptest.Accept)
				if err := q.Retry(ctx, id); err != nil {
					t.Fatal(err)
				}
				if _, err := q.Enqueue(ctx, msgTo(subject+" later", "bob@example.com")); err != nil {
					t.Fatal(err)
				}
				waitFor(t, 30*time.Second, "delivery after recovery", func() (bool, error) {
					s, err := q.Stats(ctx)
					return s.Sent == 2 && s.Failed == 0, err
				})
				if n := len(srv.Messages()); n != 2 {
					t.Fatalf("server got %d messages, want 2", n)
				}
			})
		}
	}
}

func TestRetryDiscardAPI(t *testing.T) {
	t.Parallel()
	for _, d := range databases(t) {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			db := d.open(t)
			b := newTestBackend()
			b.setFail(errors.New("boom: server unhappy"))
			cfg := fastConfig(db, b)
			cfg.MaxAttempts = 2
			q := mustNew(t, cfg)
			ctx := context.Background()
			var ids []int64
			for i := range 4 {
				id, err := q.Enqueue(ctx, msgTo(unique("api"), "a@example.com"))
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, id)
				_ = i
			}
			// A pending message can be neither retried nor discarded.
			if err := q.Retry(ctx, ids[0]); !errors.Is(err, queue.ErrNotFailed) || !strings.Contains(err.Error(), "pending") {
				t.Fatalf("Retry(pending) = %v", err)
			}
			if err := q.Discard(ctx, ids[0]); !errors.Is(err, queue.ErrNotFailed) {
				t.Fatalf("Discard(pending) = %v", err)
			}
			if err := q.Retry(ctx, 999999); !errors.Is(err, queue.ErrNotFound) {
				t.Fatalf("Retry(unknown) = %v", err)
			}
			if err := q.Discard(ctx, 999999); !errors.Is(err, queue.ErrNotFound) {
				t.Fatalf("Discard(unknown) = %v", err)
			}
			if err := q.Start(ctx); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 30*time.Second, "4 failures", func() (bool, error) {
				s, err := q.Stats(ctx)
				return s.Failed == 4, err
			})
			failed, err := q.Failed(ctx, 0)
			if err != nil || len(failed) != 4 || failed[0].ID != ids[3] || failed[0].LastError != "boom: server unhappy" || failed[0].Attempts != 2 {
				t.Fatalf("Failed = %+v, %v", failed, err)
			}
			if got, _ := q.Failed(ctx, 2); len(got) != 2 {
				t.Fatalf("Failed(limit 2) = %d", len(got))
			}
			if err := q.Discard(ctx, ids[0]); err != nil {
				t.Fatal(err)
			}
			if err := q.Discard(ctx, ids[0]); !errors.Is(err, queue.ErrNotFound) {
				t.Fatalf("second Discard = %v", err)
			}
			b.setFail(nil)
			if err := q.Retry(ctx, ids[1]); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 30*time.Second, "retried delivery", func() (bool, error) {
				s, err := q.Stats(ctx)
				return s.Sent == 1 && s.Failed == 2, err
			})
			// A sent message is never sent again by Retry.
			if err := q.Retry(ctx, ids[1]); !errors.Is(err, queue.ErrNotFailed) || !strings.Contains(err.Error(), "already sent") {
				t.Fatalf("Retry(sent) = %v", err)
			}
			n, err := q.DiscardAll(ctx)
			if err != nil || n != 2 {
				t.Fatalf("DiscardAll = %d, %v, want 2", n, err)
			}
			b.setFail(errors.New("again"))
			if _, err := q.Enqueue(ctx, msgTo("x", "a@example.com")); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 30*time.Second, "a failure", func() (bool, error) {
				s, err := q.Stats(ctx)
				return s.Failed == 1, err
			})
			b.setFail(nil)
			if n, err := q.RetryAll(ctx); err != nil || n != 1 {
				t.Fatalf("RetryAll = %d, %v", n, err)
			}
			waitFor(t, 30*time.Second, "delivery", func() (bool, error) {
				s, err := q.Stats(ctx)
				return s.Sent == 2 && s.Failed == 0 && s.Pending == 0, err
			})
		})
	}
}
