package db

import (
	"context"
	"crypto/tls"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun/dialect"

	"manouche/core/checks"
)

// Probe checks a database named by a URL, live: `check --deploy` runs it on
// DATABASE_URL and on DATABASE_CONNECTION_POOL_URL. It implements
// checks.Prober.
type Probe struct {
	// URL is the database URL and Options how the project connects to it
	// (Name, RequireTLS, Pooler); the probe opens one connection of its own.
	URL     string
	Options Options
	// Budget is the most connections the project's processes may open to
	// this server together, and BudgetText how it was counted; the probe
	// compares it with the server's max_connections. 0 skips the comparison.
	Budget     int
	BudgetText string
}

// Probe implements checks.Prober: the database answers; on Postgres, TLS is
// in use (an ERROR without it under Options.RequireTLS, a WARNING to another
// machine otherwise), and max_connections leaves room for Budget.
func (p Probe) Probe(ctx context.Context) []checks.Issue {
	name := p.Options.Name
	if name == "" {
		name = "DATABASE_URL"
	}
	id := "database"
	if p.Options.Pooler {
		id = "database_pool"
	}
	cfg, err := parseURL(p.URL, p.Options)
	if err != nil {
		return []checks.Issue{checks.Errorf(id+".E001", "%v", err)}
	}
	sqldb, err := sql.Open(cfg.Driver, cfg.DSN)
	if err != nil {
		return []checks.Issue{checks.Errorf(id+".E001", "%s: %v", name, err)}
	}
	defer sqldb.Close()
	sqldb.SetMaxOpenConns(1)
	conn, err := sqldb.Conn(ctx)
	if err == nil {
		err = conn.PingContext(ctx)
	}
	if err != nil {
		return []checks.Issue{checks.Errorf(id+".E001", "%s: cannot connect to %s: %s", name, describe(cfg), Explain(err, name))}
	}
	defer conn.Close()
	if cfg.Dialect != dialect.PG {
		return []checks.Issue{checks.Infof(id+".I001", "%s: %s answers.", name, describe(cfg))}
	}
	var out []checks.Issue
	host := hostOf(cfg.DSN)

	// TLS on this connection: what the client negotiated (true through a
	// pooler too), and the server's own view in pg_stat_ssl.
	clientTLS := ""
	_ = conn.Raw(func(dc any) error {
		if c, ok := dc.(*stdlib.Conn); ok {
			if tc, ok := c.Conn().PgConn().Conn().(*tls.Conn); ok {
				clientTLS = tls.VersionName(tc.ConnectionState().Version)
			}
		}
		return nil
	})
	var serverSSL sql.NullBool
	var serverVersion sql.NullString
	if !p.Options.Pooler {
		_ = conn.QueryRowContext(ctx, "SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&serverSSL, &serverVersion)
	}
	// A Unix socket (the provisioner's single server): the traffic never
	// leaves the machine, and TLS does not apply.
	var unixSocket bool
	if !p.Options.Pooler {
		_ = conn.QueryRowContext(ctx, "SELECT inet_server_addr() IS NULL").Scan(&unixSocket)
	}
	switch {
	case unixSocket && clientTLS == "":
		out = append(out, checks.Infof(id+".I001", "%s: %s answers over a Unix socket: TLS does not apply.", name, describe(cfg)))
	case clientTLS != "" || serverSSL.Bool:
		v := clientTLS
		if serverVersion.Valid {
			v = serverVersion.String
		}
		out = append(out, checks.Infof(id+".I001", "%s: %s answers; TLS in use (%s).", name, describe(cfg), v))
	case p.Options.RequireTLS:
		out = append(out, checks.Errorf(id+".E002",
			"%s: TLS not in use on the connection to %s, but DATABASE_REQUIRE_TLS is on (as in production): the traffic, password included, would cross the network in clear. Remove sslmode=disable/allow/prefer from %s (DATABASE_REQUIRE_TLS then asks for sslmode=require) and turn ssl on in the server.",
			name, describe(cfg), name))
	default:
		if !checks.IsLocal(host) {
			out = append(out, checks.Warningf(id+".W002",
				"%s: TLS not in use on the connection to %s: set DATABASE_REQUIRE_TLS=true or add sslmode=require to %s.", name, describe(cfg), name))
		} else {
			out = append(out, checks.Infof(id+".I001", "%s: %s answers; TLS not in use (a local server).", name, describe(cfg)))
		}
	}
	if p.Budget <= 0 || p.Options.Pooler {
		return out
	}
	var maxConns, reserved int
	if err := conn.QueryRowContext(ctx, "SELECT current_setting('max_connections')::int, current_setting('superuser_reserved_connections')::int").Scan(&maxConns, &reserved); err != nil {
		return append(out, checks.Warningf(id+".W003", "%s: cannot read max_connections: %v", name, err))
	}
	avail := maxConns - reserved
	switch {
	case p.Budget > avail:
		out = append(out, checks.Errorf(id+".E003",
			"%s: the server accepts %d connections (max_connections %d, %d reserved for superusers), but the configured pools may open %d (%s). Lower DB_MAX_CONNS, or use a plan with more connections; when the limit is reached, requests fail with \"too many connections\".",
			name, avail, maxConns, reserved, p.Budget, p.BudgetText))
	default:
		out = append(out, checks.Infof(id+".I002", "%s: max_connections %d leaves room for the pools' %d (%s).", name, maxConns, p.Budget, p.BudgetText))
	}
	return out
}

// Explain turns a connection error into words a user can act on, naming the
// variable the URL came from.
func Explain(err error, name string) string {
	var pgErr *pgconn.PgError
	var netErr net.Error
	var dnsErr *net.DNSError
	var opErr *net.OpError
	switch {
	case errors.As(err, &pgErr) && (pgErr.Code == "28P01" || pgErr.Code == "28000"):
		return fmt.Sprintf("%s (SQLSTATE %s). Check the user and password in %s.", pgErr.Message, pgErr.Code, name)
	case errors.As(err, &pgErr) && pgErr.Code == "3D000":
		return fmt.Sprintf("%s. Create the database, or fix its name in %s.", pgErr.Message, name)
	case errors.As(err, &pgErr) && pgErr.Code == "53300":
		return fmt.Sprintf("%s: the server's max_connections is reached. Lower DB_MAX_CONNS or stop other clients.", pgErr.Message)
	case errors.As(err, &dnsErr):
		return fmt.Sprintf("the host %q is unknown (%v). Check the host in %s.", dnsErr.Name, dnsErr.Err, name)
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return fmt.Sprintf("no answer in time (%v). Is the server up, and does a firewall let this machine reach it? Check the host and port in %s.", err, name)
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return fmt.Sprintf("%v. Is the server up? Check the host and port in %s.", opErr.Err, name)
	}
	return err.Error()
}

// hostOf returns the host:port of a Postgres DSN, or "".
func hostOf(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return ""
	}
	if u.Host == "" {
		return u.Query().Get("host")
	}
	return u.Host
}

var _ checks.Prober = Probe{}
