package core_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/gofiber/fiber/v2"

	"manouche/core"
	"manouche/core/api"
	"manouche/settings"
)

// logRequests serves a 200, a 404 and a 500 through api.AccessLog with the
// logger NewLogger builds for format on out.
func logRequests(t *testing.T, format string, out *os.File) {
	t.Helper()
	log := core.NewLogger(&settings.Settings{LogFormat: format, LogLevel: "info"}, out)
	app := fiber.New(fiber.Config{ErrorHandler: api.ErrorHandler(log, false, 1<<20)})
	app.Use(api.RequestID(), api.AccessLog(log, nil))
	app.Get("/ok", func(c *fiber.Ctx) error { return c.SendString("ok") })
	app.Get("/boom", func(c *fiber.Ctx) error { return io.ErrUnexpectedEOF })
	for _, path := range []string{"/ok?q=1", "/missing", "/boom"} {
		res, err := app.Test(httptest.NewRequest("GET", path, nil), -1)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
}

// TestDevelopmentAccessLog: in text (development) the access log is one
// short line per request, without colour codes when the output is not a
// terminal; JSON (production) keeps every field.
func TestDevelopmentAccessLog(t *testing.T) {
	t.Parallel()
	f, err := os.CreateTemp(t.TempDir(), "log")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	logRequests(t, "text", f)
	b, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	var access []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if !strings.HasPrefix(line, "time=") { // the error handler's own record of the 500
			access = append(access, line)
		}
	}
	want := []*regexp.Regexp{
		regexp.MustCompile(`^\d\d:\d\d:\d\d GET /ok 200 [0-9.]+(ns|µs|ms|s)$`),
		regexp.MustCompile(`^\d\d:\d\d:\d\d GET /missing 404 [0-9.]+(ns|µs|ms|s)$`),
		regexp.MustCompile(`^\d\d:\d\d:\d\d GET /boom 500 [0-9.]+(ns|µs|ms|s)$`),
	}
	if len(access) != len(want) {
		t.Fatalf("%d access lines, want %d:\n%s", len(access), len(want), b)
	}
	for i, re := range want {
		if !re.MatchString(access[i]) {
			t.Errorf("line %d = %q, want %s", i, access[i], re)
		}
	}
	if bytes.Contains(b, []byte("\x1b[")) {
		t.Errorf("colour codes in a log that is not a terminal:\n%q", b)
	}

	t.Run("json", func(t *testing.T) {
		f, err := os.CreateTemp(t.TempDir(), "log")
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		logRequests(t, "json", f)
		b, _ := os.ReadFile(f.Name())
		var got []map[string]any
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatalf("not JSON: %q", line)
			}
			if m["msg"] == api.AccessLogMessage {
				got = append(got, m)
			}
		}
		if len(got) != 3 {
			t.Fatalf("%d access records, want 3:\n%s", len(got), b)
		}
		for _, key := range []string{"time", "level", "method", "path", "status", "bytes", "duration", "ip", "request_id"} {
			if _, ok := got[2][key]; !ok {
				t.Errorf("the JSON access record lacks %q: %v", key, got[2])
			}
		}
		if got[2]["level"] != "ERROR" || got[2]["status"] != float64(500) {
			t.Errorf("the 500's record: %v", got[2])
		}
	})
}

// TestAccessLogColourOnATerminal: on a terminal, 4xx lines are yellow and
// 5xx lines red; 2xx lines have no colour.
func TestAccessLogColourOnATerminal(t *testing.T) {
	t.Parallel()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	var buf bytes.Buffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		b := make([]byte, 4096)
		for {
			n, err := ptmx.Read(b)
			buf.Write(b[:n])
			if err != nil || strings.Count(buf.String(), "\n") >= 4 {
				return
			}
		}
	}()
	logRequests(t, "text", tty)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("the terminal got only:\n%q", buf.String())
	}
	tty.Close()
	out := buf.String()
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(^|\n)\d\d:\d\d:\d\d GET /ok 200 \S+\r?\n`),
		regexp.MustCompile(`\x1b\[33m\d\d:\d\d:\d\d GET /missing 404 \S+\x1b\[0m`),
		regexp.MustCompile(`\x1b\[31m\d\d:\d\d:\d\d GET /boom 500 \S+\x1b\[0m`),
	} {
		if !want.MatchString(out) {
			t.Errorf("terminal output lacks %s:\n%q", want, out)
		}
	}
}
