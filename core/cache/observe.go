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
}

func newObserver(tp trace.TracerProvider, mp metric.MeterProvider, redis bool) (*observer, error) {
	o := &observer{backend: attribute.String("cache.backend", "memory")}
	if redis {
		o.backend = attribute.String("cache.backend", "redis")
	}
	if tp != nil {
		o.tracer = tp.Tracer("manouche/core/cache")
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

// start begins a lookup named op; done records whether it hit: a
// "cache hit" or "cache miss" event on the caller's span (not a span of its
// own: a near-cache hit costs less than a span would) and the lookups counter.
func (o *observer) start(ctx context.Context, op string) (context.Context, func(hit bool, err error)) {
	return ctx, func(hit bool, err error) {
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
		name := "cache miss"
		if hit {
			name = "cache hit"
		}
		attrs := []attribute.KeyValue{attribute.String("cache.operation", op), o.backend}
		if err != nil && !errors.Is(err, ErrNotFound) {
			attrs = append(attrs, attribute.String("error.message", err.Error()))
		}
		span.AddEvent(name, trace.WithAttributes(attrs...))
	}
}
