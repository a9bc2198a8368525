package server

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
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
		// The request's context is a lazyContext: no timer and no
		// registration with s.base unless something waits on it.
		ctx := &lazyContext{parent: s.base}
		if up := c.UserContext(); up != context.Background() {
			// A context set before this middleware (telemetry's, with the
			// request's span) stays the parent; the drain still cancels it.
			ctx.parent, ctx.base = up, s.base
		}
		// When the server started on the request (read once by fasthttp;
		// every clock read is ~0.1 µs on a busy virtual machine).
		start := c.Context().Time()
		if start.IsZero() { // a RequestCtx served without a server
			start = time.Now()
		}
		if d > 0 {
			ctx.deadline = start.Add(d)
		}
		defer ctx.cancel()
		c.SetUserContext(ctx)
		// The headers set so far (request id, security headers), kept for a
		// 503; pooled, so the copy reuses its buffers instead of allocating.
		before := headerPool.Get().(*fasthttp.ResponseHeader)
		defer func() { before.Reset(); headerPool.Put(before) }()
		c.Response().Header.CopyTo(before)
		err := c.Next()
		if ctx.Err() == nil {
			return err
		}
		cause := ctx.cause()
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

// lazyContext is a request's context: cancelled at its deadline
// (REQUEST_TIMEOUT; cause errRequestTimeout), when its parent is, when base
// is (the drain; cause errShuttingDown), or when the request ends. Most
// requests never wait on their context (a health check, a page from the
// cache): it then costs no timer and no registration with its parents (the
// standard library's would cost a timer and two lock round trips on the
// server's base context per request), and whether it is over is read from the
// clock and the parents when asked (Err). The first Done, or Err or Value once
// it is over, arms it: a standard context (context.WithDeadlineCause) takes
// over, so that contexts derived from it, Done channels, AfterFunc and
// context.Cause behave exactly as the standard library's.
type lazyContext struct {
	parent   context.Context
	base     context.Context // also cancels it, when not parent's ancestor; may be nil
	deadline time.Time       // zero: none

	inner atomic.Pointer[armedContext] // nil until armed
	ended atomic.Bool                  // cancel ran
	mu    sync.Mutex                   // serializes arm and cancel
}

// armedContext is the standard context that took a lazyContext over.
type armedContext struct {
	context.Context
	release func() // cancels it and unregisters it from its parents
}

// over reports, without arming, whether ctx is over: cancelled, a parent
// done, or past its deadline.
func (ctx *lazyContext) over() bool {
	return ctx.ended.Load() || ctx.parent.Err() != nil || (ctx.base != nil && ctx.base.Err() != nil) ||
		(!ctx.deadline.IsZero() && !time.Now().Before(ctx.deadline))
}

// arm returns the standard context that takes over, making it on first use.
func (ctx *lazyContext) arm() context.Context {
	if a := ctx.inner.Load(); a != nil {
		return a.Context
	}
	ctx.mu.Lock()
	defer ctx.mu.Unlock()
	if a := ctx.inner.Load(); a != nil {
		return a.Context
	}
	parent, releaseParent := ctx.parent, func() {}
	if ctx.base != nil {
		merged, cancelMerged := context.WithCancelCause(ctx.parent)
		stop := context.AfterFunc(ctx.base, func() { cancelMerged(context.Cause(ctx.base)) })
		if ctx.base.Err() != nil { // AfterFunc would cancel it from another goroutine, a moment later
			cancelMerged(context.Cause(ctx.base))
		}
		parent, releaseParent = merged, func() { stop(); cancelMerged(nil) }
	}
	a := &armedContext{}
	var cancel context.CancelFunc
	if ctx.deadline.IsZero() {
		a.Context, cancel = context.WithCancel(parent)
	} else {
		a.Context, cancel = context.WithDeadlineCause(parent, ctx.deadline, errRequestTimeout)
	}
	a.release = func() { cancel(); releaseParent() }
	if ctx.ended.Load() {
		a.release()
	}
	ctx.inner.Store(a)
	return a.Context
}

// Deadline is the request's deadline (REQUEST_TIMEOUT), or the parent's when earlier.
func (ctx *lazyContext) Deadline() (time.Time, bool) {
	if pd, ok := ctx.parent.Deadline(); ok && (ctx.deadline.IsZero() || pd.Before(ctx.deadline)) {
		return pd, true
	}
	return ctx.deadline, !ctx.deadline.IsZero()
}

// Done arms the context and returns its channel.
func (ctx *lazyContext) Done() <-chan struct{} { return ctx.arm().Done() }

// Err is nil while the request runs within its deadline; then the armed context's.
func (ctx *lazyContext) Err() error {
	if a := ctx.inner.Load(); a != nil {
		return a.Err()
	}
	if !ctx.over() {
		return nil
	}
	return ctx.arm().Err()
}

// Value is the parent's values; once ctx is over, it arms it first, so that
// context.Cause (which finds the canceller through Value) reports the cause.
func (ctx *lazyContext) Value(key any) any {
	if a := ctx.inner.Load(); a != nil {
		return a.Value(key)
	}
	if ctx.over() {
		return ctx.arm().Value(key)
	}
	return ctx.parent.Value(key)
}

// cause is context.Cause(ctx).
func (ctx *lazyContext) cause() error { return context.Cause(ctx) }

// cancel ends the context when the request ends.
func (ctx *lazyContext) cancel() {
	ctx.mu.Lock()
	defer ctx.mu.Unlock()
	ctx.ended.Store(true)
	if a := ctx.inner.Load(); a != nil {
		a.release()
	}
}

// String names the context, for %v of a context chain.
func (ctx *lazyContext) String() string { return "server.requestContext" }
