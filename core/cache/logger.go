package cache

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/redis/go-redis/v9"
)

// go-redis prints its own pool errors ("redis: ... pool.go:770: failed to
// dial") with the standard logger, beside the cache's one rate-limited
// warning that already says Redis is down and the cache falls back: they go
// to slog at debug level instead.
func init() { redis.SetLogger(debugLogger{}) }

type debugLogger struct{}

func (debugLogger) Printf(ctx context.Context, format string, v ...any) {
	if slog.Default().Enabled(ctx, slog.LevelDebug) {
		slog.Default().DebugContext(ctx, fmt.Sprintf("redis: "+format, v...))
	}
}
