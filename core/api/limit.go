package api

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// drainMax is how many unread body bytes BodyLimit reads and discards after
// the handler to keep the connection alive; past it the connection is closed.
const drainMax = 64 << 10

// StreamMin is the smallest declared body that BodyLimit leaves as a stream
// for the handler; smaller bodies, and chunked ones, are read into memory
// first, as fasthttp does without streaming.
const StreamMin = 1 << 20

// BodyLimit enforces the request body size limit on a server that streams
// request bodies (fiber.Config StreamRequestBody with
// DisablePreParseMultipartForm): fasthttp then hands the handler a stream and
// no longer refuses large bodies itself. limit <= 0 means Fiber's default
// (fiber.DefaultBodyLimit). On a server that does not stream it only refuses
// a Content-Length above limit.
//
//   - A Content-Length above limit is refused at once with 413
//     PayloadTooLarge, without reading the body; the response closes the
//     connection, since the unread body would otherwise be parsed as the next
//     request. Install BodyLimitHeader as the server's HeaderReceived hook so
//     that fasthttp does not first wait for 8 KB of such a body.
//   - A body of at most StreamMin bytes, or a chunked one (no Content-Length)
//     of at most limit bytes, is read into memory before the handler runs, so
//     that handlers and libraries that read the body more than once (GoAdmin
//     reads a multipart form, then the raw body) see it as without streaming.
//     A chunked body past limit is a 413 and closes the connection; a body
//     that cannot be read (truncated, bad chunks) is a 400 ParseError.
//   - A larger body stays a stream: c.Request().Body() reads it whole, while
//     c.MultipartForm() (and FormFile) parse it as it arrives, spooling
//     files past 8 KB to temporary files. After the handler, a body it left
//     partly unread (an error answered before the upload was parsed, a
//     multipart epilogue) is discarded when at most 64 KB remain, else the
//     connection is closed.
func BodyLimit(limit int64) fiber.Handler {
	if limit <= 0 {
		limit = fiber.DefaultBodyLimit
	}
	return func(c *fiber.Ctx) error {
		req := c.Request()
		cl := int64(req.Header.ContentLength())
		if cl > limit || len(req.Header.Peek(declaredLengthHeader)) > 0 {
			closeUnread(c)
			return PayloadTooLarge(limit)
		}
		if !req.IsBodyStream() {
			return c.Next()
		}
		if cl <= StreamMin { // chunked (-1) included
			if err := readBody(c, limit); err != nil {
				closeUnread(c)
				return err
			}
			return c.Next()
		}
		defer finishBody(c)
		return c.Next()
	}
}

// readBody reads a streamed body of at most limit bytes into memory and makes
// it the request's body, with its Content-Length.
func readBody(c *fiber.Ctx, limit int64) error {
	req := c.Request()
	var buf bytes.Buffer
	if n := req.Header.ContentLength(); n > 0 {
		buf.Grow(n + 1)
	}
	if _, err := buf.ReadFrom(io.LimitReader(req.BodyStream(), limit+1)); err != nil {
		return Parse("The request body could not be read: it is truncated or its chunked encoding is malformed.").
			WithCause(fmt.Errorf("api: read request body: %w", err))
	}
	if int64(buf.Len()) > limit {
		return PayloadTooLarge(limit)
	}
	// SetBody releases the (fully read) stream; the header then describes
	// the body as it now is (no more Transfer-Encoding: chunked).
	req.SetBody(buf.Bytes())
	req.Header.SetContentLength(buf.Len())
	return nil
}

// finishBody discards what the handler left of a streamed body, up to
// drainMax bytes, so that the connection can serve the next request; when more
// remains, or reading fails, the response closes the connection instead.
func finishBody(c *fiber.Ctx) {
	req := c.Request()
	if !req.IsBodyStream() { // read whole by Body(), or replaced
		return
	}
	_, err := io.CopyN(io.Discard, req.BodyStream(), drainMax+1)
	if !errors.Is(err, io.EOF) {
		closeUnread(c)
	}
}

// closeUnread makes the response close the connection, whose request body
// is not read to its end, and asks the connection (when the server's
// listener offers it: core/server) to read and discard what the client is
// still sending before it closes: closed with unread data, a socket answers
// with a TCP reset, which fails the client's send and can lose the response.
func closeUnread(c *fiber.Ctx) {
	c.Response().SetConnectionClose()
	if l, ok := c.Context().Conn().(interface{ LingerOnClose() }); ok {
		l.LingerOnClose()
	}
}

// declaredLengthHeader carries, from BodyLimitHeader to BodyLimit, the
// Content-Length of a request whose body is too large. The hook removes any
// copy a client sent, so only the hook sets it.
const declaredLengthHeader = "X-Manouche-Declared-Length"

// BodyLimitHeader returns a hook for fasthttp.Server.HeaderReceived (set it
// on fiber's app.Server()) that lets BodyLimit refuse a request whose
// Content-Length exceeds limit as soon as its headers arrive. With streamed
// request bodies fasthttp reads part of a body before calling the handler
// (up to 8 KB, and for a declared length above the server's limit, until more
// than the limit has arrived or the read times out): a client that sends the
// headers and a byte or two, then waits for the answer, would get a read
// timeout instead of a 413. For such a request the hook records the declared
// length in a private header and sets the Content-Length to 0, so that
// fasthttp reads none of the body and hands the request over at once;
// BodyLimit answers it 413 and closes the connection, so that the unread body
// is never parsed as a request. limit <= 0 means fiber.DefaultBodyLimit, as in
// BodyLimit.
func BodyLimitHeader(limit int64) func(*fasthttp.RequestHeader) fasthttp.RequestConfig {
	if limit <= 0 {
		limit = fiber.DefaultBodyLimit
	}
	return func(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
		h.Del(declaredLengthHeader)
		if n := int64(h.ContentLength()); n > limit {
			h.Set(declaredLengthHeader, strconv.FormatInt(n, 10))
			h.SetContentLength(0)
		}
		return fasthttp.RequestConfig{}
	}
}
