package mail

import (
	"context"
	"fmt"
	"sync"

	"manouche/settings"
)

func init() {
	Register("memory", Module[struct{}]{
		Open: func(context.Context, *struct{}, *settings.Settings) (Backend, error) {
			return NewMemory(), nil
		},
		DeployWarning: "no email will reach anyone. Use smtp (the Mailgun add-on configures it).",
	})
}

// Memory keeps sent messages in memory, like Django's mail.outbox: the test
// kit's backend.
type Memory struct {
	mu     sync.Mutex
	outbox []*Message
	notify chan struct{}
}

// NewMemory returns an empty Memory backend.
func NewMemory() *Memory { return &Memory{notify: make(chan struct{})} }

// Send validates msg and appends a copy to the outbox.
func (m *Memory) Send(ctx context.Context, msg *Message) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("mail: memory: %w", err)
	}
	if err := msg.Validate(); err != nil {
		return err
	}
	m.mu.Lock()
	m.outbox = append(m.outbox, msg.Clone())
	close(m.notify)
	m.notify = make(chan struct{})
	m.mu.Unlock()
	return nil
}

// Outbox returns copies of the messages sent so far, oldest first.
func (m *Memory) Outbox() []*Message {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*Message, len(m.outbox))
	for i, msg := range m.outbox {
		out[i] = msg.Clone()
	}
	return out
}

// Len returns the number of messages sent so far.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.outbox)
}

// Reset empties the outbox.
func (m *Memory) Reset() {
	m.mu.Lock()
	m.outbox = nil
	m.mu.Unlock()
}

// Wait blocks until the outbox holds at least n messages or ctx ends; tests
// use it to wait for a queue worker.
func (m *Memory) Wait(ctx context.Context, n int) error {
	for {
		m.mu.Lock()
		got, ch := len(m.outbox), m.notify
		m.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("mail: memory: %d of %d messages: %w", got, n, ctx.Err())
		}
	}
}

var _ Backend = (*Memory)(nil)
