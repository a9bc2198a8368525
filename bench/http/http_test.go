// Package httpbench compares GET /health through Manouche's whole middleware
// stack with a bare Fiber handler, both served over a real loopback listener
// and driven by the same fixed-concurrency keep-alive client.
//
//	go test -run '^$' -bench . -benchtime 10s ./bench/http/
//
// The figure to compare is req/s; the target is full stack ≥ 80% of bare.
package httpbench_test

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"manouche/core"
	"manouche/core/server"
	"manouche/settings"
)

// concurrency is the number of client goroutines (and keep-alive connections).
const concurrency = 32

// projectHandler builds the project with production-like logging and returns
// its Fiber app: LOG_FORMAT=json at the given level, written to a pipe that a
// goroutine drains, as stderr is a pipe to the log router on Heroku. With
// buffered, the log lines go through a buffer flushed every 100 ms instead of
// one write(2) per line (the candidate fix the *BufferedLog benchmarks measure).
func projectHandler(b *testing.B, level string, buffered bool, extra ...map[string]any) *fiber.App {
	srv, err := server.New(project(b, level, buffered, extra...))
	if err != nil {
		b.Fatal(err)
	}
	return srv.Handler()
}

func project(b *testing.B, level string, buffered bool, extra ...map[string]any) *core.Project {
	b.Helper()
	dir := b.TempDir()
	overrides := map[string]any{
		"DATABASE_URL":  "sqlite://" + filepath.Join(dir, "db.sqlite3"),
		"MEDIA_ROOT":    filepath.Join(dir, "media"),
		"LOG_FORMAT":    "json",
		"LOG_LEVEL":     level,
		"ALLOWED_HOSTS": "127.0.0.1",
	}
	for _, e := range extra {
		for k, v := range e {
			overrides[k] = v
		}
	}
	st, err := core.LoadSettings(settings.Options{Layer: "testing", Environ: []string{}, DotEnv: "-", SkipAbsentApps: true, Overrides: overrides}, nil)
	if err != nil {
		b.Fatal(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	drained := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, r); close(drained) }()
	b.Cleanup(func() { _ = w.Close(); <-drained; _ = r.Close() })
	opts := core.Options{LogOutput: w}
	if buffered {
		bw := newFlushingWriter(w, 100*time.Millisecond)
		b.Cleanup(bw.Close)
		opts.Logger = slog.New(slog.NewJSONHandler(bw, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	p, err := core.New(context.Background(), st, opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = p.Close() })
	return p
}

// fullStack serves the project (see project) over a loopback listener and
// returns its base URL.
func fullStack(b *testing.B, level string, buffered bool) string {
	b.Helper()
	p := project(b, level, buffered)
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- server.Serve(ctx, p, "127.0.0.1:0", func(a net.Addr) { addrc <- a }) }()
	select {
	case a := <-addrc:
		b.Cleanup(func() { cancel(); <-done })
		return "http://" + a.String()
	case err := <-done:
		cancel()
		b.Fatalf("Serve: %v", err)
	}
	return ""
}

// bare serves the same answer from a Fiber app with no middleware at all.
func bare(b *testing.B) string {
	b.Helper()
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Get("/health", func(c *fiber.Ctx) error { return c.JSON(fiber.Map{"status": "ok"}) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = app.Listener(ln) }()
	b.Cleanup(func() { _ = app.Shutdown() })
	return "http://" + ln.Addr().String()
}

// drive sends b.N GET requests to url from concurrency goroutines over
// keep-alive connections and reports requests per second.
func drive(b *testing.B, url string) {
	b.Helper()
	tr := &http.Transport{MaxIdleConns: concurrency, MaxIdleConnsPerHost: concurrency, MaxConnsPerHost: concurrency, IdleConnTimeout: time.Minute}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	get := func() error {
		res, err := client.Get(url)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			b.Errorf("status %d", res.StatusCode)
		}
		return nil
	}
	// Warm the connections up.
	var wg sync.WaitGroup
	for range concurrency {
		wg.Add(1)
		go func() { defer wg.Done(); _ = get() }()
	}
	wg.Wait()

	var left atomic.Int64
	left.Store(int64(b.N))
	b.ResetTimer()
	start := time.Now()
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for left.Add(-1) >= 0 {
				if err := get(); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
}

// BenchmarkHealthFullStack is GET /health through request id, access log
// (JSON, info level, one line per request), recover, helmet, allowed hosts.
func BenchmarkHealthFullStack(b *testing.B) { drive(b, fullStack(b, "info", false)+"/health") }

// BenchmarkHealthFullStackBufferedLog is the full stack with the access log
// written through a buffer flushed every 100 ms.
func BenchmarkHealthFullStackBufferedLog(b *testing.B) {
	drive(b, fullStack(b, "info", true)+"/health")
}

// BenchmarkHealthFullStackNoAccessLog is the same stack at LOG_LEVEL=warn, where
// the access log line is not written: the difference is the logging's cost.
func BenchmarkHealthFullStackNoAccessLog(b *testing.B) {
	drive(b, fullStack(b, "warn", false)+"/health")
}

// BenchmarkBareFiber is a Fiber app with only the /health handler.
func BenchmarkBareFiber(b *testing.B) { drive(b, bare(b)+"/health") }

// flushingWriter buffers writes and flushes them every interval and on Close.
type flushingWriter struct {
	mu   sync.Mutex
	w    *bufio.Writer
	stop chan struct{}
	done chan struct{}
}

func newFlushingWriter(w io.Writer, every time.Duration) *flushingWriter {
	f := &flushingWriter{w: bufio.NewWriterSize(w, 64<<10), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(f.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				f.mu.Lock()
				_ = f.w.Flush()
				f.mu.Unlock()
			case <-f.stop:
				return
			}
		}
	}()
	return f
}

func (f *flushingWriter) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.w.Write(p)
}

func (f *flushingWriter) Close() {
	close(f.stop)
	<-f.done
	f.mu.Lock()
	_ = f.w.Flush()
	f.mu.Unlock()
}
