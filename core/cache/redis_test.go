package cache_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"manouche/core/cache"
	"manouche/core/testenv"
)

// Two processes sharing one Redis: B sees A's Delete at once. This is token
// revocation at the cache's level.
func TestTwoInstancesSeeEachOthersDelete(t *testing.T) {
	t.Parallel()
	url := testenv.Lookup(t, testenv.RedisURL)
	prefix := randomPrefix(t)
	a := newCache(t, cache.Config{RedisURL: url, Prefix: prefix, Logger: quietLogger()})
	b := newCache(t, cache.Config{RedisURL: url, Prefix: prefix, Logger: quietLogger()})
	ctx := context.Background()

	revoked := false
	var loads atomic.Int32
	lookup := func(context.Context) (any, error) { // the database
		loads.Add(1)
		if revoked {
			return nil, cache.ErrNotFound
		}
		return user{ID: "u1", Email: "a@example.com"}, nil
	}
	var u user
	if err := a.Once(ctx, "token:abc", &u, time.Hour, lookup); err != nil {
		t.Fatal(err)
	}
	if err := b.Once(ctx, "token:abc", &u, time.Hour, lookup); err != nil || u.ID != "u1" {
		t.Fatalf("B: %+v %v", u, err)
	}
	if n := loads.Load(); n != 1 {
		t.Fatalf("B should be served by A's cached entry; loads=%d", n)
	}

	revoked = true // logout on process A: database, then cache
	if err := a.Delete(ctx, "token:abc"); err != nil {
		t.Fatal(err)
	}
	if found, err := b.Get(ctx, "token:abc", &u); found || err != nil {
		t.Fatalf("B still sees the revoked token: found=%v err=%v", found, err)
	}
	if err := b.Once(ctx, "token:abc", &u, time.Hour, lookup); !errors.Is(err, cache.ErrNotFound) {
		t.Fatalf("B's lookup of a revoked token: %v, want ErrNotFound", err)
	}

	// A Set on one instance is visible on the other.
	if err := a.Set(ctx, "me:u1", user{Email: "new@example.com"}, time.Hour); err != nil {
		t.Fatal(err)
	}
	if found, err := b.Get(ctx, "me:u1", &u); !found || err != nil || u.Email != "new@example.com" {
		t.Fatalf("B after A's Set: %v %v %+v", found, err, u)
	}
	if err := a.Ping(ctx); err != nil {
		t.Fatal(err)
	}
}

// A Redis that is not there: every call answers quickly, Once from the loader.
func TestRedisDownFallsBackToLoader(t *testing.T) {
	t.Parallel()
	c := newCache(t, cache.Config{RedisURL: "redis://127.0.0.1:1/0", Prefix: randomPrefix(t), Logger: quietLogger()})
	ctx := context.Background()
	start := time.Now()
	var loads atomic.Int32
	for i := range 5 {
		var s string
		err := c.Once(ctx, "k", &s, time.Minute, func(context.Context) (any, error) {
			loads.Add(1)
			return "from-db", nil
		})
		if err != nil || s != "from-db" {
			t.Fatalf("Once #%d with Redis down: %q %v", i, s, err)
		}
	}
	if loads.Load() != 5 {
		t.Fatalf("loads=%d, want 5 (nothing can be cached)", loads.Load())
	}
	var s string
	if found, err := c.Get(ctx, "k", &s); found || !errors.Is(err, cache.ErrUnavailable) {
		t.Fatalf("Get with Redis down: found=%v err=%v", found, err)
	}
	if err := c.Set(ctx, "k", "v", time.Minute); !errors.Is(err, cache.ErrUnavailable) {
		t.Fatalf("Set with Redis down: %v", err)
	}
	if err := c.Delete(ctx, "k"); !errors.Is(err, cache.ErrUnavailable) {
		t.Fatalf("Delete with Redis down: %v", err)
	}
	if err := c.Ping(ctx); err == nil {
		t.Fatal("Ping with Redis down must fail")
	}
	// A guard against hanging, not a speed target (see BenchmarkOnceRedisDown).
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("calls with Redis down took %s", d)
	}
}

// redisServer runs a private redis-server on a free port.
type redisServer struct {
	t    *testing.T
	port int
	cmd  *exec.Cmd
}

func startRedis(t *testing.T, port int) *redisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server binary not found")
	}
	if port == 0 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port = l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
	}
	cmd := exec.Command(bin, "--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &redisServer{t: t, port: port, cmd: cmd}
	t.Cleanup(s.kill)
	for range 100 {
		conn, err := net.DialTimeout("tcp", s.addr(), 100*time.Millisecond)
		if err == nil {
			_ = conn.Close()
			return s
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("redis-server on %s did not start", s.addr())
	return nil
}

func (s *redisServer) addr() string { return fmt.Sprintf("127.0.0.1:%d", s.port) }
func (s *redisServer) url() string  { return "redis://" + s.addr() + "/0" }

func (s *redisServer) kill() {
	if s.cmd.ProcessState == nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
	}
}

// Redis dies while the app runs, then comes back: requests keep being
// answered from the loader, and the cache is used again after the restart.
func TestRedisDiesAndRecovers(t *testing.T) {
	t.Parallel()
	srv := startRedis(t, 0)
	cfg := cache.Config{RedisURL: srv.url(), Prefix: "p:", RetryInterval: 50 * time.Millisecond, Logger: quietLogger()}
	c := newCache(t, cfg)
	ctx := context.Background()
	var loads atomic.Int32
	load := func(context.Context) (any, error) { loads.Add(1); return "v", nil }
	once := func() {
		t.Helper()
		var s string
		if err := c.Once(ctx, "k", &s, time.Minute, load); err != nil || s != "v" {
			t.Fatalf("Once: %q %v", s, err)
		}
	}
	once()
	once()
	if loads.Load() != 1 {
		t.Fatalf("loads=%d before the crash, want 1", loads.Load())
	}

	srv.kill()
	for range 3 {
		once()
	}
	if loads.Load() != 4 {
		t.Fatalf("loads=%d with Redis dead, want 4 (every call answered by the loader)", loads.Load())
	}
	var s string
	if found, err := c.Get(ctx, "k", &s); found || err == nil {
		t.Fatalf("Get with Redis dead: found=%v err=%v", found, err)
	}

	startRedis(t, srv.port)
	time.Sleep(60 * time.Millisecond) // let the back-off (RetryInterval) pass
	deadline := time.Now().Add(5 * time.Second)
	for c.Ping(ctx) != nil {
		if time.Now().After(deadline) {
			t.Fatal("cache did not reconnect to the restarted Redis")
		}
		time.Sleep(20 * time.Millisecond)
	}
	loads.Store(0)
	once()
	once()
	if loads.Load() != 1 {
		t.Fatalf("after recovery loads=%d, want 1 (cached again)", loads.Load())
	}
}

// Redis hangs (simulated with SIGSTOP): calls fail after the short
// timeouts instead of hanging the request, Once answers from the loader, and
// the cache works again once Redis does.
func TestRedisHangsThenResumes(t *testing.T) {
	t.Parallel()
	srv := startRedis(t, 0)
	cfg := cache.Config{RedisURL: srv.url(), Prefix: "p:", RetryInterval: 50 * time.Millisecond,
		Timeout: 200 * time.Millisecond, Logger: quietLogger()}
	c := newCache(t, cfg)
	ctx := context.Background()
	if err := c.Set(ctx, "k", "cached", time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := srv.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	resumed := false
	defer func() {
		if !resumed {
			_ = srv.cmd.Process.Signal(syscall.SIGCONT)
		}
	}()
	start := time.Now()
	var s string
	if found, err := c.Get(ctx, "k", &s); found || !errors.Is(err, cache.ErrUnavailable) {
		t.Fatalf("Get while Redis hangs: found=%v err=%v", found, err)
	}
	if err := c.Once(ctx, "k", &s, time.Hour, func(context.Context) (any, error) { return "from-db", nil }); err != nil || s != "from-db" {
		t.Fatalf("Once while Redis hangs: %q %v", s, err)
	}
	if d := time.Since(start); d > 5*time.Second { // a guard against hanging, not a target
		t.Fatalf("calls while Redis hangs took %s", d)
	}
	_ = srv.cmd.Process.Signal(syscall.SIGCONT)
	resumed = true
	deadline := time.Now().Add(5 * time.Second)
	for {
		time.Sleep(60 * time.Millisecond) // let the back-off pass
		found, err := c.Get(ctx, "k", &s)
		if err == nil {
			if !found || s != "cached" {
				t.Fatalf("after resume: found=%v value=%q", found, s)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("cache did not recover: %v", err)
		}
	}
}

// proxy forwards TCP connections to target until cut, which closes every
// connection and refuses new ones (a network partition); heal listens again.
type proxy struct {
	t      *testing.T
	target string
	addr   string
	mu     sync.Mutex
	ln     net.Listener
	conns  []net.Conn
}

func newProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{t: t, target: target, addr: ln.Addr().String()}
	p.serve(ln)
	t.Cleanup(p.cut)
	return p
}

func (p *proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", p.target)
			if err != nil {
				_ = c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(u, c); _ = u.Close() }()
			go func() { _, _ = io.Copy(c, u); _ = c.Close() }()
		}
	}()
}

func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
}

func (p *proxy) heal() {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatal(err)
	}
	p.serve(ln)
}

// Process A loses Redis (a partition; Redis itself keeps its data) while it
// revokes a token and updates a profile. The Delete and the Set cannot reach
// Redis; their keys are invalidated when Redis is reachable again, before A
// reads anything, so neither the revoked token nor the old profile comes
// back for process B.
func TestDeleteDuringPartitionIsReplayed(t *testing.T) {
	t.Parallel()
	srv := startRedis(t, 0)
	px := newProxy(t, srv.addr())
	cfgA := cache.Config{RedisURL: "redis://" + px.addr + "/0", Prefix: "p:", RetryInterval: 50 * time.Millisecond, Logger: quietLogger()}
	cfgB := cache.Config{RedisURL: srv.url(), Prefix: "p:", Logger: quietLogger()}
	a := newCache(t, cfgA)
	b := newCache(t, cfgB)
	ctx := context.Background()
	if err := a.Set(ctx, "token:t", "u1", time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := a.Set(ctx, "me:u1", "old name", time.Hour); err != nil {
		t.Fatal(err)
	}

	px.cut()
	if err := a.Set(ctx, "me:u1", "new name", time.Hour); !errors.Is(err, cache.ErrUnavailable) {
		t.Fatalf("Set during the partition: %v, want ErrUnavailable", err)
	}
	if err := a.Delete(ctx, "token:t"); !errors.Is(err, cache.ErrUnavailable) {
		t.Fatalf("Delete during the partition: %v, want ErrUnavailable", err)
	}
	var s string
	if found, _ := b.Get(ctx, "token:t", &s); !found {
		t.Fatal("test setup: the value should still be in Redis during the partition")
	}
	if err := a.Once(ctx, "token:t", &s, time.Hour, func(context.Context) (any, error) { return nil, cache.ErrNotFound }); !errors.Is(err, cache.ErrNotFound) {
		t.Fatalf("Once during the partition must ask the loader: %q %v", s, err)
	}

	px.heal()
	deadline := time.Now().Add(5 * time.Second)
	for {
		time.Sleep(60 * time.Millisecond)    // let the back-off pass
		_, err := a.Get(ctx, "anything", &s) // A's next use of Redis replays the delete first
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("A did not get Redis back: %v", err)
		}
	}
	if found, err := b.Get(ctx, "token:t", &s); found || err != nil {
		t.Fatalf("B sees the token revoked during the partition: found=%v err=%v value=%q", found, err, s)
	}
	if found, err := b.Get(ctx, "me:u1", &s); found || err != nil {
		t.Fatalf("B sees the value replaced during the partition: found=%v err=%v value=%q", found, err, s)
	}
}
