// Package queue is the email queue: messages are stored as River jobs in the
// project database, in the same transaction as the write that causes them,
// and a worker delivers them through a mail.Backend with retries and
// exponential backoff. A message that keeps failing is kept, with its last
// error, until an operator retries or discards it.
//
// Postgres goes through River's database/sql driver (pgx stdlib); SQLite
// through riversqlite, with River's own pool limited to one connection.
//
// Delivery is at least once: a message is marked sent in its own transaction
// right after the SMTP server accepts it, and a worker that could not record
// a delivery remembers it and does not send that message again. Only a
// process killed between the server's acceptance and that commit (a few
// milliseconds) can lead to a second send, by another process.
package queue

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivertype"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	_ "modernc.org/sqlite" // River's own SQLite pool, registered as "sqlite"

	"manouche/core/mail"
)

// Kind is the River job kind of an email, and QueueName the River queue it
// runs in.
const (
	Kind      = "email"
	QueueName = "email"
)

// Errors returned by Retry and Discard, for errors.Is.
var (
	// ErrNotFound: no queued email has that ID.
	ErrNotFound = errors.New("no such queued email")
	// ErrNotFailed: the email has not failed (it is pending, being sent, or sent).
	ErrNotFailed = errors.New("email has not failed")
	// ErrPutBack: Stop ran out of time and cancelled the deliveries in hand,
	// whose messages went back to the queue.
	ErrPutBack = errors.New("were cancelled and put back in the queue")
)

// Config configures a Queue. The project maps its settings to it.
type Config struct {
	// DB is the project database (Postgres via pgx stdlib, or SQLite);
	// required. On Postgres River shares its pool: let it keep idle
	// connections (SetMaxIdleConns of at least Workers+4), or, with Go's
	// default of 2, every concurrent delivery opens a new connection and
	// pays for its authentication (measured: throughput halved).
	DB *bun.DB
	// Backend delivers messages; required to Start a worker or to SendNow.
	Backend mail.Backend
	// Defaults (DEFAULT_FROM_EMAIL, EMAIL_SUBJECT_PREFIX) are applied when a
	// message is enqueued, so the stored message is the one sent.
	Defaults mail.Defaults
	// MaxAttempts is how many delivery attempts a message gets before it is
	// kept as failed (EMAIL_MAX_ATTEMPTS); 0 means 8.
	MaxAttempts int
	// Workers is how many messages one process delivers at once
	// (EMAIL_WORKERS); 0 means 10. Size the SMTP pool to match.
	Workers int
	// RetryBackoff is the wait before the first retry; it doubles at each
	// attempt, with ±10% jitter (EMAIL_RETRY_BACKOFF); 0 means 15s.
	RetryBackoff time.Duration
	// MaxRetryBackoff caps the wait between attempts; 0 means 1h.
	MaxRetryBackoff time.Duration
	// JobTimeout bounds one delivery attempt; 0 means 1 minute.
	JobTimeout time.Duration
	// RescueAfter is how long a message may stay "being sent" before it is
	// assumed its worker died and it is retried; at least JobTimeout; 0
	// means JobTimeout + 1 minute.
	RescueAfter time.Duration
	// PollInterval is how often an idle worker looks for new messages (the
	// database/sql drivers have no LISTEN/NOTIFY); 0 means 1s.
	PollInterval time.Duration
	// SentRetention is how long sent messages stay in the table (and in the
	// sent count); 0 means 24h.
	SentRetention time.Duration
	// FailedRetention is how long failed messages are kept; 0 means forever.
	FailedRetention time.Duration
	// ShutdownTimeout is how long the worker command gives the messages in
	// hand after SIGTERM before it puts them back and exits
	// (SHUTDOWN_TIMEOUT); 0 means 25s.
	ShutdownTimeout time.Duration
	// Logger receives the worker's logs; nil means slog.Default().
	Logger *slog.Logger
	// TracerProvider, when set, traces enqueues ("email enqueue") and
	// deliveries ("email deliver"), the delivery a child of the enqueue's
	// trace through the W3C trace context stored in the job's metadata.
	TracerProvider trace.TracerProvider
	// MeterProvider, when set, records the queue's depth by state, delivery
	// durations, retries and failures (manouche.email.*). Nil costs nothing.
	MeterProvider metric.MeterProvider
}

func (c *Config) setDefaults() {
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 8
	}
	if c.Workers <= 0 {
		c.Workers = 10
	}
	if c.RetryBackoff <= 0 {
		c.RetryBackoff = 15 * time.Second
	}
	if c.MaxRetryBackoff <= 0 {
		c.MaxRetryBackoff = time.Hour
	}
	if c.MaxRetryBackoff < c.RetryBackoff {
		c.MaxRetryBackoff = c.RetryBackoff
	}
	if c.JobTimeout <= 0 {
		c.JobTimeout = time.Minute
	}
	if c.RescueAfter < c.JobTimeout {
		c.RescueAfter = c.JobTimeout + time.Minute
	}
	if c.PollInterval <= 0 {
		c.PollInterval = time.Second
	}
	if c.SentRetention <= 0 {
		c.SentRetention = 24 * time.Hour
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = 25 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// riverLogger is the logger River gets: warnings and errors only, unless the
// process logs at debug level. River logs its start, its stop and every
// maintenance step at info and debug level, which would otherwise be most of
// what an idle development server prints.
func riverLogger(l *slog.Logger) *slog.Logger {
	if l.Enabled(context.Background(), slog.LevelDebug) {
		return l
	}
	return slog.New(minLevel{l.Handler(), slog.LevelWarn})
}

// minLevel is a slog.Handler that drops records below min.
type minLevel struct {
	slog.Handler
	min slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(as []slog.Attr) slog.Handler {
	return minLevel{h.Handler.WithAttrs(as), h.min}
}

func (h minLevel) WithGroup(name string) slog.Handler {
	return minLevel{h.Handler.WithGroup(name), h.min}
}

// Queue is the email queue of one process: it enqueues, reports and, once
// started, delivers. It is safe for concurrent use.
type Queue struct {
	cfg        Config
	db         *bun.DB
	riverDB    *sql.DB
	ownPool    bool
	client     *river.Client[*sql.Tx]
	completeTx func(ctx context.Context, tx *sql.Tx, job *river.Job[emailArgs]) error
	log        *slog.Logger

	obs *observer // nil unless Config asks for telemetry

	mu        sync.Mutex
	delivered map[int64]struct{}
	started   bool
	// inHand counts the deliveries running.
	inHand atomic.Int64
}

// emailArgs are the job arguments: the message, as JSON.
type emailArgs struct {
	Message *mail.Message `json:"message"`
}

func (emailArgs) Kind() string { return Kind }

func (emailArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{Queue: QueueName} }

// New returns a Queue on cfg.DB. It reads nothing from the queue's tables
// (on SQLite it only asks for the database's file, to open River's own
// one-connection pool on it), so it works before `migrate`; the tables must
// exist before the queue is used (Ping tells).
func New(ctx context.Context, cfg Config) (*Queue, error) {
	if cfg.DB == nil {
		return nil, errors.New("queue: no database (Config.DB is nil)")
	}
	cfg.setDefaults()
	q := &Queue{cfg: cfg, db: cfg.DB, log: cfg.Logger, delivered: map[int64]struct{}{}}
	if cfg.TracerProvider != nil || cfg.MeterProvider != nil {
		obs, err := newObserver(q, cfg.TracerProvider, cfg.MeterProvider)
		if err != nil {
			return nil, err
		}
		q.obs = obs
	}

	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, &emailWorker{q: q}); err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	rc := &river.Config{
		Queues:                      map[string]river.QueueConfig{QueueName: {MaxWorkers: cfg.Workers}},
		Workers:                     workers,
		MaxAttempts:                 cfg.MaxAttempts,
		RetryPolicy:                 backoff{base: cfg.RetryBackoff, max: cfg.MaxRetryBackoff},
		JobTimeout:                  cfg.JobTimeout,
		RescueStuckJobsAfter:        cfg.RescueAfter,
		FetchPollInterval:           cfg.PollInterval,
		FetchCooldown:               min(cfg.PollInterval, 10*time.Millisecond),
		CompletedJobRetentionPeriod: cfg.SentRetention,
		DiscardedJobRetentionPeriod: retention(cfg.FailedRetention),
		CancelledJobRetentionPeriod: retention(cfg.FailedRetention),
		Logger:                      riverLogger(cfg.Logger),
	}

	var err error
	switch name := cfg.DB.Dialect().Name(); name {
	case dialect.PG:
		q.riverDB = cfg.DB.DB
		q.client, err = river.NewClient(riverdatabasesql.New(q.riverDB), rc)
		q.completeTx = func(ctx context.Context, tx *sql.Tx, job *river.Job[emailArgs]) error {
			_, err := river.JobCompleteTx[*riverdatabasesql.Driver](ctx, tx, job)
			return err
		}
	case dialect.SQLite:
		if q.riverDB, q.ownPool, err = sqlitePool(ctx, cfg.DB); err != nil {
			return nil, err
		}
		q.client, err = river.NewClient(riversqlite.New(q.riverDB), rc)
		q.completeTx = func(ctx context.Context, tx *sql.Tx, job *river.Job[emailArgs]) error {
			_, err := river.JobCompleteTx[*riversqlite.Driver](ctx, tx, job)
			return err
		}
	default:
		return nil, fmt.Errorf("queue: unsupported database dialect %s (want Postgres or SQLite)", name)
	}
	if err != nil {
		q.closePool()
		return nil, fmt.Errorf("queue: river client: %w", err)
	}
	return q, nil
}

func retention(d time.Duration) time.Duration {
	if d <= 0 {
		return -1 // River: never delete
	}
	return d
}

// sqlitePool opens River's own one-connection pool on the project's SQLite
// file (STACK.md trap 8). Transactions on it start with BEGIN IMMEDIATE so a
// write never fails on a stale read snapshot. An in-memory database has no
// file to share: River then uses the project's pool.
func sqlitePool(ctx context.Context, db *bun.DB) (*sql.DB, bool, error) {
	var file string
	rows, err := db.QueryContext(ctx, "PRAGMA database_list")
	if err != nil {
		return nil, false, fmt.Errorf("queue: sqlite: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var seq int
		var name string
		var f sql.NullString
		if err := rows.Scan(&seq, &name, &f); err != nil {
			return nil, false, fmt.Errorf("queue: sqlite: %w", err)
		}
		if name == "main" {
			file = f.String
		}
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("queue: sqlite: %w", err)
	}
	if file == "" {
		return db.DB, false, nil
	}
	dsn := "file:" + file + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate"
	pool, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, false, fmt.Errorf("queue: sqlite: open %s: %w", file, err)
	}
	pool.SetMaxOpenConns(1)
	pool.SetMaxIdleConns(1)
	pool.SetConnMaxIdleTime(0)
	pool.SetConnMaxLifetime(0)
	return pool, true, nil
}

func (q *Queue) closePool() {
	if q.ownPool && q.riverDB != nil {
		_ = q.riverDB.Close()
	}
}

// prepare applies the defaults, validates and gives the message a stable
// Message-Id (the same on every attempt, so receivers can drop duplicates).
func (q *Queue) prepare(msg *mail.Message) (*mail.Message, error) {
	m := q.cfg.Defaults.Apply(msg)
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("queue: enqueue: %w", err)
	}
	if _, ok := m.Headers["Message-Id"]; !ok {
		if m.Headers == nil {
			m.Headers = map[string]string{}
		}
		m.Headers["Message-Id"] = mail.NewMessageID(m.From)
	}
	return m, nil
}

// EnqueueTx queues msg inside the caller's transaction: if tx rolls back,
// nothing is queued. It returns the message's ID in the queue.
func (q *Queue) EnqueueTx(ctx context.Context, tx bun.Tx, msg *mail.Message) (int64, error) {
	return q.EnqueueSQLTx(ctx, tx.Tx, msg)
}

// EnqueueSQLTx is EnqueueTx for a database/sql transaction on the project
// database.
func (q *Queue) EnqueueSQLTx(ctx context.Context, tx *sql.Tx, msg *mail.Message) (int64, error) {
	m, err := q.prepare(msg)
	if err != nil {
		return 0, err
	}
	ctx, opts, span := q.obs.enqueue(ctx)
	res, err := q.client.InsertTx(ctx, tx, emailArgs{Message: m}, opts)
	endSpan(span, err)
	if err != nil {
		return 0, fmt.Errorf("queue: enqueue %q: %w", m.Subject, err)
	}
	return res.Job.ID, nil
}

// Enqueue queues msg in a transaction of its own.
func (q *Queue) Enqueue(ctx context.Context, msg *mail.Message) (int64, error) {
	var id int64
	err := q.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var err error
		id, err = q.EnqueueTx(ctx, tx, msg)
		return err
	})
	return id, err
}

// EnqueueManyTx queues msgs in one batch insert inside the caller's
// transaction. Every message is validated first: one bad message queues
// none. It returns the number queued.
func (q *Queue) EnqueueManyTx(ctx context.Context, tx bun.Tx, msgs []*mail.Message) (int, error) {
	params := make([]river.InsertManyParams, len(msgs))
	for i, msg := range msgs {
		m, err := q.prepare(msg)
		if err != nil {
			return 0, fmt.Errorf("queue: message %d of %d: %w", i+1, len(msgs), err)
		}
		params[i] = river.InsertManyParams{Args: emailArgs{Message: m}}
	}
	if len(params) == 0 {
		return 0, nil
	}
	if q.db.Dialect().Name() == dialect.PG {
		return q.insertManyPG(ctx, tx.Tx, params)
	}
	n, err := q.client.InsertManyFastTx(ctx, tx.Tx, params)
	if err != nil {
		return 0, fmt.Errorf("queue: enqueue %d messages: %w", len(msgs), err)
	}
	return n, nil
}

// insertManyPG is River's JobInsertFastManyNoReturning for this job kind,
// with the arguments bound as a native jsonb[] (pgx's binary encoding)
// rather than through lib/pq's text arrays, which riverdatabasesql uses and
// which cost more than the database itself for large batches (measured
// 10,000 typical messages: see the report). The columns are those of River
// schema version SchemaVersion; created_at and scheduled_at are now, the
// other columns River's defaults.
func (q *Queue) insertManyPG(ctx context.Context, tx *sql.Tx, params []river.InsertManyParams) (int, error) {
	args := make([]string, len(params))
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // HTML bodies: "<" stays 1 byte, not 6
	for i, p := range params {
		buf.Reset()
		if err := enc.Encode(p.Args); err != nil {
			return 0, fmt.Errorf("queue: enqueue: encode message %d: %w", i+1, err)
		}
		args[i] = string(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO river_job
		(args, created_at, kind, max_attempts, metadata, priority, queue, scheduled_at, state, tags)
		SELECT a, now(), $2, $3, '{}', 1, $4, now(), 'available', '{}' FROM unnest($1::jsonb[]) AS a`,
		args, Kind, q.cfg.MaxAttempts, QueueName)
	if err != nil {
		return 0, q.wrap(fmt.Sprintf("enqueue %d messages", len(params)), err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, q.wrap(fmt.Sprintf("enqueue %d messages", len(params)), err)
	}
	return int(n), nil
}

// EnqueueMany queues msgs in one batch insert in a transaction of its own.
func (q *Queue) EnqueueMany(ctx context.Context, msgs []*mail.Message) (int, error) {
	var n int
	err := q.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var err error
		n, err = q.EnqueueManyTx(ctx, tx, msgs)
		return err
	})
	return n, err
}

// SendNow delivers msg at once through the backend, without the queue
// (sendtestemail --now, or mail no database write causes).
func (q *Queue) SendNow(ctx context.Context, msg *mail.Message) error {
	return mail.Mailer{Backend: q.cfg.Backend, Defaults: q.cfg.Defaults}.Send(ctx, msg)
}

// Defaults returns the defaults applied to every enqueued message.
func (q *Queue) Defaults() mail.Defaults { return q.cfg.Defaults }

// Start starts delivering in the background, cfg.Workers messages at a time,
// until Stop. Several processes may run workers on the same database: each
// message is delivered by one of them.
func (q *Queue) Start(ctx context.Context) error {
	if q.cfg.Backend == nil {
		return errors.New("queue: start worker: no mail backend (Config.Backend is nil)")
	}
	if err := q.Ping(ctx); err != nil {
		return fmt.Errorf("queue: start worker: %w", err)
	}
	if err := q.client.Start(ctx); err != nil {
		return fmt.Errorf("queue: start worker: %w", err)
	}
	q.mu.Lock()
	q.started = true
	q.mu.Unlock()
	return nil
}

// Stop stops fetching new messages and waits for the ones in hand to be
// delivered; then, when ctx has a deadline, it keeps the last quarter of the
// time left (at most 5s) to cancel the deliveries still running: their
// messages go back to the queue, to be retried later by this or another
// worker, and Stop returns within ctx's deadline with an error wrapping
// context.DeadlineExceeded. Without a deadline it waits until ctx ends, then
// cancels for up to 5s. A message is never lost this way, nor sent twice
// (a delivery cancelled before the SMTP server accepted the message was not
// sent; one accepted is recorded as sent at once, see Work).
func (q *Queue) Stop(ctx context.Context) error {
	q.mu.Lock()
	started := q.started
	q.started = false
	q.mu.Unlock()
	if !started {
		return nil
	}
	soft := ctx
	hardDeadline := time.Now().Add(5 * time.Second)
	if deadline, ok := ctx.Deadline(); ok {
		reserve := min(max(time.Until(deadline)/4, 50*time.Millisecond), 5*time.Second)
		var cancel context.CancelFunc
		soft, cancel = context.WithDeadline(ctx, deadline.Add(-reserve))
		defer cancel()
		hardDeadline = deadline
	}
	err := q.client.Stop(soft)
	if err == nil {
		return nil
	}
	if ctx.Err() == nil && soft.Err() != nil {
		err = context.DeadlineExceeded
	}
	n := q.inHand.Load()
	q.log.Warn("queue: stop: cancelling the deliveries still running; their messages go back to the queue", "messages", n)
	hard, cancel := context.WithDeadline(context.WithoutCancel(ctx), hardDeadline)
	defer cancel()
	if herr := q.client.StopAndCancel(hard); herr != nil {
		return fmt.Errorf("queue: stop: %w (then: %w)", err, herr)
	}
	return fmt.Errorf("queue: stop: %d message(s) in hand %w: %w", n, ErrPutBack, err)
}

// Close releases the queue's own connections (River's SQLite pool). It does
// not stop a started worker (call Stop first), nor close Config.DB or the
// backend, which the caller owns.
func (q *Queue) Close() error {
	q.closePool()
	return nil
}

// Ping checks that the job table is reachable, for readiness checks.
func (q *Queue) Ping(ctx context.Context) error {
	if _, err := q.db.NewSelect().TableExpr("river_job").ColumnExpr("1").Limit(1).Exists(ctx); err != nil {
		return fmt.Errorf("queue: job table unreachable (has `migrate` run?): %w", err)
	}
	return nil
}

// backoff is the retry policy: base·2^(attempt-1), capped, ±10% jitter.
type backoff struct {
	base, max time.Duration
}

// NextRetry returns when the job's next attempt is due.
func (b backoff) NextRetry(job *rivertype.JobRow) time.Time {
	d := b.base
	for i := 1; i < job.Attempt && d < b.max; i++ {
		d *= 2
	}
	d = min(d, b.max)
	jitter := time.Duration((rand.Float64()*0.2 - 0.1) * float64(d))
	return time.Now().Add(d + jitter)
}

// isMissingTable tells whether err says River's tables do not exist.
func isMissingTable(err error) bool {
	s := err.Error()
	return strings.Contains(s, "no such table") || strings.Contains(s, "does not exist")
}
