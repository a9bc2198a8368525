// Package loadtest runs a burst of concurrent operations (uploads) and
// measures each one's latency and the growth of this process's resident
// memory while they run, read from /proc/self/status (Linux).
//
// It knows nothing of what an operation does: bench/storage passes
// storage.Save calls; an HTTP-level benchmark passes PUT /api/me/avatar
// requests to a server running in the same process.
package loadtest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Result is what one burst measured.
type Result struct {
	// Latencies of the successful operations, sorted, shortest first.
	Latencies []time.Duration
	// Errors of the failed operations.
	Errors []error
	// Wall is the time from the start of the burst to the end of its last
	// operation.
	Wall time.Duration
	// BaselineRSS is the resident memory (VmRSS) just before the burst,
	// after a garbage collection, in bytes.
	BaselineRSS int64
	// PeakRSS is the highest resident memory during the burst, in bytes:
	// the kernel's high-water mark (VmHWM, reset before the burst) when it
	// can be reset, else the highest VmRSS sampled every millisecond.
	PeakRSS int64
	// PeakFromHWM says PeakRSS is the kernel's exact high-water mark.
	PeakFromHWM bool
	// CPU is the processor time (user + system) this process used during
	// the burst: on a busy machine latencies vary, this much less.
	CPU time.Duration
}

// Growth is PeakRSS - BaselineRSS, in bytes.
func (r Result) Growth() int64 { return r.PeakRSS - r.BaselineRSS }

// Max is the longest latency, zero when none succeeded.
func (r Result) Max() time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	return r.Latencies[len(r.Latencies)-1]
}

// Median is the median latency, zero when none succeeded.
func (r Result) Median() time.Duration {
	n := len(r.Latencies)
	switch {
	case n == 0:
		return 0
	case n%2 == 1:
		return r.Latencies[n/2]
	default:
		return (r.Latencies[n/2-1] + r.Latencies[n/2]) / 2
	}
}

// String summarizes the result on one line.
func (r Result) String() string {
	peak := "VmHWM"
	if !r.PeakFromHWM {
		peak = "sampled VmRSS"
	}
	return fmt.Sprintf("ok=%d failed=%d median=%v max=%v wall=%v cpu=%v rss_baseline=%.1fMiB rss_peak=%.1fMiB (%s) rss_growth=%.1fMiB",
		len(r.Latencies), len(r.Errors), r.Median().Round(time.Millisecond), r.Max().Round(time.Millisecond),
		r.Wall.Round(time.Millisecond), r.CPU.Round(time.Millisecond), mib(r.BaselineRSS), mib(r.PeakRSS), peak, mib(r.Growth()))
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// Run starts n operations at once, op(ctx, 0) to op(ctx, n-1), each in its
// own goroutine, waits for all, and measures them.
func Run(ctx context.Context, n int, op func(ctx context.Context, i int) error) (Result, error) {
	var res Result
	runtime.GC()
	debug.FreeOSMemory()
	rss, _, err := Memory()
	if err != nil {
		return res, err
	}
	res.BaselineRSS = rss
	res.PeakFromHWM = resetHWM() == nil

	// Without a resettable high-water mark, sample VmRSS (which costs a
	// little CPU and may miss a short peak).
	sampleCtx, stopSampling := context.WithCancel(ctx)
	sampled := make(chan int64, 1)
	if res.PeakFromHWM {
		sampled <- rss
	} else {
		go func() { sampled <- sample(sampleCtx, rss) }()
	}

	latencies := make([]time.Duration, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var ready, done sync.WaitGroup
	for i := range n {
		ready.Add(1)
		done.Go(func() {
			ready.Done()
			<-start
			t0 := time.Now()
			errs[i] = op(ctx, i)
			latencies[i] = time.Since(t0)
		})
	}
	ready.Wait()
	cpu0 := cpuTime()
	t0 := time.Now()
	close(start)
	done.Wait()
	res.Wall = time.Since(t0)
	res.CPU = cpuTime() - cpu0
	stopSampling()
	peak := <-sampled

	if res.PeakFromHWM {
		_, hwm, err := Memory()
		if err != nil {
			return res, err
		}
		peak = max(peak, hwm)
	}
	res.PeakRSS = peak
	for i := range n {
		if errs[i] != nil {
			res.Errors = append(res.Errors, fmt.Errorf("operation %d: %w", i, errs[i]))
			continue
		}
		res.Latencies = append(res.Latencies, latencies[i])
	}
	slices.Sort(res.Latencies)
	return res, nil
}

// sample returns the highest VmRSS seen every millisecond until ctx ends.
func sample(ctx context.Context, peak int64) int64 {
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return peak
		case <-tick.C:
			if rss, _, err := Memory(); err == nil {
				peak = max(peak, rss)
			}
		}
	}
}

// Memory returns this process's resident memory now (VmRSS) and its
// high-water mark (VmHWM), in bytes.
func Memory() (rss, hwm int64, err error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, 0, fmt.Errorf("loadtest: read memory: %w", err)
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, value, ok := strings.Cut(sc.Text(), ":")
		if !ok || (key != "VmRSS" && key != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("loadtest: parse %s: %w", key, err)
		}
		if key == "VmRSS" {
			rss = kb << 10
		} else {
			hwm = kb << 10
		}
	}
	if rss == 0 {
		return 0, 0, errors.New("loadtest: no VmRSS in /proc/self/status")
	}
	return rss, hwm, sc.Err()
}

// resetHWM resets VmHWM to the current VmRSS (Linux 4.0+).
func resetHWM() error {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// cpuTime returns the processor time this process has used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
