package cache_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/limiter"

	"manouche/core/cache"
)

func TestFiberStorage(t *testing.T) {
	t.Parallel()
	for name, cfg := range backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newCache(t, cfg)
			s := cache.FiberStorage(c, "limit:")
			other := cache.FiberStorage(c, "other:")
			if v, err := s.Get("ip"); v != nil || err != nil {
				t.Fatalf("Get of a missing key: %q %v, want nil, nil", v, err)
			}
			if err := s.Set("ip", []byte("1"), time.Minute); err != nil {
				t.Fatal(err)
			}
			if err := other.Set("ip", []byte("2"), 0); err != nil {
				t.Fatal(err)
			}
			if v, err := s.Get("ip"); string(v) != "1" || err != nil {
				t.Fatalf("Get: %q %v", v, err)
			}
			if err := s.Set("short", []byte("x"), 100*time.Millisecond); err != nil {
				t.Fatal(err)
			}
			if err := s.Set("", []byte("x"), 0); err != nil {
				t.Fatalf("empty key must be ignored: %v", err)
			}
			time.Sleep(150 * time.Millisecond)
			if v, _ := s.Get("short"); v != nil {
				t.Fatalf("expired key still there: %q", v)
			}
			if err := s.Delete("ip"); err != nil {
				t.Fatal(err)
			}
			if v, _ := s.Get("ip"); v != nil {
				t.Fatal("Delete did not delete")
			}
			_ = s.Set("a", []byte("1"), time.Minute)
			if err := s.Reset(); err != nil {
				t.Fatal(err)
			}
			if v, _ := s.Get("a"); v != nil {
				t.Fatal("Reset left a key")
			}
			if v, _ := other.Get("ip"); string(v) != "2" {
				t.Fatalf("Reset of one storage touched another prefix: %q", v)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			_ = other.Reset()
		})
	}
}

func limitedApp(store fiber.Storage) *fiber.App {
	app := fiber.New()
	app.Use(limiter.New(limiter.Config{Max: 2, Expiration: time.Minute, Storage: store}))
	app.Get("/", func(c *fiber.Ctx) error { return c.SendString("ok") })
	return app
}

func statuses(t *testing.T, app *fiber.App, n int) []int {
	t.Helper()
	var out []int
	for range n {
		resp, err := app.Test(httptest.NewRequest("GET", "/", nil), 5000)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, resp.StatusCode)
		_ = resp.Body.Close()
	}
	return out
}

func TestFiberLimiterUsesStorage(t *testing.T) {
	t.Parallel()
	for name, cfg := range backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newCache(t, cfg)
			store := cache.FiberStorage(c, "limit:")
			t.Cleanup(func() { _ = store.Reset() })
			got := statuses(t, limitedApp(store), 3)
			if got[0] != 200 || got[1] != 200 || got[2] != 429 {
				t.Fatalf("statuses %v, want [200 200 429]", got)
			}
			if cfg.RedisURL != "" {
				// A second process sharing Redis shares the bucket.
				c2 := newCache(t, cfg)
				if got := statuses(t, limitedApp(cache.FiberStorage(c2, "limit:")), 1); got[0] != 429 {
					t.Fatalf("second process: %v, want [429]", got)
				}
			}
		})
	}
}

// With Redis down the limiter neither fails nor fails open: it counts in
// this process's memory.
func TestFiberLimiterCountsLocallyWhenRedisIsDown(t *testing.T) {
	t.Parallel()
	c := newCache(t, cache.Config{RedisURL: "redis://127.0.0.1:1/0", Logger: quietLogger()})
	store := cache.FiberStorage(c, "limit:")
	if err := store.Set("ip", []byte("1"), time.Minute); err != nil {
		t.Fatalf("Set with Redis down: %v", err)
	}
	if v, err := store.Get("ip"); string(v) != "1" || err != nil {
		t.Fatalf("Get with Redis down: %q %v", v, err)
	}
	_ = store.Reset()
	got := statuses(t, limitedApp(store), 3)
	if got[0] != 200 || got[1] != 200 || got[2] != 429 {
		t.Fatalf("statuses with Redis down %v, want [200 200 429]", got)
	}
	if err := c.Ping(context.Background()); err == nil {
		t.Fatal("Redis should be down in this test")
	}
}
