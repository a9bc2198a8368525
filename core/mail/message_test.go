package mail_test

import (
	"errors"
	"strings"
	"testing"

	"manouche/core/mail"
)

func validMessage() *mail.Message {
	return &mail.Message{From: "Site <noreply@example.com>", To: []string{"ann@example.com"}, Subject: "Hi", Text: "hello"}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(m *mail.Message)
		want   string // "" means valid
	}{
		{"valid", func(*mail.Message) {}, ""},
		{"only bcc", func(m *mail.Message) { m.To = nil; m.Bcc = []string{"b@example.com"} }, ""},
		{"no recipient", func(m *mail.Message) { m.To = nil }, "no recipient"},
		{"no sender", func(m *mail.Message) { m.From = "" }, "no sender"},
		{"bad sender", func(m *mail.Message) { m.From = "not an address" }, "from address"},
		{"bad to", func(m *mail.Message) { m.To = []string{"ann@"} }, `to address "ann@"`},
		{"bad cc", func(m *mail.Message) { m.Cc = []string{"x y z"} }, "cc address"},
		{"bad bcc", func(m *mail.Message) { m.Bcc = []string{""} }, "bcc address"},
		{"bad reply-to", func(m *mail.Message) { m.ReplyTo = []string{"@@"} }, "reply-to address"},
		{"subject injection", func(m *mail.Message) { m.Subject = "Hi\r\nBcc: evil@example.com" }, "line break"},
		{"header injection", func(m *mail.Message) { m.Headers = map[string]string{"X-A": "1\r\nBcc: e@example.com"} }, "one line"},
		{"bad header name", func(m *mail.Message) { m.Headers = map[string]string{"X A": "1"} }, "one line"},
		{"attachment without name", func(m *mail.Message) { m.Attach("", "text/plain", []byte("x")) }, "no filename"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := validMessage()
			tt.change(m)
			err := m.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, mail.ErrInvalid) {
				t.Fatalf("Validate() = %v, want an ErrInvalid containing %q", err, tt.want)
			}
		})
	}
	var nilMsg *mail.Message
	if err := nilMsg.Validate(); !errors.Is(err, mail.ErrInvalid) {
		t.Fatalf("nil message: %v", err)
	}
}

func TestDefaultsApply(t *testing.T) {
	t.Parallel()
	d := mail.Defaults{From: "Site <noreply@example.com>", SubjectPrefix: "[Site] "}
	in := &mail.Message{To: []string{"a@example.com"}, Subject: "Welcome", Attachments: []mail.Attachment{{Filename: "a", Content: []byte("x")}}}
	out := d.Apply(in)
	if out.From != d.From || out.Subject != "[Site] Welcome" {
		t.Fatalf("Apply = %+v", out)
	}
	if in.From != "" || in.Subject != "Welcome" {
		t.Fatalf("Apply modified its input: %+v", in)
	}
	out.Attachments[0].Content[0] = 'y'
	if in.Attachments[0].Content[0] != 'x' {
		t.Fatal("Apply shares attachment bytes with its input")
	}
	again := d.Apply(out)
	if again.Subject != "[Site] Welcome" {
		t.Fatalf("prefix applied twice: %q", again.Subject)
	}
	own := d.Apply(&mail.Message{From: "me@example.com"})
	if own.From != "me@example.com" {
		t.Fatalf("From overridden: %q", own.From)
	}
}

func TestBytesOmitsBcc(t *testing.T) {
	t.Parallel()
	m := validMessage()
	m.Bcc = []string{"secret@example.com"}
	m.HTML = "<p>hello</p>"
	b, err := m.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if strings.Contains(s, "secret@example.com") {
		t.Fatal("Bcc address written into the message")
	}
	for _, want := range []string{"Subject: Hi", "text/plain", "text/html", "ann@example.com"} {
		if !strings.Contains(s, want) {
			t.Errorf("message lacks %q:\n%s", want, s)
		}
	}
}
