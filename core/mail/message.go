// Package mail builds email messages, renders them from template pairs
// wrapped in a shared layout, and delivers them through a Backend: SMTP (with
// a connection pool), the console, a folder of .eml files, or an in-memory
// outbox for tests.
//
// A Message is plain data that survives a JSON round trip, so the queue can
// store it in a job row and a worker in another process can deliver it.
package mail

import (
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/jordan-wright/email"
)

// ErrInvalid is wrapped by every error Validate returns, so callers can tell
// bad input from a delivery failure with errors.Is.
var ErrInvalid = errors.New("invalid message")

// Attachment is a file sent with a message.
type Attachment struct {
	// Filename is the name the recipient sees.
	Filename string `json:"filename"`
	// ContentType is the MIME type; empty means application/octet-stream.
	ContentType string `json:"content_type,omitempty"`
	// Content is the file's bytes (base64 in JSON).
	Content []byte `json:"content"`
}

// Message is one email. Addresses are RFC 5322 addresses, with or without a
// display name ("Ann <ann@example.com>" or "ann@example.com").
type Message struct {
	// From is the sender; empty means Defaults.From.
	From string `json:"from,omitempty"`
	// To, Cc and Bcc are the recipients; at least one is required.
	To  []string `json:"to,omitempty"`
	Cc  []string `json:"cc,omitempty"`
	Bcc []string `json:"bcc,omitempty"`
	// ReplyTo is the Reply-To header.
	ReplyTo []string `json:"reply_to,omitempty"`
	// Subject is the subject line, without the prefix Defaults may add.
	Subject string `json:"subject"`
	// Text is the text/plain body.
	Text string `json:"text,omitempty"`
	// HTML is the text/html alternative body.
	HTML string `json:"html,omitempty"`
	// Attachments are files sent with the message.
	Attachments []Attachment `json:"attachments,omitempty"`
	// Headers are extra headers, such as List-Unsubscribe.
	Headers map[string]string `json:"headers,omitempty"`
}

// Recipients returns To, Cc and Bcc together.
func (m *Message) Recipients() []string {
	out := make([]string, 0, len(m.To)+len(m.Cc)+len(m.Bcc))
	out = append(out, m.To...)
	out = append(out, m.Cc...)
	return append(out, m.Bcc...)
}

// Validate reports the first problem that would stop the message from being
// delivered: no sender, no recipient, an address that does not parse, a
// header with a line break, an attachment without a name. Errors wrap
// ErrInvalid.
func (m *Message) Validate() error {
	if m == nil {
		return fmt.Errorf("mail: %w: nil message", ErrInvalid)
	}
	if strings.TrimSpace(m.From) == "" {
		return fmt.Errorf("mail: %w: no sender (set From or DEFAULT_FROM_EMAIL)", ErrInvalid)
	}
	if _, err := mail.ParseAddress(m.From); err != nil {
		return fmt.Errorf("mail: %w: from address %q: %v", ErrInvalid, m.From, err)
	}
	if len(m.To)+len(m.Cc)+len(m.Bcc) == 0 {
		return fmt.Errorf("mail: %w: no recipient (To, Cc and Bcc are all empty)", ErrInvalid)
	}
	for _, list := range []struct {
		name  string
		addrs []string
	}{{"to", m.To}, {"cc", m.Cc}, {"bcc", m.Bcc}, {"reply-to", m.ReplyTo}} {
		for _, a := range list.addrs {
			if _, err := mail.ParseAddress(a); err != nil {
				return fmt.Errorf("mail: %w: %s address %q: %v", ErrInvalid, list.name, a, err)
			}
		}
	}
	if strings.ContainsAny(m.Subject, "\r\n") {
		return fmt.Errorf("mail: %w: subject contains a line break", ErrInvalid)
	}
	for k, v := range m.Headers {
		if k == "" || strings.ContainsAny(k, "\r\n: ") || strings.ContainsAny(v, "\r\n") {
			return fmt.Errorf("mail: %w: header %q: names and values must be one line", ErrInvalid, k)
		}
	}
	for i, a := range m.Attachments {
		if strings.TrimSpace(a.Filename) == "" {
			return fmt.Errorf("mail: %w: attachment %d has no filename", ErrInvalid, i+1)
		}
	}
	return nil
}

// Attach adds a file to the message and returns the message.
func (m *Message) Attach(filename, contentType string, content []byte) *Message {
	m.Attachments = append(m.Attachments, Attachment{Filename: filename, ContentType: contentType, Content: content})
	return m
}

// Clone returns a deep copy of m.
func (m *Message) Clone() *Message {
	c := *m
	c.To = append([]string(nil), m.To...)
	c.Cc = append([]string(nil), m.Cc...)
	c.Bcc = append([]string(nil), m.Bcc...)
	c.ReplyTo = append([]string(nil), m.ReplyTo...)
	if m.Attachments != nil {
		c.Attachments = make([]Attachment, len(m.Attachments))
		for i, a := range m.Attachments {
			a.Content = append([]byte(nil), a.Content...)
			c.Attachments[i] = a
		}
	}
	if m.Headers != nil {
		c.Headers = make(map[string]string, len(m.Headers))
		for k, v := range m.Headers {
			c.Headers[k] = v
		}
	}
	return &c
}

// email converts m to the jordan-wright/email form that builds the MIME body.
func (m *Message) email() (*email.Email, error) {
	e := email.NewEmail()
	e.From = m.From
	e.To = m.To
	e.Cc = m.Cc
	e.Bcc = m.Bcc
	e.ReplyTo = m.ReplyTo
	e.Subject = m.Subject
	if m.Text != "" {
		e.Text = []byte(m.Text)
	}
	if m.HTML != "" {
		e.HTML = []byte(m.HTML)
	}
	for k, v := range m.Headers {
		e.Headers.Set(k, v)
	}
	if e.Headers.Get("Date") == "" {
		e.Headers.Set("Date", time.Now().Format(time.RFC1123Z))
	}
	for _, a := range m.Attachments {
		ct := a.ContentType
		if ct == "" {
			ct = "application/octet-stream"
		}
		if _, err := e.Attach(strings.NewReader(string(a.Content)), a.Filename, ct); err != nil {
			return nil, fmt.Errorf("mail: attach %q: %w", a.Filename, err)
		}
	}
	return e, nil
}

// Bytes returns the message as RFC 5322 text (MIME multipart when it has an
// HTML part or attachments), the form SMTP carries and .eml files hold. Bcc
// recipients are not written.
func (m *Message) Bytes() ([]byte, error) {
	e, err := m.email()
	if err != nil {
		return nil, err
	}
	b, err := e.Bytes()
	if err != nil {
		return nil, fmt.Errorf("mail: build MIME: %w", err)
	}
	return b, nil
}

// Defaults are the project-wide values applied to every message before it is
// sent or queued: DEFAULT_FROM_EMAIL and EMAIL_SUBJECT_PREFIX.
type Defaults struct {
	// From is used when a message has no From.
	From string
	// SubjectPrefix is prepended to every subject (Django applies its
	// EMAIL_SUBJECT_PREFIX to admin mails only; here it applies to all, so
	// staging mail is easy to tell from production's). Django's default is
	// "[Django] "; ours is empty.
	SubjectPrefix string
}

// Apply returns a copy of m with the defaults filled in. m is not modified.
func (d Defaults) Apply(m *Message) *Message {
	if m == nil {
		return nil
	}
	c := m.Clone()
	if strings.TrimSpace(c.From) == "" {
		c.From = d.From
	}
	if d.SubjectPrefix != "" && !strings.HasPrefix(c.Subject, d.SubjectPrefix) {
		c.Subject = d.SubjectPrefix + c.Subject
	}
	return c
}
