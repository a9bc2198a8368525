package mail

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"

	"manouche/settings"
)

func init() {
	Register("console", Module[struct{}]{
		Open: func(context.Context, *struct{}, *settings.Settings) (Backend, error) {
			return NewConsole(os.Stdout), nil
		},
		DeployWarning: "no email will reach anyone. Use smtp (the Mailgun add-on configures it).",
	})
}

// Console writes each message, as RFC 5322 text, to a writer: the
// development default, like Django's console backend.
type Console struct {
	mu sync.Mutex
	w  io.Writer
}

// NewConsole returns a Console writing to w.
func NewConsole(w io.Writer) *Console { return &Console{w: w} }

// Send writes msg followed by a separator line.
func (c *Console) Send(ctx context.Context, msg *Message) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("mail: console: %w", err)
	}
	if err := msg.Validate(); err != nil {
		return err
	}
	b, err := msg.Bytes()
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := fmt.Fprintf(c.w, "%s\n%s\n", b, "-------------------------------------------------------------------------------"); err != nil {
		return fmt.Errorf("mail: console: write: %w", err)
	}
	return nil
}

var _ Backend = (*Console)(nil)
