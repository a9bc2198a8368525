package telemetry

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"
	"github.com/uptrace/bun"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// InstrumentDB adds a span per SQL statement (named by operation, as bunotel did: the statement with
// its placeholders, never the values) and the database pool's metrics
// (db.client.connection.*) to db; name tells pools apart (DATABASE_URL,
// DATABASE_CONNECTION_POOL_URL). It returns db with the hook (bun's
// WithQueryHook), or db itself when telemetry is off.
func (t *Telemetry) InstrumentDB(db *bun.DB, name string) (*bun.DB, error) {
	if t == nil {
		return db, nil
	}
	hook, err := newQueryHook(t, db)
	if err != nil {
		return nil, fmt.Errorf("telemetry: %w", err)
	}
	db = db.WithQueryHook(hook)
	pool := metric.WithAttributes(attribute.String("db.client.connection.pool.name", name))
	used := metric.WithAttributes(attribute.String("db.client.connection.pool.name", name), attribute.String("db.client.connection.state", "used"))
	idle := metric.WithAttributes(attribute.String("db.client.connection.pool.name", name), attribute.String("db.client.connection.state", "idle"))
	count, err := t.meter.Int64ObservableUpDownCounter("db.client.connection.count",
		metric.WithDescription("Database connections by state (used, idle)."), metric.WithUnit("{connection}"))
	if err != nil {
		return nil, fmt.Errorf("telemetry: %w", err)
	}
	maxConns, err := t.meter.Int64ObservableUpDownCounter("db.client.connection.max",
		metric.WithDescription("The most connections the pool opens."), metric.WithUnit("{connection}"))
	if err != nil {
		return nil, fmt.Errorf("telemetry: %w", err)
	}
	waits, err := t.meter.Int64ObservableCounter("db.client.connection.waits",
		metric.WithDescription("Times a query waited for a free connection."), metric.WithUnit("{wait}"))
	if err != nil {
		return nil, fmt.Errorf("telemetry: %w", err)
	}
	waitTime, err := t.meter.Float64ObservableCounter("db.client.connection.wait_time",
		metric.WithDescription("Time spent waiting for a free connection."), metric.WithUnit("s"))
	if err != nil {
		return nil, fmt.Errorf("telemetry: %w", err)
	}
	_, err = t.meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		s := db.Stats()
		o.ObserveInt64(count, int64(s.InUse), used)
		o.ObserveInt64(count, int64(s.Idle), idle)
		o.ObserveInt64(maxConns, int64(s.MaxOpenConnections), pool)
		o.ObserveInt64(waits, s.WaitCount, pool)
		o.ObserveFloat64(waitTime, s.WaitDuration.Seconds(), pool)
		return nil
	}, count, maxConns, waits, waitTime)
	if err != nil {
		return nil, fmt.Errorf("telemetry: %w", err)
	}
	return db, nil
}

// InstrumentRedis adds a span per Redis command (its name, never its
// arguments: cached values hold user data) and the pool's metrics to rdb. A
// nil rdb (an in-process cache) and telemetry off do nothing.
func (t *Telemetry) InstrumentRedis(rdb *redis.Client) error {
	if t == nil || rdb == nil {
		return nil
	}
	if err := redisotel.InstrumentTracing(rdb,
		redisotel.WithTracerProvider(t.tp),
		redisotel.WithDBStatement(false),
		redisotel.WithCallerEnabled(false),
		// The near layer's health pings (every 100 ms) are not work.
		redisotel.WithCommandFilter(func(cmd redis.Cmder) bool { return strings.EqualFold(cmd.Name(), "ping") }),
	); err != nil {
		return fmt.Errorf("telemetry: redis tracing: %w", err)
	}
	if err := redisotel.InstrumentMetrics(rdb, redisotel.WithMeterProvider(t.mp)); err != nil {
		return fmt.Errorf("telemetry: redis metrics: %w", err)
	}
	return nil
}

// LogHandler wraps h so that every record logged with a context that carries
// a span (log.InfoContext(ctx, ...), the request's c.UserContext(), a job's
// ctx) has trace_id and span_id attributes, leading from a log line to its
// trace. With telemetry off it returns h itself.
func (t *Telemetry) LogHandler(h slog.Handler) slog.Handler {
	if t == nil {
		return h
	}
	return traceHandler{h}
}

type traceHandler struct{ slog.Handler }

func (h traceHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return h.Handler.Handle(ctx, r)
}

func (h traceHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return traceHandler{h.Handler.WithAttrs(as)}
}

func (h traceHandler) WithGroup(name string) slog.Handler {
	return traceHandler{h.Handler.WithGroup(name)}
}
