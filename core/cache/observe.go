package cache

import (
	"context"
	"errors"
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// observer traces and counts lookups when Config asks for it.
type observer struct {
	tracer  trace.Tracer // nil: no spans
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

// start begins a lookup named op; done records whether it hit.
func (o *observer) start(ctx context.Context, op string) (context.Context, func(hit bool, err error)) {
	var span trace.Span
	if o.tracer != nil {
		ctx, span = o.tracer.Start(ctx, "cache "+op, trace.WithSpanKind(trace.SpanKindInternal))
	}
	return ctx, func(hit bool, err error) {
		if o.lookups != nil {
			if hit {
				o.lookups.Add(ctx, 1, o.hit)
			} else {
				o.lookups.Add(ctx, 1, o.miss)
			}
		}
		if span != nil {
			span.SetAttributes(attribute.Bool("cache.hit", hit), o.backend)
			if err != nil && !errors.Is(err, ErrNotFound) {
				span.RecordError(err)
				span.SetStatus(codes.Error, err.Error())
			}
			span.End()
		}
	}
}
