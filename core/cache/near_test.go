package cache_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"manouche/core/cache"
	"manouche/core/testenv"
)

// counter is a loader that counts its calls and answers value, or
// ErrNotFound once gone is set.
type counter struct {
	calls atomic.Int32
	value atomic.Value // string
	gone  atomic.Bool
}

func newCounter(v string) *counter {
	c := &counter{}
	c.value.Store(v)
	return c
}

func (c *counter) load(context.Context) (any, error) {
	c.calls.Add(1)
	if c.gone.Load() {
		return nil, cache.ErrNotFound
	}
	return c.value.Load().(string), nil
}

// waitNear calls OnceNear on c until its near layer is in use (the
// subscription is started by the first call).
func waitNear(t *testing.T, c *cache.Cache, key string, load func(context.Context) (any, error)) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !c.NearReady() {
		var s string
		_ = c.OnceNear(context.Background(), key, &s, time.Hour, load)
		if time.Now().After(deadline) {
			t.Fatal("near layer not ready after 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func onceNear(t *testing.T, c *cache.Cache, key string, load func(context.Context) (any, error)) (string, error) {
	t.Helper()
	var s string
	err := c.OnceNear(context.Background(), key, &s, time.Hour, load)
	return s, err
}

// In process OnceNear is Once: the local cache is authoritative.
func TestOnceNearInProcessIsOnce(t *testing.T) {
	t.Parallel()
	c := newCache(t, cache.Config{Logger: quietLogger()})
	ctx := context.Background()
	l := newCounter("v1")
	for range 3 {
		if s, err := onceNear(t, c, "k", l.load); err != nil || s != "v1" {
			t.Fatalf("OnceNear: %q %v", s, err)
		}
	}
	if n := l.calls.Load(); n != 1 {
		t.Fatalf("loads=%d, want 1", n)
	}
	l.gone.Store(true)
	if err := c.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if _, err := onceNear(t, c, "k", l.load); !errors.Is(err, cache.ErrNotFound) {
		t.Fatalf("after Delete: %v, want ErrNotFound", err)
	}
	if c.NearReady() {
		t.Fatal("NearReady in process must be false")
	}
	var s string
	if err := c.OnceNear(ctx, "k", s, time.Hour, l.load); err == nil {
		t.Fatal("non-pointer destination must fail")
	}
	if err := c.OnceNear(ctx, "k", &s, time.Hour, nil); err == nil {
		t.Fatal("nil loader must fail")
	}
}

// Two processes sharing one Redis both serve a key from their near layer;
// when A deletes it, B's next read (right after Delete returns, no waiting)
// goes to the loader; when A sets it, B reads the new value at once.
func TestNearDeleteAndSetReachOtherProcess(t *testing.T) {
	t.Parallel()
	url := testenv.Lookup(t, testenv.RedisURL)
	prefix := randomPrefix(t)
	a := newCache(t, cache.Config{RedisURL: url, Prefix: prefix, Logger: quietLogger()})
	b := newCache(t, cache.Config{RedisURL: url, Prefix: prefix, Logger: quietLogger()})
	ctx := context.Background()
	l := newCounter("v1")
	waitNear(t, a, "warmup", l.load)
	waitNear(t, b, "warmup", l.load)

	for _, c := range []*cache.Cache{a, b, a, b} {
		if s, err := onceNear(t, c, "token:t", l.load); err != nil || s != "v1" {
			t.Fatalf("OnceNear: %q %v", s, err)
		}
	}
	// Prove B serves from its near layer: remove the key from Redis behind
	// the cache's back (no invalidation); B must not notice.
	if err := b.Redis().Del(ctx, prefix+"token:t").Err(); err != nil {
		t.Fatal(err)
	}
	before := l.calls.Load()
	for _, c := range []*cache.Cache{a, b} {
		if s, err := onceNear(t, c, "token:t", l.load); err != nil || s != "v1" {
			t.Fatalf("near hit: %q %v", s, err)
		}
	}
	if n := l.calls.Load(); n != before {
		t.Fatalf("near hits called the loader %d times", n-before)
	}

	l.gone.Store(true) // revoked in the database, then in the cache
	if err := a.Delete(ctx, "token:t"); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*cache.Cache{"A": a, "B": b} {
		if s, err := onceNear(t, c, "token:t", l.load); !errors.Is(err, cache.ErrNotFound) {
			t.Fatalf("%s right after A's Delete: %q %v, want ErrNotFound", name, s, err)
		}
	}

	l.gone.Store(false)
	l.value.Store("v2")
	if err := a.Set(ctx, "me", "v2", time.Hour); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*cache.Cache{a, b, a, b} {
		if s, err := onceNear(t, c, "me", l.load); err != nil || s != "v2" {
			t.Fatalf("OnceNear: %q %v", s, err)
		}
	}
	if err := a.Set(ctx, "me", "v3", time.Hour); err != nil {
		t.Fatal(err)
	}
	if s, err := onceNear(t, b, "me", l.load); err != nil || s != "v3" {
		t.Fatalf("B right after A's Set: %q %v, want v3", s, err)
	}
}

// A value loaded concurrently with Deletes never survives them in a near
// layer: after the last Delete returns, every read sees the loader's answer.
func TestNearConcurrentLoadAndDelete(t *testing.T) {
	t.Parallel()
	url := testenv.Lookup(t, testenv.RedisURL)
	prefix := randomPrefix(t)
	cfg := cache.Config{RedisURL: url, Prefix: prefix, Logger: quietLogger(), DeleteGuard: time.Millisecond}
	a := newCache(t, cfg)
	b := newCache(t, cfg)
	ctx := context.Background()
	l := newCounter("old")
	waitNear(t, a, "warmup", l.load)
	waitNear(t, b, "warmup", l.load)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			var s string
			_ = b.OnceNear(ctx, "k", &s, time.Hour, l.load)
			_ = a.OnceNear(ctx, "k", &s, time.Hour, l.load)
		}
	}()
	for range 50 {
		if err := a.Delete(ctx, "k"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
	l.value.Store("new")
	if err := a.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	close(stop)
	<-done
	for name, c := range map[string]*cache.Cache{"A": a, "B": b} {
		if s, err := onceNear(t, c, "k", l.load); err != nil || s != "new" {
			t.Fatalf("%s after the last Delete: %q %v, want new", name, s, err)
		}
	}
}

// The pub/sub connection is killed: what the near layer held is not served
// once the loss is seen (it may have missed invalidations), and the layer is
// used again, empty, after the subscription is made again.
func TestNearSubscriptionLossClearsLayer(t *testing.T) {
	t.Parallel()
	srv := startRedis(t, 0)
	prefix := "p:"
	c := newCache(t, cache.Config{RedisURL: srv.url(), Prefix: prefix, Logger: quietLogger()})
	admin := redis.NewClient(&redis.Options{Addr: srv.addr()})
	t.Cleanup(func() { _ = admin.Close() })
	ctx := context.Background()
	l := newCounter("v1")
	waitNear(t, c, "k", l.load)
	if s, err := onceNear(t, c, "k", l.load); err != nil || s != "v1" {
		t.Fatalf("OnceNear: %q %v", s, err)
	}
	// A write this process is not told about (as if its message was lost).
	if err := admin.Del(ctx, prefix+"k").Err(); err != nil {
		t.Fatal(err)
	}
	l.value.Store("v2")
	if s, _ := onceNear(t, c, "k", l.load); s != "v1" {
		t.Fatalf("test setup: expected a near hit, got %q", s)
	}
	if err := admin.Do(ctx, "CLIENT", "KILL", "TYPE", "pubsub").Err(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		s, err := onceNear(t, c, "k", l.load)
		if err != nil {
			t.Fatal(err)
		}
		if s == "v2" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("near layer still served its old value 2s after its subscription was killed")
		}
		time.Sleep(time.Millisecond)
	}
	waitNear(t, c, "k", l.load) // resubscribed
	if err := admin.Del(ctx, prefix+"k").Err(); err != nil {
		t.Fatal(err)
	}
	l.value.Store("v3")
	if s, err := onceNear(t, c, "k", l.load); err != nil || s != "v3" {
		t.Fatalf("after resubscribe: %q %v, want v3 (the layer must have been cleared)", s, err)
	}
}

// Redis dies: the near layer is bypassed and reads come from the loader
// until Redis is back.
func TestNearRedisDownFallsBackToLoader(t *testing.T) {
	t.Parallel()
	srv := startRedis(t, 0)
	c := newCache(t, cache.Config{RedisURL: srv.url(), Prefix: "p:", RetryInterval: 50 * time.Millisecond, Logger: quietLogger()})
	l := newCounter("v1")
	waitNear(t, c, "k", l.load)
	if s, err := onceNear(t, c, "k", l.load); err != nil || s != "v1" {
		t.Fatalf("OnceNear: %q %v", s, err)
	}
	l.value.Store("v2")
	srv.kill()
	deadline := time.Now().Add(2 * time.Second)
	for {
		s, err := onceNear(t, c, "k", l.load)
		if err != nil {
			t.Fatalf("OnceNear with Redis dead: %v", err)
		}
		if s == "v2" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("near layer still used 2s after Redis died")
		}
		time.Sleep(time.Millisecond)
	}
	before := l.calls.Load()
	for range 3 {
		if s, err := onceNear(t, c, "k", l.load); err != nil || s != "v2" {
			t.Fatalf("OnceNear with Redis dead: %q %v", s, err)
		}
	}
	if n := l.calls.Load() - before; n != 3 {
		t.Fatalf("loads=%d with Redis dead, want 3", n)
	}
	if c.NearReady() {
		t.Fatal("NearReady with Redis dead")
	}

	startRedis(t, srv.port)
	waitNear(t, c, "k", l.load)
	l.value.Store("v3")
	if s, err := onceNear(t, c, "k", l.load); err != nil || s != "v2" && s != "v3" {
		t.Fatalf("after Redis came back: %q %v", s, err)
	}
}
