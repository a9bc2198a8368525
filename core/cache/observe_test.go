package cache_test

import (
	"context"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"manouche/core/cache"
)

// lookups reads manouche.cache.lookups from reader: the count of each
// cache.result, and the backend each was recorded with.
func lookups(t *testing.T, reader sdkmetric.Reader) (map[string]int64, map[string]bool) {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	counts, backends := map[string]int64{}, map[string]bool{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != "manouche.cache.lookups" {
				continue
			}
			sum, ok := m.Data.(metricdata.Sum[int64])
			if !ok || !sum.IsMonotonic {
				t.Fatalf("manouche.cache.lookups is a %T (monotonic %v), not a monotonic int64 sum", m.Data, ok && sum.IsMonotonic)
			}
			for _, dp := range sum.DataPoints {
				result, _ := dp.Attributes.Value("cache.result")
				backend, _ := dp.Attributes.Value("cache.backend")
				counts[result.AsString()] += dp.Value
				backends[backend.AsString()] = true
			}
		}
	}
	return counts, backends
}

// TestLookupsAreCountedAndTraced: every Get, Once and OnceNear adds one hit
// or one miss to manouche.cache.lookups, on every backend, and leaves a
// "cache hit" or "cache miss" event, naming its operation, on the caller's
// span.
func TestLookupsAreCountedAndTraced(t *testing.T) {
	for name, cfg := range backends(t) {
		t.Run(name, func(t *testing.T) {
			// Delta temporality, as New Relic is sent (core/telemetry).
			reader := sdkmetric.NewManualReader(sdkmetric.WithTemporalitySelector(
				func(sdkmetric.InstrumentKind) metricdata.Temporality { return metricdata.DeltaTemporality }))
			spans := tracetest.NewSpanRecorder()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
			cfg.MeterProvider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
			cfg.TracerProvider = tp
			c, err := cache.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			ctx, span := tp.Tracer("test").Start(context.Background(), "request")
			var u user
			if found, err := c.Get(ctx, "absent", &u); err != nil || found {
				t.Fatalf("Get of an absent key: %v %v", found, err)
			}
			load := func(context.Context) (any, error) { return user{ID: "1", Email: "a@example.com"}, nil }
			for range 3 { // a miss, then two hits
				if err := c.Once(ctx, "user:1", &u, 0, load); err != nil {
					t.Fatal(err)
				}
			}
			span.End()

			counts, backends := lookups(t, reader)
			if counts["miss"] != 2 || counts["hit"] != 2 {
				t.Errorf("lookups by result = %v, want 2 misses (Get, the first Once) and 2 hits", counts)
			}
			want := "memory"
			if name != "inprocess" {
				want = "redis"
			}
			if len(backends) != 1 || !backends[want] {
				t.Errorf("cache.backend = %v, want only %q", backends, want)
			}
			// Delta temporality: what was reported is not reported again.
			c.Get(ctx, "absent", &u)
			if counts, _ := lookups(t, reader); counts["miss"] != 1 || counts["hit"] != 0 {
				t.Errorf("second collection = %v, want the one lookup since the first", counts)
			}

			ended := spans.Ended()
			if len(ended) != 1 {
				t.Fatalf("%d spans ended, want 1", len(ended))
			}
			var events []string
			for _, e := range ended[0].Events() {
				op := ""
				for _, a := range e.Attributes {
					if a.Key == "cache.operation" {
						op = a.Value.AsString()
					}
				}
				events = append(events, e.Name+" "+op)
			}
			wantEvents := []string{"cache miss get", "cache miss once", "cache hit once", "cache hit once"}
			if len(events) != len(wantEvents) {
				t.Fatalf("events = %q, want %q", events, wantEvents)
			}
			for i := range events {
				if events[i] != wantEvents[i] {
					t.Errorf("events = %q, want %q", events, wantEvents)
					break
				}
			}
		})
	}
}
