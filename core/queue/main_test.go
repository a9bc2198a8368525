package queue_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/uptrace/bun"

	"manouche/core/db"
	"manouche/core/mail"
	"manouche/core/queue"
)

// TestMain doubles as a worker process for the tests that kill one: with
// QUEUE_TEST_HELPER=worker the test binary runs the `worker` command.
func TestMain(m *testing.M) {
	if os.Getenv("QUEUE_TEST_HELPER") == "worker" {
		os.Exit(helperWorker())
	}
	os.Exit(m.Run())
}

// slowBackend delivers to a folder after a delay.
type slowBackend struct {
	file  *mail.File
	delay time.Duration
}

func (b slowBackend) Send(ctx context.Context, m *mail.Message) error {
	select {
	case <-time.After(b.delay):
	case <-ctx.Done():
		return ctx.Err()
	}
	return b.file.Send(ctx, m)
}

func helperConfig(db *bun.DB, b mail.Backend) queue.Config {
	return queue.Config{
		DB: db, Backend: b,
		Defaults:     mail.Defaults{From: "Site <noreply@example.com>"},
		MaxAttempts:  5,
		Workers:      4,
		RetryBackoff: 50 * time.Millisecond,
		PollInterval: 50 * time.Millisecond,
		JobTimeout:   2 * time.Second,
		RescueAfter:  3 * time.Second,
		Logger:       slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
}

func helperWorker() int {
	bdb, err := db.Open(context.Background(), os.Getenv("QUEUE_TEST_DB"), false)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer bdb.Close()
	delay, _ := time.ParseDuration(os.Getenv("QUEUE_TEST_DELAY"))
	file, err := mail.NewFile(os.Getenv("QUEUE_TEST_OUT"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	// QUEUE_TEST_SHUTDOWN is SHUTDOWN_TIMEOUT, the worker's default grace;
	// without it the worker runs with --grace 10s.
	shutdown, _ := time.ParseDuration(os.Getenv("QUEUE_TEST_SHUTDOWN"))
	open := func(ctx context.Context) (*queue.Queue, error) {
		cfg := helperConfig(bdb, slowBackend{file: file, delay: delay})
		cfg.ShutdownTimeout = shutdown
		// QUEUE_TEST_JOB_TIMEOUT lengthens one delivery's time limit (and the
		// rescue after it) for deliveries slower than the default 2s.
		if jt, _ := time.ParseDuration(os.Getenv("QUEUE_TEST_JOB_TIMEOUT")); jt > 0 {
			cfg.JobTimeout, cfg.RescueAfter = jt, jt+time.Second
		}
		return queue.New(ctx, cfg)
	}
	root := &cobra.Command{Use: "helper", SilenceErrors: false}
	root.AddCommand(queue.Commands(open)...)
	args := []string{"worker"}
	if shutdown == 0 {
		args = append(args, "--grace", "10s")
	}
	root.SetArgs(args)
	if err := root.Execute(); err != nil {
		return 1
	}
	return 0
}
