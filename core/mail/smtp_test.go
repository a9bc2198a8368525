package mail_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"manouche/core/mail"
	"manouche/core/mail/smtptest"
	"manouche/core/testenv"
	"manouche/settings"
)

func uniqueSubject(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + " " + hex.EncodeToString(b[:])
}

func fakeSMTP(t *testing.T, mode smtptest.Mode, timeout time.Duration) (*smtptest.Server, *mail.SMTP) {
	t.Helper()
	s := smtptest.NewServer(t, mode)
	b, err := mail.NewSMTP(mail.SMTPConfig{Host: "127.0.0.1", Port: s.Port(), Security: mail.SecurityNone, PoolSize: 2, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return s, b
}

func TestSMTPFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		mode smtptest.Mode
		want string
	}{
		{"permanent refusal", smtptest.Reject5xx, "mailbox unavailable"},
		{"temporary refusal", smtptest.Reject4xx, "try again later"},
		{"silent server", smtptest.Silent, "greeting"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, b := fakeSMTP(t, tt.mode, 300*time.Millisecond)
			start := time.Now()
			err := b.Send(context.Background(), richMessage("x"))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Send = %v, want error containing %q", err, tt.want)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Fatalf("Send took %s despite a 300ms timeout", d)
			}
		})
	}
}

func TestSMTPServerDown(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	b, err := mail.NewSMTP(mail.SMTPConfig{Host: "127.0.0.1", Port: port, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Send(context.Background(), richMessage("x")); err == nil || !strings.Contains(err.Error(), "connect") {
		t.Fatalf("Send to a closed port = %v", err)
	}
}

func TestSMTPContextCancel(t *testing.T) {
	t.Parallel()
	_, b := fakeSMTP(t, smtptest.Silent, time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := b.Send(ctx, richMessage("x"))
	if err == nil || time.Since(start) > 5*time.Second {
		t.Fatalf("Send = %v after %s, want a quick error", err, time.Since(start))
	}
}

func TestSMTPPoolReusesAndRecovers(t *testing.T) {
	t.Parallel()
	s, b := fakeSMTP(t, smtptest.Accept, 5*time.Second)
	ctx := context.Background()
	for i := range 10 {
		if err := b.Send(ctx, richMessage(fmt.Sprint("seq ", i))); err != nil {
			t.Fatal(err)
		}
	}
	if c := s.Connections(); c != 1 {
		t.Fatalf("10 sequential sends used %d connections, want 1", c)
	}
	// Bcc recipients get the message (envelope) but are not named in it.
	bcc := richMessage("bcc")
	bcc.Bcc = []string{"hidden@example.com"}
	if err := b.Send(ctx, bcc); err != nil {
		t.Fatal(err)
	}
	last := s.Messages()[len(s.Messages())-1]
	if !strings.Contains(strings.Join(last.To, " "), "hidden@example.com") || bytes.Contains(last.Data, []byte("hidden@example.com")) {
		t.Fatalf("bcc: envelope %v, data names it: %v", last.To, bytes.Contains(last.Data, []byte("hidden")))
	}
	// A refused message leaves the connection usable.
	s.SetMode(smtptest.Reject5xx)
	if err := b.Send(ctx, richMessage("refused")); err == nil {
		t.Fatal("refused message: no error")
	}
	s.SetMode(smtptest.Accept)
	if err := b.Send(ctx, richMessage("after refusal")); err != nil {
		t.Fatal(err)
	}
	// The server drops idle connections: the next send reconnects.
	s.DropConnections()
	time.Sleep(50 * time.Millisecond)
	if err := b.Send(ctx, richMessage("after drop")); err != nil {
		t.Fatalf("send after the server dropped the connection: %v", err)
	}
	// Concurrent sends stay within the pool size (2).
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := b.Send(ctx, richMessage(fmt.Sprint("par ", i))); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if got := len(s.Messages()); got != 10+1+1+1+20 {
		t.Fatalf("server has %d messages, want 33", got)
	}
	if c := s.Connections(); c > 4 {
		t.Fatalf("%d connections for a pool of 2", c)
	}
	_ = b.Close()
	if err := b.Send(ctx, richMessage("closed")); err == nil {
		t.Fatal("send after Close succeeded")
	}
}

func TestSMTPRequiredSTARTTLS(t *testing.T) {
	t.Parallel()
	s := smtptest.NewServer(t, smtptest.Accept)
	b, err := mail.NewSMTP(mail.SMTPConfig{Host: "127.0.0.1", Port: s.Port(), Security: mail.SecuritySTARTTLS, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Send(context.Background(), richMessage("x")); err == nil || !strings.Contains(err.Error(), "does not offer STARTTLS") {
		t.Fatalf("Send = %v", err)
	}
	// A username over an unencrypted link to a server without AUTH.
	b, _ = mail.NewSMTP(mail.SMTPConfig{Host: "127.0.0.1", Port: s.Port(), Security: mail.SecurityNone, Username: "u", Password: "p", Timeout: time.Second})
	if err := b.Send(context.Background(), richMessage("x")); err == nil || !strings.Contains(err.Error(), "AUTH") {
		t.Fatalf("Send = %v", err)
	}
}

// mailpitMessage is the part of mailpit's /api/v1/message/{ID} answer tests read.
func TestSMTPMailpit(t *testing.T) {
	t.Parallel()
	addr := testenv.Lookup(t, testenv.SMTPAddr)
	api := testenv.Lookup(t, testenv.MailpitURL)
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(portStr)
	// Through the registry, as a project opens it: EMAIL_BACKEND and the
	// smtp backend's own section.
	st, err := settings.Load(settings.Options{Layer: "development", DotEnv: "-", Environ: []string{
		"EMAIL_BACKEND=smtp", "EMAIL_HOST=" + host, "EMAIL_PORT=" + strconv.Itoa(port), "EMAIL_TIMEOUT=10s",
	}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := mail.Open(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	defer b.(mail.Closer).Close()
	subject := uniqueSubject("Mailpit rich é")
	msg := richMessage("")
	msg.Bcc = []string{"hidden@example.com"}
	mailer := mail.Mailer{Backend: b, Defaults: mail.Defaults{SubjectPrefix: "[Manouche] "}}
	msg.Subject = subject
	if err := mailer.Send(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	got := smtptest.MailpitWait(t, api, "[Manouche] "+subject, 10*time.Second)
	if got.From.Address != "noreply@example.com" || got.From.Name != "Site" {
		t.Errorf("from = %+v", got.From)
	}
	if len(got.To) != 1 || got.To[0].Address != "ann@example.com" || got.To[0].Name != "Ann" {
		t.Errorf("to = %+v", got.To)
	}
	if len(got.Cc) != 1 || got.Cc[0].Address != "cc@example.com" {
		t.Errorf("cc = %+v", got.Cc)
	}
	if len(got.Bcc) != 1 || got.Bcc[0].Address != "hidden@example.com" {
		t.Errorf("bcc (envelope) = %+v", got.Bcc)
	}
	if len(got.ReplyTo) != 1 || got.ReplyTo[0].Address != "support@example.com" {
		t.Errorf("reply-to = %+v", got.ReplyTo)
	}
	if !strings.Contains(got.Text, "here is your report: é ü 😀") {
		t.Errorf("text = %q", got.Text)
	}
	if !strings.Contains(got.HTML, "<p>Hello <b>Ann</b></p>") {
		t.Errorf("html = %q", got.HTML)
	}
	want := map[string][]byte{"report.csv": []byte("a,b\n1,2\n"), "blob.bin": {0, 1, 2, 255}}
	if len(got.Attachments) != len(want) {
		t.Fatalf("attachments = %+v", got.Attachments)
	}
	for _, a := range got.Attachments {
		resp, err := http.Get(api + "/api/v1/message/" + got.ID + "/part/" + a.PartID)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !bytes.Equal(body, want[a.FileName]) {
			t.Errorf("attachment %s = %q, want %q", a.FileName, body, want[a.FileName])
		}
	}
	var headers map[string][]string
	smtptest.MailpitGet(t, api, "/api/v1/message/"+got.ID+"/headers", &headers)
	if h := headers["X-Test"]; len(h) != 1 || h[0] != "yes" {
		t.Errorf("X-Test header = %v", h)
	}
}

func TestSMTPMailpitBadRecipient(t *testing.T) {
	t.Parallel()
	addr := testenv.Lookup(t, testenv.SMTPAddr)
	host, portStr, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(portStr)
	b, err := mail.NewSMTP(mail.SMTPConfig{Host: host, Port: port})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	err = b.Send(context.Background(), &mail.Message{From: "a@example.com", To: []string{"not-an-address"}, Subject: "x"})
	if !errors.Is(err, mail.ErrInvalid) {
		t.Fatalf("Send = %v, want ErrInvalid", err)
	}
}
