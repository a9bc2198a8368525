package cache

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/redis/go-redis/v9"
)

// FiberStorage returns a fiber.Storage for Fiber middleware that takes one,
// such as the rate limiter (limiter.Config.Storage): over the Cache's Redis
// client when it has one, so counters are shared by every process, or in
// memory (one process) when it does not. Keys are stored under the Cache's
// prefix followed by prefix (e.g. "throttle:").
//
// While Redis is unavailable the Redis-backed storage does not fail: Get,
// Set and Delete go to an in-memory storage of this process instead (the
// Cache's back-off means no request waits on Redis meanwhile). A rate limit
// therefore keeps being enforced during an outage, per process (N web
// processes let through up to N times the limit), rather than failing open
// or turning requests into 500s; when Redis is back, counting resumes in
// Redis. (Fiber v2's limiter would fail open on storage errors: it ignores
// them and treats each request as the first of a fresh window.) Fiber's
// limiter reads and writes its counter in two steps, so concurrent requests
// on several processes can slip a few requests past the limit.
//
// Close does nothing for the Redis-backed storage: the connection belongs to
// the Cache. Reset deletes only this storage's keys (SCAN + DEL on its
// prefix), never the whole database, and clears the in-memory fallback.
func FiberStorage(c *Cache, prefix string) fiber.Storage {
	if c == nil || c.rdb == nil {
		return &memoryStorage{items: map[string]memoryItem{}}
	}
	return &redisStorage{c: c, prefix: c.prefix + prefix, local: &memoryStorage{items: map[string]memoryItem{}}}
}

// redisStorage is a fiber.Storage over the Cache's Redis client, with an
// in-memory fallback for when Redis is unavailable.
type redisStorage struct {
	c      *Cache
	prefix string
	local  *memoryStorage
}

func (s *redisStorage) Get(key string) ([]byte, error) {
	if key == "" {
		return nil, nil
	}
	ctx := context.Background()
	if !s.c.usable() {
		return s.local.Get(key)
	}
	b, err := s.c.rdb.Get(ctx, s.prefix+key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		s.c.failed(ctx, "storage get", err)
		return s.local.Get(key)
	}
	return b, nil
}

func (s *redisStorage) Set(key string, val []byte, exp time.Duration) error {
	if key == "" || len(val) == 0 {
		return nil
	}
	ctx := context.Background()
	if !s.c.usable() {
		return s.local.Set(key, val, exp)
	}
	if exp < 0 {
		exp = 0
	}
	if err := s.c.rdb.Set(ctx, s.prefix+key, val, exp).Err(); err != nil {
		s.c.failed(ctx, "storage set", err)
		return s.local.Set(key, val, exp)
	}
	return nil
}

func (s *redisStorage) Delete(key string) error {
	if key == "" {
		return nil
	}
	ctx := context.Background()
	_ = s.local.Delete(key)
	if !s.c.usable() {
		return fmt.Errorf("cache: storage delete: %w", ErrUnavailable)
	}
	if err := s.c.rdb.Del(ctx, s.prefix+key).Err(); err != nil {
		s.c.failed(ctx, "storage delete", err)
		return fmt.Errorf("cache: storage delete: %w: %w", ErrUnavailable, err)
	}
	return nil
}

func (s *redisStorage) Reset() error {
	ctx := context.Background()
	_ = s.local.Reset()
	if s.prefix == "" {
		return errors.New("cache: storage reset: refusing to delete every key (empty prefix)")
	}
	iter := s.c.rdb.Scan(ctx, 0, escapeGlob(s.prefix)+"*", 500).Iterator()
	var batch []string
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) == 500 {
			if err := s.c.rdb.Del(ctx, batch...).Err(); err != nil {
				return fmt.Errorf("cache: storage reset: %w", err)
			}
			batch = batch[:0]
		}
	}
	if err := iter.Err(); err != nil {
		return fmt.Errorf("cache: storage reset: %w", err)
	}
	if len(batch) > 0 {
		if err := s.c.rdb.Del(ctx, batch...).Err(); err != nil {
			return fmt.Errorf("cache: storage reset: %w", err)
		}
	}
	return nil
}

func (s *redisStorage) Close() error { return nil }

// escapeGlob escapes Redis glob metacharacters so a prefix matches literally.
func escapeGlob(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*', '?', '[', ']', '\\':
			out = append(out, '\\')
		}
		out = append(out, s[i])
	}
	return string(out)
}

// memoryStorage is an in-process fiber.Storage with per-key expiry.
type memoryStorage struct {
	mu    sync.Mutex
	items map[string]memoryItem
	sets  int
}

type memoryItem struct {
	val []byte
	exp time.Time // zero: no expiry
}

func (m *memoryStorage) Get(key string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	it, ok := m.items[key]
	if !ok {
		return nil, nil
	}
	if !it.exp.IsZero() && !time.Now().Before(it.exp) {
		delete(m.items, key)
		return nil, nil
	}
	return append([]byte(nil), it.val...), nil
}

func (m *memoryStorage) Set(key string, val []byte, exp time.Duration) error {
	if key == "" || len(val) == 0 {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	it := memoryItem{val: append([]byte(nil), val...)}
	if exp > 0 {
		it.exp = time.Now().Add(exp)
	}
	m.items[key] = it
	m.sets++
	if m.sets%1024 == 0 { // sweep expired entries now and then
		now := time.Now()
		for k, v := range m.items {
			if !v.exp.IsZero() && !now.Before(v.exp) {
				delete(m.items, k)
			}
		}
	}
	return nil
}

func (m *memoryStorage) Delete(key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.items, key)
	return nil
}

func (m *memoryStorage) Reset() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.items = map[string]memoryItem{}
	return nil
}

func (m *memoryStorage) Close() error { return nil }

// Interface guards.
var (
	_ fiber.Storage = (*redisStorage)(nil)
	_ fiber.Storage = (*memoryStorage)(nil)
)
