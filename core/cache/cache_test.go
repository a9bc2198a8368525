package cache_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"manouche/core/cache"
	"manouche/core/testenv"
)

type user struct {
	ID    string
	Email string
	Staff bool
	Tags  []string
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func randomPrefix(t testing.TB) string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "test:" + t.Name() + ":" + hex.EncodeToString(b) + ":"
}

// backends returns the configurations every behaviour test runs against:
// in-process always, Redis when TEST_REDIS_URL is set.
func backends(t *testing.T) map[string]cache.Config {
	m := map[string]cache.Config{"inprocess": {Logger: quietLogger()}}
	if u := testenv.Optional(testenv.RedisURL); u != "" {
		m["redis"] = cache.Config{RedisURL: u, Prefix: randomPrefix(t), Logger: quietLogger()}
	}
	return m
}

func newCache(t testing.TB, cfg cache.Config) *cache.Cache {
	t.Helper()
	c, err := cache.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestOnceLoadsOnceThenServesFromCache(t *testing.T) {
	t.Parallel()
	for name, cfg := range backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newCache(t, cfg)
			ctx := context.Background()
			var calls atomic.Int32
			load := func(context.Context) (any, error) {
				calls.Add(1)
				return user{ID: "u1", Email: "a@example.com", Tags: []string{"x"}}, nil
			}
			for i := range 3 {
				var got user
				if err := c.Once(ctx, "user:u1", &got, time.Minute, load); err != nil {
					t.Fatalf("Once #%d: %v", i, err)
				}
				if got.Email != "a@example.com" || len(got.Tags) != 1 {
					t.Fatalf("Once #%d decoded %+v", i, got)
				}
			}
			if n := calls.Load(); n != 1 {
				t.Fatalf("load called %d times, want 1", n)
			}
		})
	}
}

func TestOnceConcurrentMissesShareOneLoad(t *testing.T) {
	t.Parallel()
	for name, cfg := range backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newCache(t, cfg)
			var calls atomic.Int32
			release := make(chan struct{})
			load := func(context.Context) (any, error) {
				calls.Add(1)
				<-release
				return "v", nil
			}
			var wg sync.WaitGroup
			errs := make(chan error, 10)
			for range 10 {
				wg.Go(func() {
					var s string
					if err := c.Once(context.Background(), "k", &s, time.Minute, load); err != nil || s != "v" {
						errs <- errors.Join(err, errors.New("got "+s))
					}
				})
			}
			time.Sleep(100 * time.Millisecond) // let the goroutines reach the shared load
			close(release)
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			// A goroutine scheduled very late may read the miss just before the
			// first load is stored and start a second one; never one per caller.
			if n := calls.Load(); n < 1 || n > 3 {
				t.Fatalf("load called %d times for 10 concurrent misses", n)
			}
		})
	}
}

func TestSetGetDelete(t *testing.T) {
	t.Parallel()
	for name, cfg := range backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newCache(t, cfg)
			ctx := context.Background()
			var got user
			if found, err := c.Get(ctx, "u", &got); found || err != nil {
				t.Fatalf("Get on empty cache: found=%v err=%v", found, err)
			}
			want := user{ID: "1", Email: "b@example.com", Staff: true}
			if err := c.Set(ctx, "u", want, time.Minute); err != nil {
				t.Fatalf("Set: %v", err)
			}
			if found, err := c.Get(ctx, "u", &got); !found || err != nil || got.Email != want.Email || !got.Staff {
				t.Fatalf("Get after Set: found=%v err=%v got=%+v", found, err, got)
			}
			if err := c.Delete(ctx, "u", "other"); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			if found, err := c.Get(ctx, "u", &got); found || err != nil {
				t.Fatalf("Get after Delete: found=%v err=%v", found, err)
			}
			// Set after Delete is an explicit write: it wins over the tombstone.
			if err := c.Set(ctx, "u", want, time.Minute); err != nil {
				t.Fatal(err)
			}
			if found, _ := c.Get(ctx, "u", &got); !found {
				t.Fatal("Set after Delete not visible")
			}
		})
	}
}

func TestDeleteInvalidatesOnce(t *testing.T) {
	t.Parallel()
	for name, cfg := range backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newCache(t, cfg)
			ctx := context.Background()
			version := "old"
			load := func(context.Context) (any, error) { return version, nil }
			var s string
			if err := c.Once(ctx, "k", &s, time.Minute, load); err != nil || s != "old" {
				t.Fatalf("first Once: %q %v", s, err)
			}
			version = "new"
			if err := c.Once(ctx, "k", &s, time.Minute, load); err != nil || s != "old" {
				t.Fatalf("second Once should hit the cache: %q %v", s, err)
			}
			if err := c.Delete(ctx, "k"); err != nil {
				t.Fatal(err)
			}
			if err := c.Once(ctx, "k", &s, time.Minute, load); err != nil || s != "new" {
				t.Fatalf("Once after Delete: %q %v, want new", s, err)
			}
		})
	}
}

// A load that read the database before a concurrent update+Delete must not
// put its stale value back into the cache.
func TestDeleteDuringLoadKeepsStaleValueOut(t *testing.T) {
	t.Parallel()
	for name, cfg := range backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newCache(t, cfg)
			ctx := context.Background()
			loaded := make(chan struct{})
			proceed := make(chan struct{})
			done := make(chan error)
			go func() {
				var s string
				done <- c.Once(ctx, "token:t", &s, time.Minute, func(context.Context) (any, error) {
					close(loaded)
					<-proceed
					return "valid", nil // read before the revocation
				})
			}()
			<-loaded
			if err := c.Delete(ctx, "token:t"); err != nil { // the revocation
				t.Fatal(err)
			}
			close(proceed)
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			var s string
			err := c.Once(ctx, "token:t", &s, time.Minute, func(context.Context) (any, error) {
				return nil, cache.ErrNotFound
			})
			if !errors.Is(err, cache.ErrNotFound) {
				t.Fatalf("revoked token served from cache: %q %v", s, err)
			}
		})
	}
}

func TestOnceNotFoundAndErrors(t *testing.T) {
	t.Parallel()
	for name, cfg := range backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			var calls atomic.Int32
			missing := func(context.Context) (any, error) {
				calls.Add(1)
				return nil, errors.Join(errors.New("users: token lookup"), cache.ErrNotFound)
			}
			c := newCache(t, cfg)
			var s string
			for range 2 {
				if err := c.Once(ctx, "nf", &s, time.Minute, missing); !errors.Is(err, cache.ErrNotFound) {
					t.Fatalf("want ErrNotFound, got %v", err)
				}
			}
			if n := calls.Load(); n != 2 {
				t.Fatalf("without NegativeTTL, not-found must not be cached: load called %d times", n)
			}

			neg := cfg
			neg.NegativeTTL = time.Minute
			cn := newCache(t, neg)
			calls.Store(0)
			for range 3 {
				if err := cn.Once(ctx, "nf", &s, time.Minute, missing); !errors.Is(err, cache.ErrNotFound) {
					t.Fatalf("want ErrNotFound, got %v", err)
				}
			}
			if n := calls.Load(); n != 1 {
				t.Fatalf("with NegativeTTL, load called %d times, want 1", n)
			}
			if found, err := cn.Get(ctx, "nf", &s); found || err != nil {
				t.Fatalf("Get of a cached not-found: found=%v err=%v", found, err)
			}

			boom := errors.New("db down")
			calls.Store(0)
			failing := func(context.Context) (any, error) { calls.Add(1); return nil, boom }
			for range 2 {
				if err := cn.Once(ctx, "e", &s, time.Minute, failing); !errors.Is(err, boom) {
					t.Fatalf("want the loader's error, got %v", err)
				}
			}
			if calls.Load() != 2 {
				t.Fatal("a loader error must not be cached")
			}
		})
	}
}

func TestTTLExpires(t *testing.T) {
	t.Parallel()
	for name, cfg := range backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newCache(t, cfg)
			ctx := context.Background()
			if err := c.Set(ctx, "short", "x", 100*time.Millisecond); err != nil {
				t.Fatal(err)
			}
			var s string
			if found, _ := c.Get(ctx, "short", &s); !found {
				t.Fatal("entry missing before its TTL")
			}
			time.Sleep(150 * time.Millisecond)
			if found, _ := c.Get(ctx, "short", &s); found {
				t.Fatal("entry still there after its TTL")
			}
		})
	}
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	c := newCache(t, cache.Config{})
	ctx := context.Background()
	var s string
	if _, err := c.Get(ctx, "k", s); err == nil {
		t.Error("Get into a non-pointer must fail")
	}
	if err := c.Once(ctx, "k", nil, time.Minute, func(context.Context) (any, error) { return "x", nil }); err == nil {
		t.Error("Once into nil must fail")
	}
	if err := c.Once(ctx, "k", &s, time.Minute, nil); err == nil {
		t.Error("Once with a nil loader must fail")
	}
	if err := c.Set(ctx, "k", make(chan int), time.Minute); err == nil {
		t.Error("Set of an unencodable value must fail")
	}
	if err := c.Set(ctx, "k", user{Email: "x"}, time.Minute); err != nil {
		t.Fatal(err)
	}
	var n int
	if found, err := c.Get(ctx, "k", &n); found || err == nil {
		t.Errorf("Get into the wrong type: found=%v err=%v, want an error", found, err)
	}
	for _, u := range []string{"http://localhost:6379", "redis://host:notaport", "::::"} {
		if _, err := cache.New(cache.Config{RedisURL: u}); err == nil {
			t.Errorf("New(%q) must fail", u)
		}
	}
	if c.Redis() != nil {
		t.Error("in-process cache has a Redis client")
	}
	if err := c.Ping(ctx); err != nil {
		t.Errorf("in-process Ping: %v", err)
	}
}

func TestRedissURLIsAccepted(t *testing.T) {
	t.Parallel()
	c := newCache(t, cache.Config{RedisURL: "rediss://:secret@127.0.0.1:1/0", Logger: quietLogger()})
	opt := c.Redis().Options()
	if opt.TLSConfig == nil || !opt.TLSConfig.InsecureSkipVerify {
		t.Fatal("rediss:// must use TLS without verification by default (Heroku's self-signed certificates)")
	}
	v := newCache(t, cache.Config{RedisURL: "rediss://127.0.0.1:1/0", VerifyTLS: true, Logger: quietLogger()})
	if v.Redis().Options().TLSConfig.InsecureSkipVerify {
		t.Fatal("VerifyTLS must verify")
	}
}
