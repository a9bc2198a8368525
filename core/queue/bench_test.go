package queue_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"manouche/core/mail"
	"manouche/core/queue"
)

// benchMessage is a typical transactional email: ~1 KB text, ~2 KB HTML.
func benchMessage(i int) *mail.Message {
	return &mail.Message{
		To:      []string{fmt.Sprintf("user%d@example.com", i)},
		Subject: fmt.Sprintf("Your order #%d has shipped", i),
		Text:    strings.Repeat("Your order is on its way. ", 40),
		HTML:    "<p>" + strings.Repeat("Your order is <b>on its way</b>. ", 60) + "</p>",
	}
}

func benchQueue(b *testing.B, db *bun.DB, backend mail.Backend, workers int) *queue.Queue {
	cfg := fastConfig(db, backend)
	cfg.Workers = workers
	cfg.MaxAttempts = 3
	return mustNew(b, cfg)
}

// smallMessage is a short text-only email (a password reset link).
func smallMessage(i int) *mail.Message {
	return &mail.Message{
		To:      []string{fmt.Sprintf("user%d@example.com", i)},
		Subject: "Reset your password",
		Text:    "Follow this link to choose a new password: https://example.com/reset/0123456789abcdef0123456789abcdef",
	}
}

// BenchmarkEnqueueBatch10k enqueues 10,000 messages in one transaction with
// one batch insert (EnqueueManyTx); one op = 10,000 messages. "typical" is a
// ~3 KB text+HTML message, "small" a ~300-byte text-only one.
func BenchmarkEnqueueBatch10k(b *testing.B) {
	for _, d := range databases(b) {
		for _, size := range []string{"typical", "small"} {
			b.Run(d.name+"/"+size, func(b *testing.B) {
				db := d.open(b)
				q := benchQueue(b, db, mail.NewMemory(), 1)
				ctx := context.Background()
				msgs := make([]*mail.Message, 10000)
				for i := range msgs {
					if size == "small" {
						msgs[i] = smallMessage(i)
					} else {
						msgs[i] = benchMessage(i)
					}
				}
				b.ResetTimer()
				for b.Loop() {
					err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
						_, err := q.EnqueueManyTx(ctx, tx, msgs)
						return err
					})
					if err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(10000*b.N)/b.Elapsed().Seconds(), "msgs/s")
			})
		}
	}
}

// BenchmarkEnqueueOneTxEach is the per-message cost when each message is
// enqueued in its own transaction (Enqueue); one op = one message.
func BenchmarkEnqueueOneTxEach(b *testing.B) {
	for _, d := range databases(b) {
		b.Run(d.name, func(b *testing.B) {
			db := d.open(b)
			q := benchQueue(b, db, mail.NewMemory(), 1)
			ctx := context.Background()
			msg := benchMessage(1)
			for b.Loop() {
				if _, err := q.Enqueue(ctx, msg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEnqueueTxInCallerTx is the per-message cost of EnqueueTx inside
// a caller's transaction that holds 100 of them; one op = one message.
func BenchmarkEnqueueTxInCallerTx(b *testing.B) {
	for _, d := range databases(b) {
		b.Run(d.name, func(b *testing.B) {
			db := d.open(b)
			q := benchQueue(b, db, mail.NewMemory(), 1)
			ctx := context.Background()
			msg := benchMessage(1)
			n := 0
			var tx bun.Tx
			var err error
			for b.Loop() {
				if n%100 == 0 {
					if n > 0 {
						if err := tx.Commit(); err != nil {
							b.Fatal(err)
						}
					}
					if tx, err = db.BeginTx(ctx, nil); err != nil {
						b.Fatal(err)
					}
				}
				if _, err := q.EnqueueTx(ctx, tx, msg); err != nil {
					b.Fatal(err)
				}
				n++
			}
			if err := tx.Commit(); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// countingBackend counts deliveries and says when want were made.
type countingBackend struct {
	mail.Backend
	n    atomic.Int64
	want int64
	done chan struct{}
}

func (c *countingBackend) Send(ctx context.Context, m *mail.Message) error {
	if err := c.Backend.Send(ctx, m); err != nil {
		return err
	}
	if c.n.Add(1) == c.want {
		close(c.done)
	}
	return nil
}

// BenchmarkDeliverMailpit measures one worker process delivering to the
// local mailpit: b.N messages are queued first, then the clock runs from
// Start until the last one is accepted by mailpit and all are recorded as
// sent. Run with -benchtime=2000x.
func BenchmarkDeliverMailpit(b *testing.B) {
	for _, workers := range []int{10, 25} {
		for _, d := range databases(b) {
			b.Run(fmt.Sprintf("%s/workers=%d", d.name, workers), func(b *testing.B) {
				db := d.open(b)
				backend := &countingBackend{Backend: mailpitBackend(b, workers), want: int64(b.N), done: make(chan struct{})}
				q := benchQueue(b, db, backend, workers)
				ctx := context.Background()
				msgs := make([]*mail.Message, b.N)
				for i := range msgs {
					msgs[i] = benchMessage(i)
				}
				if _, err := q.EnqueueMany(ctx, msgs); err != nil {
					b.Fatal(err)
				}
				b.ResetTimer()
				start := time.Now()
				if err := q.Start(ctx); err != nil {
					b.Fatal(err)
				}
				select {
				case <-backend.done:
				case <-time.After(5 * time.Minute):
					b.Fatalf("only %d of %d delivered", backend.n.Load(), b.N)
				}
				for {
					s, err := q.Stats(ctx)
					if err != nil {
						b.Fatal(err)
					}
					if s.Sent == int64(b.N) {
						break
					}
					time.Sleep(5 * time.Millisecond)
				}
				b.StopTimer()
				b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
			})
		}
	}
}

// BenchmarkSMTPDirectMailpit is the ceiling the queue works under: the SMTP
// backend alone sending to mailpit from as many goroutines as the pool holds.
func BenchmarkSMTPDirectMailpit(b *testing.B) {
	for _, pool := range []int{1, 10, 25} {
		b.Run(fmt.Sprintf("pool=%d", pool), func(b *testing.B) {
			backend := mailpitBackend(b, pool)
			m := mail.Mailer{Backend: backend, Defaults: mail.Defaults{From: "noreply@example.com"}}
			ctx := context.Background()
			b.SetParallelism(max(1, pool/2)) // GOMAXPROCS=2 → pool goroutines
			var i atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := m.Send(ctx, benchMessage(int(i.Add(1)))); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}
