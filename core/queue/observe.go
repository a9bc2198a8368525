package queue

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// metaTrace is the job metadata key holding the W3C trace context of the
// code that enqueued the email, so that its delivery joins that trace.
const metaTrace = "otel"

var traceContext = propagation.TraceContext{}

// observer traces and measures the queue when Config asks for it; nil when
// telemetry is off.
type observer struct {
	tracer    trace.Tracer // nil: no spans
	duration  metric.Float64Histogram
	retries   metric.Int64Counter
	failures  metric.Int64Counter
	depthReg  metric.Registration
	hasMetric bool
}

func newObserver(q *Queue, tp trace.TracerProvider, mp metric.MeterProvider) (*observer, error) {
	o := &observer{}
	if tp != nil {
		o.tracer = tp.Tracer("manouche/core/queue")
	}
	if mp == nil {
		return o, nil
	}
	m := mp.Meter("manouche/core/queue")
	var err error
	if o.duration, err = m.Float64Histogram("manouche.email.delivery.duration",
		metric.WithDescription("Duration of email delivery attempts, by outcome (sent, retry, failed)."),
		metric.WithUnit("s")); err != nil {
		return nil, fmt.Errorf("queue: metrics: %w", err)
	}
	if o.retries, err = m.Int64Counter("manouche.email.retries",
		metric.WithDescription("Delivery attempts after the first."), metric.WithUnit("{attempt}")); err != nil {
		return nil, fmt.Errorf("queue: metrics: %w", err)
	}
	if o.failures, err = m.Int64Counter("manouche.email.failures",
		metric.WithDescription("Failed delivery attempts; final=true when no attempt is left (the email is kept as failed)."),
		metric.WithUnit("{attempt}")); err != nil {
		return nil, fmt.Errorf("queue: metrics: %w", err)
	}
	depth, err := m.Int64ObservableGauge("manouche.email.queue.depth",
		metric.WithDescription("Emails in the queue by state (available, scheduled, retryable, running, completed, discarded, cancelled)."),
		metric.WithUnit("{email}"))
	if err != nil {
		return nil, fmt.Errorf("queue: metrics: %w", err)
	}
	o.depthReg, err = m.RegisterCallback(func(ctx context.Context, obs metric.Observer) error {
		counts, err := q.depth(ctx)
		if err != nil {
			return err
		}
		for state, n := range counts {
			obs.ObserveInt64(depth, n, metric.WithAttributes(attribute.String("state", state)))
		}
		return nil
	}, depth)
	if err != nil {
		return nil, fmt.Errorf("queue: metrics: %w", err)
	}
	o.hasMetric = true
	return o, nil
}

// depth counts the queue's emails by state, on the raw pool (no query hook:
// a metric collection is not a traced operation).
func (q *Queue) depth(ctx context.Context) (map[string]int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	rows, err := q.db.DB.QueryContext(ctx, "SELECT state, count(*) FROM river_job WHERE kind = '"+Kind+"' GROUP BY state")
	if err != nil {
		return nil, fmt.Errorf("queue: depth: %w", err)
	}
	defer rows.Close()
	counts := map[string]int64{}
	for rows.Next() {
		var state string
		var n int64
		if err := rows.Scan(&state, &n); err != nil {
			return nil, fmt.Errorf("queue: depth: %w", err)
		}
		counts[state] = n
	}
	return counts, rows.Err()
}

// enqueue starts the enqueue span and returns the insert options that carry
// its trace context to the worker.
func (o *observer) enqueue(ctx context.Context) (context.Context, *river.InsertOpts, trace.Span) {
	if o == nil || o.tracer == nil {
		return ctx, nil, nil
	}
	ctx, span := o.tracer.Start(ctx, "email enqueue", trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(attribute.String("messaging.system", "river"), attribute.String("messaging.destination.name", QueueName)))
	carrier := propagation.MapCarrier{}
	traceContext.Inject(ctx, carrier)
	meta, _ := json.Marshal(map[string]map[string]string{metaTrace: carrier})
	return ctx, &river.InsertOpts{Metadata: meta}, span
}

// endSpan ends span (nil: nothing) with err.
func endSpan(span trace.Span, err error) {
	if span == nil {
		return
	}
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// deliver starts the delivery span of job, child of the trace that enqueued
// it, and returns the function that ends it and records the metrics.
func (o *observer) deliver(ctx context.Context, job *river.Job[emailArgs]) (context.Context, func(error)) {
	start := time.Now()
	var span trace.Span
	if o.tracer != nil {
		var meta map[string]json.RawMessage
		var carrier propagation.MapCarrier
		if json.Unmarshal(job.Metadata, &meta) == nil && json.Unmarshal(meta[metaTrace], &carrier) == nil {
			ctx = traceContext.Extract(ctx, carrier)
		}
		ctx, span = o.tracer.Start(ctx, "email deliver", trace.WithSpanKind(trace.SpanKindConsumer),
			trace.WithAttributes(
				attribute.String("messaging.system", "river"),
				attribute.String("messaging.destination.name", QueueName),
				attribute.Int64("messaging.message.id", job.ID),
				attribute.Int("manouche.email.attempt", job.Attempt),
			))
	}
	if o.hasMetric && job.Attempt > 1 {
		o.retries.Add(ctx, 1)
	}
	return ctx, func(err error) {
		if o.hasMetric {
			outcome := "sent"
			if err != nil {
				final := job.Attempt >= job.MaxAttempts
				outcome = "retry"
				if final {
					outcome = "failed"
				}
				o.failures.Add(ctx, 1, metric.WithAttributes(attribute.Bool("final", final)))
			}
			o.duration.Record(ctx, time.Since(start).Seconds(), metric.WithAttributes(attribute.String("outcome", outcome)))
		}
		endSpan(span, err)
	}
}
