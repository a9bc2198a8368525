package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// window is one injected fault: when it began, when the system had
// recovered, and what was seen meanwhile.
type window struct {
	name      string
	start     time.Time
	end       time.Time     // recovered (or the run's end)
	recovered time.Duration // from the service's return to the system's recovery; -1: never
	// readiness says whether /health/ready named the failing service while
	// it was down ("" when not applicable).
	readiness string
	note      string
}

// faults injects the faults, each twice, spread over the run.
type faults struct {
	e     *env
	start time.Time
	mu    sync.Mutex
	wins  []*window
	// inFlight counts the deliveries running when a worker was killed: the
	// most duplicates that may come of it.
	inFlight int
}

func (f *faults) add(w *window) {
	f.mu.Lock()
	f.wins = append(f.wins, w)
	f.mu.Unlock()
}

func (f *faults) run(ctx context.Context, total time.Duration) {
	type step struct {
		name string
		fn   func(ctx context.Context, round int) *window
	}
	steps := []step{
		{"SIGKILL worker during deliveries", f.killWorker},
		{"SIGKILL web process", f.killWeb},
		{"Redis stopped", f.stopRedis},
		{"Postgres restarted", f.restartPostgres},
		{"SMTP refusing connections", f.stopSMTP},
	}
	n := len(steps) * 2
	gap := (total - 8*time.Second) / time.Duration(n)
	for i := range n {
		at := f.start.Add(5*time.Second + time.Duration(i)*gap)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(at)):
		}
		s := steps[i%len(steps)]
		if w := s.fn(ctx, i/len(steps)); w != nil {
			if w.name == "" {
				w.name = s.name
			}
			f.add(w)
			fmt.Printf("  %6.1fs  %-34s recovered in %s %s\n", time.Since(f.start).Seconds(), w.name, fmtRecovery(w.recovered), w.note)
		}
	}
}

func fmtRecovery(d time.Duration) string {
	if d < 0 {
		return "NEVER"
	}
	return d.Round(10 * time.Millisecond).String()
}

func (f *faults) killWorker(ctx context.Context, round int) *window {
	p := f.e.workers[round%len(f.e.workers)]
	w := &window{start: time.Now()}
	// Wait (up to 3 s) for deliveries to be running, so the kill lands in
	// the middle of some.
	running := 0
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if running = f.e.queueCount(ctx, "running"); running > 0 {
			break
		}
	}
	p.kill()
	f.mu.Lock()
	f.inFlight += running
	f.mu.Unlock()
	w.note = fmt.Sprintf("(%d deliveries running at the kill)", running)
	time.Sleep(2 * time.Second) // the platform restarts the dyno
	back := time.Now()
	if err := p.start(); err != nil {
		w.note += " restart failed: " + err.Error()
	}
	w.recovered = time.Since(back)
	w.end = time.Now().Add(time.Second)
	w.name = "SIGKILL " + p.name + " during deliveries"
	return w
}

func (f *faults) killWeb(ctx context.Context, round int) *window {
	i := (round + 1) % len(f.e.webs)
	p := f.e.webs[i]
	w := &window{start: time.Now(), name: "SIGKILL " + p.name}
	p.kill()
	time.Sleep(2 * time.Second)
	back := time.Now()
	_ = p.start()
	if err := waitHTTP(ctx, "http://"+f.e.webAddrs[i]+"/health", 30*time.Second); err != nil {
		w.recovered = -1
	} else {
		w.recovered = time.Since(back)
	}
	w.end = time.Now().Add(time.Second)
	return w
}

func (f *faults) stopRedis(ctx context.Context, round int) *window {
	w := &window{start: time.Now()}
	f.e.redis.kill()
	w.readiness = f.sampleReadiness(ctx, "cache", 4*time.Second)
	back := time.Now()
	if err := f.e.redis.start(); err != nil {
		w.note = err.Error()
	}
	w.recovered = f.waitReady(ctx, back, *recoverBy*4)
	w.end = time.Now().Add(time.Second)
	return w
}

func (f *faults) restartPostgres(ctx context.Context, round int) *window {
	cmdline := os.Getenv("PG_RESTART")
	if cmdline == "" {
		return &window{start: time.Now(), end: time.Now(), recovered: 0, note: "(skipped: PG_RESTART is not set)"}
	}
	w := &window{start: time.Now()}
	// Readiness is sampled while the restart runs.
	var readiness string
	done := make(chan struct{})
	go func() {
		defer close(done)
		readiness = f.sampleReadiness(ctx, "database", 0)
	}()
	cmd := exec.CommandContext(ctx, "sh", "-c", cmdline)
	// A server the command starts may inherit its output (pg_ctl restart
	// without -l logs there): stop reading it once the command has exited.
	cmd.WaitDelay = 2 * time.Second
	out, err := cmd.CombinedOutput()
	if errors.Is(err, exec.ErrWaitDelay) {
		err = nil
	}
	back := time.Now()
	close(f.readinessStop())
	<-done
	w.readiness = readiness
	if err != nil {
		w.note = fmt.Sprintf("%s: %v %s", cmdline, err, strings.TrimSpace(string(out)))
	}
	w.recovered = f.waitReady(ctx, back, *recoverBy*4)
	w.end = time.Now().Add(time.Second)
	return w
}

func (f *faults) stopSMTP(ctx context.Context, round int) *window {
	w := &window{start: time.Now()}
	before := f.e.delivered(ctx)
	f.e.mailpit.kill()
	time.Sleep(6 * time.Second)
	back := time.Now()
	if err := f.e.mailpit.start(); err != nil {
		w.note = err.Error()
	}
	_ = waitHTTP(ctx, "http://"+f.e.mailHTTP+"/readyz", 20*time.Second)
	// Recovered when a queued email is delivered again (or nothing waits).
	w.recovered = -1
	for deadline := time.Now().Add(*recoverBy * 4); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if f.e.delivered(ctx) > before || f.e.queueCount(ctx, "available", "retryable", "running", "scheduled") == 0 {
			w.recovered = time.Since(back)
			break
		}
	}
	w.end = time.Now().Add(time.Second)
	return w
}

// readinessStopCh ends a sampleReadiness that has no fixed duration.
var readinessStopCh = make(chan struct{})

func (f *faults) readinessStop() chan struct{} {
	c := readinessStopCh
	readinessStopCh = make(chan struct{})
	return c
}

// sampleReadiness asks web.1's /health/ready, for d (or until
// readinessStop), whether it names service as failing: "yes" when a 503
// named it, "no" when it never did.
func (f *faults) sampleReadiness(ctx context.Context, service string, d time.Duration) string {
	stop := readinessStopCh
	c := &http.Client{Timeout: 2 * time.Second}
	var deadline <-chan time.Time
	if d > 0 {
		deadline = time.After(d)
	}
	// "yes": a 503 named service while it was down; "no": the service was
	// down and readiness said ready; "not seen": every sample found it up.
	seen := "not seen"
	for {
		down := f.serviceDown(ctx, service)
		for _, a := range f.e.webAddrs {
			if res, err := c.Get("http://" + a + "/health/ready"); err == nil {
				body, _ := io.ReadAll(res.Body)
				res.Body.Close()
				var shape struct {
					Type   string `json:"type"`
					Errors []struct {
						Field string `json:"field"`
					} `json:"errors"`
				}
				named := false
				if res.StatusCode == 503 && json.Unmarshal(body, &shape) == nil {
					for _, e := range shape.Errors {
						named = named || e.Field == service
					}
				}
				switch {
				case named:
					seen = "yes"
				case down && res.StatusCode == 200 && f.serviceDown(ctx, service) && seen != "yes":
					// Down before and after the answer, and reported ready.
					seen = "no"
				}
				break
			}
		}
		select {
		case <-ctx.Done():
			return seen
		case <-stop:
			return seen
		case <-deadline:
			return seen
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// serviceDown reports whether the service refuses connections: Redis'
// or Postgres' port.
func (f *faults) serviceDown(ctx context.Context, service string) bool {
	addr := f.e.redisAddr
	if service == "database" {
		u, err := url.Parse(f.e.dbURL)
		if err != nil {
			return false
		}
		addr = u.Host
		if db, err := sql.Open("pgx", f.e.dbURL); err == nil {
			defer db.Close()
			qctx, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			return db.PingContext(qctx) != nil
		}
	}
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return true
	}
	c.Close()
	return false
}

// waitReady waits until every web process's /health/ready answers 200, and
// returns how long after since that took (-1: not within max).
func (f *faults) waitReady(ctx context.Context, since time.Time, max time.Duration) time.Duration {
	c := &http.Client{Timeout: 2 * time.Second}
	for deadline := since.Add(max); time.Now().Before(deadline) && ctx.Err() == nil; time.Sleep(50 * time.Millisecond) {
		all := true
		for _, a := range f.e.webAddrs {
			res, err := c.Get("http://" + a + "/health/ready")
			if err != nil {
				all = false
				break
			}
			res.Body.Close()
			if res.StatusCode != 200 {
				all = false
				break
			}
		}
		if all {
			return time.Since(since)
		}
	}
	return -1
}

// queueCount counts the email jobs in the given states.
func (e *env) queueCount(ctx context.Context, states ...string) int {
	db, err := sql.Open("pgx", e.dbURL)
	if err != nil {
		return 0
	}
	defer db.Close()
	q := "SELECT count(*) FROM river_job WHERE state::text IN ('" + strings.Join(states, "','") + "')"
	var n int
	qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_ = db.QueryRowContext(qctx, q).Scan(&n)
	return n
}

// delivered counts the messages mailpit holds.
func (e *env) delivered(ctx context.Context) int {
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+e.mailHTTP+"/api/v1/messages?limit=1", nil)
	res, err := (&http.Client{Timeout: 2 * time.Second}).Do(req)
	if err != nil {
		return 0
	}
	defer res.Body.Close()
	var out struct {
		Total int `json:"total"`
	}
	_ = json.NewDecoder(res.Body).Decode(&out)
	return out.Total
}

var _ = syscall.SIGTERM
