package telemetry

import (
	"maps"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// httpInstruments are the HTTP server's metrics.
type httpInstruments struct {
	duration metric.Float64Histogram
}

func newHTTPInstruments(m metric.Meter) (httpInstruments, error) {
	var h httpInstruments
	var err error
	h.duration, err = m.Float64Histogram("http.server.request.duration",
		metric.WithDescription("Duration of HTTP requests, by route pattern, method and status (its count is the request rate; status >= 500 are errors)."),
		metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10))
	return h, err
}

// headerCarrier reads and writes W3C trace context headers on a fasthttp
// request header.
type headerCarrier struct{ h *fasthttp.RequestHeader }

func (c headerCarrier) Get(key string) string { return string(c.h.Peek(key)) }
func (c headerCarrier) Set(key, value string) { c.h.Set(key, value) }
func (c headerCarrier) Keys() []string {
	var keys []string
	c.h.VisitAll(func(k, _ []byte) { keys = append(keys, string(k)) })
	return keys
}

// Middleware returns the Fiber middleware that traces and measures every
// request: a server span named by route pattern ("GET /api/blog/posts/:id",
// never the raw path), child of the caller's span when the request carries a
// traceparent header, and the http.server.request.duration histogram. Install
// it first, so that its span covers the whole stack. The request's context
// (c.UserContext()) carries the span, so SQL, Redis, cache and queue spans
// and log lines of the request join its trace.
//
// Fiber knows a request's route only after routing, that is after c.Next()
// in a middleware installed with Use: the span is named then.
func (t *Telemetry) Middleware() fiber.Handler {
	var once sync.Once
	var names map[*fiber.Route]string
	// sets holds each route and status's attribute set, built once, in a
	// map replaced (copied) when a new pair appears: a lookup is a read of
	// a plain map, where a sync.Map would box the key on every request, and
	// a slice of options, where a variadic call would allocate one.
	var sets atomic.Pointer[map[metricKey][]metric.RecordOption]
	sets.Store(&map[metricKey][]metric.RecordOption{})
	var setsMu sync.Mutex // serialises the copies
	server := trace.WithSpanKind(trace.SpanKindServer)
	return func(c *fiber.Ctx) error {
		once.Do(func() { names = routeNames(c.App()) })
		// Fiber's strings point into the request's buffer, reused by the next
		// request: the span outlives it, so it keeps stable copies only.
		method := knownMethod(c.Method())
		ctx := c.UserContext()
		if len(c.Request().Header.Peek("traceparent")) > 0 {
			ctx = t.propagator.Extract(ctx, headerCarrier{&c.Request().Header})
		}
		ctx, span := t.tracer.Start(ctx, method, server)
		c.SetUserContext(ctx)
		// A recorded span's times give the duration, without reading the
		// clock again (or boxing a timestamp option) for it.
		recorded, _ := span.(sdktrace.ReadOnlySpan)
		var start time.Time
		if recorded == nil {
			start = time.Now()
		}

		err := c.Next()
		if err != nil {
			// Let the error handler write the response now, so that the
			// span and the metrics have the status the client gets.
			span.RecordError(err)
			if herr := c.App().ErrorHandler(c, err); herr != nil {
				_ = c.SendStatus(fiber.StatusInternalServerError)
			}
		}
		status := c.Response().StatusCode()
		route := c.Route()
		name, ok := names[route]
		if !ok {
			route = nil
		}
		if span.IsRecording() {
			var buf [6]attribute.KeyValue
			attrs := append(buf[:0],
				attribute.String("http.request.method", method),
				attribute.Int("http.response.status_code", status),
				attribute.String("url.path", strings.Clone(c.Path())))
			if route != nil {
				span.SetName(name)
				attrs = append(attrs, attribute.String("http.route", route.Path))
			}
			if status >= 500 {
				attrs = append(attrs, attribute.String("error.type", strconv.Itoa(status)))
				span.SetStatus(codes.Error, "")
			}
			span.SetAttributes(attrs...)
		}
		span.End()
		var took time.Duration
		if recorded != nil {
			took = recorded.EndTime().Sub(recorded.StartTime())
		} else {
			took = time.Since(start)
		}
		key := metricKey{route, method, status}
		opts, ok := (*sets.Load())[key]
		if !ok {
			attrs := []attribute.KeyValue{
				attribute.String("http.request.method", method),
				attribute.Int("http.response.status_code", status),
			}
			if route != nil {
				attrs = append(attrs, attribute.String("http.route", route.Path))
			}
			if status >= 500 {
				attrs = append(attrs, attribute.String("error.type", strconv.Itoa(status)))
			}
			opts = []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(attrs...))}
			setsMu.Lock()
			old := *sets.Load()
			m := make(map[metricKey][]metric.RecordOption, len(old)+1)
			maps.Copy(m, old)
			m[key] = opts
			sets.Store(&m)
			setsMu.Unlock()
		}
		t.http.duration.Record(ctx, took.Seconds(), opts...)
		return nil
	}
}

// knownMethod returns the standard method m is, as a constant string, or
// "_OTHER" (OpenTelemetry's name for the others).
func knownMethod(m string) string {
	for _, k := range [...]string{fiber.MethodGet, fiber.MethodHead, fiber.MethodPost, fiber.MethodPut, fiber.MethodPatch,
		fiber.MethodDelete, fiber.MethodOptions, fiber.MethodConnect, fiber.MethodTrace} {
		if m == k {
			return k
		}
	}
	return "_OTHER"
}

// metricKey identifies a request's metric attributes. Unrouted requests
// share a nil route, so their paths do not multiply the series.
type metricKey struct {
	route  *fiber.Route
	method string
	status int
}

// routeNames maps every route of app that is not a Use middleware to its
// span name, "METHOD /pattern". Fiber does not export whether a route comes
// from Use, but GetRoutes(true) lists the others in stack order, so the two
// lists are matched in order.
func routeNames(app *fiber.App) map[*fiber.Route]string {
	names := map[*fiber.Route]string{}
	real := app.GetRoutes(true)
	i := 0
	for _, routes := range app.Stack() {
		for _, r := range routes {
			if i < len(real) && real[i].Method == r.Method && real[i].Path == r.Path &&
				real[i].Name == r.Name && sameHandlers(real[i].Handlers, r.Handlers) {
				names[r] = r.Method + " " + r.Path
				i++
			}
		}
	}
	return names
}

func sameHandlers(a, b []fiber.Handler) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if reflect.ValueOf(a[i]).Pointer() != reflect.ValueOf(b[i]).Pointer() {
			return false
		}
	}
	return true
}
