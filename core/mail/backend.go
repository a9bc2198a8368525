package mail

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Backend delivers messages. The queue's worker, the test kit's outbox and
// the console all implement it. Send must honour ctx's deadline and must be
// safe for concurrent use.
type Backend interface {
	Send(ctx context.Context, msg *Message) error
}

// Closer is implemented by backends that hold resources (the SMTP pool).
type Closer interface {
	Close() error
}

// The EMAIL_BACKEND names New accepts.
const (
	BackendSMTP    = "smtp"
	BackendConsole = "console"
	BackendMemory  = "memory"
	BackendFile    = "file"
)

// Config chooses and configures a backend; the project maps its settings to
// it (EMAIL_BACKEND, EMAIL_HOST, ... or the MAILGUN_SMTP_* variables).
type Config struct {
	// Backend is one of "smtp", "console", "memory", "file"; empty means "console".
	Backend string
	// SMTP configures the "smtp" backend.
	SMTP SMTPConfig
	// FilePath is the folder of the "file" backend (EMAIL_FILE_PATH).
	FilePath string
	// Console is where the "console" backend writes; nil means os.Stdout.
	Console io.Writer
}

// New returns the backend cfg names. Close it (when it implements Closer)
// at shutdown.
func New(cfg Config) (Backend, error) {
	switch strings.ToLower(strings.TrimSpace(cfg.Backend)) {
	case "", BackendConsole:
		w := cfg.Console
		if w == nil {
			w = os.Stdout
		}
		return NewConsole(w), nil
	case BackendMemory:
		return NewMemory(), nil
	case BackendFile:
		return NewFile(cfg.FilePath)
	case BackendSMTP:
		return NewSMTP(cfg.SMTP)
	default:
		return nil, fmt.Errorf("mail: unknown EMAIL_BACKEND %q (want smtp, console, memory or file)", cfg.Backend)
	}
}

// Mailer sends messages synchronously, without a queue: it applies the
// defaults, validates, and hands the message to its backend. Use the queue
// for mail caused by a database write; use a Mailer where no database is
// involved or the caller must know at once that the server accepted it.
type Mailer struct {
	Backend  Backend
	Defaults Defaults
}

// Send applies the defaults to msg, validates it and delivers it.
func (m Mailer) Send(ctx context.Context, msg *Message) error {
	if m.Backend == nil {
		return fmt.Errorf("mail: send: no backend configured")
	}
	msg = m.Defaults.Apply(msg)
	if err := msg.Validate(); err != nil {
		return err
	}
	if err := m.Backend.Send(ctx, msg); err != nil {
		return fmt.Errorf("mail: send %q: %w", msg.Subject, err)
	}
	return nil
}

// NewMessageID returns a new globally unique Message-Id header value for a
// message sent from the address from ("<random@domain>").
func NewMessageID(from string) string {
	domain := "localhost"
	if i := strings.LastIndexByte(from, '@'); i >= 0 {
		domain = strings.TrimRight(from[i+1:], "> ")
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("<%d.%s@%s>", time.Now().UnixNano(), hex.EncodeToString(b[:]), domain)
}

var _ Backend = Mailer{}
