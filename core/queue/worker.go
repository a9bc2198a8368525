package queue

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"manouche/core/mail"
)

// emailWorker delivers one queued message per job.
type emailWorker struct {
	river.WorkerDefaults[emailArgs]
	q *Queue
}

// Work sends the message, then marks the job completed in its own
// transaction at once (not in River's asynchronous batch), so a retry never
// follows a successful hand-off. If recording fails, the job ID is kept in
// memory and the retry only records the delivery.
func (w *emailWorker) Work(ctx context.Context, job *river.Job[emailArgs]) error {
	q := w.q
	q.inHand.Add(1)
	defer q.inHand.Add(-1)
	msg := job.Args.Message
	if msg == nil {
		return river.JobCancel(errors.New("queue: job has no message"))
	}
	if err := msg.Validate(); err != nil {
		// It will never be sent: keep it as failed at once.
		return river.JobCancel(err)
	}
	if q.obs != nil {
		var done func(error)
		ctx, done = q.obs.deliver(ctx, job)
		err := w.work(ctx, job, msg)
		done(err)
		return err
	}
	return w.work(ctx, job, msg)
}

func (w *emailWorker) work(ctx context.Context, job *river.Job[emailArgs], msg *mail.Message) error {
	q := w.q
	log := q.log.With("email_id", job.ID, "attempt", job.Attempt, "subject", msg.Subject)
	if !q.wasDelivered(job.ID) {
		if err := q.cfg.Backend.Send(ctx, msg); err != nil {
			switch {
			case errors.Is(err, context.Canceled) && ctx.Err() != nil:
				// Stop cancelled it (SIGTERM past the grace): River puts
				// the message back without counting the attempt.
				log.InfoContext(ctx, "email delivery interrupted by the worker's stop; back in the queue")
			case job.Attempt >= job.MaxAttempts:
				log.ErrorContext(ctx, "email failed: no attempts left; kept as failed", "error", err)
			default:
				log.WarnContext(ctx, "email delivery failed; will retry", "error", err)
			}
			return err
		}
		q.markDelivered(job.ID)
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	if err := q.recordDelivery(cctx, job); err != nil {
		log.ErrorContext(ctx, "email sent but not recorded; this worker will not send it again", "error", err)
		return fmt.Errorf("queue: sent but could not record delivery: %w", err)
	}
	q.forgetDelivered(job.ID)
	log.DebugContext(ctx, "email sent")
	return nil
}

// Timeout bounds one attempt.
func (w *emailWorker) Timeout(*river.Job[emailArgs]) time.Duration { return w.q.cfg.JobTimeout }

func (q *Queue) recordDelivery(ctx context.Context, job *river.Job[emailArgs]) error {
	tx, err := q.riverDB.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := q.completeTx(ctx, tx, job); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

func (q *Queue) wasDelivered(id int64) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	_, ok := q.delivered[id]
	return ok
}

func (q *Queue) markDelivered(id int64) {
	q.mu.Lock()
	q.delivered[id] = struct{}{}
	q.mu.Unlock()
}

func (q *Queue) forgetDelivered(id int64) {
	q.mu.Lock()
	delete(q.delivered, id)
	q.mu.Unlock()
}
