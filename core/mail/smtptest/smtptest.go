// Package smtptest runs a tiny in-process SMTP server for tests: it accepts
// mail, refuses it with a permanent (5xx) or temporary (4xx) error, or never
// answers, and can be switched from one behaviour to another while running.
// Options add implicit TLS, STARTTLS and AUTH PLAIN, with a self-signed
// certificate clients trust through ClientTLSConfig.
package smtptest

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"math/big"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
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
	// TLS tells whether the connection was encrypted (implicit TLS or
	// STARTTLS); User is the name it authenticated with, if any.
	TLS  bool
	User string
}

// Option configures a Server.
type Option func(*Server)

// WithImplicitTLS makes the server speak TLS from the first byte (port 465 style).
func WithImplicitTLS() Option { return func(s *Server) { s.implicitTLS = true } }

// WithSTARTTLS makes the server offer STARTTLS.
func WithSTARTTLS() Option { return func(s *Server) { s.startTLS = true } }

// WithAuth makes the server offer AUTH PLAIN and require it before MAIL.
func WithAuth(user, password string) Option {
	return func(s *Server) { s.user, s.password = user, password }
}

// Server is a running fake SMTP server.
type Server struct {
	ln          net.Listener
	implicitTLS bool
	startTLS    bool
	user        string
	password    string
	tlsConfig   *tls.Config
	clientTLS   *tls.Config
	mode        atomic.Int32
	connections atomic.Int64
	mu          sync.Mutex
	msgs        []Message
	conns       map[net.Conn]struct{}
	wg          sync.WaitGroup
}

// NewServer starts a server on 127.0.0.1 in mode; it stops when t ends.
func NewServer(t testing.TB, mode Mode, opts ...Option) *Server {
	t.Helper()
	s := &Server{conns: map[net.Conn]struct{}{}}
	for _, o := range opts {
		o(s)
	}
	if s.implicitTLS || s.startTLS {
		if err := s.makeCert(); err != nil {
			t.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if s.implicitTLS {
		ln = tls.NewListener(ln, s.tlsConfig)
	}
	s.ln = ln
	s.mode.Store(int32(mode))
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(s.Close)
	return s
}

// ClientTLSConfig trusts the server's self-signed certificate (for
// 127.0.0.1 and localhost).
func (s *Server) ClientTLSConfig() *tls.Config { return s.clientTLS.Clone() }

func (s *Server) makeCert() error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "smtptest"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost"},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	s.tlsConfig = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12}
	s.clientTLS = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return nil
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
	_, encrypted := c.(*tls.Conn)
	var user string
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
	if tc, ok := c.(*tls.Conn); ok {
		if err := tc.Handshake(); err != nil {
			return
		}
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
			ext := []string{"250-smtptest"}
			if s.startTLS && !encrypted {
				ext = append(ext, "250-STARTTLS")
			}
			if s.user != "" {
				ext = append(ext, "250-AUTH PLAIN")
			}
			reply(strings.Join(append(ext, "250 8BITMIME"), "\r\n"))
		case cmd == "STARTTLS" && s.startTLS && !encrypted:
			reply("220 2.0.0 ready to start TLS")
			tc := tls.Server(c, s.tlsConfig)
			if err := tc.Handshake(); err != nil {
				return
			}
			c, r, encrypted = tc, bufio.NewReader(tc), true
			s.mu.Lock()
			s.conns[tc] = struct{}{}
			s.mu.Unlock()
			defer func() {
				s.mu.Lock()
				delete(s.conns, tc)
				s.mu.Unlock()
			}()
		case strings.HasPrefix(cmd, "AUTH PLAIN") && s.user != "":
			raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(line[len("AUTH PLAIN"):]))
			parts := strings.Split(string(raw), "\x00")
			if err != nil || len(parts) != 3 || parts[1] != s.user || parts[2] != s.password {
				reply("535 5.7.8 authentication failed")
				continue
			}
			user = parts[1]
			reply("235 2.7.0 authenticated")
		case strings.HasPrefix(cmd, "HELO"):
			reply("250 smtptest")
		case strings.HasPrefix(cmd, "MAIL FROM:"):
			if s.user != "" && user == "" {
				reply("530 5.7.0 authentication required")
				continue
			}
			cur = Message{From: strings.TrimSpace(line[len("MAIL FROM:"):]), TLS: encrypted, User: user}
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
			cur = Message{TLS: encrypted, User: user}
			reply("250 2.0.0 queued")
		case cmd == "RSET":
			cur = Message{TLS: encrypted, User: user}
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
