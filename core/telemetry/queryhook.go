package telemetry

import (
	"context"
	"database/sql"
	"sync"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
	"github.com/uptrace/bun/schema"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// bunScope is the instrumentation scope of SQL spans and metrics, bunotel's.
const bunScope = "github.com/uptrace/bun"

// queryHook traces and times bun's queries like bunotel's QueryHook (same
// scope, span names, db.* attributes and go.sql.query_timing histogram)
// without its per-query costs: it does not walk the caller's stack for
// code.* attributes and builds the histogram's attribute set once per
// operation and table instead of on every query.
type queryHook struct {
	tracer trace.Tracer
	timing metric.Int64Histogram
	system attribute.KeyValue
	client trace.SpanStartOption
	sets   sync.Map // queryKey -> metric.RecordOption
}

type queryKey struct{ operation, table string }

func newQueryHook(t *Telemetry, db *bun.DB) (*queryHook, error) {
	timing, err := t.mp.Meter(bunScope).Int64Histogram("go.sql.query_timing",
		metric.WithDescription("Timing of processed queries"), metric.WithUnit("milliseconds"))
	if err != nil {
		return nil, err
	}
	h := &queryHook{tracer: t.tp.Tracer(bunScope), timing: timing, client: trace.WithSpanKind(trace.SpanKindClient)}
	switch db.Dialect().Name() {
	case dialect.PG:
		h.system = attribute.String("db.system", "postgresql")
	case dialect.MySQL:
		h.system = attribute.String("db.system", "mysql")
	case dialect.SQLite:
		h.system = attribute.String("db.system", "sqlite")
	case dialect.MSSQL:
		h.system = attribute.String("db.system", "mssql")
	}
	return h, nil
}

// BeforeQuery starts the query's client span.
func (h *queryHook) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context {
	ctx, _ = h.tracer.Start(ctx, "", h.client)
	return ctx
}

// AfterQuery records the query's duration and ends its span, named by the
// operation, with the statement without its arguments' values.
func (h *queryHook) AfterQuery(ctx context.Context, event *bun.QueryEvent) {
	operation := event.Operation()
	var table string
	if event.IQuery != nil {
		table = event.IQuery.GetTableName()
	}
	key := queryKey{operation, table}
	opt, ok := h.sets.Load(key)
	if !ok {
		attrs := []attribute.KeyValue{attribute.String("db.operation", operation)}
		if table != "" {
			attrs = append(attrs, attribute.String("db.sql.table", table))
		}
		opt, _ = h.sets.LoadOrStore(key, metric.WithAttributeSet(attribute.NewSet(attrs...)))
	}
	h.timing.Record(ctx, time.Since(event.StartTime).Milliseconds(), opt.(metric.RecordOption))

	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	span.SetName(operation)
	var buf [5]attribute.KeyValue
	attrs := append(buf[:0],
		attribute.String("db.operation", operation),
		attribute.String("db.statement", statement(event)))
	if h.system.Valid() {
		attrs = append(attrs, h.system)
	}
	if event.Result != nil {
		rows, _ := event.Result.RowsAffected()
		attrs = append(attrs, attribute.Int64("db.rows_affected", rows))
	}
	switch event.Err {
	case nil, sql.ErrNoRows, sql.ErrTxDone:
	default:
		span.RecordError(event.Err)
		span.SetStatus(codes.Error, event.Err.Error())
	}
	span.SetAttributes(attrs...)
	span.End()
}

// statement is the query with placeholders for its arguments (no values:
// they may be personal data), at most 16,000 bytes.
func statement(event *bun.QueryEvent) string {
	var q string
	if event.IQuery != nil {
		if b, err := event.IQuery.AppendQuery(schema.NewNopQueryGen(), nil); err == nil {
			q = string(b)
		}
	}
	if q == "" {
		q = event.QueryTemplate
	}
	if len(q) > 16000 {
		q = q[:16000]
	}
	return q
}
