package mail_test

import (
	"bytes"
	"context"
	"errors"
	netmail "net/mail"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"manouche/core/mail"
)

// The backends' own constructors refuse what they cannot work with, whoever
// calls them (the registry's Open is tested in registry_test.go).
func TestConstructorsValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		new  func() (mail.Backend, error)
		want string
	}{
		{"file without folder", func() (mail.Backend, error) { return mail.NewFile("") }, "no folder set"},
		{"smtp without host", func() (mail.Backend, error) { return mail.NewSMTP(mail.SMTPConfig{}) }, "no host set"},
		{"smtp bad security", func() (mail.Backend, error) { return mail.NewSMTP(mail.SMTPConfig{Host: "h", Security: "ssl3"}) }, `unknown security "ssl3"`},
		{"smtp bad port", func() (mail.Backend, error) { return mail.NewSMTP(mail.SMTPConfig{Host: "h", Port: 70000}) }, "invalid port"},
	}
	for _, tt := range tests {
		if _, err := tt.new(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.want)
		}
	}
}

func richMessage(subject string) *mail.Message {
	m := &mail.Message{
		From:    "Site <noreply@example.com>",
		To:      []string{"Ann <ann@example.com>"},
		Cc:      []string{"cc@example.com"},
		ReplyTo: []string{"support@example.com"},
		Subject: subject,
		Text:    "Hello Ann, here is your report: é ü 😀",
		HTML:    "<p>Hello <b>Ann</b></p>",
		Headers: map[string]string{"X-Test": "yes"},
	}
	return m.Attach("report.csv", "text/csv", []byte("a,b\n1,2\n")).Attach("blob.bin", "", []byte{0, 1, 2, 255})
}

func TestConsole(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	c := mail.NewConsole(&buf)
	if err := c.Send(context.Background(), richMessage("Console subject")); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"Subject: Console subject", "ann@example.com", "Reply-To: support@example.com", "report.csv", "-------"} {
		if !strings.Contains(out, want) {
			t.Errorf("console output lacks %q", want)
		}
	}
	if err := c.Send(context.Background(), &mail.Message{From: "a@example.com"}); !errors.Is(err, mail.ErrInvalid) {
		t.Errorf("invalid message: %v", err)
	}
}

func TestMemory(t *testing.T) {
	t.Parallel()
	m := mail.NewMemory()
	ctx := context.Background()
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := m.Send(ctx, richMessage("mem")); err != nil {
				t.Error(err)
			}
		}()
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := m.Wait(wctx, 10); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	out := m.Outbox()
	if len(out) != 10 || m.Len() != 10 || out[0].Subject != "mem" || len(out[0].Attachments) != 2 {
		t.Fatalf("outbox = %d messages", len(out))
	}
	out[0].Subject = "changed"
	if m.Outbox()[0].Subject != "mem" {
		t.Fatal("Outbox returns shared messages")
	}
	m.Reset()
	if m.Len() != 0 {
		t.Fatal("Reset left messages")
	}
	short, cancel2 := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel2()
	if err := m.Wait(short, 1); err == nil {
		t.Fatal("Wait on an empty outbox returned nil")
	}
	if err := m.Send(ctx, &mail.Message{From: "a@example.com", To: []string{"bad"}}); !errors.Is(err, mail.ErrInvalid) {
		t.Fatalf("invalid: %v", err)
	}
}

func TestFile(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "mail", "out")
	f, err := mail.NewFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := f.Send(context.Background(), richMessage("File subject "+string(rune('A'+i)))); err != nil {
			t.Fatal(err)
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.eml"))
	if len(files) != 3 {
		t.Fatalf("%d .eml files, want 3", len(files))
	}
	raw, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	msg, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("the .eml file does not parse: %v", err)
	}
	if msg.Header.Get("Subject") != "File subject A" || !strings.Contains(msg.Header.Get("Cc"), "cc@example.com") ||
		!strings.HasPrefix(msg.Header.Get("Content-Type"), "multipart/mixed") {
		t.Fatalf("headers: %v", msg.Header)
	}
	if tmp, _ := filepath.Glob(filepath.Join(dir, "*.tmp")); len(tmp) != 0 {
		t.Fatalf("temporary files left: %v", tmp)
	}
}

func TestMailer(t *testing.T) {
	t.Parallel()
	box := mail.NewMemory()
	m := mail.Mailer{Backend: box, Defaults: mail.Defaults{From: "Site <site@example.com>", SubjectPrefix: "[S] "}}
	if err := m.Send(context.Background(), &mail.Message{To: []string{"a@example.com"}, Subject: "x"}); err != nil {
		t.Fatal(err)
	}
	got := box.Outbox()[0]
	if got.From != "Site <site@example.com>" || got.Subject != "[S] x" {
		t.Fatalf("%+v", got)
	}
	if err := m.Send(context.Background(), &mail.Message{Subject: "x"}); !errors.Is(err, mail.ErrInvalid) {
		t.Fatalf("no recipient: %v", err)
	}
	if err := (mail.Mailer{}).Send(context.Background(), got); err == nil {
		t.Fatal("mailer without backend sent")
	}
}
