// Package api is the request plumbing every app's JSON API shares: the error
// shape of ../shared/API.md, strict JSON binding with field validation,
// offset/per_page pagination, and the middleware that guards /api (content
// negotiation, authentication).
package api

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// The error types of the API contract.
const (
	TypeValidation           = "ValidationError"
	TypeParse                = "ParseError"
	TypeNotAuthenticated     = "NotAuthenticated"
	TypeAuthenticationFailed = "AuthenticationFailed"
	TypePermissionDenied     = "PermissionDenied"
	TypeNotFound             = "NotFound"
	TypeMethodNotAllowed     = "MethodNotAllowed"
	TypeNotAcceptable        = "NotAcceptable"
	TypePayloadTooLarge      = "PayloadTooLarge"
	TypeUnsupportedMedia     = "UnsupportedMediaType"
	TypeThrottled            = "Throttled"
	TypeServerError          = "ServerError"
	TypeServiceUnavailable   = "ServiceUnavailable"
)

// NonFieldErrors is the field name of errors that belong to no single field.
const NonFieldErrors = "non_field_errors"

// FieldError is one entry of an error response.
type FieldError struct {
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// Error is an API error: a status, a type and its entries. Handlers return it
// (or any error; unknown errors become a 500 ServerError).
type Error struct {
	Status int          `json:"-"`
	Type   string       `json:"error_type"`
	Errors []FieldError `json:"errors"`
	// Header holds extra response headers (WWW-Authenticate, Retry-After).
	Header map[string]string `json:"-"`
	cause  error
}

func (e *Error) Error() string {
	msgs := make([]string, len(e.Errors))
	for i, fe := range e.Errors {
		if fe.Field != "" {
			msgs[i] = fe.Field + ": " + fe.Message
		} else {
			msgs[i] = fe.Message
		}
	}
	return fmt.Sprintf("%d %s: %s", e.Status, e.Type, strings.Join(msgs, "; "))
}

// Unwrap returns the error that caused this one, if any.
func (e *Error) Unwrap() error { return e.cause }

// WithCause records the underlying error (logged, never shown to clients).
func (e *Error) WithCause(err error) *Error { e.cause = err; return e }

func newError(status int, typ, msg string) *Error {
	return &Error{Status: status, Type: typ, Errors: []FieldError{{Message: msg}}}
}

// Validation is a 400 ValidationError with one entry per field error.
func Validation(errs ...FieldError) *Error {
	return &Error{Status: http.StatusBadRequest, Type: TypeValidation, Errors: errs}
}

// FieldErr is shorthand for a FieldError.
func FieldErr(field, msg string) FieldError { return FieldError{Field: field, Message: msg} }

// Parse is a 400 ParseError: the body is not valid JSON or has wrong types.
func Parse(msg string) *Error { return newError(http.StatusBadRequest, TypeParse, msg) }

// NotAuthenticated is a 401 for a request that brought no credentials.
func NotAuthenticated() *Error {
	e := newError(http.StatusUnauthorized, TypeNotAuthenticated, "Authentication credentials were not provided.")
	e.Header = map[string]string{fiber.HeaderWWWAuthenticate: `Bearer realm="api"`}
	return e
}

// AuthenticationFailed is a 401 for bad, expired or revoked credentials.
func AuthenticationFailed(msg string) *Error {
	if msg == "" {
		msg = "Invalid token."
	}
	e := newError(http.StatusUnauthorized, TypeAuthenticationFailed, msg)
	e.Header = map[string]string{fiber.HeaderWWWAuthenticate: `Bearer realm="api", error="invalid_token"`}
	return e
}

// PermissionDenied is a 403.
func PermissionDenied(msg string) *Error {
	if msg == "" {
		msg = "You do not have permission to perform this action."
	}
	return newError(http.StatusForbidden, TypePermissionDenied, msg)
}

// NotFound is a 404.
func NotFound(msg string) *Error {
	if msg == "" {
		msg = "Not found."
	}
	return newError(http.StatusNotFound, TypeNotFound, msg)
}

// UnsupportedMediaType is a 415 for a body in a content type the route does not take.
func UnsupportedMediaType(contentType string) *Error {
	return newError(http.StatusUnsupportedMediaType, TypeUnsupportedMedia, fmt.Sprintf("Unsupported media type %q in request.", contentType))
}

// PayloadTooLarge is a 413.
func PayloadTooLarge(limit int64) *Error {
	return newError(http.StatusRequestEntityTooLarge, TypePayloadTooLarge,
		fmt.Sprintf("Request body is too large: the limit is %d bytes.", limit))
}

// Throttled is a 429 with Retry-After.
func Throttled(wait time.Duration) *Error {
	secs := max(int(wait.Seconds()+0.999), 1)
	e := newError(http.StatusTooManyRequests, TypeThrottled, fmt.Sprintf("Request was throttled. Expected available in %d seconds.", secs))
	e.Header = map[string]string{fiber.HeaderRetryAfter: strconv.Itoa(secs)}
	return e
}

// Unavailable is a 503 with one entry per failing service (field database, cache, queue, storage).
func Unavailable(errs ...FieldError) *Error {
	return &Error{Status: http.StatusServiceUnavailable, Type: TypeServiceUnavailable, Errors: errs}
}

// ErrorHandler returns the Fiber error handler that turns every error into the
// shape of the API contract. Unknown errors are logged with the request id and
// answer 500 ServerError, with the error's text only when debug is on; errors
// that mean a backing service is down (IsUnavailable) answer 503
// ServiceUnavailable and are logged as warnings. With debug on, a page
// request (WantsHTML: a browser's, outside /api) that fails with a server
// error gets the technical debug page instead (WriteDebugPage).
func ErrorHandler(log *slog.Logger, debug bool, bodyLimit int64) fiber.ErrorHandler {
	return func(c *fiber.Ctx, err error) error {
		apiErr := From(err, debug, bodyLimit)
		switch {
		case apiErr.Status >= 500 && apiErr.Type == TypeServerError:
			log.ErrorContext(c.UserContext(), "request failed", "request_id", RequestIDOf(c), "method", c.Method(), "path", c.Path(), "error", err)
			if debug && WantsHTML(c) {
				return WriteDebugPage(c, err)
			}
		case apiErr.Status == http.StatusServiceUnavailable && apiErr.cause != nil:
			log.WarnContext(c.UserContext(), "request failed: a service is unavailable", "request_id", RequestIDOf(c), "method", c.Method(), "path", c.Path(), "error", err)
		}
		return Write(c, apiErr)
	}
}

// From converts any error into an API error.
func From(err error, debug bool, bodyLimit int64) *Error {
	var apiErr *Error
	if errors.As(err, &apiErr) {
		return apiErr
	}
	var fe *fiber.Error
	if errors.As(err, &fe) {
		switch fe.Code {
		case http.StatusNotFound:
			return NotFound("")
		case http.StatusMethodNotAllowed:
			return newError(fe.Code, TypeMethodNotAllowed, "Method not allowed.")
		case http.StatusRequestEntityTooLarge:
			return PayloadTooLarge(bodyLimit)
		case http.StatusUnsupportedMediaType:
			return newError(fe.Code, TypeUnsupportedMedia, fe.Message)
		case http.StatusNotAcceptable:
			return newError(fe.Code, TypeNotAcceptable, "Could not satisfy the request Accept header.")
		case http.StatusTooManyRequests:
			return Throttled(time.Second)
		case http.StatusUnauthorized:
			return AuthenticationFailed(fe.Message)
		case http.StatusForbidden:
			return PermissionDenied(fe.Message)
		case http.StatusServiceUnavailable:
			return Unavailable(FieldError{Message: fe.Message})
		}
		if fe.Code == http.StatusBadRequest || fe.Code == http.StatusRequestTimeout ||
			fe.Code == http.StatusRequestHeaderFieldsTooLarge || fe.Code == http.StatusLengthRequired {
			// Header, URL and body errors fasthttp raises before routing.
			return &Error{Status: fe.Code, Type: TypeParse, Errors: []FieldError{{Message: fe.Message}}}
		}
		if fe.Code > 400 && fe.Code < 500 {
			// Any other client error an app raises keeps its status; its type is the
			// status's name ("Conflict", "Gone"), like DRF's APIException subclasses.
			return &Error{Status: fe.Code, Type: statusType(fe.Code), Errors: []FieldError{{Message: fe.Message}}}
		}
	}
	if IsUnavailable(err) {
		msg := "A service the server needs is unavailable: try again shortly."
		if debug {
			msg = err.Error()
		}
		return Unavailable(FieldError{Message: msg}).WithCause(err)
	}
	msg := "A server error occurred."
	if debug {
		msg = err.Error()
	}
	return newError(http.StatusInternalServerError, TypeServerError, msg).WithCause(err)
}

// statusType names an error type after its status: 409 Conflict, 418 ImATeapot.
func statusType(code int) string {
	var b strings.Builder
	for _, w := range strings.Fields(http.StatusText(code)) {
		w = strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
				return r
			}
			return -1
		}, w)
		if w != "" {
			b.WriteString(strings.ToUpper(w[:1]) + w[1:])
		}
	}
	if b.Len() == 0 {
		return "ClientError"
	}
	return b.String()
}

// Write sends an API error as the response.
func Write(c *fiber.Ctx, e *Error) error {
	for k, v := range e.Header {
		c.Set(k, v)
	}
	if e.Errors == nil {
		e.Errors = []FieldError{}
	}
	return c.Status(e.Status).JSON(e, MIMEJSON)
}

// QuietParseErrors wraps the server's handler for the requests fasthttp
// cannot parse (before routing: a malformed request line, header or chunk) so
// that the answer says what is wrong without quoting the request. fasthttp's
// own text includes the bytes it read, the client's cookies and Authorization
// header among them, and Fiber would send it back as the error's message.
// The errors Fiber maps to a status of their own (headers too large, timeouts,
// a body too large, network errors) pass through unchanged.
func QuietParseErrors(app *fiber.App) {
	next := app.Server().ErrorHandler
	app.Server().ErrorHandler = func(ctx *fasthttp.RequestCtx, err error) {
		next(ctx, quietParseError(err))
	}
}

// Messages of the requests fasthttp could not parse.
const (
	msgMalformedHead = "The request line or its headers are malformed."
	msgMalformedBody = "The request body could not be read: it is truncated or its chunked encoding is malformed."
)

func quietParseError(err error) error {
	var netErr net.Error
	switch {
	case errors.As(err, new(*fasthttp.ErrSmallBuffer)), errors.As(err, &netErr),
		errors.Is(err, fasthttp.ErrBodyTooLarge), errors.Is(err, fasthttp.ErrGetOnly),
		strings.Contains(err.Error(), "timeout"):
		return err
	case strings.Contains(err.Error(), "request body"):
		return fiber.NewError(fiber.StatusBadRequest, msgMalformedBody)
	}
	return fiber.NewError(fiber.StatusBadRequest, msgMalformedHead)
}

// UnknownMethods wraps the server's handler so that a request whose method
// the application does not know (FOO, PROPFIND, a lower-case get) answers 405
// MethodNotAllowed in the error shape, with its X-Request-ID, as Django
// answers a method no view handles. Fiber answers those itself, before any
// middleware runs, with a plain-text 400 "Invalid http method".
func UnknownMethods(app *fiber.App) {
	known := map[string]bool{}
	for _, m := range app.Config().RequestMethods {
		known[m] = true
	}
	next := app.Server().Handler
	app.Server().Handler = func(ctx *fasthttp.RequestCtx) {
		if known[string(ctx.Method())] {
			next(ctx)
			return
		}
		id := string(ctx.Request.Header.Peek(fiber.HeaderXRequestID))
		if !validRequestID([]byte(id)) {
			id = newRequestID()
		}
		ctx.Response.Header.Set(fiber.HeaderXRequestID, id)
		ctx.Response.Header.Set(fiber.HeaderAllow, strings.Join(app.Config().RequestMethods, ", "))
		ctx.SetStatusCode(fiber.StatusMethodNotAllowed)
		ctx.SetContentType(MIMEJSON)
		ctx.SetBodyString(`{"error_type":"` + TypeMethodNotAllowed + `","errors":[{"message":"Method not allowed."}]}`)
	}
}
