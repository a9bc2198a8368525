package queue

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/uptrace/bun"

	"manouche/core/mail"
)

// Stats counts the queue's messages by state.
type Stats struct {
	// Pending messages wait for a worker (including ones scheduled later).
	Pending int64 `json:"pending"`
	// Retrying messages failed at least once and wait for their next attempt.
	Retrying int64 `json:"retrying"`
	// Sending messages are in a worker's hands now.
	Sending int64 `json:"sending"`
	// Sent messages were accepted by the server (kept for Config.SentRetention).
	Sent int64 `json:"sent"`
	// Failed messages used all their attempts (or could never be sent).
	Failed int64 `json:"failed"`
}

// FailedMessage is a message that will not be sent unless retried.
type FailedMessage struct {
	ID        int64         `json:"id"`
	Message   *mail.Message `json:"message"`
	Attempts  int           `json:"attempts"`
	LastError string        `json:"last_error"`
	CreatedAt time.Time     `json:"created_at"`
	FailedAt  time.Time     `json:"failed_at"`
}

var failedStates = []rivertype.JobState{rivertype.JobStateDiscarded, rivertype.JobStateCancelled}

func isFailed(s rivertype.JobState) bool {
	return s == rivertype.JobStateDiscarded || s == rivertype.JobStateCancelled
}

// Stats counts messages by state.
func (q *Queue) Stats(ctx context.Context) (Stats, error) {
	var rows []struct {
		State string `bun:"state"`
		N     int64  `bun:"n"`
	}
	err := q.db.NewSelect().TableExpr("river_job").
		ColumnExpr("state").ColumnExpr("count(*) AS n").
		Where("kind = ?", Kind).GroupExpr("state").Scan(ctx, &rows)
	if err != nil {
		return Stats{}, q.wrap("stats", err)
	}
	var s Stats
	for _, r := range rows {
		switch rivertype.JobState(r.State) {
		case rivertype.JobStateAvailable, rivertype.JobStateScheduled, rivertype.JobStatePending:
			s.Pending += r.N
		case rivertype.JobStateRetryable:
			s.Retrying += r.N
		case rivertype.JobStateRunning:
			s.Sending += r.N
		case rivertype.JobStateCompleted:
			s.Sent += r.N
		case rivertype.JobStateDiscarded, rivertype.JobStateCancelled:
			s.Failed += r.N
		}
	}
	return s, nil
}

// Failed lists up to limit failed messages (0 means 100), newest first, each
// with its last error.
func (q *Queue) Failed(ctx context.Context, limit int) ([]FailedMessage, error) {
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 10000)
	res, err := q.client.JobList(ctx, river.NewJobListParams().
		Kinds(Kind).States(failedStates...).
		OrderBy(river.JobListOrderByID, river.SortOrderDesc).First(limit))
	if err != nil {
		return nil, q.wrap("list failed", err)
	}
	out := make([]FailedMessage, 0, len(res.Jobs))
	for _, j := range res.Jobs {
		f := FailedMessage{ID: j.ID, Attempts: j.Attempt, CreatedAt: j.CreatedAt}
		if j.FinalizedAt != nil {
			f.FailedAt = *j.FinalizedAt
		}
		if n := len(j.Errors); n > 0 {
			f.LastError = j.Errors[n-1].Error
		}
		var args emailArgs
		if err := decodeArgs(j.EncodedArgs, &args); err != nil {
			f.LastError = fmt.Sprintf("%s (stored message unreadable: %v)", f.LastError, err)
		}
		f.Message = args.Message
		out = append(out, f)
	}
	return out, nil
}

// Retry puts the failed message id back in the queue with a fresh set of
// attempts. It returns ErrNotFound or ErrNotFailed (a pending or sent
// message is never sent again by Retry).
func (q *Queue) Retry(ctx context.Context, id int64) error {
	return q.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if err := q.checkFailed(ctx, tx.Tx, id); err != nil {
			return err
		}
		return q.retryTx(ctx, tx, id)
	})
}

func (q *Queue) retryTx(ctx context.Context, tx bun.Tx, id int64) error {
	if _, err := q.client.JobRetryTx(ctx, tx.Tx, id); err != nil {
		return q.wrap(fmt.Sprintf("retry %d", id), err)
	}
	if _, err := tx.NewUpdate().TableExpr("river_job").
		Set("max_attempts = attempt + ?", q.cfg.MaxAttempts).
		Where("id = ?", id).Exec(ctx); err != nil {
		return q.wrap(fmt.Sprintf("retry %d", id), err)
	}
	return nil
}

// RetryAll puts every failed message back in the queue; it returns how many.
func (q *Queue) RetryAll(ctx context.Context) (int, error) {
	var n int
	err := q.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		ids, err := q.failedIDs(ctx, tx)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if err := q.retryTx(ctx, tx, id); err != nil {
				return err
			}
		}
		n = len(ids)
		return nil
	})
	return n, err
}

// Discard deletes the failed message id. It returns ErrNotFound or
// ErrNotFailed (pending messages cannot be discarded).
func (q *Queue) Discard(ctx context.Context, id int64) error {
	return q.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if err := q.checkFailed(ctx, tx.Tx, id); err != nil {
			return err
		}
		if _, err := q.client.JobDeleteTx(ctx, tx.Tx, id); err != nil {
			return q.wrap(fmt.Sprintf("discard %d", id), err)
		}
		return nil
	})
}

// DiscardAll deletes every failed message; it returns how many.
func (q *Queue) DiscardAll(ctx context.Context) (int, error) {
	states := make([]string, len(failedStates))
	for i, s := range failedStates {
		states[i] = string(s)
	}
	res, err := q.db.NewDelete().TableExpr("river_job").
		Where("kind = ?", Kind).Where("state IN (?)", bun.List(states)).Exec(ctx)
	if err != nil {
		return 0, q.wrap("discard all", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, q.wrap("discard all", err)
	}
	return int(n), nil
}

func (q *Queue) failedIDs(ctx context.Context, tx bun.Tx) ([]int64, error) {
	states := make([]string, len(failedStates))
	for i, s := range failedStates {
		states[i] = string(s)
	}
	var ids []int64
	err := tx.NewSelect().TableExpr("river_job").Column("id").
		Where("kind = ?", Kind).Where("state IN (?)", bun.List(states)).
		OrderExpr("id").Scan(ctx, &ids)
	if err != nil {
		return nil, q.wrap("list failed", err)
	}
	return ids, nil
}

func (q *Queue) checkFailed(ctx context.Context, tx *sql.Tx, id int64) error {
	job, err := q.client.JobGetTx(ctx, tx, id)
	if errors.Is(err, rivertype.ErrNotFound) || (err == nil && job.Kind != Kind) {
		return fmt.Errorf("queue: email %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return q.wrap(fmt.Sprintf("email %d", id), err)
	}
	if !isFailed(job.State) {
		return fmt.Errorf("queue: email %d is %s: %w", id, describe(job.State), ErrNotFailed)
	}
	return nil
}

func describe(s rivertype.JobState) string {
	switch s {
	case rivertype.JobStateCompleted:
		return "already sent"
	case rivertype.JobStateRunning:
		return "being sent"
	case rivertype.JobStateRetryable:
		return "waiting for a retry"
	default:
		return "pending"
	}
}

func (q *Queue) wrap(op string, err error) error {
	if isMissingTable(err) {
		return fmt.Errorf("queue: %s: the job table is missing (run `migrate`): %w", op, err)
	}
	return fmt.Errorf("queue: %s: %w", op, err)
}
