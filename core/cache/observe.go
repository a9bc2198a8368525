package cache

import (
	"context"
	"errors"
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// observer records lookups when Config asks for it.
type observer struct {
	tracer  trace.Tracer // nil: no span events
	lookups metric.Int64Counter
	backend attribute.KeyValue
	hit     metric.MeasurementOption
	miss    metric.MeasurementOption
	// events are the span events of each operation's hit and miss, built
	// once: an event's options cost allocations a lookup should not make.
	events [len(opNames)][2]trace.EventOption
}

// The operations a lookup event names (cache.operation).
const (
	opGet = iota
	opOnce
	opOnceNear
)

var opNames = [...]string{opGet: "get", opOnce: "once", opOnceNear: "once_near"}

func newObserver(tp trace.TracerProvider, mp metric.MeterProvider, redis bool) (*observer, error) {
	o := &observer{backend: attribute.String("cache.backend", "memory")}
	if redis {
		o.backend = attribute.String("cache.backend", "redis")
	}
	if tp != nil {
		o.tracer = tp.Tracer("manouche/core/cache")
	}
	for op, name := range opNames {
		for hit := range 2 {
			o.events[op][hit] = trace.WithAttributes(attribute.String("cache.operation", name), o.backend)
		}
	}
	if mp != nil {
		var err error
		o.lookups, err = mp.Meter("manouche/core/cache").Int64Counter("manouche.cache.lookups",
			metric.WithDescription("Cache lookups (Get, Once, OnceNear) by result: hit or miss."),
			metric.WithUnit("{lookup}"))
		if err != nil {
			return nil, fmt.Errorf("cache: metrics: %w", err)
		}
		o.hit = metric.WithAttributes(attribute.String("cache.result", "hit"), o.backend)
		o.miss = metric.WithAttributes(attribute.String("cache.result", "miss"), o.backend)
	}
	return o, nil
}

// record records a lookup op (opGet, ...) made with ctx: a "cache hit" or
// "cache miss" event on the caller's span (not a span of its own: a
// near-cache hit costs less than a span would) and the lookups counter.
func (o *observer) record(ctx context.Context, op int, hit bool, err error) {
	if o.lookups != nil {
		if hit {
			o.lookups.Add(ctx, 1, o.hit)
		} else {
			o.lookups.Add(ctx, 1, o.miss)
		}
	}
	if o.tracer == nil {
		return
	}
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	name, h := "cache miss", 0
	if hit {
		name, h = "cache hit", 1
	}
	if err != nil && !errors.Is(err, ErrNotFound) {
		span.AddEvent(name, trace.WithAttributes(attribute.String("cache.operation", opNames[op]), o.backend,
			attribute.String("error.message", err.Error())))
		return
	}
	span.AddEvent(name, o.events[op][h])
}
