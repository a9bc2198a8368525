// Package smtptest runs a tiny in-process SMTP server for tests: it accepts
// mail, refuses it with a permanent (5xx) or temporary (4xx) error, or never
// answers, and can be switched from one behaviour to another while running.
package smtptest

import (
	"bufio"
	"bytes"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// Mode is how the server answers.
type Mode int32

// The server's behaviours.
const (
	// Accept takes every message.
	Accept Mode = iota
	// Reject5xx refuses every recipient with 550.
	Reject5xx
	// Reject4xx refuses every recipient with 451.
	Reject4xx
	// Silent accepts connections and never says a word.
	Silent
)

// Message is one message the server accepted.
type Message struct {
	From string
	To   []string
	Data []byte
}

// Server is a running fake SMTP server.
type Server struct {
	ln          net.Listener
	mode        atomic.Int32
	connections atomic.Int64
	mu          sync.Mutex
	msgs        []Message
	conns       map[net.Conn]struct{}
	wg          sync.WaitGroup
}

// NewServer starts a server on 127.0.0.1 in mode; it stops when t ends.
func NewServer(t testing.TB, mode Mode) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{ln: ln, conns: map[net.Conn]struct{}{}}
	s.mode.Store(int32(mode))
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(s.Close)
	return s
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Port is the server's port.
func (s *Server) Port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// SetMode changes how the server answers from the next command on.
func (s *Server) SetMode(m Mode) { s.mode.Store(int32(m)) }

// Connections is the number of connections accepted so far.
func (s *Server) Connections() int64 { return s.connections.Load() }

// Messages returns the messages accepted so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// DropConnections closes every open connection, as a server does with idle
// clients.
func (s *Server) DropConnections() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		_ = c.Close()
	}
}

// Close stops the server and closes its connections.
func (s *Server) Close() {
	_ = s.ln.Close()
	s.DropConnections()
	s.wg.Wait()
}

func (s *Server) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.connections.Add(1)
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() {
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
				_ = c.Close()
			}()
			s.handle(c)
		}()
	}
}

func (s *Server) handle(c net.Conn) {
	r := bufio.NewReader(c)
	if Mode(s.mode.Load()) == Silent {
		// Read (and ignore) until the client gives up.
		_, _ = r.WriteTo(discard{})
		return
	}
	reply := func(line string) bool {
		_, err := c.Write([]byte(line + "\r\n"))
		return err == nil
	}
	if !reply("220 smtptest ESMTP ready") {
		return
	}
	var cur Message
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.TrimSpace(line))
		mode := Mode(s.mode.Load())
		if mode == Silent {
			_, _ = r.WriteTo(discard{})
			return
		}
		switch {
		case strings.HasPrefix(cmd, "EHLO"):
			reply("250-smtptest\r\n250 8BITMIME")
		case strings.HasPrefix(cmd, "HELO"):
			reply("250 smtptest")
		case strings.HasPrefix(cmd, "MAIL FROM:"):
			cur = Message{From: strings.TrimSpace(line[len("MAIL FROM:"):])}
			reply("250 2.1.0 OK")
		case strings.HasPrefix(cmd, "RCPT TO:"):
			switch mode {
			case Reject5xx:
				reply("550 5.1.1 mailbox unavailable")
			case Reject4xx:
				reply("451 4.3.0 temporary failure, try again later")
			default:
				cur.To = append(cur.To, strings.TrimSpace(line[len("RCPT TO:"):]))
				reply("250 2.1.5 OK")
			}
		case cmd == "DATA":
			if len(cur.To) == 0 {
				reply("503 5.5.1 no valid recipients")
				continue
			}
			reply("354 go ahead")
			var data bytes.Buffer
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" || l == ".\n" {
					break
				}
				data.WriteString(strings.TrimPrefix(l, "."))
			}
			cur.Data = data.Bytes()
			s.mu.Lock()
			s.msgs = append(s.msgs, cur)
			s.mu.Unlock()
			cur = Message{}
			reply("250 2.0.0 queued")
		case cmd == "RSET":
			cur = Message{}
			reply("250 2.0.0 OK")
		case cmd == "NOOP":
			reply("250 2.0.0 OK")
		case cmd == "QUIT":
			reply("221 2.0.0 bye")
			return
		default:
			reply("502 5.5.2 command not recognized")
		}
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
