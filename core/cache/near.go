package cache

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Near layer timings (see the package documentation).
const (
	// DefaultNearSize is the near layer's capacity in entries.
	DefaultNearSize = 10000
	// DefaultNearTTL bounds the life of a near entry (a safety net; the
	// invalidation messages do the real work).
	DefaultNearTTL = 30 * time.Second
	// DefaultNearAckTimeout bounds how long Delete and Set wait for the
	// other processes to confirm they evicted the keys.
	DefaultNearAckTimeout = 100 * time.Millisecond
	// nearPingInterval is how often the subscriber pings Redis on its
	// pub/sub connection; nearSilence is how long without an answered ping
	// before the near layer is bypassed, and nearReconnect before the
	// subscription is dropped and made again.
	nearPingInterval = 100 * time.Millisecond
	nearSilence      = 500 * time.Millisecond
	nearReconnect    = 2 * time.Second
	nearAckKeyTTL    = 10 * time.Second
)

// nearLayer is the process-local copy in front of Redis used by OnceNear,
// kept coherent by invalidation messages on a Redis pub/sub channel.
type nearLayer struct {
	c       *Cache
	channel string // invalidation messages
	ackKey  string // prefix of the lists acknowledgements are pushed to
	self    string // this Cache's id in message ids
	seq     atomic.Uint64

	startOnce sync.Once
	ctx       context.Context
	cancel    context.CancelFunc
	done      chan struct{}

	live    atomic.Bool  // subscribed, as far as the subscriber knows
	aliveAt atomic.Int64 // send time (Unix ns) of the newest answered ping

	psMu sync.Mutex
	ps   *redis.PubSub

	mu  sync.RWMutex
	m   map[string]nearEntry
	gen uint64 // bumped by every eviction and clear, under mu
}

type nearEntry struct {
	payload []byte
	until   int64 // Unix ns
}

// nearMessage is an invalidation: the keys (without the Prefix) and the id
// under which receivers acknowledge it.
type nearMessage struct {
	ID   string   `json:"id"`
	Keys []string `json:"keys"`
}

func newNearLayer(c *Cache) *nearLayer {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	ctx, cancel := context.WithCancel(context.Background())
	return &nearLayer{
		c:       c,
		channel: c.prefix + "cache:near",
		ackKey:  c.prefix + "cache:near-ack:",
		self:    hex.EncodeToString(b),
		ctx:     ctx,
		cancel:  cancel,
		done:    make(chan struct{}),
		m:       map[string]nearEntry{},
	}
}

// OnceNear is Once with a process-local layer in front of Redis for key:
// a hit is served from this process's memory without a round trip. Use it
// for hot keys that are read far more often than written (token lookups).
//
// The local copy is dropped on every process when any process Deletes or
// Sets the key (a Redis pub/sub message; Delete and Set wait, up to
// Config.NearAckTimeout, until every subscribed process has confirmed), and
// lives at most Config.NearTTL. The local layer is used only while this
// process's subscription to those messages is known to be healthy;
// otherwise, and without Redis, OnceNear is exactly Once.
func (c *Cache) OnceNear(ctx context.Context, key string, dst any, ttl time.Duration, load func(ctx context.Context) (any, error)) error {
	if c.obs != nil {
		hit, err := c.onceNear(ctx, key, dst, ttl, load)
		c.obs.record(ctx, opOnceNear, hit, err)
		return err
	}
	_, err := c.onceNear(ctx, key, dst, ttl, load)
	return err
}

func (c *Cache) onceNear(ctx context.Context, key string, dst any, ttl time.Duration, load func(ctx context.Context) (any, error)) (hit bool, _ error) {
	n := c.near
	if n == nil {
		return c.once(ctx, key, dst, ttl, load)
	}
	if err := checkDst(dst); err != nil {
		return false, err
	}
	if load == nil {
		return false, errors.New("cache: once: nil load func")
	}
	n.start()
	if !n.healthy() || !c.usable() {
		return c.once(ctx, key, dst, ttl, load)
	}
	if p, ok := n.get(key); ok {
		if c.cc.Unmarshal(p, dst) == nil {
			return true, nil
		}
	}
	gen := n.generation()
	e, err := c.read(ctx, key)
	if err == nil && e.kind == kindValue && c.cc.Unmarshal(e.payload, dst) == nil {
		n.put(key, e, gen)
		return true, nil
	}
	// Anything else (a miss, a tombstone, a cached "not found", an error)
	// takes Once's path; only values read back from Redis enter the layer.
	return c.onceFrom(ctx, key, dst, ttl, load, e, err)
}

// NearReady reports whether OnceNear currently serves from the local layer:
// Redis is configured, OnceNear has been called, and the invalidation
// subscription is up and answered a ping within the last half second.
func (c *Cache) NearReady() bool {
	return c.near != nil && c.near.healthy() && c.usable()
}

func (n *nearLayer) start() {
	n.startOnce.Do(func() { go n.run() })
}

func (n *nearLayer) stop() {
	if n == nil {
		return
	}
	n.startOnce.Do(func() { close(n.done) }) // never started: nothing to wait for
	n.cancel()
	n.psMu.Lock()
	if n.ps != nil {
		_ = n.ps.Close() // interrupts a blocked receive
	}
	n.psMu.Unlock()
	<-n.done
}

func (n *nearLayer) healthy() bool {
	return n.live.Load() && time.Now().UnixNano()-n.aliveAt.Load() < int64(nearSilence)
}

func (n *nearLayer) generation() uint64 {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.gen
}

func (n *nearLayer) get(key string) ([]byte, bool) {
	n.mu.RLock()
	e, ok := n.m[key]
	n.mu.RUnlock()
	if !ok || time.Now().UnixNano() >= e.until {
		return nil, false
	}
	return e.payload, true
}

// put stores a value read from Redis, unless an eviction or a clear
// happened since gen was read (the value may predate it) or the
// subscription is not healthy.
func (n *nearLayer) put(key string, e entry, gen uint64) {
	until := time.Now().Add(n.c.cfg.NearTTL).UnixNano()
	if e.until < until {
		until = e.until
	}
	p := append([]byte(nil), e.payload...)
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.gen != gen || !n.healthy() {
		return
	}
	if len(n.m) >= n.c.cfg.NearSize {
		now := time.Now().UnixNano()
		for k, v := range n.m {
			if now >= v.until {
				delete(n.m, k)
			}
		}
		for k := range n.m {
			if len(n.m) < n.c.cfg.NearSize {
				break
			}
			delete(n.m, k)
		}
	}
	n.m[key] = nearEntry{payload: p, until: until}
}

func (n *nearLayer) evict(keys []string) {
	if n == nil {
		return
	}
	n.mu.Lock()
	for _, k := range keys {
		delete(n.m, k)
	}
	n.gen++
	n.mu.Unlock()
}

func (n *nearLayer) clear() {
	n.mu.Lock()
	clear(n.m)
	n.gen++
	n.mu.Unlock()
}

// up marks the subscription healthy after a (re)subscribe: whatever was
// missed while it was down is forgotten.
func (n *nearLayer) up() {
	n.clear()
	n.aliveAt.Store(time.Now().UnixNano())
	n.live.Store(true)
}

func (n *nearLayer) down() {
	n.live.Store(false)
	n.clear()
}

// run is the subscriber: it applies invalidations, acknowledges them, and
// pings Redis on the pub/sub connection to prove the subscription alive.
func (n *nearLayer) run() {
	defer close(n.done)
	for n.ctx.Err() == nil {
		n.subscribe()
		n.down()
		if n.ctx.Err() == nil {
			sleep(n.ctx, n.c.cfg.RetryInterval/4)
		}
	}
}

// subscribe runs one subscription until it fails or goes silent.
func (n *nearLayer) subscribe() {
	ps := n.c.rdb.Subscribe(n.ctx, n.channel)
	n.psMu.Lock()
	if n.ctx.Err() != nil {
		n.psMu.Unlock()
		_ = ps.Close()
		return
	}
	n.ps = ps
	n.psMu.Unlock()
	defer func() {
		n.psMu.Lock()
		n.ps = nil
		n.psMu.Unlock()
		_ = ps.Close()
	}()
	var lastPing time.Time
	started := time.Now()
	for n.ctx.Err() == nil {
		now := time.Now()
		if now.Sub(lastPing) >= nearPingInterval {
			lastPing = now
			if err := ps.Ping(n.ctx, strconv.FormatInt(now.UnixNano(), 10)); err != nil {
				return
			}
		}
		alive := n.aliveAt.Load()
		if !n.live.Load() {
			alive = started.UnixNano()
		}
		if now.UnixNano()-alive > int64(nearReconnect) {
			return // silent connection (a partition): start over
		}
		msg, err := ps.ReceiveTimeout(n.ctx, nearPingInterval)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				n.up()
			}
		case *redis.Pong:
			if t, err := strconv.ParseInt(m.Payload, 10, 64); err == nil && t > n.aliveAt.Load() {
				n.aliveAt.Store(t)
			}
		case *redis.Message:
			n.apply(m.Payload)
		}
	}
}

// apply evicts the keys of an invalidation message and acknowledges it.
func (n *nearLayer) apply(payload string) {
	var msg nearMessage
	if err := json.Unmarshal([]byte(payload), &msg); err != nil {
		n.clear() // unreadable: drop everything rather than guess
		n.c.log.Warn("cache: malformed near-cache invalidation", "err", err)
		return
	}
	n.evict(msg.Keys)
	if msg.ID == "" {
		return
	}
	ctx, cancel := context.WithTimeout(n.ctx, n.c.cfg.Timeout)
	defer cancel()
	k := n.ackKey + msg.ID
	_, err := n.c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.RPush(ctx, k, "1")
		p.PExpire(ctx, k, nearAckKeyTTL)
		return nil
	})
	if err != nil && n.ctx.Err() == nil {
		n.c.log.Warn("cache: near-cache invalidation not acknowledged", "err", err)
	}
}

// publish queues the invalidation message for keys on p and returns its id
// and the command whose value is the number of subscribers it reached.
func (c *Cache) publish(ctx context.Context, p redis.Pipeliner, keys []string) (string, *redis.IntCmd) {
	id := c.near.self + "-" + strconv.FormatUint(c.near.seq.Add(1), 10)
	b, _ := json.Marshal(nearMessage{ID: id, Keys: keys})
	return id, p.Publish(ctx, c.near.channel, b)
}

// announce drops keys from every process's near layer (this one first) and
// waits for the acknowledgements. Errors are logged: the value in Redis is
// already replaced, and a process that misses the message stops using its
// layer when its subscription is found dead.
func (c *Cache) announce(ctx context.Context, keys []string) {
	c.near.evict(keys)
	var pub *redis.IntCmd
	var id string
	_, err := c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		id, pub = c.publish(ctx, p, keys)
		return nil
	})
	c.near.evict(keys)
	if err != nil {
		c.failed(ctx, "publish", err)
		return
	}
	c.awaitAcks(ctx, id, pub.Val())
}

// awaitAcks waits until want subscribers acknowledged message id, or
// Config.NearAckTimeout.
func (c *Cache) awaitAcks(ctx context.Context, id string, want int64) {
	if want <= 0 {
		return
	}
	deadline := time.Now().Add(c.cfg.NearAckTimeout)
	key := c.near.ackKey + id
	var got int64
	for got < want {
		left := time.Until(deadline)
		if left < time.Millisecond {
			break
		}
		err := c.rdb.Do(ctx, "BLPOP", key, strconv.FormatFloat(left.Seconds(), 'f', 3, 64)).Err()
		if errors.Is(err, redis.Nil) {
			break
		}
		if err != nil {
			c.log.WarnContext(ctx, "cache: wait for near-cache acknowledgements", "err", err)
			return
		}
		got++
	}
	if got < want {
		c.log.WarnContext(ctx, "cache: near-cache invalidation not acknowledged by every process in time",
			"want", want, "got", got, "timeout", c.cfg.NearAckTimeout)
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
