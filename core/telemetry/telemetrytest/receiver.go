// Package telemetrytest is an OTLP/HTTP receiver for tests, standing in for
// New Relic's endpoint on 127.0.0.1: it decodes what really leaves the
// process (gzip, protobuf) and keeps the headers, spans and metric names.
package telemetrytest

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	"google.golang.org/protobuf/proto"
)

// Request is one export request as received.
type Request struct {
	Path   string
	Header http.Header
	// Gzip tells whether the body was gzip-compressed.
	Gzip bool
}

// Span is a received span, flattened.
type Span struct {
	Name         string
	TraceID      string
	SpanID       string
	ParentSpanID string
	Kind         string
	Attrs        map[string]string
	// Resource holds the resource attributes (service.name, ...).
	Resource map[string]string
	// Events are the span's events, by name, with their attributes.
	Events []Event
}

// Event is a span event.
type Event struct {
	Name  string
	Attrs map[string]string
}

// Receiver is a running test receiver. Its zero value is not usable: call New.
type Receiver struct {
	// URL is the base URL to use as OTEL_EXPORTER_OTLP_ENDPOINT.
	URL string

	srv      *httptest.Server
	mu       sync.Mutex
	requests []Request
	spans    []Span
	metrics  map[string]int
	delay    time.Duration
	bad      []string
}

// New starts a receiver for the test's life. A positive delay makes it answer
// every request that late (a slow backend).
func New(t testing.TB, delay time.Duration) *Receiver {
	t.Helper()
	r := &Receiver{metrics: map[string]int{}, delay: delay}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	r.URL = r.srv.URL
	return r
}

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	if r.delay > 0 {
		select {
		case <-time.After(r.delay):
		case <-req.Context().Done():
			return
		}
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	zipped := req.Header.Get("Content-Encoding") == "gzip"
	if zipped {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			r.fail("gzip: " + err.Error())
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if body, err = io.ReadAll(zr); err != nil {
			r.fail("gzip: " + err.Error())
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
	}
	if ct := req.Header.Get("Content-Type"); ct != "application/x-protobuf" {
		r.fail("content type " + ct)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests = append(r.requests, Request{Path: req.URL.Path, Header: req.Header.Clone(), Gzip: zipped})
	switch req.URL.Path {
	case "/v1/traces":
		var m coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(body, &m); err != nil {
			r.bad = append(r.bad, "traces: "+err.Error())
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		for _, rs := range m.ResourceSpans {
			res := attrs(rs.GetResource().GetAttributes())
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					var events []Event
					for _, e := range s.Events {
						events = append(events, Event{Name: e.Name, Attrs: attrs(e.Attributes)})
					}
					r.spans = append(r.spans, Span{Events: events,
						Name: s.Name, TraceID: hex.EncodeToString(s.TraceId), SpanID: hex.EncodeToString(s.SpanId),
						ParentSpanID: hex.EncodeToString(s.ParentSpanId), Kind: s.Kind.String(),
						Attrs: attrs(s.Attributes), Resource: res,
					})
				}
			}
		}
	case "/v1/metrics":
		var m colmetricpb.ExportMetricsServiceRequest
		if err := proto.Unmarshal(body, &m); err != nil {
			r.bad = append(r.bad, "metrics: "+err.Error())
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		for _, rm := range m.ResourceMetrics {
			for _, sm := range rm.ScopeMetrics {
				for _, mt := range sm.Metrics {
					r.metrics[mt.Name]++
				}
			}
		}
	default:
		r.bad = append(r.bad, "path "+req.URL.Path)
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.WriteHeader(http.StatusOK)
}

func (r *Receiver) fail(s string) {
	r.mu.Lock()
	r.bad = append(r.bad, s)
	r.mu.Unlock()
}

func attrs(kvs []*commonpb.KeyValue) map[string]string {
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		v := kv.GetValue()
		switch {
		case v.GetStringValue() != "":
			m[kv.Key] = v.GetStringValue()
		default:
			m[kv.Key] = v.String()
		}
		if _, ok := v.GetValue().(*commonpb.AnyValue_IntValue); ok {
			m[kv.Key] = strconv.FormatInt(v.GetIntValue(), 10)
		}
		if b, ok := v.GetValue().(*commonpb.AnyValue_BoolValue); ok {
			m[kv.Key] = map[bool]string{true: "true", false: "false"}[b.BoolValue]
		}
	}
	return m
}

// Requests returns the export requests received so far.
func (r *Receiver) Requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Request(nil), r.requests...)
}

// Spans returns the spans received so far.
func (r *Receiver) Spans() []Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Span(nil), r.spans...)
}

// MetricNames returns the names of the metrics received so far, sorted.
func (r *Receiver) MetricNames() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	names := make([]string, 0, len(r.metrics))
	for n := range r.metrics {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Problems returns what the receiver could not decode (bad gzip, protobuf,
// content type or path).
func (r *Receiver) Problems() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.bad...)
}

// WaitSpan waits up to timeout for a span for which match is true.
func (r *Receiver) WaitSpan(ctx context.Context, timeout time.Duration, match func(Span) bool) (Span, bool) {
	deadline := time.Now().Add(timeout)
	for {
		for _, s := range r.Spans() {
			if match(s) {
				return s, true
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return Span{}, false
		}
		time.Sleep(20 * time.Millisecond)
	}
}
