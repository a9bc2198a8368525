package api

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"mime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
)

const requestIDKey = "manouche.request_id"

// RequestID echoes the client's X-Request-ID when it is a sane token (letters,
// digits, . _ : -, at most 128 characters), and otherwise generates one (a
// random UUID, version 4). Every response carries it and every log line of the
// request names it.
func RequestID() fiber.Handler {
	key := []byte(fiber.HeaderXRequestID)
	return func(c *fiber.Ctx) error {
		raw := c.Request().Header.PeekBytes(key)
		var id string
		if validRequestID(raw) {
			id = string(raw)
		} else {
			id = newRequestID()
		}
		c.Locals(requestIDKey, id)
		c.Response().Header.SetCanonical(key, []byte(id))
		return c.Next()
	}
}

// validRequestID reports whether a client's request id is 1 to 128 letters,
// digits, '.', '_', ':' or '-'.
func validRequestID(id []byte) bool {
	if len(id) == 0 || len(id) > 128 {
		return false
	}
	for _, b := range id {
		if !requestIDByte[b] {
			return false
		}
	}
	return true
}

var requestIDByte = func() (t [256]bool) {
	for _, b := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-") {
		t[b] = true
	}
	return t
}()

// newRequestID returns a random UUID (version 4, RFC 9562) from math/rand/v2's
// generator (ChaCha8, seeded by the system): a request id must be unique, not
// secret, and crypto/rand's read per request was a tenth of the middleware's cost.
func newRequestID() string {
	var u [16]byte
	binary.LittleEndian.PutUint64(u[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(u[8:], rand.Uint64())
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // variant 10
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}

// RequestIDOf returns the id the RequestID middleware gave the request.
func RequestIDOf(c *fiber.Ctx) string {
	id, _ := c.Locals(requestIDKey).(string)
	return id
}

func requestID(c *fiber.Ctx) string { return RequestIDOf(c) }

// Recover turns a panic in a handler into a 500 ServerError (through the error
// handler: a *PanicError) and logs it with its stack and the request id.
func Recover(log *slog.Logger) fiber.Handler {
	return func(c *fiber.Ctx) (err error) {
		defer func() {
			if r := recover(); r != nil {
				stack := debug.Stack()
				log.ErrorContext(c.UserContext(), "panic serving request", "request_id", requestID(c), "method", c.Method(), "path", c.Path(),
					"panic", fmt.Sprint(r), "stack", string(stack))
				err = &PanicError{Value: r, Stack: stack}
			}
		}()
		return c.Next()
	}
}

// AccessLogMessage is the message of the access log's records: a handler can
// recognise them (core's development handler writes them as one short line).
const AccessLogMessage = "request"

// AccessLog logs one line per request with log/slog: method, path, status,
// bytes, duration, client IP and request id. clientIP tells the client's
// address (behind trusted proxies, the one they report); nil means the
// socket's peer.
func AccessLog(log *slog.Logger, clientIP func(*fiber.Ctx) string) fiber.Handler {
	if clientIP == nil {
		clientIP = func(c *fiber.Ctx) string { return c.Context().RemoteIP().String() }
	}
	return func(c *fiber.Ctx) error {
		start := time.Now()
		err := c.Next()
		if err != nil {
			// Let the error handler write the response now, so the status is logged.
			if herr := c.App().ErrorHandler(c, err); herr != nil {
				_ = c.SendStatus(fiber.StatusInternalServerError)
			}
		}
		status := c.Response().StatusCode()
		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelError
		}
		log.LogAttrs(c.UserContext(), level, AccessLogMessage,
			slog.String("method", c.Method()),
			slog.String("path", c.Path()),
			slog.Int("status", status),
			slog.Int("bytes", len(c.Response().Body())),
			slog.Duration("duration", time.Since(start)),
			slog.String("ip", clientIP(c)),
			slog.String("request_id", requestID(c)),
		)
		return nil
	}
}

// Versioning implements Accept-header versioning: no Accept, */*,
// application/json and application/vnd.manouche+json; version=1.0 all mean
// version 1.0; any other version, or an Accept header that allows no JSON,
// answers 406 NotAcceptable.
func Versioning() fiber.Handler {
	return func(c *fiber.Ctx) error {
		if !acceptable(c.Get(fiber.HeaderAccept)) {
			return newError(fiber.StatusNotAcceptable, TypeNotAcceptable, "Could not satisfy the request Accept header.")
		}
		return c.Next()
	}
}

func acceptable(accept string) bool {
	if strings.TrimSpace(accept) == "" {
		return true
	}
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		if q, ok := params["q"]; ok && (q == "0" || q == "0.0" || q == "0.00" || q == "0.000") {
			continue
		}
		switch mt {
		case "*/*", "application/*", "application/json":
			if v, ok := params["version"]; ok && v != "1.0" && v != "1" {
				continue
			}
			return true
		case "application/vnd.manouche+json":
			if v, ok := params["version"]; !ok || v == "1.0" || v == "1" {
				return true
			}
		}
	}
	return false
}
