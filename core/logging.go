package core

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"golang.org/x/term"

	"manouche/core/api"
	"manouche/settings"
)

// NewLogger builds the process logger: JSON in production (LOG_FORMAT=json),
// text in development, at LOG_LEVEL. In text, the access log (api.AccessLog)
// is one readable line per request, like Django's runserver:
//
//	05:33:23 GET /api/users/me 200 1.3ms
//
// with 4xx lines in yellow and 5xx lines in red when out is a terminal.
func NewLogger(st *settings.Settings, out *os.File) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(st.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if st.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(out, opts))
	}
	return slog.New(NewTextHandler(out, opts, term.IsTerminal(int(out.Fd()))))
}

// NewTextHandler is the development log handler: slog's text handler, but
// for the access log's records, which it writes as one line of time, method,
// path, status and duration; in colour (4xx yellow, 5xx red) when color is
// on, which NewLogger turns on for a terminal only.
func NewTextHandler(out io.Writer, opts *slog.HandlerOptions, color bool) slog.Handler {
	return &textHandler{Handler: slog.NewTextHandler(out, opts), out: out, color: color}
}

type textHandler struct {
	slog.Handler
	out   io.Writer
	color bool
}

// ANSI colours of the access log's error lines.
const (
	ansiRed    = "\x1b[31m"
	ansiYellow = "\x1b[33m"
	ansiReset  = "\x1b[0m"
)

func (h *textHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Message != api.AccessLogMessage {
		return h.Handler.Handle(ctx, r)
	}
	var method, path string
	var status int64
	var took time.Duration
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "method":
			method = a.Value.String()
		case "path":
			path = a.Value.String()
		case "status":
			status = a.Value.Int64()
		case "duration":
			took = a.Value.Duration()
		}
		return true
	})
	line := fmt.Sprintf("%s %s %s %d %s", r.Time.Format(time.TimeOnly), method, path, status, roundDuration(took))
	if h.color {
		switch {
		case status >= 500:
			line = ansiRed + line + ansiReset
		case status >= 400:
			line = ansiYellow + line + ansiReset
		}
	}
	_, err := io.WriteString(h.out, line+"\n")
	return err
}

func (h *textHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &textHandler{Handler: h.Handler.WithAttrs(attrs), out: h.out, color: h.color}
}

func (h *textHandler) WithGroup(name string) slog.Handler {
	return &textHandler{Handler: h.Handler.WithGroup(name), out: h.out, color: h.color}
}

// roundDuration keeps three significant digits: 1.23ms, 45.6µs, 2.35s.
func roundDuration(d time.Duration) time.Duration {
	for unit := time.Duration(1); unit < time.Second; unit *= 10 {
		if d < 1000*unit {
			return d.Round(unit)
		}
	}
	return d.Round(10 * time.Millisecond)
}
