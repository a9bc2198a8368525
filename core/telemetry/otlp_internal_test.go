package telemetry

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// captureClient is an otlptrace.Client that keeps what the SDK's OTLP
// exporter would send.
type captureClient struct{ got []*tracepb.ResourceSpans }

func (c *captureClient) Start(context.Context) error { return nil }
func (c *captureClient) Stop(context.Context) error  { return nil }
func (c *captureClient) UploadTraces(_ context.Context, rs []*tracepb.ResourceSpans) error {
	c.got = append(c.got, rs...)
	return nil
}

// recordSpans makes spans of every shape the encoder handles: all attribute
// types, events, links (remote, with trace state), statuses, remote parents,
// dropped counts, long values (lengths of 2 and 3 bytes), several scopes and
// two resources.
func recordSpans(t *testing.T) []sdktrace.ReadOnlySpan {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	limits := sdktrace.NewSpanLimits()
	limits.AttributeCountLimit = 12
	limits.EventCountLimit = 2
	limits.LinkCountLimit = 1
	limits.AttributePerEventCountLimit = 3
	res1 := resource.NewSchemaless(attribute.String("service.name", "one"), attribute.Int("n", 1))
	res2 := resource.NewWithAttributes("https://opentelemetry.io/schemas/1.26.0", attribute.String("service.name", "two"))
	tp1 := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec), sdktrace.WithResource(res1), sdktrace.WithRawSpanLimits(limits))
	tp2 := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec), sdktrace.WithResource(res2))

	ts, err := trace.ParseTraceState("vendor=value,other=x")
	if err != nil {
		t.Fatal(err)
	}
	remote := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1, 2, 3}, SpanID: trace.SpanID{4, 5, 6}, TraceFlags: trace.FlagsSampled, TraceState: ts, Remote: true,
	})
	long := strings.Repeat("x", 200)
	huge := strings.Repeat("y", 20000)
	ctx := trace.ContextWithRemoteSpanContext(context.Background(), remote)

	tr := tp1.Tracer("manouche", trace.WithInstrumentationVersion("1.2.3"), trace.WithInstrumentationAttributes(attribute.String("scope.attr", "v")))
	ctx, server := tr.Start(ctx, "GET /api/things/:id", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithLinks(trace.Link{SpanContext: remote, Attributes: []attribute.KeyValue{attribute.String("link", "attr")}},
			trace.Link{SpanContext: remote}))
	server.SetAttributes(
		attribute.String("s", "v"), attribute.String("empty", ""), attribute.Bool("t", true), attribute.Bool("f", false),
		attribute.Int("zero", 0), attribute.Int("neg", -7), attribute.Int64("big", 1<<62), attribute.Float64("pi", 3.14),
		attribute.Float64("fzero", 0), attribute.BoolSlice("bs", []bool{true, false}), attribute.IntSlice("is", []int{1, -2}),
		attribute.Float64Slice("fs", []float64{1.5}), attribute.StringSlice("ss", []string{"a", ""}),
		attribute.String("over", "the limit"))
	server.AddEvent("cache hit", trace.WithAttributes(attribute.String("cache.operation", "OnceNear"), attribute.String("a", "1"),
		attribute.String("b", "2"), attribute.String("c", "3")))
	server.AddEvent("plain")
	server.AddEvent("dropped")
	server.SetStatus(codes.Error, "went wrong")

	_, child := tr.Start(ctx, "SELECT", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("db.statement", long), attribute.String("huge", huge),
			attribute.ByteSlice("bytes", []byte{0, 1, 2}), attribute.Slice("mixed", attribute.IntValue(1), attribute.StringValue("two")),
			attribute.Map("map", attribute.Bool("k", true), attribute.Int("n", 3))))
	child.SetStatus(codes.Ok, "")
	child.End()

	_, other := tp1.Tracer("github.com/uptrace/bun").Start(ctx, "other scope", trace.WithSpanKind(trace.SpanKindProducer))
	other.End()
	_, internal := tp1.Tracer("manouche").Start(context.Background(), "root internal")
	internal.End()
	server.End()
	_, second := tp2.Tracer("manouche").Start(context.Background(), "second resource", trace.WithSpanKind(trace.SpanKindConsumer))
	second.End()
	_, third := tp1.Tracer("github.com/uptrace/bun").Start(context.Background(), "back to the first")
	third.End()

	spans := rec.Ended()
	if len(spans) != 6 {
		t.Fatalf("%d spans recorded", len(spans))
	}
	return spans
}

// sorted orders resource spans by resource: the SDK's exporter groups them
// through a map, in no fixed order.
func sorted(rs []*tracepb.ResourceSpans) []*tracepb.ResourceSpans {
	key := func(r *tracepb.ResourceSpans) string {
		b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(r.Resource)
		return string(b)
	}
	sort.Slice(rs, func(i, j int) bool { return key(rs[i]) < key(rs[j]) })
	return rs
}

// The project's exporter sends, over HTTP with gzip and the headers, the
// very protobuf message the SDK's OTLP exporter would build from the same
// spans.
func TestSpanEncodingMatchesOTLPExporter(t *testing.T) {
	spans := recordSpans(t)

	capture := &captureClient{}
	sdkExp, err := otlptrace.New(context.Background(), capture)
	if err != nil {
		t.Fatal(err)
	}
	if err := sdkExp.ExportSpans(context.Background(), spans); err != nil {
		t.Fatal(err)
	}
	want := &coltracepb.ExportTraceServiceRequest{ResourceSpans: sorted(capture.got)}

	var mu sync.Mutex
	var bodies [][]byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" ||
			r.Header.Get("Content-Encoding") != "gzip" || r.Header.Get("api-key") != "key" {
			http.Error(w, "bad request "+r.Method+" "+r.URL.Path, http.StatusBadRequest)
			return
		}
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		b, err := io.ReadAll(zr)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		bodies = append(bodies, b)
		mu.Unlock()
	}))
	defer srv.Close()
	exp := newSpanExporter(srv.URL+"/v1/traces", map[string]string{"api-key": "key"}, srv.Client())
	// Twice: the second export reuses the buffers of the first.
	for range 2 {
		if err := exp.ExportSpans(context.Background(), spans); err != nil {
			t.Fatal(err)
		}
	}
	if len(bodies) != 2 {
		t.Fatalf("%d requests received, want 2", len(bodies))
	}
	for i, b := range bodies {
		got := &coltracepb.ExportTraceServiceRequest{}
		if err := proto.Unmarshal(b, got); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		got.ResourceSpans = sorted(got.ResourceSpans)
		if !proto.Equal(got, want) {
			t.Errorf("request %d differs from the SDK exporter's:\n got %v\nwant %v", i, got, want)
		}
	}
	if n := len(want.ResourceSpans); n != 2 {
		t.Errorf("%d resources, want 2", n)
	}
	// Every span is there once (the check above compares with the SDK, this
	// makes sure the comparison is not between two empty messages).
	var names []string
	for _, rs := range want.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				names = append(names, s.Name)
			}
		}
	}
	if len(names) != 6 {
		t.Errorf("spans %v, want 6", names)
	}
}

func TestSpanExporterReportsFailures(t *testing.T) {
	spans := recordSpans(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusServiceUnavailable)
	}))
	exp := newSpanExporter(srv.URL+"/v1/traces", nil, srv.Client())
	if err := exp.ExportSpans(context.Background(), spans); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("a 503 gave %v, want an error naming it", err)
	}
	srv.Close()
	if err := exp.ExportSpans(context.Background(), spans); err == nil {
		t.Error("a receiver that is down gave no error")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := exp.Shutdown(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Shutdown with a cancelled context: %v", err)
	}
	if err := exp.ExportSpans(context.Background(), nil); err != nil {
		t.Errorf("no spans: %v", err)
	}
}

// The wire helpers: a message whose length needs more than the one byte
// begin leaves is moved, and nested lengths stay right.
func TestBeginEndLengths(t *testing.T) {
	for _, n := range []int{0, 1, 127, 128, 16383, 16384, 1 << 21} {
		var b []byte
		outer := begin(&b, 1)
		inner := begin(&b, 2)
		b = append(b, bytes.Repeat([]byte{'z'}, n)...)
		end(&b, inner)
		end(&b, outer)
		var want []byte
		want = appendBytesAlways(want, 2, strings.Repeat("z", n))
		want = appendBytesAlways(nil, 1, string(want))
		if !bytes.Equal(b, want) {
			t.Errorf("n=%d: encoding differs", n)
		}
	}
}
