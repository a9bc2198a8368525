package testkit

import (
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// ServeInMemory runs handler b.N times on one reused request, built by
// prepare, and reports the process CPU time per request ("cpu-ns/op"): the
// server-side cost with no network and no client, which, unlike ns/op, does
// not grow when other processes take the CPU away. The first and the last
// answers must be 200s.
func ServeInMemory(b *testing.B, handler fasthttp.RequestHandler, prepare func(*fasthttp.Request)) {
	b.Helper()
	var req fasthttp.Request
	req.Header.SetMethod("GET")
	prepare(&req)
	var ctx fasthttp.RequestCtx
	ctx.Init(&req, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}, nil)
	handler(&ctx)
	if ctx.Response.StatusCode() != 200 {
		b.Fatalf("status %d: %s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := CPUTime()
	for range b.N {
		// What fasthttp does between two requests of a connection: the
		// user values (Fiber's user context among them) are per request.
		ctx.ResetUserValues()
		ctx.Response.Reset()
		handler(&ctx)
	}
	b.StopTimer()
	if ctx.Response.StatusCode() != 200 {
		b.Fatalf("status %d after %d requests: %s", ctx.Response.StatusCode(), b.N, ctx.Response.Body())
	}
	b.ReportMetric(float64((CPUTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// CPUTime is the user and system CPU time the process has used.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
