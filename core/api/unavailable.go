package api

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
)

// IsUnavailable reports whether err means that a backing service (the
// database, Redis, S3, ...) cannot be reached or is restarting, rather than
// a bug: a network error, a connection the server closed, or Postgres'
// connection exceptions (SQLSTATE class 08), operator intervention (57P:
// shutting down, starting up, terminated by the administrator) and too many
// connections (53300). Such errors answer 503 ServiceUnavailable, which a
// client may retry, instead of 500.
//
// The Postgres driver's own forms of an outage count too: "conn closed"
// (pgconn.ErrConnClosed: the server went away without a word in the middle
// of a transaction or a query, or an earlier failure closed the connection,
// so its transaction's next statement, COMMIT included, finds it closed),
// and a connection attempt the server hung up on or did not answer in time
// (a *pgconn.ConnectError ending in EOF or a timeout: a Postgres shutting
// down accepts connections and closes them). A bare io.EOF is not one: it
// may as well be a truncated request body or a corrupt cache entry. Last,
// an error may say it is an outage itself with a method Unavailable() bool
// (core/cache's and core/storage's ErrUnavailable do).
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	var state interface{ SQLState() string }
	if errors.As(err, &state) {
		code := state.SQLState()
		if strings.HasPrefix(code, "08") || strings.HasPrefix(code, "57P") || code == "53300" {
			return true
		}
	}
	var op *net.OpError
	if errors.As(err, &op) {
		return true
	}
	// An error that says it is an outage (core/cache's and core/storage's
	// ErrUnavailable), however deep it is wrapped.
	var marked interface{ Unavailable() bool }
	if errors.As(err, &marked) && marked.Unavailable() {
		return true
	}
	if errors.Is(err, pgconn.ErrConnClosed) {
		return true
	}
	var connect *pgconn.ConnectError
	if errors.As(err, &connect) &&
		(errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || pgconn.Timeout(err)) {
		return true
	}
	return errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
