package cache

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// observer records lookups when Config asks for it.
type observer struct {
	tracer  trace.Tracer // nil: no span events
	backend attribute.KeyValue
	// counts are the lookups by result (0: miss, 1: hit), read by the
	// observable counter manouche.cache.lookups when metrics are collected:
	// a lookup adds to an atomic, where a synchronous counter's Add would
	// resolve and hash its attribute set on every call (~0.5 µs a request).
	counts  [2]atomic.Int64
	metrics bool
	// events are the span events of each operation's hit and miss, built
	// once, as slices: an event's options, or the variadic slice of a call,
	// would otherwise cost allocations a lookup should not make.
	events [len(opNames)][2][]trace.EventOption
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
			o.events[op][hit] = []trace.EventOption{trace.WithAttributes(attribute.String("cache.operation", name), o.backend)}
		}
	}
	if mp != nil {
		o.metrics = true
		results := [2]metric.ObserveOption{
			metric.WithAttributeSet(attribute.NewSet(attribute.String("cache.result", "miss"), o.backend)),
			metric.WithAttributeSet(attribute.NewSet(attribute.String("cache.result", "hit"), o.backend)),
		}
		_, err := mp.Meter("manouche/core/cache").Int64ObservableCounter("manouche.cache.lookups",
			metric.WithDescription("Cache lookups (Get, Once, OnceNear) by result: hit or miss."),
			metric.WithUnit("{lookup}"),
			metric.WithInt64Callback(func(_ context.Context, obs metric.Int64Observer) error {
				for i := range o.counts {
					obs.Observe(o.counts[i].Load(), results[i])
				}
				return nil
			}))
		if err != nil {
			return nil, fmt.Errorf("cache: metrics: %w", err)
		}
	}
	return o, nil
}

// record records a lookup op (opGet, ...) made with ctx: a "cache hit" or
// "cache miss" event on the caller's span (not a span of its own: a
// near-cache hit costs less than a span would) and the lookups counter.
func (o *observer) record(ctx context.Context, op int, hit bool, err error) {
	if o.metrics {
		if hit {
			o.counts[1].Add(1)
		} else {
			o.counts[0].Add(1)
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
	span.AddEvent(name, o.events[op][h]...)
}
