package api

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"net"
	"strings"
	"syscall"
)

// IsUnavailable reports whether err means that a backing service (the
// database, Redis, S3, ...) cannot be reached or is restarting, rather than
// a bug: a network error, a connection the server closed, or Postgres'
// connection exceptions (SQLSTATE class 08), operator intervention (57P:
// shutting down, starting up, terminated by the administrator) and too many
// connections (53300). Such errors answer 503 ServiceUnavailable, which a
// client may retry, instead of 500.
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
	return errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
