package cache_test

import (
	"context"
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

// clientConns counts the server's connections named name (CLIENT LIST).
func clientConns(ctx context.Context, admin *redis.Client, name string) (int, error) {
	list, err := admin.ClientList(ctx).Result()
	if err != nil {
		return 0, err
	}
	return strings.Count(list, " name="+name+" "), nil
}

// A burst of 64 concurrent commands never opens more than MaxConns
// connections, plus the near layer's one Pub/Sub connection: the connection
// budget of a Heroku Redis plan holds. Pipelines count too (go-redis's
// dedicated pipeline pool would add up to 10).
func TestMaxConnsCapsTheBurst(t *testing.T) {
	t.Parallel()
	base := testenv.Lookup(t, testenv.RedisURL)
	for _, tc := range []struct {
		name     string
		maxConns int
		want     int
	}{
		{"explicit", 3, 3},
		{"default", 0, cache.DefaultMaxConns},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := strings.ReplaceAll(randomPrefix(t), ":", "")
			sep := "?"
			if strings.Contains(base, "?") {
				sep = "&"
			}
			c := newCache(t, cache.Config{RedisURL: base + sep + "client_name=" + name, Prefix: randomPrefix(t), MaxConns: tc.maxConns, Timeout: 2 * time.Second, Logger: quietLogger()})
			opt, err := redis.ParseURL(base)
			if err != nil {
				t.Fatal(err)
			}
			admin := redis.NewClient(opt)
			defer admin.Close()
			ctx := context.Background()

			var peak atomic.Int32
			stop := make(chan struct{})
			done := make(chan error, 1)
			go func() {
				for {
					n, err := clientConns(ctx, admin, name)
					if err != nil {
						done <- err
						return
					}
					if int32(n) > peak.Load() {
						peak.Store(int32(n))
					}
					select {
					case <-stop:
						done <- nil
						return
					case <-time.After(2 * time.Millisecond):
					}
				}
			}()
			var wg sync.WaitGroup
			rdb := c.Redis()
			for i := range 64 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					// BLPOP holds its connection for 50 ms: the burst needs
					// 64 connections at once and must queue for the pool.
					_ = rdb.BLPop(ctx, 50*time.Millisecond, fmt.Sprintf("%s-none-%d", name, i)).Err()
					_ = c.Set(ctx, fmt.Sprint("k", i), i, time.Minute) // a pipeline
				}()
			}
			wg.Wait()
			close(stop)
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			// The near layer's Pub/Sub connection is the one more allowed.
			if got := int(peak.Load()); got > tc.want+1 {
				t.Errorf("the burst opened %d connections, want at most %d (+1 Pub/Sub)", got, tc.want)
			} else if got < 2 {
				t.Errorf("saw %d connections: the monitor missed the burst", got)
			}
		})
	}
}

// A refused Redis costs one dial per command, not go-redis's default five
// (100 ms apart, ~820 ms per request while Redis is down, STACK item 14).
func TestRedisRefusedFailsFast(t *testing.T) {
	t.Parallel()
	c := newCache(t, cache.Config{RedisURL: "redis://127.0.0.1:1/0", Prefix: randomPrefix(t), Logger: quietLogger()})
	start := time.Now()
	if err := c.Ping(context.Background()); err == nil {
		t.Fatal("Ping of a refused Redis succeeded")
	}
	// Default retries sleep at least 4 x 100 ms; one refused dial (and one
	// command retry 8-32 ms later) is a few milliseconds.
	if d := time.Since(start); d > 300*time.Millisecond {
		t.Errorf("Ping of a refused Redis took %s, want well under 300 ms (no dial retries)", d)
	}
}

// Pooled connections are closed before the server's 300 s idle cut-off.
func TestConnMaxIdleTimeDefault(t *testing.T) {
	if cache.DefaultConnMaxIdleTime <= 0 || cache.DefaultConnMaxIdleTime >= 300*time.Second {
		t.Fatalf("DefaultConnMaxIdleTime = %s, want below Heroku Redis's 300 s", cache.DefaultConnMaxIdleTime)
	}
	c := newCache(t, cache.Config{RedisURL: "redis://127.0.0.1:1/0", Logger: quietLogger()})
	if got := c.Redis().Options().ConnMaxIdleTime; got != cache.DefaultConnMaxIdleTime {
		t.Errorf("client ConnMaxIdleTime = %s, want %s", got, cache.DefaultConnMaxIdleTime)
	}
	c = newCache(t, cache.Config{RedisURL: "redis://127.0.0.1:1/0", ConnMaxIdleTime: time.Minute, MaxConns: 7, Logger: quietLogger()})
	if o := c.Redis().Options(); o.ConnMaxIdleTime != time.Minute || o.PoolSize != 7 || o.MaxActiveConns != 7 {
		t.Errorf("client options = idle %s, pool %d, max active %d; want 1m, 7, 7", o.ConnMaxIdleTime, o.PoolSize, o.MaxActiveConns)
	}
}

// A malformed REDIS_URL is an error that does not show its password.
func TestNewMalformedURLHidesPassword(t *testing.T) {
	_, err := cache.New(cache.Config{RedisURL: "redis://u:hunter2@host:notaport/0"})
	if err == nil {
		t.Fatal("no error for a malformed URL")
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error %q shows the password", err)
	}
}
