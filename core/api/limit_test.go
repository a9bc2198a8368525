package api_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"manouche/core/api"
)

const streamLimit = 2 << 20

// streamApp is configured as core's server is: streamed request bodies,
// api.BodyLimit and the HeaderReceived hook (unless hook is false). Routes:
// /echo answers the body it read, /upload the size of the "file" part,
// /form the size of the body read after the multipart form, /deny 401
// without reading the body, /partial reads all of it but ?left bytes.
func streamApp(hook bool) *fiber.App {
	app := fiber.New(fiber.Config{
		ErrorHandler:                 api.ErrorHandler(slog.New(slog.DiscardHandler), false, streamLimit),
		BodyLimit:                    streamLimit,
		StreamRequestBody:            true,
		DisablePreParseMultipartForm: true,
		DisableStartupMessage:        true,
		ReadTimeout:                  10 * time.Second,
	})
	if hook {
		app.Server().HeaderReceived = api.BodyLimitHeader(streamLimit)
	}
	app.Use(api.BodyLimit(streamLimit))
	app.Post("/echo", func(c *fiber.Ctx) error {
		return c.Send(c.Request().Body())
	})
	app.Post("/upload", func(c *fiber.Ctx) error {
		fh, err := api.FormFile(c, "file")
		if err != nil {
			return err
		}
		f, err := fh.Open()
		if err != nil {
			return err
		}
		defer f.Close()
		b, err := io.ReadAll(f)
		if err != nil {
			return err
		}
		return c.JSON(fiber.Map{"size": len(b), "ok": bytes.Equal(b, bytes.Repeat([]byte("u"), len(b)))})
	})
	app.Post("/form", func(c *fiber.Ctx) error {
		if _, err := c.MultipartForm(); err != nil {
			return err
		}
		return c.SendString(strconv.Itoa(len(c.Request().Body())))
	})
	app.Post("/deny", func(*fiber.Ctx) error { return fiber.ErrUnauthorized })
	app.Post("/partial", func(c *fiber.Ctx) error {
		n := c.Request().Header.ContentLength() - c.QueryInt("left")
		if _, err := io.CopyN(io.Discard, c.Request().BodyStream(), int64(n)); err != nil {
			return err
		}
		return c.SendString("read " + strconv.Itoa(n))
	})
	return app
}

// conn is a raw client connection that can send several requests.
type conn struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

func dial(t *testing.T, base string) *conn {
	t.Helper()
	nc, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	// A request the server fails to answer fails the test instead of hanging it.
	if err := nc.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	return &conn{t: t, nc: nc, br: bufio.NewReader(nc)}
}

func (c *conn) send(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.nc, s); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// read reads one response; it fails the test on a read error (a timeout
// included).
func (c *conn) read() (*http.Response, string) {
	c.t.Helper()
	res, err := http.ReadResponse(c.br, nil)
	if err != nil {
		c.t.Fatalf("read response: %v", err)
	}
	b, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		c.t.Fatalf("read response body: %v", err)
	}
	return res, string(b)
}

func isTooLarge(res *http.Response, body string) bool {
	var e struct {
		ErrorType string `json:"error_type"`
	}
	return res.StatusCode == http.StatusRequestEntityTooLarge &&
		json.Unmarshal([]byte(body), &e) == nil && e.ErrorType == api.TypePayloadTooLarge
}

// chunked encodes body in chunks of at most 1000 bytes.
func chunked(body string) string {
	var b strings.Builder
	for len(body) > 0 {
		n := min(len(body), 1000)
		fmt.Fprintf(&b, "%x\r\n%s\r\n", n, body[:n])
		body = body[n:]
	}
	b.WriteString("0\r\n\r\n")
	return b.String()
}

// TestBodyLimitRefusesAtOnce: a declared length above the limit is answered
// 413 in the API's shape while the client still holds back most of the body,
// and the connection is closed.
func TestBodyLimitRefusesAtOnce(t *testing.T) {
	t.Parallel()
	base := serve(t, streamApp(true))
	tests := []struct {
		name   string
		path   string
		header string
		first  string // part of the body sent with the headers
	}{
		{"json", "/echo", "Content-Type: application/json\r\n", `{"name": "`},
		{"multipart", "/upload", "Content-Type: multipart/form-data; boundary=xyz\r\n",
			"--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n\r\n\x89PNG"},
		{"unrouted", "/nowhere", "", "abc"},
		{"one byte", "/echo", "Content-Type: application/json\r\n", "{"},
		{"headers only", "/echo", "Content-Type: application/json\r\n", ""},
		{"headers only, unrouted", "/nowhere", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := dial(t, base)
			start := time.Now()
			c.send(fmt.Sprintf("POST %s HTTP/1.1\r\nHost: x\r\n%sContent-Length: %d\r\n\r\n%s", tt.path, tt.header, 10<<20, tt.first))
			res, body := c.read()
			if !isTooLarge(res, body) {
				t.Fatalf("status %d %s, want 413 PayloadTooLarge", res.StatusCode, body)
			}
			if !res.Close {
				t.Errorf("response keeps the connection open with an unread body")
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("answered after %v", d)
			}
		})
	}
}

// TestBodyLimitWithoutHook: without BodyLimitHeader fasthttp reads a few KB
// first, then BodyLimit still refuses the body.
func TestBodyLimitWithoutHook(t *testing.T) {
	t.Parallel()
	base := serve(t, streamApp(false))
	c := dial(t, base)
	c.send(fmt.Sprintf("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", streamLimit+1, strings.Repeat("a", 16<<10)))
	if res, body := c.read(); !isTooLarge(res, body) {
		t.Fatalf("status %d %s, want 413 PayloadTooLarge", res.StatusCode, body)
	}
}

func TestBodyLimitExpectContinue(t *testing.T) {
	t.Parallel()
	base := serve(t, streamApp(true))
	c := dial(t, base)
	c.send(fmt.Sprintf("POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n", 10<<20))
	res, _ := c.read()
	if res.StatusCode != http.StatusContinue {
		t.Fatalf("status %d, want 100", res.StatusCode)
	}
	c.send("some of the body")
	if res, body := c.read(); !isTooLarge(res, body) {
		t.Fatalf("status %d %s, want 413 PayloadTooLarge", res.StatusCode, body)
	}
}

// TestBodyLimitBodies: bodies within the limit reach the handler whole,
// chunked or not, and the connection stays usable; chunked bodies past the
// limit are refused.
func TestBodyLimitBodies(t *testing.T) {
	t.Parallel()
	base := serve(t, streamApp(true))
	big := strings.Repeat("b", streamLimit)
	tests := []struct {
		name    string
		body    string
		chunked bool
		status  int
	}{
		{"empty", "", false, 200},
		{"small", `{"a": 1}`, false, 200},
		{"read before the handler", strings.Repeat("m", api.StreamMin), false, 200},
		{"streamed", strings.Repeat("s", api.StreamMin+1), false, 200},
		{"at limit", big, false, 200},
		{"chunked small", `{"a": 1}`, true, 200},
		{"chunked at limit", big, true, 200},
		{"chunked over limit", big + "x", true, 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := dial(t, base)
			for i := range 2 { // the second request checks the connection is still in step
				if tt.chunked {
					c.send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(tt.body))
				} else {
					c.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: " + strconv.Itoa(len(tt.body)) + "\r\n\r\n" + tt.body)
				}
				res, body := c.read()
				if res.StatusCode != tt.status {
					t.Fatalf("request %d: status %d, want %d: %.200s", i, res.StatusCode, tt.status, body)
				}
				if tt.status == 413 {
					if !isTooLarge(res, body) || !res.Close {
						t.Fatalf("413 %s, close %v: want PayloadTooLarge and Connection: close", body, res.Close)
					}
					return
				}
				if body != tt.body {
					t.Fatalf("request %d: echoed %d bytes, want %d", i, len(body), len(tt.body))
				}
				if res.Close {
					t.Fatalf("request %d: connection closed", i)
				}
			}
		})
	}
}

// TestBodyLimitUnreadBody: a body the handler did not read whole is
// discarded when little of it remains, so the connection serves the next
// request; when much remains the connection is closed.
func TestBodyLimitUnreadBody(t *testing.T) {
	t.Parallel()
	base := serve(t, streamApp(true))
	tests := []struct {
		path  string
		size  int
		close bool
	}{
		{"/deny", 0, false},
		{"/deny", 10, false},
		{"/deny", api.StreamMin, false}, // read into memory before the handler
		{"/deny", api.StreamMin + 1, true},
		{"/partial?left=100", api.StreamMin + 1000, false},
		{"/partial?left=65536", api.StreamMin + 70000, false},
		{"/partial?left=65537", api.StreamMin + 70000, true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s %d", tt.path, tt.size), func(t *testing.T) {
			t.Parallel()
			c := dial(t, base)
			c.send(fmt.Sprintf("POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", tt.path, tt.size, strings.Repeat("d", tt.size)))
			res, body := c.read()
			if res.StatusCode >= 500 {
				t.Fatalf("status %d %s", res.StatusCode, body)
			}
			if res.Close != tt.close {
				t.Fatalf("status %d, connection close %v, want %v", res.StatusCode, res.Close, tt.close)
			}
			if tt.close {
				return
			}
			c.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
			if res, body := c.read(); res.StatusCode != 200 || body != "hello" {
				t.Fatalf("next request: %d %q", res.StatusCode, body)
			}
		})
	}
}

// TestBodyLimitBodyAfterForm: a multipart body read into memory is still
// there after the form was parsed (GoAdmin reads both).
func TestBodyLimitBodyAfterForm(t *testing.T) {
	t.Parallel()
	base := serve(t, streamApp(true))
	body, ct := multipartBody(t, "file", "a.txt", strings.Repeat("f", 20<<10))
	c := dial(t, base)
	c.send(fmt.Sprintf("POST /form HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n%s", ct, len(body), body))
	if res, got := c.read(); res.StatusCode != 200 || got != strconv.Itoa(len(body)) {
		t.Fatalf("%d %s, want the %d bytes of the body", res.StatusCode, got, len(body))
	}
}

// TestBodyLimitStreamedUpload: a multipart upload is parsed from the stream
// (the file spooled to disk) and the connection stays usable.
func TestBodyLimitStreamedUpload(t *testing.T) {
	t.Parallel()
	base := serve(t, streamApp(true))
	tests := []struct {
		name   string
		size   int
		status int
	}{{"small", 100, 200}, {"streamed", api.StreamMin + 100<<10, 200}, {"over limit", streamLimit, 413}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			body, ct := multipartBody(t, "file", "a.bin", strings.Repeat("u", tt.size))
			c := dial(t, base)
			c.send(fmt.Sprintf("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n%s", ct, len(body), body))
			res, got := c.read()
			if res.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", res.StatusCode, tt.status, got)
			}
			if tt.status == 413 {
				return
			}
			if want := fmt.Sprintf(`{"ok":true,"size":%d}`, tt.size); got != want {
				t.Fatalf("got %s, want %s", got, want)
			}
			c.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nok")
			if res, got := c.read(); res.StatusCode != 200 || got != "ok" {
				t.Fatalf("next request: %d %q", res.StatusCode, got)
			}
		})
	}
}

func TestBodyLimitHeader(t *testing.T) {
	t.Parallel()
	tests := []struct {
		limit   int64
		length  int // -1: chunked
		refused bool
	}{
		{100, 0, false},
		{100, 100, false},
		{100, 101, true},
		{100, -1, false},
		{0, fiber.DefaultBodyLimit, false},
		{0, fiber.DefaultBodyLimit + 1, true},
	}
	for _, tt := range tests {
		var h fasthttp.RequestHeader
		h.SetMethod(fiber.MethodPost)
		h.SetContentLength(tt.length)
		h.Set("X-Manouche-Declared-Length", "1") // a client's copy never counts
		api.BodyLimitHeader(tt.limit)(&h)
		marked := len(h.Peek("X-Manouche-Declared-Length")) > 0
		if marked != tt.refused || (tt.refused && h.ContentLength() != 0) || (!tt.refused && h.ContentLength() != tt.length) {
			t.Errorf("limit %d, length %d: marked %v, Content-Length %d; want refused %v", tt.limit, tt.length, marked, h.ContentLength(), tt.refused)
		}
	}
}

// TestBodyLimitBadChunks: a chunked body that cannot be decoded is a 400
// ParseError that closes the connection.
func TestBodyLimitBadChunks(t *testing.T) {
	t.Parallel()
	base := serve(t, streamApp(true))
	c := dial(t, base)
	c.send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n")
	res, body := c.read()
	var e struct {
		ErrorType string `json:"error_type"`
	}
	if res.StatusCode != http.StatusBadRequest || json.Unmarshal([]byte(body), &e) != nil || e.ErrorType != api.TypeParse || !res.Close {
		t.Fatalf("%d %s, close %v: want 400 ParseError closing the connection", res.StatusCode, body, res.Close)
	}
}
