package server

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"manouche/core/api"
)

// Why a request's context ended early, for the 503 it answers.
// headerPool holds the response headers requestContext snapshots.
var headerPool = sync.Pool{New: func() any { return new(fasthttp.ResponseHeader) }}

var (
	errRequestTimeout = errors.New("request ran longer than REQUEST_TIMEOUT")
	errShuttingDown   = errors.New("server shutting down: request still running at SHUTDOWN_TIMEOUT")
)

// requestContext gives every request a context (c.UserContext()) that ends
// after REQUEST_TIMEOUT (d; 0 is none) or when the server's drain cuts
// requests still running at SHUTDOWN_TIMEOUT. Queries run with it abort and
// their transactions roll back.
//
// The handler runs in the request's own goroutine, as Fiber requires (its
// Ctx is pooled and reused once the handler returns, and the request body is
// streamed from the connection): a handler cannot be stopped from outside,
// only asked to stop through its context. Fiber's middleware/timeout, which
// answers from another goroutine while the handler still uses the Ctx, is
// racy for exactly that reason. So the answer is decided when the handler
// returns: if the context had ended by then, whatever the handler wrote (a
// context error, a success, cookies) is discarded and the request answers
// 503 ServiceUnavailable in the error shape, keeping the headers set before
// it ran (X-Request-ID, security headers). A handler that ignores its
// context therefore answers 503 when it returns; one that passes it to the
// database answers at the deadline.
func (s *Server) requestContext(d time.Duration) fiber.Handler {
	return func(c *fiber.Ctx) error {
		// One context per request, registered once with s.base (the
		// shutdown's): a second one would stay registered there until the
		// process ends.
		parent := s.base
		if up := c.UserContext(); up != context.Background() && up.Done() == nil {
			// A context set before this middleware that only carries values
			// (telemetry's, with the request's span) lends them to s.base:
			// still one registration with s.base, no context to merge.
			parent = withValues{Context: s.base, values: up}
		} else if up != context.Background() {
			// One that can end stays the parent; the drain still cancels it.
			merged, cancelMerged := context.WithCancelCause(up)
			stop := context.AfterFunc(s.base, func() { cancelMerged(context.Cause(s.base)) })
			defer stop()
			defer cancelMerged(nil)
			parent = merged
		}
		var ctx context.Context
		var cancel context.CancelFunc
		if d > 0 {
			ctx, cancel = context.WithTimeoutCause(parent, d, errRequestTimeout)
		} else {
			ctx, cancel = context.WithCancel(parent)
		}
		defer cancel()
		c.SetUserContext(ctx)
		// The headers set so far (request id, security headers), kept for a
		// 503; pooled, so the copy reuses its buffers instead of allocating.
		before := headerPool.Get().(*fasthttp.ResponseHeader)
		defer func() { before.Reset(); headerPool.Put(before) }()
		c.Response().Header.CopyTo(before)
		start := time.Now()
		err := c.Next()
		if ctx.Err() == nil {
			return err
		}
		cause := context.Cause(ctx)
		s.p.Log.Warn("request cancelled", "request_id", api.RequestIDOf(c), "method", c.Method(), "path", c.Path(),
			"duration", time.Since(start), "reason", cause.Error(), "handler_error", fmt.Sprint(err))
		c.Response().Reset()
		before.CopyTo(&c.Response().Header)
		msg := fmt.Sprintf("The request took longer than %s and was cancelled.", d)
		if errors.Is(cause, errShuttingDown) {
			msg = "The server is restarting and cancelled the request: try again."
			c.Set(fiber.HeaderConnection, "close")
		}
		return api.Unavailable(api.FieldError{Message: msg})
	}
}

// withValues is a context's cancellation and deadline with the values of
// another context first: a value found in values wins, the others are
// Context's (among them the cancelCtx that context.WithTimeout registers
// with, so a child of withValues registers with Context directly).
type withValues struct {
	context.Context
	values context.Context
}

func (c withValues) Value(key any) any {
	if v := c.values.Value(key); v != nil {
		return v
	}
	return c.Context.Value(key)
}
