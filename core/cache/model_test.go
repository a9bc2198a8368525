package cache_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"manouche/core/cache"
	"manouche/core/testenv"
)

// table is a fake database table: a value and how many times it was read.
type table struct {
	mu    sync.Mutex
	value map[string]string // query -> result
	reads atomic.Int32
}

func (tb *table) set(q, v string) {
	tb.mu.Lock()
	tb.value[q] = v
	tb.mu.Unlock()
}

func (tb *table) loader(q string) func(context.Context) (any, error) {
	return func(context.Context) (any, error) {
		tb.reads.Add(1)
		tb.mu.Lock()
		defer tb.mu.Unlock()
		return tb.value[q], nil
	}
}

func modelOnce(t *testing.T, m *cache.Model, tb *table, q string) string {
	t.Helper()
	var s string
	if err := m.Once(context.Background(), q, &s, tb.loader(q)); err != nil {
		t.Fatalf("Once(%q): %v", q, err)
	}
	return s
}

// A Model serves repeated queries from the cache, and a Touch of its table
// or of a table it depends on makes every query read the source again.
func TestModelTouchInvalidates(t *testing.T) {
	t.Parallel()
	for name, cfg := range backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newCache(t, cfg)
			ctx := context.Background()
			tb := &table{value: map[string]string{"q1": "a", "q2": "b"}}
			m := c.Model("posts:list", []string{"posts", "authors"}, cache.ModelOptions{})
			if c.Model("posts:list", nil, cache.ModelOptions{}) != m {
				t.Fatal("Model with the same name must return the same Model")
			}
			for range 3 {
				if modelOnce(t, m, tb, "q1") != "a" || modelOnce(t, m, tb, "q2") != "b" {
					t.Fatal("wrong values")
				}
			}
			if n := tb.reads.Load(); n != 2 {
				t.Fatalf("reads=%d, want 2 (one per query)", n)
			}
			for i, touched := range []string{"posts", "authors"} {
				tb.set("q1", fmt.Sprint("a", i))
				if err := c.Touch(ctx, touched); err != nil {
					t.Fatal(err)
				}
				if got := modelOnce(t, m, tb, "q1"); got != fmt.Sprint("a", i) {
					t.Fatalf("after Touch(%s): %q", touched, got)
				}
			}
			// An unrelated table's Touch changes nothing.
			before := tb.reads.Load()
			if err := c.Touch(ctx, "comments"); err != nil {
				t.Fatal(err)
			}
			modelOnce(t, m, tb, "q1")
			if tb.reads.Load() != before {
				t.Fatal("a Touch of an unrelated table invalidated the Model")
			}
		})
	}
}

// Touches made under DeferTouches wait for the flush (the commit).
func TestModelDeferTouches(t *testing.T) {
	t.Parallel()
	for name, cfg := range backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newCache(t, cfg)
			tb := &table{value: map[string]string{"q": "old"}}
			m := c.Model("things", []string{"things"}, cache.ModelOptions{})
			modelOnce(t, m, tb, "q")
			ctx, flush := cache.DeferTouches(context.Background())
			tb.set("q", "new")
			if err := m.Touch(ctx); err != nil {
				t.Fatal(err)
			}
			if got := modelOnce(t, m, tb, "q"); got != "old" {
				t.Fatalf("a deferred touch ran before the flush: %q", got)
			}
			if err := flush(context.Background(), c); err != nil {
				t.Fatal(err)
			}
			if got := modelOnce(t, m, tb, "q"); got != "new" {
				t.Fatalf("after the flush: %q", got)
			}
		})
	}
}

// Distinct queries beyond MaxVariants are answered but not cached, keys
// have a fixed length whatever the query's, and the local tier stays within
// its byte budget.
func TestModelBounded(t *testing.T) {
	t.Parallel()
	for name, cfg := range backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newCache(t, cfg)
			tb := &table{value: map[string]string{}}
			m := c.Model("search", []string{"things"}, cache.ModelOptions{MaxVariants: 5})
			huge := strings.Repeat("x", 100_000)
			queries := make([]string, 10)
			for i := range queries {
				queries[i] = fmt.Sprint(huge, i)
				modelOnce(t, m, tb, queries[i])
			}
			if n := m.Len(); n != 5 {
				t.Fatalf("local entries %d, want 5 (MaxVariants)", n)
			}
			tb.reads.Store(0)
			for _, q := range queries {
				modelOnce(t, m, tb, q)
			}
			if n := tb.reads.Load(); n != 5 {
				t.Fatalf("re-reads %d, want 5: the first five cached, the rest not", n)
			}
			if rdb := c.Redis(); rdb != nil {
				keys, err := rdb.Keys(context.Background(), cfg.Prefix+"mc:search:*").Result()
				if err != nil {
					t.Fatal(err)
				}
				if len(keys) != 5 {
					t.Fatalf("redis holds %d entries, want 5", len(keys))
				}
				for _, k := range keys {
					if len(k) > len(cfg.Prefix)+64 {
						t.Errorf("key of %d bytes: %q", len(k), k)
					}
				}
			}

			small := c.Model("small", []string{"things"}, cache.ModelOptions{LocalBytes: 4096, MaxVariants: -1})
			for i := range 100 {
				q := fmt.Sprint("q", i)
				tb.set(q, strings.Repeat("v", 500))
				modelOnce(t, small, tb, q)
			}
			if n := small.Len(); n == 0 || n > 8 {
				t.Fatalf("a 4 KB tier holds %d entries of 500 bytes", n)
			}
		})
	}
}

// Readers racing a writer: once a write's Touch returned, no reader on
// either process sees an older value, and the value finally cached is the
// last one written.
func TestModelRaceNeverStale(t *testing.T) {
	t.Parallel()
	cfgs := backends(t)
	for name, cfg := range cfgs {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			a := newCache(t, cfg)
			b := a
			if cfg.RedisURL != "" {
				b = newCache(t, cfg) // a second process on the same Redis
			}
			var db atomic.Int64 // the row
			var done atomic.Int64
			load := func(context.Context) (any, error) {
				v := db.Load()
				time.Sleep(time.Duration(v%3) * time.Millisecond) // reads overlap the writes
				return v, nil
			}
			ma := a.Model("race", []string{"race"}, cache.ModelOptions{})
			mb := b.Model("race", []string{"race"}, cache.ModelOptions{})
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			var stale atomic.Int32
			for i := range 6 {
				m := ma
				if i%2 == 1 {
					m = mb
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					for ctx.Err() == nil {
						floor := done.Load()
						var v int64
						if err := m.Once(context.Background(), "select", &v, load); err != nil {
							t.Error(err)
							return
						}
						if v < floor {
							stale.Add(1)
						}
					}
				}()
			}
			for i := int64(1); i <= 100; i++ {
				db.Store(i)
				if err := a.Touch(context.Background(), "race"); err != nil {
					t.Error(err)
				}
				done.Store(i)
			}
			cancel()
			wg.Wait()
			if n := stale.Load(); n > 0 {
				t.Fatalf("%d reads returned a value older than a finished write", n)
			}
			for _, m := range []*cache.Model{ma, mb} {
				var v int64
				if err := m.Once(context.Background(), "select", &v, load); err != nil || v != 100 {
					t.Fatalf("final read %d, %v; want 100", v, err)
				}
			}
		})
	}
}

// With Redis down, a Model answers from the source and caches nothing, and
// Touch fails fast.
func TestModelRedisDown(t *testing.T) {
	t.Parallel()
	c := newCache(t, cache.Config{RedisURL: "redis://127.0.0.1:1/0", Prefix: randomPrefix(t), Logger: quietLogger()})
	tb := &table{value: map[string]string{"q": "v"}}
	m := c.Model("down", []string{"down"}, cache.ModelOptions{})
	for range 3 {
		if modelOnce(t, m, tb, "q") != "v" {
			t.Fatal("wrong value")
		}
	}
	if n := tb.reads.Load(); n != 3 {
		t.Fatalf("reads=%d, want 3: nothing cached while Redis is down", n)
	}
	if m.Len() != 0 {
		t.Fatal("the local tier cached a value under a made-up generation")
	}
	if err := c.Touch(context.Background(), "down"); !errors.Is(err, cache.ErrUnavailable) {
		t.Fatalf("Touch with Redis down: %v", err)
	}
}

// A generation that Redis lost (evicted, flushed) is made again, never equal
// to the one before: old entries are orphaned, not revived.
func TestModelLostGeneration(t *testing.T) {
	t.Parallel()
	url := testenv.Lookup(t, testenv.RedisURL)
	cfg := cache.Config{RedisURL: url, Prefix: randomPrefix(t), Logger: quietLogger()}
	c := newCache(t, cfg)
	tb := &table{value: map[string]string{"q": "old"}}
	m := c.Model("lost", []string{"lost"}, cache.ModelOptions{})
	modelOnce(t, m, tb, "q")
	tb.set("q", "new")
	// Redis loses the generation and the process misses the invalidation
	// (no Touch): a new generation comes with new keys.
	rdb := redis.NewClient(mustParse(t, url))
	defer rdb.Close()
	if err := rdb.Del(context.Background(), cfg.Prefix+"mc:gen:lost").Err(); err != nil {
		t.Fatal(err)
	}
	c2 := newCache(t, cfg)
	if got := modelOnce(t, c2.Model("lost", []string{"lost"}, cache.ModelOptions{}), tb, "q"); got != "new" {
		t.Fatalf("after the generation was lost: %q", got)
	}
}

func mustParse(t *testing.T, url string) *redis.Options {
	t.Helper()
	o, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	return o
}
