package telemetry

import (
	"context"
	"sync"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

const (
	// exportBatch is the most spans one export request carries, and the
	// queue length at which the exporter is woken before its timer.
	exportBatch = 512
	// exportInterval is how often queued spans are exported when fewer than
	// exportBatch are waiting (the SDK batcher's default schedule delay).
	exportInterval = 5 * time.Second
)

// batchProcessor queues sampled ended spans under a mutex and exports them
// from one goroutine, every exportInterval or as soon as exportBatch are
// waiting. It replaces the SDK's BatchSpanProcessor, whose channel send per
// span wakes its goroutine on (nearly) every span: here a span costs an
// append, and the exporter is woken once per batch. At most t.maxQueue spans
// are queued or being exported; the ones past that are dropped and counted,
// so a slow or down backend never makes a request wait.
type batchProcessor struct {
	t   *Telemetry
	exp sdktrace.SpanExporter

	mu     sync.Mutex
	queue  []sdktrace.ReadOnlySpan
	kicked bool // a wake-up is pending on kick

	kick    chan struct{}
	flushes chan chan struct{}
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
	timeout time.Duration
}

func newBatchProcessor(t *Telemetry, exp sdktrace.SpanExporter, timeout time.Duration) *batchProcessor {
	p := &batchProcessor{
		t: t, exp: exp, timeout: timeout,
		queue:   make([]sdktrace.ReadOnlySpan, 0, exportBatch),
		kick:    make(chan struct{}, 1),
		flushes: make(chan chan struct{}),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	go p.run()
	return p
}

// OnStart does nothing: spans are handled once they end.
func (p *batchProcessor) OnStart(context.Context, sdktrace.ReadWriteSpan) {}

// OnEnd queues s if it is sampled and the bound allows, else counts a drop.
func (p *batchProcessor) OnEnd(s sdktrace.ReadOnlySpan) {
	if !s.SpanContext().IsSampled() {
		return
	}
	if p.t.inflight.Add(1) > p.t.maxQueue {
		p.t.inflight.Add(-1)
		p.t.dropped.Add(1)
		return
	}
	p.mu.Lock()
	p.queue = append(p.queue, s)
	wake := len(p.queue) >= exportBatch && !p.kicked
	if wake {
		p.kicked = true
	}
	p.mu.Unlock()
	if wake {
		select {
		case p.kick <- struct{}{}:
		default:
		}
	}
}

func (p *batchProcessor) run() {
	defer close(p.done)
	tick := time.NewTicker(exportInterval)
	defer tick.Stop()
	var spare []sdktrace.ReadOnlySpan
	for {
		var flushed chan struct{}
		select {
		case <-tick.C:
		case <-p.kick:
		case flushed = <-p.flushes:
		case <-p.stop:
			p.export(spare)
			return
		}
		spare = p.export(spare)
		if flushed != nil {
			close(flushed)
		}
	}
}

// export sends everything queued, in batches of at most exportBatch, and
// returns the emptied slice for reuse.
func (p *batchProcessor) export(spare []sdktrace.ReadOnlySpan) []sdktrace.ReadOnlySpan {
	p.mu.Lock()
	spans := p.queue
	p.queue = spare[:0]
	p.kicked = false
	p.mu.Unlock()
	all := spans
	for len(spans) > 0 {
		n := min(len(spans), exportBatch)
		ctx, cancel := context.WithTimeout(context.Background(), p.timeout)
		_ = p.exp.ExportSpans(ctx, spans[:n])
		cancel()
		p.t.inflight.Add(-int64(n))
		spans = spans[n:]
	}
	clear(all) // the spans are garbage once sent
	return all[:0]
}

// ForceFlush exports what is queued, within ctx.
func (p *batchProcessor) ForceFlush(ctx context.Context) error {
	done := make(chan struct{})
	select {
	case p.flushes <- done:
	case <-p.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Shutdown exports what is queued and stops the exporter, within ctx.
func (p *batchProcessor) Shutdown(ctx context.Context) error {
	p.once.Do(func() { close(p.stop) })
	select {
	case <-p.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	return p.exp.Shutdown(ctx)
}
