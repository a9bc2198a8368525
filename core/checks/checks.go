// Package checks is the vocabulary of the `check` command, after Django's
// system checks: an [Issue] has a level and an id (security.W004, as in
// Django, where Django has one), and a [Prober] is a service that can be
// checked live with its configured settings.
//
// `check --deploy` discovers probes by type assertion on what the settings
// open (the database, the cache, the selected mail and storage backends), so
// a new backend brings its own probe: it implements Prober, and nothing else
// lists it.
package checks

import (
	"context"
	"fmt"
	"net"
	"strings"
)

// Level is how serious an Issue is.
type Level string

// The levels, as Django names them. ERROR makes `check` exit non-zero;
// INFO reports what a probe found working and is not counted as an issue.
const (
	Error   Level = "ERROR"
	Warning Level = "WARNING"
	Info    Level = "INFO"
)

// Issue is one finding of `check`.
type Issue struct {
	Level Level
	// ID names the check, as in Django: security.W004, database.E002.
	ID string
	// Msg says what is wrong and what to do, naming the setting involved.
	Msg string
}

func (i Issue) String() string { return fmt.Sprintf("%s %s: %s", i.Level, i.ID, i.Msg) }

// Errorf returns an ERROR issue.
func Errorf(id, format string, args ...any) Issue {
	return Issue{Level: Error, ID: id, Msg: fmt.Sprintf(format, args...)}
}

// Warningf returns a WARNING issue.
func Warningf(id, format string, args ...any) Issue {
	return Issue{Level: Warning, ID: id, Msg: fmt.Sprintf(format, args...)}
}

// Infof returns an INFO finding: something a probe found working.
func Infof(id, format string, args ...any) Issue {
	return Issue{Level: Info, ID: id, Msg: fmt.Sprintf(format, args...)}
}

// Prober is implemented by a service or backend that can check, live and with
// its configured settings, that it works: the database, the cache, a mail or
// storage backend. Probe must return within ctx's deadline, send no mail,
// leave nothing behind, and say what is wrong in words that name the setting
// to change. It returns INFO findings for what works.
type Prober interface {
	Probe(ctx context.Context) []Issue
}

// IsLocal reports whether host (a host or host:port) is this machine: a
// loopback address, localhost, or a Unix socket path. Encryption to it
// protects nothing, so probes do not ask for TLS there.
func IsLocal(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if host == "" || strings.HasPrefix(host, "/") || strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
