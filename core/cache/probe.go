package cache

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"manouche/core/checks"
)

// Probe implements checks.Prober for `check --deploy`: on one connection of
// its own, with the cache's options, it says PING to Redis and reports
// whether TLS is in use. An in-process cache has nothing to probe. A Redis
// that does not answer is an ERROR even though the web process runs without
// it (it falls back to the loaders): rate limits and revoked tokens are then
// per process.
func (c *Cache) Probe(ctx context.Context) []checks.Issue {
	if c.rdb == nil {
		return nil
	}
	opt := *c.rdb.Options()
	where := fmt.Sprintf("Redis at %s (REDIS_URL)", opt.Addr)
	var mu sync.Mutex
	tlsVersion := ""
	var handshakeErr error
	handshakeTimeout := 5 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		handshakeTimeout = time.Until(dl) * 4 / 5
	}
	tlsConfig := opt.TLSConfig
	opt.TLSConfig = nil
	opt.Dialer = func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		conn, err := d.DialContext(ctx, network, addr)
		if err != nil || tlsConfig == nil {
			return conn, err
		}
		tc := tls.Client(conn, tlsConfig)
		// Before the probe's own deadline, so that a port that does not
		// speak TLS is told from one that does not answer.
		hctx, cancel := context.WithTimeout(ctx, handshakeTimeout)
		defer cancel()
		if err := tc.HandshakeContext(hctx); err != nil {
			_ = conn.Close()
			err = fmt.Errorf("TLS handshake: %w", err)
			mu.Lock()
			handshakeErr = err
			mu.Unlock()
			return nil, err
		}
		mu.Lock()
		tlsVersion = tls.VersionName(tc.ConnectionState().Version)
		mu.Unlock()
		return tc, nil
	}
	opt.PoolSize, opt.MaxActiveConns, opt.MinIdleConns = 1, 1, 0
	opt.MaxRetries, opt.DialerRetries = -1, 1
	if dl, ok := ctx.Deadline(); ok {
		// The probe waits as long as its caller allows, not the cache's 250 ms.
		timeout := max(time.Until(dl), 0)
		opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout, opt.PoolTimeout = timeout, timeout, timeout, timeout
	}
	client := redis.NewClient(&opt)
	defer client.Close()
	if err := client.Ping(ctx).Err(); err != nil {
		mu.Lock()
		if handshakeErr != nil {
			err = handshakeErr // go-redis may report only its own deadline
		}
		mu.Unlock()
		return []checks.Issue{checks.Errorf("cache.E001",
			"%s does not answer: %s The web process still runs (the cache falls back to the database), but rate limits and revoked tokens then hold in one process only.",
			where, explain(err))}
	}
	mu.Lock()
	defer mu.Unlock()
	if tlsVersion != "" {
		return []checks.Issue{checks.Infof("cache.I001", "%s answers; TLS in use (%s).", where, tlsVersion)}
	}
	return []checks.Issue{checks.Infof("cache.I001", "%s answers; TLS not in use.", where)}
}

// explain turns a Redis error into words a user can act on.
func explain(err error) string {
	msg := err.Error()
	var dnsErr *net.DNSError
	var opErr *net.OpError
	switch {
	case strings.Contains(msg, "TLS handshake"), strings.Contains(msg, "tls:"):
		return msg + ". rediss:// needs a Redis that speaks TLS on that port, redis:// one that does not: check REDIS_URL."
	case strings.HasPrefix(msg, "WRONGPASS"), strings.HasPrefix(msg, "NOAUTH"), strings.Contains(msg, "invalid password"):
		return msg + ". Check the password in REDIS_URL (redis://:PASSWORD@HOST:PORT)."
	case errors.As(err, &dnsErr):
		return fmt.Sprintf("the host %q is unknown. Check the host in REDIS_URL.", dnsErr.Name)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, redis.ErrPoolTimeout):
		return "no answer in time. Is Redis up, and reachable from here? Check the host and port in REDIS_URL."
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return fmt.Sprintf("%v. Is Redis up? Check the host and port in REDIS_URL.", opErr.Err)
	}
	return msg + "."
}

var _ checks.Prober = (*Cache)(nil)
