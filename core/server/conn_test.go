package server_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"manouche/core/server"
)

// TestListenerDeadlines: the serving listener enforces fasthttp's
// ReadTimeout, IdleTimeout and WriteTimeout itself (within a quarter of a
// second): a client sending its headers too slowly, or idle too long, is cut
// off after the timeout and not before, and a keep-alive connection whose
// previous write deadline passed while it was idle goes on being served.
func TestListenerDeadlines(t *testing.T) {
	t.Parallel()
	const read, idle, write = 400 * time.Millisecond, 1500 * time.Millisecond, 200 * time.Millisecond
	const late = 250*time.Millisecond + 400*time.Millisecond // expireEvery and a loaded machine's slack
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tl, setState, stop := server.NewTrackingListener(ln)
	t.Cleanup(stop)
	srv := &fasthttp.Server{
		Handler:      func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("ok") },
		ReadTimeout:  read,
		IdleTimeout:  idle,
		WriteTimeout: write,
		ConnState:    setState,
	}
	go func() { _ = srv.Serve(tl) }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	addr := ln.Addr().String()
	const request = "GET / HTTP/1.1\r\nHost: x\r\n\r\n"

	// closedAfter returns how long the server took to end the connection
	// (the client's read returns EOF or an error).
	closedAfter := func(t *testing.T, c net.Conn, br *bufio.Reader, start time.Time) time.Duration {
		t.Helper()
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		for {
			if _, err := br.ReadByte(); err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					t.Fatal("the server never ended the connection")
				}
				return time.Since(start)
			}
		}
	}
	answered := func(t *testing.T, c net.Conn, br *bufio.Reader) {
		t.Helper()
		if _, err := io.WriteString(c, request); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("no answer: %v", err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || string(b) != "ok" {
			t.Fatalf("answer %d %q", res.StatusCode, b)
		}
	}
	dial := func(t *testing.T) (net.Conn, *bufio.Reader) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c, bufio.NewReader(c)
	}

	t.Run("slow headers", func(t *testing.T) {
		t.Parallel()
		c, br := dial(t)
		start := time.Now()
		if _, err := io.WriteString(c, strings.TrimSuffix(request, "\r\n")); err != nil {
			t.Fatal(err)
		}
		if d := closedAfter(t, c, br, start); d < read-50*time.Millisecond || d > read+late {
			t.Errorf("a request whose headers never end was cut off after %v, want about %v", d, read)
		}
	})
	t.Run("idle keep-alive", func(t *testing.T) {
		t.Parallel()
		c, br := dial(t)
		answered(t, c, br)
		start := time.Now()
		if d := closedAfter(t, c, br, start); d < idle-50*time.Millisecond || d > idle+late {
			t.Errorf("an idle connection was closed after %v, want about %v", d, idle)
		}
	})
	t.Run("busy keep-alive", func(t *testing.T) {
		t.Parallel()
		c, br := dial(t)
		// Past the read and write timeouts between requests, within the idle one:
		// the passed write deadline must not fail the next answer.
		for range 4 {
			answered(t, c, br)
			time.Sleep(read + late/2)
		}
		answered(t, c, br)
	})
}
