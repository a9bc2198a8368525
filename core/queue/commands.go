package queue

import (
	"context"
	"errors"
	"fmt"
	"io"
	"manouche/core/version"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"manouche/core/mail"
)

// OpenFunc returns the project's queue for a command; the CLI wires it to
// the project's database, backend and settings. The command closes the
// queue when done.
type OpenFunc func(ctx context.Context) (*Queue, error)

// Commands returns the queue's CLI commands: sendtestemail, mailqueue (with
// failed, retry and discard) and worker.
func Commands(open OpenFunc) []*cobra.Command {
	return []*cobra.Command{sendTestEmailCommand(open), mailQueueCommand(open), workerCommand(open)}
}

func withQueue(cmd *cobra.Command, open OpenFunc, fn func(ctx context.Context, q *Queue) error) error {
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	q, err := open(ctx)
	if err != nil {
		return err
	}
	defer q.Close()
	// From here on, errors are runtime failures, not misuse.
	cmd.SilenceUsage = true
	return fn(ctx, q)
}

func sendTestEmailCommand(open OpenFunc) *cobra.Command {
	var now bool
	cmd := &cobra.Command{
		Use:   "sendtestemail ADDRESS...",
		Short: "Send a test email to the given addresses",
		Long: "Queues a test email (subject \"Test email from <host> on <time>\") to the given\n" +
			"addresses, for the worker to deliver; with --now it is sent at once through the\n" +
			"email backend, bypassing the queue, and any delivery error is reported here.",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withQueue(cmd, open, func(ctx context.Context, q *Queue) error {
				msg := TestMessage(args, time.Now())
				out := cmd.OutOrStdout()
				if now {
					if err := q.SendNow(ctx, msg); err != nil {
						return err
					}
					fmt.Fprintf(out, "Sent a test email to %s.\n", strings.Join(args, ", "))
					return nil
				}
				id, err := q.Enqueue(ctx, msg)
				if err != nil {
					return err
				}
				fmt.Fprintf(out, "Queued test email #%d to %s; a running worker delivers it (`worker`).\n", id, strings.Join(args, ", "))
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&now, "now", false, "send at once through the backend instead of queueing")
	return cmd
}

// TestMessage is the message sendtestemail sends, like Django's.
func TestMessage(to []string, at time.Time) *mail.Message {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	return &mail.Message{
		To:      to,
		Subject: fmt.Sprintf("Test email from %s on %s", host, at.Format("2006-01-02 15:04:05.000000-07:00")),
		Text:    "If you're reading this, it was successful.",
	}
}

func mailQueueCommand(open OpenFunc) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "mailqueue",
		Short: "Show the email queue: pending, retrying, sending, sent and failed counts",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withQueue(cmd, open, func(ctx context.Context, q *Queue) error {
				s, err := q.Stats(ctx)
				if err != nil {
					return err
				}
				w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', tabwriter.AlignRight)
				fmt.Fprintf(w, "pending\t%d\t\n", s.Pending)
				fmt.Fprintf(w, "retrying\t%d\t\n", s.Retrying)
				fmt.Fprintf(w, "sending\t%d\t\n", s.Sending)
				fmt.Fprintf(w, "sent\t%d\t\n", s.Sent)
				fmt.Fprintf(w, "failed\t%d\t\n", s.Failed)
				return w.Flush()
			})
		},
	}
	cmd.AddCommand(mailQueueFailedCommand(open), mailQueueRetryCommand(open), mailQueueDiscardCommand(open))
	return cmd
}

func mailQueueFailedCommand(open OpenFunc) *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:   "failed",
		Short: "List failed emails with their last error",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withQueue(cmd, open, func(ctx context.Context, q *Queue) error {
				failed, err := q.Failed(ctx, limit)
				if err != nil {
					return err
				}
				printFailed(cmd.OutOrStdout(), failed)
				return nil
			})
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 100, "list at most this many (newest first)")
	return cmd
}

func printFailed(out io.Writer, failed []FailedMessage) {
	if len(failed) == 0 {
		fmt.Fprintln(out, "No failed emails.")
		return
	}
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tFAILED AT\tATTEMPTS\tTO\tSUBJECT\tLAST ERROR")
	for _, f := range failed {
		var to, subject string
		if f.Message != nil {
			to = strings.Join(f.Message.Recipients(), ", ")
			subject = f.Message.Subject
		}
		fmt.Fprintf(w, "%d\t%s\t%d\t%s\t%s\t%s\n", f.ID, f.FailedAt.UTC().Format(time.DateTime),
			f.Attempts, to, subject, oneLine(f.LastError))
	}
	_ = w.Flush()
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// idOrAll reads the ID argument or --all (exactly one of them).
func idOrAll(args []string, all bool) (int64, error) {
	switch {
	case all && len(args) > 0:
		return 0, errors.New("give either an ID or --all, not both")
	case all:
		return 0, nil
	case len(args) != 1:
		return 0, errors.New("give the ID of a failed email (see `mailqueue failed`) or --all")
	}
	id, err := strconv.ParseInt(args[0], 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("invalid email ID %q: want a positive number (see `mailqueue failed`)", args[0])
	}
	return id, nil
}

func mailQueueRetryCommand(open OpenFunc) *cobra.Command {
	return failedActionCommand(open, failedAction{
		use: "retry", short: "Queue failed emails again, with a fresh set of attempts", allHelp: "retry every failed email",
		one: (*Queue).Retry, all: (*Queue).RetryAll,
		oneDone: "Queued email #%d again.\n", allDone: "Queued %d failed email(s) again.\n",
	})
}

func mailQueueDiscardCommand(open OpenFunc) *cobra.Command {
	return failedActionCommand(open, failedAction{
		use: "discard", short: "Delete failed emails for good", allHelp: "discard every failed email",
		one: (*Queue).Discard, all: (*Queue).DiscardAll,
		oneDone: "Discarded email #%d.\n", allDone: "Discarded %d failed email(s).\n",
	})
}

// failedAction is what `mailqueue retry` and `mailqueue discard` do to one
// failed email or to all of them.
type failedAction struct {
	use, short, allHelp string
	one                 func(*Queue, context.Context, int64) error
	all                 func(*Queue, context.Context) (int, error)
	oneDone, allDone    string
}

func failedActionCommand(open OpenFunc, a failedAction) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   a.use + " ID|--all",
		Short: a.short,
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := idOrAll(args, all)
			if err != nil {
				return err
			}
			return withQueue(cmd, open, func(ctx context.Context, q *Queue) error {
				if all {
					n, err := a.all(q, ctx)
					if err != nil {
						return err
					}
					fmt.Fprintf(cmd.OutOrStdout(), a.allDone, n)
					return nil
				}
				if err := a.one(q, ctx, id); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), a.oneDone, id)
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, a.allHelp)
	return cmd
}

func workerCommand(open OpenFunc) *cobra.Command {
	var grace time.Duration
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Deliver queued emails until SIGTERM or SIGINT",
		Long: "Delivers queued emails until SIGTERM or SIGINT (Ctrl-C). On either signal it\n" +
			"stops taking new emails and lets the ones in hand finish; those still being\n" +
			"sent near the end of --grace (default SHUTDOWN_TIMEOUT, under Heroku's 30 s)\n" +
			"are cancelled and put back, to be retried later, and the worker exits within\n" +
			"--grace. No email is lost or sent twice by a restart. Several workers, in\n" +
			"several processes, may share the queue.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withQueue(cmd, open, func(ctx context.Context, q *Queue) error {
				sigCtx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt)
				defer stop()
				// The worker's own context is not the signal's: a signal
				// asks for a graceful stop, not an abrupt one.
				if err := q.Start(context.WithoutCancel(ctx)); err != nil {
					return err
				}
				out := cmd.OutOrStdout()
				fmt.Fprintf(out, "Worker %s started: up to %d emails at a time. Stop with Ctrl-C or SIGTERM.\n", version.Get(), q.cfg.Workers)
				select {
				case <-sigCtx.Done():
				case <-q.client.Stopped():
					return errors.New("queue: worker stopped unexpectedly (see the logs)")
				}
				stop()
				if grace <= 0 {
					grace = q.cfg.ShutdownTimeout
				}
				fmt.Fprintf(out, "Stopping: finishing the emails in hand (up to %s)...\n", grace)
				sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
				defer cancel()
				if err := q.Stop(sctx); err != nil {
					// The messages in hand were put back: not a failure of the
					// process, which exits 0 like a clean stop.
					q.log.Warn("worker stopped with messages put back", "error", err)
					if !errors.Is(err, ErrPutBack) {
						return err
					}
				}
				fmt.Fprintln(out, "Worker stopped.")
				return nil
			})
		},
	}
	cmd.Flags().DurationVar(&grace, "grace", 0, "how long to let emails in hand finish after a stop signal (default SHUTDOWN_TIMEOUT)")
	return cmd
}
