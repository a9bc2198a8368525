package api_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgproto3"
	_ "github.com/jackc/pgx/v5/stdlib"

	"manouche/core/api"
	"manouche/core/testenv"
)

// fakePostgres listens on the loopback and runs serve on each connection
// with a Postgres protocol backend; it returns a URL to it.
func fakePostgres(t *testing.T, serve func(b *pgproto3.Backend, c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				serve(pgproto3.NewBackend(c, c), c)
			}()
		}
	}()
	return "postgres://u:p@" + ln.Addr().String() + "/db?sslmode=disable&connect_timeout=1"
}

// handshake accepts the client's startup message without a password.
func handshake(b *pgproto3.Backend) bool {
	if _, err := b.ReceiveStartupMessage(); err != nil {
		return false
	}
	b.Send(&pgproto3.AuthenticationOk{})
	b.Send(&pgproto3.BackendKeyData{ProcessID: 1, SecretKey: []byte{1, 2, 3, 4}})
	b.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
	return b.Flush() == nil
}

// TestIsUnavailableDriverForms: the errors the Postgres driver itself
// returns when the server goes away, produced by a real pgx client against
// a server that misbehaves as a restarting or crashing Postgres does. Each
// is an outage (503); a refused password is not (500: a configuration bug).
func TestIsUnavailableDriverForms(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// The server answers the handshake, then goes away without a word (a
	// crashed backend, a proxy's idle timeout): the client's next query and,
	// in a transaction, its COMMIT find the connection closed.
	begun := make(chan struct{})
	vanishing := fakePostgres(t, func(b *pgproto3.Backend, c net.Conn) {
		if !handshake(b) {
			return
		}
		if msg, err := b.Receive(); err == nil {
			if q, ok := msg.(*pgproto3.Query); ok && q.String == "begin" {
				b.Send(&pgproto3.CommandComplete{CommandTag: []byte("BEGIN")})
				b.Send(&pgproto3.ReadyForQuery{TxStatus: 'T'})
				_ = b.Flush()
				<-begun
			}
		}
	})
	conn, err := pgx.Connect(ctx, vanishing)
	if err != nil {
		t.Fatal(err)
	}
	_, queryErr := conn.Exec(ctx, "SELECT 1")
	conn, err = pgx.Connect(ctx, vanishing)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	close(begun)
	time.Sleep(50 * time.Millisecond)
	commitErr := tx.Commit(ctx)

	// The server accepts the connection and hangs up before answering (a
	// Postgres between shutdown and exit), or never answers.
	_, hangupErr := pgx.Connect(ctx, fakePostgres(t, func(b *pgproto3.Backend, c net.Conn) {
		_, _ = b.ReceiveStartupMessage()
	}))
	// ... or in the middle of the password exchange (SCRAM): what a Postgres
	// shutting down does to a connection still authenticating, without an
	// error message (the harness's "failed SASL auth: unexpected EOF").
	_, saslErr := pgx.Connect(ctx, fakePostgres(t, func(b *pgproto3.Backend, c net.Conn) {
		if _, err := b.ReceiveStartupMessage(); err != nil {
			return
		}
		b.Send(&pgproto3.AuthenticationSASL{AuthMechanisms: []string{"SCRAM-SHA-256"}})
		if b.Flush() != nil || b.SetAuthType(pgproto3.AuthTypeSASL) != nil {
			return
		}
		_, _ = b.Receive() // the client's first SASL message; then the server is gone
	}))
	_, silentErr := pgx.Connect(ctx, fakePostgres(t, func(b *pgproto3.Backend, c net.Conn) {
		_, _ = b.ReceiveStartupMessage()
		time.Sleep(3 * time.Second)
	}))
	// A wrong password: the server is up, the configuration is wrong.
	_, authErr := pgx.Connect(ctx, fakePostgres(t, func(b *pgproto3.Backend, c net.Conn) {
		_, _ = b.ReceiveStartupMessage()
		b.Send(&pgproto3.ErrorResponse{Severity: "FATAL", Code: "28P01", Message: `password authentication failed for user "u"`})
		_ = b.Flush()
	}))

	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"query on a connection the server closed", queryErr, true},
		{"COMMIT on a connection the server closed", commitErr, true},
		{"wrapped, as a model's method returns it", fmt.Errorf("users: create: %w", commitErr), true},
		{"connecting: the server hung up", hangupErr, true},
		{"connecting: the server hung up during SCRAM", saslErr, true},
		{"connecting: no answer within connect_timeout", silentErr, true},
		{"connecting: password refused (28P01)", authErr, false},
		{"bare unexpected EOF (a truncated body)", io.ErrUnexpectedEOF, false},
		{"bare EOF", fmt.Errorf("decode: %w", io.EOF), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.err == nil {
				t.Fatal("the scenario produced no error")
			}
			t.Logf("%T: %v", tt.err, tt.err)
			if got := api.IsUnavailable(tt.err); got != tt.want {
				t.Errorf("IsUnavailable(%T %v) = %v, want %v", tt.err, tt.err, got, tt.want)
			}
			e := api.From(tt.err, false, 0)
			if want := map[bool]int{true: 503, false: 500}[tt.want]; e.Status != want {
				t.Errorf("From(%v) = %d %s, want %d", tt.err, e.Status, e.Type, want)
			}
		})
	}
}

// cutProxy forwards TCP connections to target and can close them all at
// once, as a network failure or a crashed server would.
type cutProxy struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln}
	t.Cleanup(func() { ln.Close(); p.cut() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, s)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(c, s); c.Close() }()
			go func() { _, _ = io.Copy(s, c); s.Close() }()
		}
	}()
	return p
}

func (p *cutProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// TestUnavailableOnPostgres: a handler whose transaction loses its
// connection to a real Postgres, in the middle (the connection cut) or by
// the server's hand (pg_terminate_backend, as a restart does), answers 503
// ServiceUnavailable in the error shape, not 500.
func TestUnavailableOnPostgres(t *testing.T) {
	raw := testenv.Lookup(t, testenv.DatabaseURL)
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newCutProxy(t, u.Host)
	u.Host = proxy.ln.Addr().String()
	db, err := sql.Open("pgx", u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	admin, err := sql.Open("pgx", raw)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()

	// Each fault strikes between the transaction's statement and its COMMIT.
	faults := map[string]func(t *testing.T, tx *sql.Tx){
		"connection cut": func(t *testing.T, tx *sql.Tx) { proxy.cut() },
		"backend terminated": func(t *testing.T, tx *sql.Tx) {
			var pid int
			if err := tx.QueryRow("SELECT pg_backend_pid()").Scan(&pid); err != nil {
				t.Fatal(err)
			}
			if _, err := admin.Exec("SELECT pg_terminate_backend($1)", pid); err != nil {
				t.Fatal(err)
			}
		},
	}
	for name, fault := range faults {
		t.Run(name, func(t *testing.T) {
			var handlerErr error
			app := newApp(func(app *fiber.App) {
				app.Post("/write", func(c *fiber.Ctx) error {
					tx, err := db.BeginTx(c.UserContext(), nil)
					if err != nil {
						return err
					}
					defer func() { _ = tx.Rollback() }()
					if _, err := tx.Exec("SELECT 1"); err != nil {
						return err
					}
					fault(t, tx)
					time.Sleep(50 * time.Millisecond)
					handlerErr = tx.Commit()
					if handlerErr != nil {
						return fmt.Errorf("write: %w", handlerErr)
					}
					return c.SendStatus(http.StatusNoContent)
				})
			})
			r := do(t, app, httptest.NewRequest("POST", "/write", nil))
			if r.status != http.StatusServiceUnavailable {
				t.Fatalf("COMMIT failed with %v (%T): answered %d %s, want 503", handlerErr, errors.Unwrap(handlerErr), r.status, r.body)
			}
			if e := decodeError(t, r); e.ErrorType != api.TypeServiceUnavailable || len(e.Errors) != 1 {
				t.Errorf("body %s: want one ServiceUnavailable entry", r.body)
			}
		})
	}
}
