package mail

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

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

// File writes each message to its own .eml file in a folder, like Django's
// file backend; mail clients open .eml files directly.
type File struct {
	dir string
}

// NewFile returns a File backend writing into dir, creating it if needed.
func NewFile(dir string) (*File, error) {
	if dir == "" {
		return nil, fmt.Errorf("mail: file backend: no folder set (EMAIL_FILE_PATH)")
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("mail: file backend: %w", err)
	}
	return &File{dir: dir}, nil
}

// Send writes msg to DIR/<time>-<random>.eml.
func (f *File) Send(ctx context.Context, msg *Message) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("mail: file: %w", err)
	}
	if err := msg.Validate(); err != nil {
		return err
	}
	b, err := msg.Bytes()
	if err != nil {
		return err
	}
	var r [6]byte
	_, _ = rand.Read(r[:])
	name := filepath.Join(f.dir, time.Now().UTC().Format("20060102-150405.000000000")+"-"+hex.EncodeToString(r[:])+".eml")
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, b, 0o640); err != nil {
		return fmt.Errorf("mail: file: write: %w", err)
	}
	if err := os.Rename(tmp, name); err != nil {
		return fmt.Errorf("mail: file: %w", err)
	}
	return nil
}

var (
	_ Backend = (*Console)(nil)
	_ Backend = (*Memory)(nil)
	_ Backend = (*File)(nil)
)
