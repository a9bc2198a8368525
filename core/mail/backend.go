package mail

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"manouche/settings"
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

// Backends is the registry of mail backends, by name: EMAIL_BACKEND names
// the one a project uses. Each backend registers itself from an init function
// in its own file (console.go, memory.go, file.go, smtp.go) or package, with
// its settings section and validation: adding one is a file (or a package and
// its import) that calls [Register].
var Backends = settings.NewRegistry[Backend]("mail", "EMAIL_BACKEND")

// Module describes a mail backend whose settings section is the struct S:
// its defaults, how to open it, the aliases of its environment names. A
// pointer to S may implement settings.Validator and settings.Resolver.
type Module[S any] = settings.Module[Backend, S]

// Register adds the mail backend name; call it from an init function. It
// panics if the name is taken or a setting of the section belongs to
// something else, like database/sql's Register.
func Register[S any](name string, m Module[S]) { settings.Register(Backends, name, m) }

// Open returns the backend EMAIL_BACKEND names, built from its section of st.
// Close it (when it implements Closer) at shutdown.
func Open(ctx context.Context, st *settings.Settings) (Backend, error) {
	return Backends.Open(ctx, st)
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
