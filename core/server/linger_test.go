package server_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"manouche/core/testkit"
)

// TestTooLargeBodyIsAnsweredNotReset: a client that sends a body over
// MAX_UPLOAD_SIZE and goes on sending it while the server answers 413 (as
// curl, a browser or an iOS upload do) gets the whole 413 and sends the rest
// of its body without the connection being reset: the server reads and
// discards what the client is still sending before it closes the connection
// (a socket closed with unread data would answer the client with a TCP
// reset, which loses the answer and fails the client's send).
func TestTooLargeBodyIsAnsweredNotReset(t *testing.T) {
	t.Parallel()
	const limit = 1 << 20
	app := testkit.New(t, testkit.Settings{"MAX_UPLOAD_SIZE": limit})
	addr := strings.TrimPrefix(app.Serve(), "http://")
	for _, tc := range []struct{ name, header string }{
		{"declared length", fmt.Sprintf("Content-Length: %d\r\n", 6*limit)},
		{"chunked", "Transfer-Encoding: chunked\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(20 * time.Second))
			chunked := strings.HasPrefix(tc.header, "Transfer")
			sent := make(chan error, 1)
			go func() {
				_, err := io.WriteString(c, "POST /api/auth/register HTTP/1.1\r\nHost: 127.0.0.1\r\n"+
					"Content-Type: application/json\r\n"+tc.header+"\r\n")
				part := strings.Repeat("x", 64<<10)
				for i := 0; err == nil && i < 6*limit/len(part); i++ {
					if chunked {
						_, err = fmt.Fprintf(c, "%x\r\n%s\r\n", len(part), part)
					} else {
						_, err = io.WriteString(c, part)
					}
					time.Sleep(time.Millisecond) // still sending when the answer comes
				}
				if err == nil && chunked {
					_, err = io.WriteString(c, "0\r\n\r\n")
				}
				sent <- err
			}()
			res, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatalf("no answer: %v", err)
			}
			body, err := io.ReadAll(res.Body)
			if err != nil {
				t.Fatalf("the answer was cut off: %v (read %q)", err, body)
			}
			if res.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(body), `"PayloadTooLarge"`) {
				t.Fatalf("answer %d %s, want 413 PayloadTooLarge", res.StatusCode, body)
			}
			if !res.Close {
				t.Error("a 413 to an unread body must close the connection")
			}
			if err := <-sent; err != nil {
				t.Errorf("sending the rest of the body failed: %v (the connection was reset)", err)
			}
		})
	}
}
