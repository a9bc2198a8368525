// Package cache is the framework's cache: Redis when a Redis URL is
// configured, an in-process TinyLFU cache when it is not, behind one API
// (Get, Set, Delete, the get-or-load Once and its variant with a
// process-local layer, OnceNear) built on go-redis/cache.
//
// # The flow
//
// Apps read through the cache and write to the database, then update (Set) or
// invalidate (Delete) the cache:
//
//	var u User
//	err := c.Once(ctx, "user:"+id, &u, 5*time.Minute, func(ctx context.Context) (any, error) {
//		return loadUser(ctx, db, id) // return an error wrapping cache.ErrNotFound for a missing row
//	})
//	...
//	_, err = db.NewUpdate().Model(&u).WherePK().Exec(ctx)
//	err = c.Delete(ctx, "user:"+id)
//
// # Redis is the cache; the near layer is opt-in
//
// With Redis configured, Get, Set, Delete and Once go to Redis on every call;
// there is no in-process copy in front of it, so a Delete takes effect on
// every process at once. A local copy that is not invalidated on the other
// processes would keep a revoked token working there until it expired.
//
// OnceNear is the exception, for hot keys read far more often than written
// (the token lookup of every authenticated request): it keeps a bounded
// process-local copy (Config.NearSize entries, each at most Config.NearTTL,
// default 30 s, and never past its Redis TTL) and keeps it coherent with
// invalidation messages on a Redis pub/sub channel named after Prefix, the
// broadcast pattern of Redis's server-assisted client-side caching:
//
//   - Delete and Set (and deletes replayed after an outage) drop the keys
//     from this process's layer first, write Redis and PUBLISH the key names
//     in one round trip, and then wait until every process subscribed to the
//     channel (PUBLISH's count) has dropped them and acknowledged it, for at
//     most Config.NearAckTimeout (default 100 ms). So when Delete returns,
//     no process that acknowledged serves the old value from its layer.
//   - A process uses its layer only while its subscription is known healthy:
//     it pings Redis every 100 ms on the subscription's connection and serves
//     local hits only when a ping sent less than 500 ms earlier has been
//     answered. Redis answers in order, so every invalidation published before
//     that ping was sent has been applied. When the subscription fails or goes
//     silent, and while Redis is unavailable, OnceNear is exactly Once; the
//     layer is cleared when the subscription is lost and again when it is
//     made, so nothing missed meanwhile is served.
//   - A value read from Redis concurrently with an invalidation is not stored
//     locally after it (a generation counter), and only values read back from
//     Redis enter the layer, never values loaded while a tombstone stands.
//
// The consistency window: a process that did not acknowledge in time (paused,
// overloaded or cut off while Redis still counts its subscription; Delete logs
// a warning) may serve its local copy for at most 500 ms after Delete
// returned. Changes made to Redis other than through this package (FLUSHDB, a
// key edited by hand) are not announced: local copies of such keys live until
// NearTTL. Processes must share Prefix to see each other's invalidations, as
// they must to share keys. In process (no Redis) OnceNear is Once: the
// process's cache is already the only one.
//
// # Deletes that race with loads
//
// A read-through cache has a classic race: request A misses, loads the row,
// request B updates the row and deletes the key, then A stores the row it read
// before the update, and the stale value lives until its TTL. For revoked
// tokens that would mean a token that keeps working. This package closes the
// race: Delete does not remove a key but overwrites it with a short-lived
// tombstone (Config.DeleteGuard, default 5 s), and Once stores what it loaded
// only when the key is absent (SET NX in Redis, a locked check in process).
// While the tombstone lives, reads of that key go to the loader and are not
// cached. Set, an explicit write of a fresh value, overwrites a tombstone.
//
// # When Redis fails
//
// Redis is a cache, never the source of truth, so its failure must not fail a
// request. The client uses short timeouts (Config.Timeout, default 250 ms, for
// dialing, reading and writing) and one retry, so an unreachable Redis costs a
// request at most about two timeouts (one dial attempt per try, one retry). After a Redis error the cache stops
// using Redis for Config.RetryInterval (default 1 s) and logs at most one
// warning per Config.LogInterval: during that time Once calls the loader
// directly (the request is answered from the database), Get reports a miss
// together with an error wrapping ErrUnavailable, and Set and Delete return an
// error wrapping ErrUnavailable at once.
//
// A Delete or Set that fails because Redis is unreachable is remembered (up
// to 10,000 keys) and its key invalidated as soon as Redis answers again, before anything
// else is read from it, so a value revoked during an outage (say Redis was
// partitioned, not restarted) does not come back. Another process may still
// read such a key between Redis's return and this process's next use of it;
// keep the TTL of authorisation data short (minutes) to bound that window.
//
// New does not fail when Redis is unreachable (the process starts and falls
// back to the database); it fails on a malformed URL. Use Ping for readiness.
//
// # Model caches
//
// Model (model.go) caches query results (a page of rows and its count, a
// row) under keys derived from the query and from the generations of the
// tables it reads; Touch, after a write commits, gives a table a new
// generation on every process through Set and the near layer's broadcast.
// The generated resources of core/rest use it; see Model for why a read
// racing a write cannot leave a stale entry behind.
//
// # Values
//
// Values are encoded with go-redis/cache's codec: []byte and string as they
// are, anything else as MessagePack (compressed with S2 above 64 bytes), so
// struct fields need to be exported; msgpack tags are honoured. Decoding into
// dst follows MessagePack's rules.
package cache

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gocache "github.com/go-redis/cache/v9"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/singleflight"

	"manouche/core/outage"
)

// Defaults applied by New for zero Config fields.
const (
	DefaultLocalSize     = 10000
	DefaultLocalTTL      = time.Hour
	DefaultTTL           = time.Hour
	DefaultTimeout       = 250 * time.Millisecond
	DefaultRetryInterval = time.Second
	DefaultLogInterval   = 10 * time.Second
	DefaultDeleteGuard   = 5 * time.Second
	// DefaultMaxConns caps the Redis connections of the command pool
	// (REDIS_MAX_CONNS). With the near layer's one Pub/Sub connection, a
	// process holds at most 3: two web dynos, a worker, the release phase
	// and a `heroku run` are 5 x 3 = 15, inside the 20 connections of the
	// smallest Heroku Redis plan.
	DefaultMaxConns = 2
	// DefaultConnMaxIdleTime closes a pooled connection idle this long,
	// before Heroku Redis closes it itself (after 300 s), so the pool does
	// not hand out a connection the server has dropped.
	DefaultConnMaxIdleTime = 4 * time.Minute
	maxPendingDeletes      = 10000
)

var (
	// ErrNotFound is what a loader passed to Once returns (wrapped or not) when
	// the thing it loads does not exist. Once returns it to the caller, and
	// caches that answer for Config.NegativeTTL when that is positive.
	ErrNotFound = errors.New("cache: not found")

	// ErrUnavailable is wrapped by the errors returned while Redis is
	// unreachable. It says so to api.IsUnavailable (an Unavailable method):
	// a handler that returns it answers 503, not 500.
	ErrUnavailable error = outage.Error("cache: redis unavailable")
)

// Config configures a Cache. Only RedisURL decides the mode; the zero value
// is an in-process cache with the defaults above.
type Config struct {
	// RedisURL is a redis:// or rediss:// URL (the value of REDIS_URL or
	// REDISTOGO_URL). Empty means an in-process cache.
	RedisURL string
	// VerifyTLS turns on certificate verification for rediss:// URLs. It is
	// off by default because Heroku Redis serves self-signed certificates and
	// Heroku's documentation tells clients to skip verification; the link is
	// still encrypted. Turn it on for a Redis with a certificate from a CA.
	VerifyTLS bool
	// Prefix is prepended to every key, so several apps or test runs can
	// share one Redis database (e.g. "manouche:").
	Prefix string
	// LocalSize is the in-process cache's capacity in entries (in-process
	// mode only; default 10,000). TinyLFU evicts the least useful entries.
	LocalSize int
	// LocalTTL bounds the life of any in-process entry (in-process mode only;
	// default 1 h). An entry lives min(its TTL, LocalTTL).
	LocalTTL time.Duration
	// NegativeTTL is how long Once remembers that its loader answered
	// ErrNotFound. Zero (the default) does not cache "not found" answers.
	// Code that creates the missing thing must then Set or Delete its key.
	NegativeTTL time.Duration
	// DeleteGuard is how long a deleted key refuses values loaded by Once
	// (see the package documentation; default 5 s).
	DeleteGuard time.Duration
	// MaxConns caps the connections of the Redis command pool, pipelines
	// included (default DefaultMaxConns); the near layer's Pub/Sub
	// connection is one more. A command waits up to Timeout for a free one.
	MaxConns int
	// ConnMaxIdleTime closes a pooled connection idle this long (default
	// DefaultConnMaxIdleTime; keep it below the server's idle timeout).
	ConnMaxIdleTime time.Duration
	// Timeout is the dial, read and write timeout of Redis commands
	// (default 250 ms).
	Timeout time.Duration
	// RetryInterval is how long the cache bypasses Redis after a Redis error
	// (default 1 s).
	RetryInterval time.Duration
	// LogInterval is the least time between two warnings about Redis errors
	// (default 10 s).
	LogInterval time.Duration
	// Logger receives warnings about Redis errors (default slog.Default()).
	Logger *slog.Logger
	// NearSize is the capacity in entries of the near layer used by
	// OnceNear with Redis (default DefaultNearSize).
	NearSize int
	// NearTTL bounds the life of a near entry (default DefaultNearTTL).
	NearTTL time.Duration
	// NearAckTimeout bounds how long Delete and Set wait for every process
	// to confirm it dropped the keys from its near layer (default
	// DefaultNearAckTimeout; keep it below Timeout).
	NearAckTimeout time.Duration
	// TracerProvider, when set, records each Get, Once and OnceNear as a
	// "cache hit" or "cache miss" event (with cache.operation) on the
	// caller's span.
	TracerProvider trace.TracerProvider
	// MeterProvider, when set, counts lookups by result (hit, miss) in
	// manouche.cache.lookups. Neither costs anything when nil.
	MeterProvider metric.MeterProvider
}

// Cache is a cache shared by the whole process. It is safe for concurrent use.
type Cache struct {
	cfg    Config
	rdb    *redis.Client
	cc     *gocache.Cache
	near   *nearLayer // nil in process
	log    *slog.Logger
	prefix string
	group  singleflight.Group
	obs    *observer // nil unless Config.TracerProvider or MeterProvider is set

	localMu sync.Mutex       // serialises in-process writes (set-if-absent)
	lfu     *gocache.TinyLFU // the in-process store (nil with Redis)

	downUntil atomic.Int64 // Unix ns before which Redis is bypassed

	mu         sync.Mutex // guards the fields below
	lastLog    time.Time
	suppressed int
	pending    map[string]struct{} // deletes to replay once Redis is back

	models sync.Map    // name -> *Model
	gens   generations // the tables' generations, in process
}

// New returns a Cache for cfg. It fails only on a malformed Redis URL: an
// unreachable Redis is reported by Ping and handled by falling back to the
// loaders.
func New(cfg Config) (*Cache, error) {
	if cfg.LocalSize <= 0 {
		cfg.LocalSize = DefaultLocalSize
	}
	if cfg.LocalTTL <= 0 {
		cfg.LocalTTL = DefaultLocalTTL
	}
	if cfg.DeleteGuard <= 0 {
		cfg.DeleteGuard = DefaultDeleteGuard
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.RetryInterval <= 0 {
		cfg.RetryInterval = DefaultRetryInterval
	}
	if cfg.LogInterval <= 0 {
		cfg.LogInterval = DefaultLogInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.NearSize <= 0 {
		cfg.NearSize = DefaultNearSize
	}
	if cfg.NearTTL <= 0 {
		cfg.NearTTL = DefaultNearTTL
	}
	if cfg.NearAckTimeout <= 0 {
		cfg.NearAckTimeout = DefaultNearAckTimeout
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	if cfg.ConnMaxIdleTime <= 0 {
		cfg.ConnMaxIdleTime = DefaultConnMaxIdleTime
	}
	c := &Cache{cfg: cfg, log: cfg.Logger, prefix: cfg.Prefix, pending: map[string]struct{}{}}
	if cfg.TracerProvider != nil || cfg.MeterProvider != nil {
		obs, err := newObserver(cfg.TracerProvider, cfg.MeterProvider, cfg.RedisURL != "")
		if err != nil {
			return nil, err
		}
		c.obs = obs
	}
	if strings.TrimSpace(cfg.RedisURL) == "" {
		c.lfu = gocache.NewTinyLFU(cfg.LocalSize, cfg.LocalTTL)
		c.cc = gocache.New(&gocache.Options{LocalCache: c.lfu})
		return c, nil
	}
	opt, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("cache: parse redis URL: %s", strings.ReplaceAll(err.Error(), cfg.RedisURL, redactURL(cfg.RedisURL)))
	}
	if opt.TLSConfig != nil && !cfg.VerifyTLS {
		// Heroku Redis (rediss://) uses self-signed certificates.
		opt.TLSConfig = &tls.Config{ServerName: opt.TLSConfig.ServerName, InsecureSkipVerify: true, MinVersion: tls.VersionTLS12} //nolint:gosec // documented on Config.VerifyTLS
	}
	opt.DialTimeout = cfg.Timeout
	opt.ReadTimeout = cfg.Timeout
	opt.WriteTimeout = cfg.Timeout
	opt.PoolTimeout = cfg.Timeout
	opt.DialerRetries = 1 // the pool's own dial retries (default 5, 100 ms apart) would hold a request ~0.5 s
	opt.MaxRetries = 1    // one retry heals a pooled connection broken by a Redis restart
	opt.MinRetryBackoff = 8 * time.Millisecond
	opt.MaxRetryBackoff = 32 * time.Millisecond
	opt.ContextTimeoutEnabled = true
	// A hard cap (go-redis's PoolSize alone is 10 x GOMAXPROCS and only a
	// target), with pipelines on the same pool (its dedicated pipeline pool
	// would add 10 more), so a process never holds more than MaxConns + the
	// Pub/Sub connection against the plan's limit.
	opt.PoolSize = cfg.MaxConns
	opt.MaxActiveConns = cfg.MaxConns
	opt.PipelinePoolSize = -1
	opt.MinIdleConns = 0
	opt.ConnMaxIdleTime = cfg.ConnMaxIdleTime
	opt.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	c.rdb = redis.NewClient(opt)
	c.cc = gocache.New(&gocache.Options{Redis: c.rdb})
	c.near = newNearLayer(c)
	return c, nil
}

// Redis returns the Redis client, for other users of the same server (the
// rate limiter), or nil for an in-process cache.
func (c *Cache) Redis() *redis.Client { return c.rdb }

// Ping reports whether the cache can serve: always nil in process, the result
// of a Redis PING otherwise (ignoring the back-off after earlier errors).
func (c *Cache) Ping(ctx context.Context) error {
	if c.rdb == nil {
		return nil
	}
	if err := c.rdb.Ping(ctx).Err(); err != nil {
		c.failed(ctx, "ping", err)
		return fmt.Errorf("cache: ping redis: %w", err)
	}
	c.downUntil.Store(0)
	return nil
}

// Close releases the Redis connections. The Cache must not be used after.
func (c *Cache) Close() error {
	if c.rdb == nil {
		return nil
	}
	c.near.stop()
	if err := c.rdb.Close(); err != nil {
		return fmt.Errorf("cache: close: %w", err)
	}
	return nil
}

// Get decodes the value cached under key into dst, a non-nil pointer. It
// reports found=false on a miss, a deleted key, a cached "not found" and when
// Redis is unavailable (then err wraps ErrUnavailable).
func (c *Cache) Get(ctx context.Context, key string, dst any) (found bool, err error) {
	if err := checkDst(dst); err != nil {
		return false, err
	}
	if c.obs != nil {
		defer func() { c.obs.record(ctx, opGet, found, err) }()
	}
	e, err := c.read(ctx, key)
	if err != nil || e.kind != kindValue {
		return false, err
	}
	if err := c.cc.Unmarshal(e.payload, dst); err != nil {
		return false, fmt.Errorf("cache: get %q: decode into %T: %w", key, dst, err)
	}
	return true, nil
}

// Set caches v under key for ttl (DefaultTTL when ttl <= 0), replacing any
// value or tombstone, and with Redis drops key from every process's near
// layer like Delete. When Redis is unavailable Set fails (wrapping
// ErrUnavailable) and the key is invalidated as soon as Redis is back, so
// the value it replaced cannot be read later.
func (c *Cache) Set(ctx context.Context, key string, v any, ttl time.Duration) error {
	b, err := c.encode(kindValue, v, ttl)
	if err != nil {
		return fmt.Errorf("cache: set %q: %w", key, err)
	}
	if err := c.write(ctx, key, b, ttl, false); err != nil {
		if c.rdb != nil {
			// The old value may still be in Redis (a partition): make sure
			// it is replaced by a tombstone once Redis is reachable.
			c.remember([]string{key})
		}
		return fmt.Errorf("cache: set %q: %w", key, err)
	}
	if c.near != nil {
		c.announce(ctx, []string{key})
	}
	return nil
}

// Delete invalidates keys: they read as missing on every process at once,
// and for Config.DeleteGuard Once does not cache what it loads for them.
// With Redis it also drops them from every process's near layer and waits
// for the acknowledgements (see the package documentation).
func (c *Cache) Delete(ctx context.Context, keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	if c.rdb == nil {
		for _, k := range keys {
			b, _ := c.encode(kindDeleted, nil, c.cfg.DeleteGuard)
			_ = c.write(ctx, k, b, c.cfg.DeleteGuard, false)
		}
		return nil
	}
	c.near.evict(keys) // this process first, whatever happens to Redis
	if !c.usable() {
		c.remember(keys)
		return fmt.Errorf("cache: delete %q: %w", keys, ErrUnavailable)
	}
	if err := c.flushPending(ctx); err != nil {
		c.remember(keys)
		return fmt.Errorf("cache: delete %q: %w", keys, err)
	}
	if err := c.tombstones(ctx, keys); err != nil {
		c.remember(keys)
		return fmt.Errorf("cache: delete %q: %w", keys, err)
	}
	return nil
}

// Once decodes the value cached under key into dst; on a miss it calls load,
// caches its result for ttl (DefaultTTL when ttl <= 0) and decodes that into
// dst. Concurrent misses of one key in a process share one call of load.
//
// An error from load is returned as it is (errors.Is works on it) and nothing
// is cached, except an error wrapping ErrNotFound, which is cached for
// Config.NegativeTTL when that is positive (later calls then return
// ErrNotFound without calling load). When Redis is unavailable Once calls load
// directly: the answer comes from the source, not an error.
//
// Concurrent callers that share a load also share its context: if the
// first caller's context is cancelled, the others get that error too.
func (c *Cache) Once(ctx context.Context, key string, dst any, ttl time.Duration, load func(ctx context.Context) (any, error)) error {
	if c.obs != nil {
		hit, err := c.once(ctx, key, dst, ttl, load)
		c.obs.record(ctx, opOnce, hit, err)
		return err
	}
	_, err := c.once(ctx, key, dst, ttl, load)
	return err
}

// once is Once; hit tells whether the value came from the cache.
func (c *Cache) once(ctx context.Context, key string, dst any, ttl time.Duration, load func(ctx context.Context) (any, error)) (hit bool, err error) {
	if err := checkDst(dst); err != nil {
		return false, err
	}
	if load == nil {
		return false, errors.New("cache: once: nil load func")
	}
	e, err := c.read(ctx, key)
	return c.onceFrom(ctx, key, dst, ttl, load, e, err)
}

// onceFrom finishes Once after the read of key returned e and err; hit
// tells whether the answer (a value or a cached "not found") came from the cache.
func (c *Cache) onceFrom(ctx context.Context, key string, dst any, ttl time.Duration, load func(ctx context.Context) (any, error), e entry, err error) (hit bool, _ error) {
	switch {
	case err != nil: // Redis unavailable: answer from the source
		return false, c.loadShared(ctx, key, dst, ttl, load, false)
	case e.kind == kindValue:
		if derr := c.cc.Unmarshal(e.payload, dst); derr == nil {
			return true, nil
		}
		// An entry that no longer decodes (its type changed): replace it.
		b, lerr := c.load(ctx, key, ttl, load)
		if lerr != nil {
			return false, lerr
		}
		_ = c.write(ctx, key, b, ttl, false)
		return false, c.decode(key, b, dst)
	case e.kind == kindNotFound:
		return true, fmt.Errorf("cache: %q: %w", key, ErrNotFound)
	case e.kind == kindDeleted: // recently deleted: load, but do not cache
		return false, c.loadShared(ctx, key, dst, ttl, load, false)
	}
	return false, c.loadShared(ctx, key, dst, ttl, load, true)
}

// loadShared runs load once for all concurrent callers of key in this
// process (also while Redis is down, to spare the database a stampede) and,
// when store is set, stores the result if the key is still absent.
func (c *Cache) loadShared(ctx context.Context, key string, dst any, ttl time.Duration, load func(context.Context) (any, error), store bool) error {
	v, err, _ := c.group.Do(key, func() (any, error) {
		b, lerr := c.load(ctx, key, ttl, load)
		if lerr != nil {
			if store && errors.Is(lerr, ErrNotFound) && c.cfg.NegativeTTL > 0 {
				nb, _ := c.encode(kindNotFound, nil, c.cfg.NegativeTTL)
				_ = c.write(ctx, key, nb, c.cfg.NegativeTTL, true)
			}
			return nil, lerr
		}
		if store {
			_ = c.write(ctx, key, b, ttl, true)
		}
		return b, nil
	})
	if err != nil {
		return err
	}
	return c.decode(key, v.([]byte), dst)
}

// load calls the loader and encodes its value as a cache entry.
func (c *Cache) load(ctx context.Context, key string, ttl time.Duration, load func(context.Context) (any, error)) ([]byte, error) {
	v, err := load(ctx)
	if err != nil {
		return nil, err
	}
	b, err := c.encode(kindValue, v, ttl)
	if err != nil {
		return nil, fmt.Errorf("cache: once %q: %w", key, err)
	}
	return b, nil
}

func (c *Cache) decode(key string, entry []byte, dst any) error {
	e, ok := parse(entry)
	if !ok {
		return fmt.Errorf("cache: %q: malformed entry", key)
	}
	if err := c.cc.Unmarshal(e.payload, dst); err != nil {
		return fmt.Errorf("cache: %q: decode into %T: %w", key, dst, err)
	}
	return nil
}

func checkDst(dst any) error {
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("cache: destination must be a non-nil pointer, got %T", dst)
	}
	return nil
}

// Entries are a kind byte, an 8-byte expiry (Unix nanoseconds) and the
// payload encoded by go-redis/cache. The expiry makes per-entry TTLs work in
// process (TinyLFU has one TTL for all) and below Redis's one-second grain.
const (
	kindValue    byte = 'v'
	kindNotFound byte = 'n'
	kindDeleted  byte = 'd'
	headerLen         = 9
)

type entry struct {
	kind    byte
	until   int64 // expiry, Unix nanoseconds
	payload []byte
}

func (c *Cache) encode(kind byte, v any, ttl time.Duration) ([]byte, error) {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	var payload []byte
	if kind == kindValue {
		var err error
		if payload, err = c.cc.Marshal(v); err != nil {
			return nil, fmt.Errorf("encode %T: %w", v, err)
		}
	}
	b := make([]byte, headerLen, headerLen+len(payload))
	b[0] = kind
	binary.BigEndian.PutUint64(b[1:], uint64(time.Now().Add(ttl).UnixNano()))
	return append(b, payload...), nil
}

// parse splits a stored entry; expired and malformed entries are not ok.
func parse(b []byte) (entry, bool) {
	if len(b) < headerLen {
		return entry{}, false
	}
	switch b[0] {
	case kindValue, kindNotFound, kindDeleted:
	default:
		return entry{}, false
	}
	until := int64(binary.BigEndian.Uint64(b[1:headerLen]))
	if time.Now().UnixNano() >= until {
		return entry{}, false
	}
	return entry{kind: b[0], until: until, payload: b[headerLen:]}, true
}

// read returns the live entry under key; a zero entry (kind 0) is a miss.
// The error is non-nil only when Redis is unavailable.
func (c *Cache) read(ctx context.Context, key string) (entry, error) {
	if c.rdb != nil {
		if !c.usable() {
			return entry{}, fmt.Errorf("cache: get %q: %w", key, ErrUnavailable)
		}
		if err := c.flushPending(ctx); err != nil {
			return entry{}, fmt.Errorf("cache: get %q: %w", key, err)
		}
	}
	var b []byte
	err := c.cc.Get(ctx, c.prefix+key, &b)
	if errors.Is(err, gocache.ErrCacheMiss) {
		return entry{}, nil
	}
	if err != nil {
		c.failed(ctx, "get", err)
		return entry{}, fmt.Errorf("cache: get %q: %w: %w", key, ErrUnavailable, err)
	}
	e, _ := parse(b)
	return e, nil
}

// write stores an encoded entry; ifAbsent stores it only where no live
// entry (value, "not found" or tombstone) exists.
func (c *Cache) write(ctx context.Context, key string, b []byte, ttl time.Duration, ifAbsent bool) error {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	k := c.prefix + key
	if c.rdb == nil {
		c.localMu.Lock()
		defer c.localMu.Unlock()
		if ifAbsent {
			var old []byte
			if c.cc.Get(ctx, k, &old) == nil {
				if _, live := parse(old); live {
					return nil
				}
			}
		}
		// TinyLFU's Set of a key it holds adds a second element for it
		// instead of replacing the first, and evicting one of the two later
		// can bring the older value back (a revoked token, a tombstone
		// undone): remove the key first.
		c.lfu.Del(k)
		return c.cc.Set(&gocache.Item{Ctx: ctx, Key: k, Value: b, TTL: ttl})
	}
	if !c.usable() {
		return ErrUnavailable
	}
	// go-redis/cache turns TTLs under a second into an hour; Redis keeps the
	// entry a little longer and the entry's own expiry decides.
	rttl := ttl.Truncate(time.Second)
	if rttl < ttl {
		rttl += time.Second
	}
	err := c.cc.Set(&gocache.Item{Ctx: ctx, Key: k, Value: b, TTL: rttl, SetNX: ifAbsent})
	if err != nil {
		c.failed(ctx, "set", err)
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return nil
}

// tombstones overwrites keys with tombstones and announces their
// invalidation to every process's near layer in one round trip, then waits
// for those processes to acknowledge it (see announce).
func (c *Cache) tombstones(ctx context.Context, keys []string) error {
	b, _ := c.encode(kindDeleted, nil, c.cfg.DeleteGuard)
	rttl := c.cfg.DeleteGuard.Truncate(time.Second) + time.Second
	var pub *redis.IntCmd
	var id string
	_, err := c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range keys {
			p.Set(ctx, c.prefix+k, b, rttl)
		}
		id, pub = c.publish(ctx, p, keys)
		return nil
	})
	if err != nil {
		c.failed(ctx, "delete", err)
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	c.near.evict(keys) // a load that read Redis before the tombstones must not stay
	c.awaitAcks(ctx, id, pub.Val())
	return nil
}

// remember queues keys whose Delete did not reach Redis.
func (c *Cache) remember(keys []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range keys {
		if len(c.pending) >= maxPendingDeletes {
			c.log.Error("cache: too many deletes waiting for redis; dropping", "key", k)
			continue
		}
		c.pending[k] = struct{}{}
	}
}

// flushPending replays remembered deletes before Redis is used again.
func (c *Cache) flushPending(ctx context.Context) error {
	c.mu.Lock()
	if len(c.pending) == 0 {
		c.mu.Unlock()
		return nil
	}
	keys := make([]string, 0, len(c.pending))
	for k := range c.pending {
		keys = append(keys, k)
	}
	c.mu.Unlock()
	if err := c.tombstones(ctx, keys); err != nil {
		return err
	}
	c.mu.Lock()
	for _, k := range keys {
		delete(c.pending, k)
	}
	c.mu.Unlock()
	c.log.Info("cache: replayed deletes made while redis was unavailable", "keys", len(keys))
	return nil
}

// usable reports whether Redis is worth trying (not within RetryInterval of
// an error).
func (c *Cache) usable() bool {
	return time.Now().UnixNano() >= c.downUntil.Load()
}

// failed records a Redis error: Redis is bypassed for RetryInterval and a
// warning is logged at most once per LogInterval. Errors caused by the
// caller's own context ending do not count.
func (c *Cache) failed(ctx context.Context, op string, err error) {
	if ctx.Err() != nil {
		return
	}
	now := time.Now()
	c.downUntil.Store(now.Add(c.cfg.RetryInterval).UnixNano())
	c.mu.Lock()
	logIt := now.Sub(c.lastLog) >= c.cfg.LogInterval
	suppressed := c.suppressed
	if logIt {
		c.lastLog = now
		c.suppressed = 0
	} else {
		c.suppressed++
	}
	c.mu.Unlock()
	if logIt {
		c.log.WarnContext(ctx, "cache: redis unavailable, falling back to the database",
			"op", op, "err", err, "retry_in", c.cfg.RetryInterval, "suppressed_since_last", suppressed)
	}
}

// redactURL hides the password of a Redis URL in error messages.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return "the URL"
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
		return strings.Replace(u.String(), ":xxxxx@", ":********@", 1)
	}
	return u.String()
}
