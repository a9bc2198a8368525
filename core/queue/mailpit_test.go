package queue_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"manouche/core/mail"
	"manouche/core/mail/smtptest"
	"manouche/core/testenv"
)

func mailpitBackend(t testing.TB, pool int) *mail.SMTP {
	t.Helper()
	addr := testenv.Lookup(t, testenv.SMTPAddr)
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(portStr)
	b, err := mail.NewSMTP(mail.SMTPConfig{Host: host, Port: port, PoolSize: pool, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// A message enqueued in a committed transaction reaches a real SMTP server
// with both parts, its headers and its attachments; one in a rolled-back
// transaction never does.
func TestQueueToMailpit(t *testing.T) {
	t.Parallel()
	api := testenv.Lookup(t, testenv.MailpitURL)
	for _, d := range databases(t) {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			db := d.open(t)
			q := mustNew(t, fastConfig(db, mailpitBackend(t, 2)))
			ctx := context.Background()
			subject := unique("Queue to mailpit " + d.name)
			rolled := unique("Rolled back " + d.name)
			msg := &mail.Message{
				To: []string{"Ann <ann@example.com>"}, Cc: []string{"cc@example.com"},
				ReplyTo: []string{"help@example.com"}, Subject: subject,
				Text: "text part ✓", HTML: "<p>html part ✓</p>",
			}
			msg.Attach("invoice.pdf", "application/pdf", []byte("%PDF-1.4 fake"))
			if err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
				_, err := q.EnqueueTx(ctx, tx, msg)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			_ = db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
				if _, err := q.EnqueueTx(ctx, tx, msgTo(rolled, "ann@example.com")); err != nil {
					t.Fatal(err)
				}
				return context.Canceled
			})
			if err := q.Start(ctx); err != nil {
				t.Fatal(err)
			}
			got := smtptest.MailpitWait(t, api, "[T] "+subject, 30*time.Second)
			if got.From.Address != "noreply@example.com" || got.From.Name != "Site" ||
				len(got.To) != 1 || got.To[0].Address != "ann@example.com" ||
				len(got.Cc) != 1 || got.Cc[0].Address != "cc@example.com" ||
				len(got.ReplyTo) != 1 || got.ReplyTo[0].Address != "help@example.com" {
				t.Errorf("headers: %+v", got)
			}
			if !strings.Contains(got.Text, "text part ✓") || !strings.Contains(got.HTML, "<p>html part ✓</p>") {
				t.Errorf("parts: text %q html %q", got.Text, got.HTML)
			}
			if len(got.Attachments) != 1 || got.Attachments[0].FileName != "invoice.pdf" {
				t.Fatalf("attachments: %+v", got.Attachments)
			}
			resp, err := http.Get(api + "/api/v1/message/" + got.ID + "/part/" + got.Attachments[0].PartID)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(body) != "%PDF-1.4 fake" {
				t.Errorf("attachment content %q", body)
			}
			if ids := smtptest.MailpitSearch(t, api, rolled); len(ids) != 0 {
				t.Errorf("the rolled-back message was delivered")
			}
		})
	}
}
