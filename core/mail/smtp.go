package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"time"

	"manouche/settings"
)

// The SMTPConfig.Security modes.
const (
	// SecurityAuto uses implicit TLS on port 465, and STARTTLS elsewhere when
	// the server offers it. It suits Mailgun (port 587, STARTTLS) unchanged.
	SecurityAuto = "auto"
	// SecuritySTARTTLS requires STARTTLS (Django's EMAIL_USE_TLS).
	SecuritySTARTTLS = "starttls"
	// SecurityTLS connects with implicit TLS (Django's EMAIL_USE_SSL, port 465).
	SecurityTLS = "tls"
	// SecurityNone never encrypts (a local relay or mailpit).
	SecurityNone = "none"
)

// SMTPSettings is the smtp backend's settings section. The Heroku Mailgun
// add-on's MAILGUN_SMTP_* variables fill it when EMAIL_HOST is not set
// explicitly, and select this backend when EMAIL_BACKEND is not.
type SMTPSettings struct {
	Host     string        `setting:"EMAIL_HOST"`
	Port     int           `setting:"EMAIL_PORT"`
	User     string        `setting:"EMAIL_HOST_USER"`
	Password string        `setting:"EMAIL_HOST_PASSWORD" secret:"true"`
	UseTLS   bool          `setting:"EMAIL_USE_TLS"`
	UseSSL   bool          `setting:"EMAIL_USE_SSL"`
	Timeout  time.Duration `setting:"EMAIL_TIMEOUT"`

	MailgunServer   string `setting:"MAILGUN_SMTP_SERVER"`
	MailgunPort     int    `setting:"MAILGUN_SMTP_PORT"`
	MailgunLogin    string `setting:"MAILGUN_SMTP_LOGIN"`
	MailgunPassword string `setting:"MAILGUN_SMTP_PASSWORD" secret:"true"`
	MailgunDomain   string `setting:"MAILGUN_DOMAIN"`

	// mailgun is set by Resolve when the MAILGUN_SMTP_* variables configure
	// the server, so that messages name them.
	mailgun bool
}

// Resolve implements settings.Resolver: the Mailgun add-on's variables
// configure SMTP unless EMAIL_HOST is given explicitly, and MAILGUN_DOMAIN
// gives the default sender.
func (s *SMTPSettings) Resolve(st *settings.Settings) {
	if s.MailgunServer == "" || st.Explicit("EMAIL_HOST") {
		return
	}
	s.Host = s.MailgunServer
	s.mailgun = true
	if s.MailgunPort != 0 {
		s.Port = s.MailgunPort
	}
	s.User = s.MailgunLogin
	s.Password = s.MailgunPassword
	if s.Port == 587 {
		s.UseTLS = true
	}
	if s.MailgunDomain != "" && st.Sources["DEFAULT_FROM_EMAIL"] == "common.toml" {
		st.DefaultFromEmail = "noreply@" + s.MailgunDomain
	}
}

// Validate implements settings.Validator.
func (s *SMTPSettings) Validate(*settings.Settings) []string {
	var p []string
	if strings.TrimSpace(s.Host) == "" {
		p = append(p, "EMAIL_HOST is required with EMAIL_BACKEND=smtp (or set MAILGUN_SMTP_SERVER)")
	}
	if s.Port < 0 || s.Port > 65535 {
		p = append(p, fmt.Sprintf("EMAIL_PORT=%d is not a TCP port (1-65535)", s.Port))
	}
	if s.UseTLS && s.UseSSL {
		p = append(p, "EMAIL_USE_TLS and EMAIL_USE_SSL are mutually exclusive: set one of them")
	}
	return p
}

// Config returns the SMTPConfig the section describes; poolSize is
// EMAIL_WORKERS, as many connections as the queue sends at once.
func (s *SMTPSettings) Config(poolSize int) SMTPConfig {
	security := SecurityAuto
	switch {
	case s.UseSSL:
		security = SecurityTLS
	case s.UseTLS:
		security = SecuritySTARTTLS
	}
	vars := SMTPVars{Host: "EMAIL_HOST", Port: "EMAIL_PORT", User: "EMAIL_HOST_USER", Password: "EMAIL_HOST_PASSWORD"}
	if s.mailgun {
		vars = SMTPVars{Host: "MAILGUN_SMTP_SERVER", Port: "MAILGUN_SMTP_PORT", User: "MAILGUN_SMTP_LOGIN", Password: "MAILGUN_SMTP_PASSWORD"}
	}
	return SMTPConfig{
		Host: s.Host, Port: s.Port, Username: s.User, Password: s.Password,
		Security: security, Timeout: s.Timeout, PoolSize: poolSize, Vars: vars,
	}
}

func init() {
	Register("smtp", Module[SMTPSettings]{
		Settings: SMTPSettings{Host: "localhost", Port: 25, Timeout: 10 * time.Second},
		Open: func(_ context.Context, s *SMTPSettings, st *settings.Settings) (Backend, error) {
			return NewSMTP(s.Config(st.EmailWorkers))
		},
		SelectedBy: "MAILGUN_SMTP_SERVER",
	})
}

// SMTPConfig configures the SMTP backend. The Heroku Mailgun add-on maps as
// Host=MAILGUN_SMTP_SERVER, Port=MAILGUN_SMTP_PORT,
// Username=MAILGUN_SMTP_LOGIN, Password=MAILGUN_SMTP_PASSWORD, Security auto.
type SMTPConfig struct {
	// Host is the server's name (EMAIL_HOST); required.
	Host string
	// Port is the server's port (EMAIL_PORT); 0 means 25, or 465 with SecurityTLS.
	Port int
	// Username and Password authenticate with AUTH PLAIN when Username is set
	// (EMAIL_HOST_USER, EMAIL_HOST_PASSWORD). Go refuses to send them over an
	// unencrypted connection except to localhost.
	Username string
	Password string
	// Security is "auto" (default), "starttls", "tls" or "none".
	Security string
	// PoolSize is the number of connections kept open and the number of
	// messages sent at once (EMAIL_POOL_SIZE); 0 means 4.
	PoolSize int
	// Timeout bounds connecting plus sending one message (EMAIL_TIMEOUT);
	// 0 means 30s. A context deadline that comes sooner wins.
	Timeout time.Duration
	// HelloName is the name sent in EHLO; empty means "localhost".
	HelloName string
	// TLSConfig overrides the TLS settings (a private CA, tests with
	// self-signed servers); nil means verify the certificate for Host
	// against the system roots. An empty ServerName is set to Host.
	TLSConfig *tls.Config
	// Vars names the settings the fields came from, for messages; empty
	// names mean EMAIL_HOST, EMAIL_PORT, EMAIL_HOST_USER and EMAIL_HOST_PASSWORD.
	Vars SMTPVars
}

// SMTPVars names the settings an SMTPConfig came from: Django's EMAIL_*, or
// the Mailgun add-on's MAILGUN_SMTP_*.
type SMTPVars struct {
	Host, Port, User, Password string
}

// SMTP delivers messages to an SMTP server over a pool of kept-open
// connections. Each message runs under a deadline, so a server that stops
// answering yields an error rather than a stuck worker; a connection that
// went stale while idle is replaced before it carries a message.
//
// The MIME body is built by github.com/jordan-wright/email. Its own Pool is
// not used: it has no I/O deadline or context (a silent server blocks a
// sender forever) and no implicit TLS.
type SMTP struct {
	cfg      SMTPConfig
	addr     string
	security string
	slots    chan struct{}
	idle     chan *smtpConn
	mu       sync.Mutex
	closed   bool
}

type smtpConn struct {
	conn     net.Conn
	client   *smtp.Client
	lastUsed time.Time
}

// idleCheck is how long a connection may sit idle before it is checked with
// NOOP before use.
const idleCheck = 5 * time.Second

// NewSMTP returns an SMTP backend. It does not connect until the first Send.
func NewSMTP(cfg SMTPConfig) (*SMTP, error) {
	if strings.TrimSpace(cfg.Host) == "" {
		return nil, fmt.Errorf("mail: smtp: no host set (EMAIL_HOST or MAILGUN_SMTP_SERVER)")
	}
	sec := strings.ToLower(strings.TrimSpace(cfg.Security))
	if sec == "" {
		sec = SecurityAuto
	}
	switch sec {
	case SecurityAuto, SecuritySTARTTLS, SecurityTLS, SecurityNone:
	default:
		return nil, fmt.Errorf("mail: smtp: unknown security %q (want auto, starttls, tls or none)", cfg.Security)
	}
	if cfg.Port == 0 {
		cfg.Port = 25
		if sec == SecurityTLS {
			cfg.Port = 465
		}
	}
	if cfg.Port < 0 || cfg.Port > 65535 {
		return nil, fmt.Errorf("mail: smtp: invalid port %d", cfg.Port)
	}
	if sec == SecurityAuto && cfg.Port == 465 {
		sec = SecurityTLS
	}
	if cfg.PoolSize <= 0 {
		cfg.PoolSize = 4
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	return &SMTP{
		cfg:      cfg,
		addr:     net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)),
		security: sec,
		slots:    make(chan struct{}, cfg.PoolSize),
		idle:     make(chan *smtpConn, cfg.PoolSize),
	}, nil
}

// Send delivers msg. It returns nil only once the server accepted the
// message (the reply to the end of DATA).
func (s *SMTP) Send(ctx context.Context, msg *Message) error {
	if err := msg.Validate(); err != nil {
		return err
	}
	data, err := msg.Bytes()
	if err != nil {
		return err
	}
	from, err := mail.ParseAddress(msg.From)
	if err != nil {
		return fmt.Errorf("mail: smtp: from: %w", err)
	}
	rcpts := make([]string, 0, len(msg.To)+len(msg.Cc)+len(msg.Bcc))
	for _, r := range msg.Recipients() {
		a, err := mail.ParseAddress(r)
		if err != nil {
			return fmt.Errorf("mail: smtp: recipient: %w", err)
		}
		rcpts = append(rcpts, a.Address)
	}

	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("mail: smtp: waiting for a connection: %w", ctx.Err())
	}
	defer func() { <-s.slots }()

	if s.isClosed() {
		return fmt.Errorf("mail: smtp: backend closed")
	}
	c, reused, err := s.get(ctx)
	if err != nil {
		return err
	}
	err = s.deliver(ctx, c, from.Address, rcpts, data)
	if err != nil && reused && errors.Is(err, errBeforeMail) {
		// A kept connection the server had dropped: nothing was handed
		// over yet, so try once on a fresh one.
		c.close()
		if c, err = s.dial(ctx); err != nil {
			return err
		}
		err = s.deliver(ctx, c, from.Address, rcpts, data)
	}
	s.put(c, err)
	if err != nil {
		return fmt.Errorf("mail: smtp %s: %w", s.addr, unwrapStage(err))
	}
	return nil
}

// errBeforeMail marks an I/O failure on the first command of a transaction.
var errBeforeMail = errors.New("connection failed before MAIL")

type stageError struct {
	err   error
	stage error
}

func (e *stageError) Error() string { return e.err.Error() }
func (e *stageError) Unwrap() []error {
	return []error{e.err, e.stage}
}

func unwrapStage(err error) error {
	var se *stageError
	if errors.As(err, &se) {
		return se.err
	}
	return err
}

func (s *SMTP) deliver(ctx context.Context, c *smtpConn, from string, rcpts []string, data []byte) error {
	stop := c.watch(ctx)
	defer stop()
	if err := c.client.Mail(from); err != nil {
		var tpErr *textproto.Error
		if !errors.As(err, &tpErr) {
			return &stageError{err: fmt.Errorf("MAIL FROM: %w", err), stage: errBeforeMail}
		}
		return fmt.Errorf("MAIL FROM <%s>: %w", from, err)
	}
	for _, r := range rcpts {
		if err := c.client.Rcpt(r); err != nil {
			return fmt.Errorf("RCPT TO <%s>: %w", r, err)
		}
	}
	w, err := c.client.Data()
	if err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if _, err := w.Write(data); err != nil {
		return fmt.Errorf("DATA: write: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("DATA: end: %w", err)
	}
	return nil
}

// watch sets the connection deadline from ctx and breaks off I/O when ctx
// ends; stop clears both.
func (c *smtpConn) watch(ctx context.Context) (stop func()) {
	if d, ok := ctx.Deadline(); ok {
		_ = c.conn.SetDeadline(d)
	}
	unwatch := context.AfterFunc(ctx, func() { _ = c.conn.SetDeadline(time.Unix(1, 0)) })
	return func() {
		unwatch()
		_ = c.conn.SetDeadline(time.Time{})
	}
}

func (c *smtpConn) close() {
	_ = c.conn.SetDeadline(time.Now().Add(time.Second))
	_ = c.client.Quit()
	_ = c.conn.Close()
}

// get returns a kept connection or a new one; reused tells which.
func (s *SMTP) get(ctx context.Context) (*smtpConn, bool, error) {
	for {
		select {
		case c := <-s.idle:
			if time.Since(c.lastUsed) < idleCheck {
				return c, true, nil
			}
			stop := c.watch(ctx)
			err := c.client.Noop()
			stop()
			if err == nil {
				return c, true, nil
			}
			c.close()
			continue
		default:
		}
		c, err := s.dial(ctx)
		return c, false, err
	}
}

// put keeps c for the next message, unless err says the connection is no
// longer usable.
func (s *SMTP) put(c *smtpConn, err error) {
	if err != nil {
		var tpErr *textproto.Error
		if !errors.As(err, &tpErr) {
			c.close()
			return
		}
		// The server answered with an error code: the connection works;
		// reset the transaction before reusing it.
		_ = c.conn.SetDeadline(time.Now().Add(s.cfg.Timeout))
		rerr := c.client.Reset()
		_ = c.conn.SetDeadline(time.Time{})
		if rerr != nil {
			c.close()
			return
		}
	}
	c.lastUsed = time.Now()
	if s.isClosed() {
		c.close()
		return
	}
	select {
	case s.idle <- c:
	default:
		c.close()
	}
}

func (s *SMTP) dial(ctx context.Context) (*smtpConn, error) {
	d := net.Dialer{}
	conn, err := d.DialContext(ctx, "tcp", s.addr)
	if err != nil {
		return nil, &stepError{step: "connect", err: fmt.Errorf("mail: smtp: connect: %w", err)}
	}
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
	if s.cfg.TLSConfig != nil {
		tlsConfig = s.cfg.TLSConfig.Clone()
	}
	if tlsConfig.ServerName == "" {
		tlsConfig.ServerName = s.cfg.Host
	}
	if s.security == SecurityTLS {
		tc := tls.Client(conn, tlsConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = conn.Close()
			return nil, &stepError{step: "TLS", err: fmt.Errorf("mail: smtp %s: TLS handshake: %w", s.addr, err)}
		}
		conn = tc
	}
	c := &smtpConn{conn: conn}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	unwatch := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer func() { unwatch(); _ = conn.SetDeadline(time.Time{}) }()
	fail := func(step string, err error) (*smtpConn, error) {
		_ = conn.Close()
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", err, ctx.Err())
		}
		return nil, &stepError{step: step, err: fmt.Errorf("mail: smtp %s: %s: %w", s.addr, step, err)}
	}
	client, err := smtp.NewClient(conn, s.cfg.Host)
	if err != nil {
		return fail("greeting", err)
	}
	c.client = client
	if s.cfg.HelloName != "" {
		if err := client.Hello(s.cfg.HelloName); err != nil {
			return fail("EHLO", err)
		}
	}
	if s.security == SecuritySTARTTLS || s.security == SecurityAuto {
		ok, _ := client.Extension("STARTTLS")
		switch {
		case ok:
			if err := client.StartTLS(tlsConfig); err != nil {
				return fail("STARTTLS", err)
			}
		case s.security == SecuritySTARTTLS:
			return fail("STARTTLS", errors.New("the server does not offer STARTTLS (set security to auto or none to send unencrypted)"))
		}
	}
	if s.cfg.Username != "" {
		if ok, _ := client.Extension("AUTH"); !ok {
			return fail("AUTH", errors.New("the server does not offer AUTH but a username is set"))
		}
		if err := client.Auth(smtp.PlainAuth("", s.cfg.Username, s.cfg.Password, s.cfg.Host)); err != nil {
			return fail("AUTH", err)
		}
	}
	c.lastUsed = time.Now()
	return c, nil
}

func (s *SMTP) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Close closes the kept connections; later sends fail.
func (s *SMTP) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	for {
		select {
		case c := <-s.idle:
			c.close()
		default:
			return nil
		}
	}
}

var (
	_ Backend = (*SMTP)(nil)
	_ Closer  = (*SMTP)(nil)
)
