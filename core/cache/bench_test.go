package cache_test

import (
	"context"
	"testing"
	"time"

	"manouche/core/cache"
	"manouche/core/testenv"
)

// BenchmarkOnceHit measures a cache hit of a small struct (a token lookup):
// in process, and over Redis when TEST_REDIS_URL is set.
func BenchmarkOnceHit(b *testing.B) {
	cfgs := []struct {
		name string
		cfg  cache.Config
	}{{"inprocess", cache.Config{Logger: quietLogger()}}}
	if u := testenv.Optional(testenv.RedisURL); u != "" {
		cfgs = append(cfgs, struct {
			name string
			cfg  cache.Config
		}{"redis", cache.Config{RedisURL: u, Prefix: randomPrefix(b), Logger: quietLogger()}})
	}
	for _, tc := range cfgs {
		b.Run(tc.name, func(b *testing.B) {
			c := newCache(b, tc.cfg)
			ctx := context.Background()
			load := func(context.Context) (any, error) {
				return user{ID: "8b2c1f0e-6c55-4a0e-9d3e-1f1f2f3f4f5f", Email: "someone@example.com", Staff: true}, nil
			}
			var u user
			if err := c.Once(ctx, "token:bench", &u, time.Hour, load); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if err := c.Once(ctx, "token:bench", &u, time.Hour, load); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			_ = c.Delete(ctx, "token:bench")
		})
	}
}

// BenchmarkOnceRedisDown measures a request's cost while Redis refuses
// connections: the back-off makes Once call the loader without touching Redis.
func BenchmarkOnceRedisDown(b *testing.B) {
	c := newCache(b, cache.Config{RedisURL: "redis://127.0.0.1:1/0", Logger: quietLogger()})
	ctx := context.Background()
	load := func(context.Context) (any, error) { return user{ID: "x"}, nil }
	var u user
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Once(ctx, "k", &u, time.Hour, load); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOnceNearHit measures a near-layer hit of the same struct with
// Redis (no round trip; compare with BenchmarkOnceHit/redis).
func BenchmarkOnceNearHit(b *testing.B) {
	url := testenv.Optional(testenv.RedisURL)
	if url == "" {
		b.Skip("TEST_REDIS_URL not set")
	}
	c := newCache(b, cache.Config{RedisURL: url, Prefix: randomPrefix(b), Logger: quietLogger()})
	ctx := context.Background()
	load := func(context.Context) (any, error) {
		return user{ID: "8b2c1f0e-6c55-4a0e-9d3e-1f1f2f3f4f5f", Email: "someone@example.com", Staff: true}, nil
	}
	var u user
	deadline := time.Now().Add(5 * time.Second)
	for !c.NearReady() && time.Now().Before(deadline) {
		if err := c.OnceNear(ctx, "token:bench", &u, time.Hour, load); err != nil {
			b.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if !c.NearReady() {
		b.Fatal("near layer not ready")
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := c.OnceNear(ctx, "token:bench", &u, time.Hour, load); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	_ = c.Delete(ctx, "token:bench")
}
