// Package telemetry is the project's observability on OpenTelemetry: traces
// and metrics sent over OTLP/HTTP to New Relic (with the variables of its
// Heroku add-on) or to any OTLP backend, trace ids on log lines, and an
// optional Prometheus endpoint.
//
// It is opt-in and costs nothing when off: New returns nil unless
// OTEL_EXPORTER_OTLP_ENDPOINT is set, NEW_RELIC_LICENSE_KEY is set (and
// NEW_RELIC_ENABLED is not false) or METRICS_ADDR is set, and with a nil
// *Telemetry the project installs no tracer provider, no query or Redis hook,
// no middleware and no log handler.
//
// With only NEW_RELIC_LICENSE_KEY and NEW_RELIC_APP_NAME set, data goes to
// New Relic's OTLP endpoint for the key's region (https://otlp.nr-data.net:4318,
// or https://otlp.eu01.nr-data.net:4318 for a key starting with "eu01x") with
// the api-key header, gzip, delta temporality for counters and histograms, and
// attribute values cut at 4095 characters, as New Relic recommends for OTLP.
// Any standard OTEL_* variable overrides these defaults (the SDK reads them:
// OTEL_EXPORTER_OTLP_HEADERS, OTEL_EXPORTER_OTLP_COMPRESSION,
// OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE, OTEL_TRACES_SAMPLER,
// OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT, OTEL_RESOURCE_ATTRIBUTES, ...).
// Exemplars are off unless OTEL_METRICS_EXEMPLAR_FILTER turns them on. Spans
// go through the package's own OTLP encoder (spanExporter) unless an
// OTEL_EXPORTER_OTLP_* transport variable is set; then otlptracehttp sends them.
//
// Spans are queued in memory, at most MaxQueue of them, and exported in the
// background: a backend that is slow or down never slows or fails a request;
// spans past the bound are dropped and counted (Dropped, and the metric
// manouche.telemetry.spans.dropped).
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/runtime"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/exemplar"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of the spans and metrics this
// package and the framework record.
const ScopeName = "manouche"

// New Relic's OTLP/HTTP endpoints (its "New Relic OTLP endpoint" page).
const (
	NewRelicUS = "https://otlp.nr-data.net:4318"
	NewRelicEU = "https://otlp.eu01.nr-data.net:4318"
)

// Defaults of Config's zero fields.
const (
	DefaultMaxQueue       = 2048
	DefaultExportTimeout  = 10 * time.Second
	DefaultMetricInterval = 60 * time.Second
	// NewRelicValueLengthLimit is New Relic's limit on an attribute value.
	NewRelicValueLengthLimit = 4095
)

// Config decides whether telemetry is on and where it goes. The project fills
// it from its settings (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_SERVICE_NAME,
// NEW_RELIC_*, METRICS_ADDR, DYNO).
type Config struct {
	// Endpoint is OTEL_EXPORTER_OTLP_ENDPOINT: the base URL of an OTLP/HTTP
	// receiver (/v1/traces and /v1/metrics are appended).
	Endpoint string
	// ServiceName is OTEL_SERVICE_NAME; NewRelicAppName is used when it is
	// empty, then "manouche".
	ServiceName string
	// NewRelicLicenseKey turns telemetry on (unless NewRelicDisabled), sends
	// it as the api-key header and, without Endpoint, picks New Relic's
	// endpoint for the key's region.
	NewRelicLicenseKey string
	NewRelicAppName    string
	// NewRelicDisabled is NEW_RELIC_ENABLED=false: the key alone no longer
	// turns telemetry on.
	NewRelicDisabled bool
	// Instance names this process (service.instance.id): DYNO on Heroku, else
	// the host name.
	Instance string
	// MetricsAddr, when set, serves the metrics in Prometheus's format at
	// http://MetricsAddr/metrics (METRICS_ADDR; bind it to a private address).
	MetricsAddr string
	// Version is the service.version resource attribute.
	Version string
	// Getenv reads the standard OTEL_* variables, to know which New Relic
	// defaults they override; nil means os.Getenv.
	Getenv func(string) string
	// MaxQueue bounds the spans waiting for export (default DefaultMaxQueue).
	MaxQueue int
	// ExportTimeout bounds one export request (default DefaultExportTimeout).
	ExportTimeout time.Duration
	// MetricInterval is how often metrics are pushed (default 60 s, or
	// OTEL_METRIC_EXPORT_INTERVAL).
	MetricInterval time.Duration
}

// Exports reports whether the configuration sends data over OTLP.
func (c Config) Exports() bool {
	return strings.TrimSpace(c.Endpoint) != "" || (c.NewRelicLicenseKey != "" && !c.NewRelicDisabled)
}

// Enabled reports whether the configuration turns telemetry on at all.
func (c Config) Enabled() bool { return c.Exports() || c.MetricsAddr != "" }

// NewRelicEndpoint returns New Relic's OTLP/HTTP endpoint for the license
// key's region: EU keys start with "eu01x".
func NewRelicEndpoint(licenseKey string) string {
	if strings.HasPrefix(strings.ToLower(strings.TrimSpace(licenseKey)), "eu01x") {
		return NewRelicEU
	}
	return NewRelicUS
}

// Telemetry is a running telemetry pipeline. A nil *Telemetry is telemetry
// off: every method works on it and does nothing.
type Telemetry struct {
	tp         *sdktrace.TracerProvider
	mp         *sdkmetric.MeterProvider
	tracer     trace.Tracer
	meter      metric.Meter
	propagator propagation.TextMapPropagator
	http       httpInstruments

	inflight atomic.Int64
	dropped  atomic.Int64
	maxQueue int64

	metricsServer *http.Server
}

// New starts telemetry as cfg says, or returns nil, nil when cfg turns it
// off. Shutdown flushes and stops it.
func New(ctx context.Context, cfg Config) (*Telemetry, error) {
	if !cfg.Enabled() {
		return nil, nil
	}
	if cfg.Getenv == nil {
		cfg.Getenv = os.Getenv
	}
	if cfg.MaxQueue <= 0 {
		cfg.MaxQueue = DefaultMaxQueue
	}
	if cfg.ExportTimeout <= 0 {
		cfg.ExportTimeout = DefaultExportTimeout
	}
	t := &Telemetry{
		propagator: propagation.TraceContext{},
		maxQueue:   int64(cfg.MaxQueue),
	}
	res, err := newResource(ctx, cfg)
	if err != nil {
		return nil, err
	}

	var readers []sdkmetric.Option
	if cfg.Exports() {
		mexp, err := otlpmetrichttp.New(ctx, metricOptions(cfg)...)
		if err != nil {
			return nil, fmt.Errorf("telemetry: metric exporter: %w", err)
		}
		var ropts []sdkmetric.PeriodicReaderOption
		if cfg.MetricInterval > 0 {
			ropts = append(ropts, sdkmetric.WithInterval(cfg.MetricInterval))
		}
		readers = append(readers, sdkmetric.WithReader(sdkmetric.NewPeriodicReader(mexp, ropts...)))
	}
	if cfg.MetricsAddr != "" {
		reader, handler, err := prometheusReader()
		if err != nil {
			return nil, err
		}
		readers = append(readers, sdkmetric.WithReader(reader))
		ln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			return nil, fmt.Errorf("telemetry: METRICS_ADDR: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", handler)
		t.metricsServer = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = t.metricsServer.Serve(ln) }()
	}
	mopts := append(readers, sdkmetric.WithResource(res))
	if cfg.Getenv("OTEL_METRICS_EXEMPLAR_FILTER") == "" {
		// The SDK's default keeps an exemplar (the trace and span ids, the
		// time, the attributes) for every measurement made in a sampled
		// span: with every request sampled, that is work on every request
		// for data the request's span already holds.
		mopts = append(mopts, sdkmetric.WithExemplarFilter(exemplar.AlwaysOffFilter))
	}
	t.mp = sdkmetric.NewMeterProvider(mopts...)
	t.meter = t.mp.Meter(ScopeName)

	topts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res), sdktrace.WithRawSpanLimits(spanLimits(cfg))}
	if cfg.Exports() {
		texp, err := traceExporter(ctx, cfg)
		if err != nil {
			_ = t.Shutdown(ctx)
			return nil, fmt.Errorf("telemetry: trace exporter: %w", err)
		}
		topts = append(topts, sdktrace.WithSpanProcessor(newBatchProcessor(t, texp, cfg.ExportTimeout)))
	} else {
		topts = append(topts, sdktrace.WithSampler(sdktrace.NeverSample()))
	}
	t.tp = sdktrace.NewTracerProvider(topts...)
	t.tracer = t.tp.Tracer(ScopeName)

	if err := t.registerMetrics(); err != nil {
		_ = t.Shutdown(ctx)
		return nil, err
	}
	if err := runtime.Start(runtime.WithMeterProvider(t.mp)); err != nil {
		_ = t.Shutdown(ctx)
		return nil, fmt.Errorf("telemetry: runtime metrics: %w", err)
	}
	return t, nil
}

func newResource(ctx context.Context, cfg Config) (*resource.Resource, error) {
	name := cfg.ServiceName
	if name == "" {
		name = cfg.NewRelicAppName
	}
	if name == "" {
		name = "manouche"
	}
	instance := cfg.Instance
	if instance == "" {
		instance, _ = os.Hostname()
	}
	attrs := []attribute.KeyValue{
		attribute.String("service.name", name),
		attribute.String("service.instance.id", instance),
		attribute.String("telemetry.sdk.language", "go"),
	}
	if cfg.Version != "" {
		attrs = append(attrs, attribute.String("service.version", cfg.Version))
	}
	// OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME from the process
	// environment win over the settings.
	res, err := resource.New(ctx, resource.WithAttributes(attrs...), resource.WithFromEnv(), resource.WithTelemetrySDK())
	if err != nil && res == nil {
		return nil, fmt.Errorf("telemetry: resource: %w", err)
	}
	return res, nil
}

// anySet reports whether one of the environment variables is set.
func anySet(getenv func(string) string, names ...string) bool {
	for _, n := range names {
		if getenv(n) != "" {
			return true
		}
	}
	return false
}

// exporterVariables are the OTEL_EXPORTER_OTLP_* variables that change how
// spans are sent; when one is set, otlptracehttp reads them all.
var exporterVariables = func() []string {
	var names []string
	for _, v := range []string{"HEADERS", "COMPRESSION", "TIMEOUT", "CERTIFICATE", "CLIENT_CERTIFICATE", "CLIENT_KEY", "INSECURE", "PROTOCOL"} {
		names = append(names, "OTEL_EXPORTER_OTLP_"+v, "OTEL_EXPORTER_OTLP_TRACES_"+v)
	}
	return append(names, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
}()

// traceExporter is the project's own OTLP/HTTP span exporter (spanExporter)
// for New's settings, or otlptracehttp when an OTEL_EXPORTER_OTLP_* variable
// asks for anything else.
func traceExporter(ctx context.Context, cfg Config) (sdktrace.SpanExporter, error) {
	url := endpoint(cfg) + "/v1/traces"
	if !anySet(cfg.Getenv, exporterVariables...) && (strings.HasPrefix(url, "http://") || strings.HasPrefix(url, "https://")) {
		client := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone(), Timeout: cfg.ExportTimeout}
		return newSpanExporter(url, headers(cfg, "OTEL_EXPORTER_OTLP_TRACES_HEADERS"), client), nil
	}
	return otlptracehttp.New(ctx, traceOptions(cfg)...)
}

func traceOptions(cfg Config) []otlptracehttp.Option {
	opts := []otlptracehttp.Option{
		// No retries past the export timeout: a backend that is down costs
		// one bounded attempt per batch, and the queue drops what does not fit.
		otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: false}),
	}
	if !anySet(cfg.Getenv, "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT") {
		opts = append(opts, otlptracehttp.WithTimeout(cfg.ExportTimeout))
	}
	if !anySet(cfg.Getenv, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
		opts = append(opts, otlptracehttp.WithEndpointURL(endpoint(cfg)+"/v1/traces"))
	}
	if !anySet(cfg.Getenv, "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "OTEL_EXPORTER_OTLP_COMPRESSION") {
		opts = append(opts, otlptracehttp.WithCompression(otlptracehttp.GzipCompression))
	}
	if h := headers(cfg, "OTEL_EXPORTER_OTLP_TRACES_HEADERS"); h != nil {
		opts = append(opts, otlptracehttp.WithHeaders(h))
	}
	return opts
}

func metricOptions(cfg Config) []otlpmetrichttp.Option {
	opts := []otlpmetrichttp.Option{otlpmetrichttp.WithRetry(otlpmetrichttp.RetryConfig{Enabled: false})}
	if !anySet(cfg.Getenv, "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT") {
		opts = append(opts, otlpmetrichttp.WithTimeout(cfg.ExportTimeout))
	}
	if !anySet(cfg.Getenv, "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT") {
		opts = append(opts, otlpmetrichttp.WithEndpointURL(endpoint(cfg)+"/v1/metrics"))
	}
	if !anySet(cfg.Getenv, "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION", "OTEL_EXPORTER_OTLP_COMPRESSION") {
		opts = append(opts, otlpmetrichttp.WithCompression(otlpmetrichttp.GzipCompression))
	}
	if h := headers(cfg, "OTEL_EXPORTER_OTLP_METRICS_HEADERS"); h != nil {
		opts = append(opts, otlpmetrichttp.WithHeaders(h))
	}
	if !anySet(cfg.Getenv, "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE") {
		opts = append(opts, otlpmetrichttp.WithTemporalitySelector(deltaTemporality))
	}
	return opts
}

// deltaTemporality is the OTLP "delta" preference New Relic asks for:
// counters and histograms as deltas, up-down counters cumulative (New Relic
// does not support non-monotonic delta sums).
func deltaTemporality(kind sdkmetric.InstrumentKind) metricdata.Temporality {
	switch kind {
	case sdkmetric.InstrumentKindUpDownCounter, sdkmetric.InstrumentKindObservableUpDownCounter:
		return metricdata.CumulativeTemporality
	}
	return metricdata.DeltaTemporality
}

// endpoint is OTEL_EXPORTER_OTLP_ENDPOINT, or New Relic's for the key: a
// base URL, to which the signal's path is appended.
func endpoint(cfg Config) string {
	if e := strings.TrimSpace(cfg.Endpoint); e != "" {
		return strings.TrimSuffix(e, "/")
	}
	return NewRelicEndpoint(cfg.NewRelicLicenseKey)
}

// headers is the api-key header, unless OTEL_EXPORTER_OTLP_HEADERS (or the
// signal's own variable) says otherwise: then the exporter reads that.
func headers(cfg Config, signalVar string) map[string]string {
	if cfg.NewRelicLicenseKey == "" || anySet(cfg.Getenv, signalVar, "OTEL_EXPORTER_OTLP_HEADERS") {
		return nil
	}
	return map[string]string{"api-key": cfg.NewRelicLicenseKey}
}

// spanLimits are the SDK's (which read OTEL_*_LIMIT variables) with New
// Relic's value length limit when no variable sets one.
func spanLimits(cfg Config) sdktrace.SpanLimits {
	l := sdktrace.NewSpanLimits()
	if !anySet(cfg.Getenv, "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT") {
		l.AttributeValueLengthLimit = NewRelicValueLengthLimit
	}
	return l
}

// TracerProvider returns the tracer provider, or nil when telemetry is off.
func (t *Telemetry) TracerProvider() trace.TracerProvider {
	if t == nil {
		return nil
	}
	return t.tp
}

// MeterProvider returns the meter provider, or nil when telemetry is off.
func (t *Telemetry) MeterProvider() metric.MeterProvider {
	if t == nil {
		return nil
	}
	return t.mp
}

// Propagator returns the W3C trace context propagator the project uses.
func (t *Telemetry) Propagator() propagation.TextMapPropagator {
	if t == nil {
		return propagation.NewCompositeTextMapPropagator()
	}
	return t.propagator
}

// Dropped returns how many spans were dropped because the export queue was full.
func (t *Telemetry) Dropped() int64 {
	if t == nil {
		return 0
	}
	return t.dropped.Load()
}

// ForceFlush exports what is queued, within ctx.
func (t *Telemetry) ForceFlush(ctx context.Context) error {
	if t == nil {
		return nil
	}
	return errors.Join(t.tp.ForceFlush(ctx), t.mp.ForceFlush(ctx))
}

// Shutdown flushes what is queued and stops exporting, within ctx.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	var errs []error
	if t.tp != nil {
		errs = append(errs, t.tp.Shutdown(ctx))
	}
	if t.mp != nil {
		errs = append(errs, t.mp.Shutdown(ctx))
	}
	if t.metricsServer != nil {
		errs = append(errs, t.metricsServer.Shutdown(ctx))
	}
	return errors.Join(errs...)
}

func (t *Telemetry) registerMetrics() error {
	var err error
	t.http, err = newHTTPInstruments(t.meter)
	if err != nil {
		return err
	}
	_, err = t.meter.Int64ObservableCounter("manouche.telemetry.spans.dropped",
		metric.WithDescription("Spans dropped because the export queue was full (the backend is slow or down)."),
		metric.WithUnit("{span}"),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(t.dropped.Load())
			return nil
		}))
	if err != nil {
		return fmt.Errorf("telemetry: %w", err)
	}
	return nil
}
