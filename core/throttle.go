package core

import (
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/limiter"

	"manouche/core/api"
	"manouche/core/cache"
	"manouche/settings"
)

// Throttle limits requests to rate per client IP (see ClientIP) in a bucket
// named scope, counting every request, failed or not. Counters live in Redis
// when REDIS_URL is set, so every process shares them; in memory otherwise.
// When the limit is reached it answers 429 Throttled with Retry-After. skip,
// when not nil, exempts requests from the bucket.
func (p *Project) Throttle(scope string, rate settings.Rate, skip func(*fiber.Ctx) bool) fiber.Handler {
	if rate.Count <= 0 {
		return func(c *fiber.Ctx) error { return c.Next() }
	}
	return limiter.New(limiter.Config{
		Next:       skip,
		Max:        rate.Count,
		Expiration: rate.Period,
		KeyGenerator: func(c *fiber.Ctx) string {
			return scope + ":" + p.ClientIP(c)
		},
		LimitReached: func(c *fiber.Ctx) error {
			wait := time.Second
			if s, err := strconv.Atoi(c.GetRespHeader(fiber.HeaderRetryAfter)); err == nil && s > 0 {
				wait = time.Duration(s) * time.Second
			}
			return api.Throttled(wait)
		},
		Storage: cache.FiberStorage(p.Cache, "throttle:"),
	})
}
