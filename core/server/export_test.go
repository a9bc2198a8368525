package server

import (
	"context"
	"net"
	"time"

	"github.com/valyala/fasthttp"
)

// SecurityHeaders is securityHeaders, for TestSecurityHeadersMatchHelmet.
var SecurityHeaders = securityHeaders

// ErrRequestTimeout and ErrShuttingDown are the causes of a request's
// context ending early.
var ErrRequestTimeout, ErrShuttingDown = errRequestTimeout, errShuttingDown

// NewRequestContext is the context requestContext gives a request, with its
// cancel (the end of the request).
func NewRequestContext(parent, base context.Context, d time.Duration) (context.Context, func()) {
	ctx := &lazyContext{parent: parent, base: base}
	if d > 0 {
		ctx.deadline = time.Now().Add(d)
	}
	return ctx, ctx.cancel
}

// NewTrackingListener is the listener Serve serves on, with the server's
// ConnState hook and the end of its deadline goroutine.
func NewTrackingListener(ln net.Listener) (net.Listener, func(net.Conn, fasthttp.ConnState), func()) {
	l := newTrackingListener(ln)
	return l, l.setState, l.stopExpiring
}

// ReleaseStartupMemory is releaseStartupMemory.
var ReleaseStartupMemory = releaseStartupMemory
