package cache

import (
	"container/list"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Model cache defaults (see ModelOptions).
const (
	DefaultModelTTL    = 5 * time.Minute
	DefaultMaxVariants = 1000
	DefaultLocalBytes  = 4 << 20
	// MaxEntryBytes is the largest result a Model caches; bigger ones are
	// loaded on every read.
	MaxEntryBytes = 1 << 20
	// genTTL is the life of a table's generation in Redis. Generations are
	// random, so one that expires and is made again never matches an older
	// one: expiry only orphans entries.
	genTTL = 24 * time.Hour
)

// ModelOptions configures a Model (see Cache.Model).
type ModelOptions struct {
	// TTL is the life of an entry (default DefaultModelTTL). Entries never
	// need to expire to be correct: it bounds memory.
	TTL time.Duration
	// MaxVariants caps how many distinct queries are cached for one
	// generation of the tables (default DefaultMaxVariants; negative: no
	// cap). Queries past the cap are answered from the database, uncached,
	// until the next write, so a client sending endless distinct query
	// strings cannot grow the cache without bound.
	MaxVariants int
	// LocalBytes bounds this Model's process-local tier in bytes (default
	// DefaultLocalBytes); it evicts its least recently used entries, never
	// another Model's.
	LocalBytes int
}

// Model is a read-through cache of query results over a set of tables (a
// model's table, then those its results also depend on: the tables its
// foreign keys point to). Get it from Cache.Model; it is safe for
// concurrent use.
//
// # How it stays correct
//
// Every table has a generation, a random value kept in Redis (in the
// process without Redis) and read through the near layer of OnceNear. An
// entry's key is a hash of the Model's name, the current generations of its
// tables and the query (its SQL with the arguments, which includes every
// filter the caller applied: search, page, the request's user scope), so
// entries are never updated in place: Touch, called after a write commits,
// replaces the table's generation on every process (Set's broadcast and
// acknowledgements), and every later read looks up new keys. A read racing
// a write cannot leave a stale entry behind: it stored what it read under
// the generation it read before querying the database, which no read after
// the write's Touch uses again. Entries are served from a bounded
// process-local tier first, then Redis (SET NX), then the loader.
//
// When Redis is unavailable, Once calls the loader and caches nothing, and
// Touch fails (the write itself stands; the generation is invalidated when
// Redis is back, as for Delete). Without Redis the generations and the
// entries live in this process only: run one process, or nothing is shared.
type Model struct {
	c      *Cache
	name   string
	tables []string
	ttl    time.Duration
	max    int
	local  *lru

	vmu      sync.Mutex // in-process variant count of the current stamp
	vstamp   string
	variants int
}

// Model returns the model cache named name over tables (the model's own table
// first, then the tables its results depend on). The first call for a name
// creates it with tables and o; later calls return the same Model.
func (c *Cache) Model(name string, tables []string, o ModelOptions) *Model {
	if v, ok := c.models.Load(name); ok {
		return v.(*Model)
	}
	if o.TTL <= 0 {
		o.TTL = DefaultModelTTL
	}
	if o.MaxVariants == 0 {
		o.MaxVariants = DefaultMaxVariants
	}
	if o.LocalBytes <= 0 {
		o.LocalBytes = DefaultLocalBytes
	}
	m := &Model{c: c, name: name, tables: tables, ttl: o.TTL, max: o.MaxVariants, local: newLRU(o.LocalBytes)}
	v, _ := c.models.LoadOrStore(name, m)
	return v.(*Model)
}

// Len reports how many entries this process's tier holds (live or
// expired, until evicted).
func (m *Model) Len() int { return m.local.len() }

// Tables returns the tables the Model's entries depend on.
func (m *Model) Tables() []string { return m.tables }

// Once decodes into dst the cached result of query (a string that
// identifies the result completely: the SQL with its arguments, plus
// anything else the result depends on); on a miss it calls load, caches
// its value and decodes that into dst. Values are encoded as by Set
// ([]byte as they are, anything else as MessagePack). A *[]byte dst may
// receive the cached bytes themselves, without a copy: never modify them.
func (m *Model) Once(ctx context.Context, query string, dst any, load func(ctx context.Context) (any, error)) error {
	if err := checkDst(dst); err != nil {
		return err
	}
	if load == nil {
		return errors.New("cache: model once: nil load func")
	}
	c := m.c
	stamp, ok := m.stamp(ctx)
	if !ok { // Redis unavailable: straight to the source
		v, err := load(ctx)
		if err != nil {
			return err
		}
		b, err := c.encode(kindValue, v, m.ttl)
		if err != nil {
			return fmt.Errorf("cache: model %s: %w", m.name, err)
		}
		return c.decode(m.name, b, dst)
	}
	key := m.key(stamp, query)
	if p, ok := m.local.get(key); ok {
		if bp, raw := dst.(*[]byte); raw && len(p) > 0 {
			*bp = p // no copy: the hot path of every cached page
			return nil
		}
		if c.cc.Unmarshal(p, dst) == nil {
			return nil
		}
	}
	store := true
	if c.rdb != nil {
		e, err := c.read(ctx, key)
		if err == nil && e.kind == kindValue && c.cc.Unmarshal(e.payload, dst) == nil {
			m.local.put(key, e.payload, e.until)
			return nil
		}
		store = err == nil
	}
	v, err, _ := c.group.Do(key, func() (any, error) {
		b, err := c.load(ctx, key, m.ttl, load)
		if err != nil {
			return nil, err
		}
		if store && len(b) <= MaxEntryBytes && m.admit(ctx, stamp) {
			if c.rdb != nil {
				_ = c.write(ctx, key, b, m.ttl, true)
			}
			if e, ok := parse(b); ok {
				m.local.put(key, e.payload, e.until)
			}
		}
		return b, nil
	})
	if err != nil {
		return err
	}
	return c.decode(key, v.([]byte), dst)
}

// Touch invalidates every entry of every Model over the Model's own table
// (its first), on every process. Call it after the write commits (see
// Touch and DeferTouches).
func (m *Model) Touch(ctx context.Context) error {
	return m.c.Touch(ctx, m.tables[0])
}

// key is the entry's key: fixed length whatever the query's.
func (m *Model) key(stamp, query string) string {
	h := sha256.New()
	h.Write([]byte(stamp))
	h.Write([]byte{0})
	h.Write([]byte(query))
	var sum [sha256.Size]byte
	return "mc:" + m.name + ":" + base64.RawURLEncoding.EncodeToString(h.Sum(sum[:0])[:18])
}

// stamp is the current generations of the Model's tables; ok is false when
// Redis is unavailable (the generations are then made up and worthless).
func (m *Model) stamp(ctx context.Context) (string, bool) {
	c := m.c
	if c.rdb == nil {
		return c.gens.stamp(m.tables), true
	}
	var b strings.Builder
	for _, t := range m.tables {
		var g string
		if err := c.OnceNear(ctx, genKey(t), &g, genTTL, newGeneration); err != nil {
			return "", false
		}
		b.WriteString(g)
		b.WriteByte(';')
	}
	if !c.usable() {
		return "", false
	}
	return b.String(), true
}

// admit counts a new variant for stamp and reports whether it is within the
// cap.
func (m *Model) admit(ctx context.Context, stamp string) bool {
	if m.max < 0 {
		return true
	}
	c := m.c
	if c.rdb == nil {
		m.vmu.Lock()
		defer m.vmu.Unlock()
		if m.vstamp != stamp {
			m.vstamp, m.variants = stamp, 0
		}
		m.variants++
		return m.variants <= m.max
	}
	sum := sha256.Sum256([]byte(stamp))
	k := c.prefix + "mc:n:" + m.name + ":" + hex.EncodeToString(sum[:9])
	var n *redis.IntCmd
	_, err := c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		n = p.Incr(ctx, k)
		p.Expire(ctx, k, m.ttl+time.Second)
		return nil
	})
	if err != nil {
		c.failed(ctx, "model variants", err)
		return false
	}
	return n.Val() <= int64(m.max)
}

// Touch gives tables new generations on every process, so that every
// Model entry over them is looked up afresh (see Model). Call it after the
// transaction that wrote the tables committed; under a context from
// DeferTouches it is queued until that context's flush instead. With Redis
// unavailable it fails, wrapping ErrUnavailable, and the generations are
// invalidated as soon as Redis is back.
func (c *Cache) Touch(ctx context.Context, tables ...string) error {
	if d, ok := ctx.Value(deferKey{}).(*deferred); ok {
		d.mu.Lock()
		d.tables = append(d.tables, tables...)
		d.mu.Unlock()
		return nil
	}
	if c.rdb == nil {
		c.gens.bump(tables)
		return nil
	}
	var errs []error
	for _, t := range tables {
		g, _ := newGeneration(ctx)
		if err := c.Set(ctx, genKey(t), g, genTTL); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

type deferKey struct{}

type deferred struct {
	mu     sync.Mutex
	tables []string
}

// DeferTouches returns a context under which Touch only records the tables,
// and flush, which touches them: run a transaction with the context and
// call flush once it committed (calling it after a rollback is harmless).
//
//	ctx, flush := cache.DeferTouches(ctx)
//	err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error { ... })
//	flush(ctx) // after the commit: every process reads the new rows
func DeferTouches(ctx context.Context) (context.Context, func(ctx context.Context, c *Cache) error) {
	d := &deferred{}
	return context.WithValue(ctx, deferKey{}, d), func(ctx context.Context, c *Cache) error {
		d.mu.Lock()
		tables := d.tables
		d.tables = nil
		d.mu.Unlock()
		if len(tables) == 0 {
			return nil
		}
		return c.Touch(context.WithValue(ctx, deferKey{}, nil), tables...)
	}
}

func genKey(table string) string { return "mc:gen:" + table }

// newGeneration is a random generation: never equal to an earlier one, so a
// generation that expired and was made again cannot revive old entries.
func newGeneration(context.Context) (any, error) {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// generations are the tables' generations of an in-process Cache.
type generations struct {
	mu   sync.Mutex
	seed uint64
	m    map[string]uint64
}

func (g *generations) stamp(tables []string) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.m == nil {
		var b [8]byte
		_, _ = rand.Read(b[:])
		g.seed, g.m = binary.BigEndian.Uint64(b[:]), map[string]uint64{}
	}
	buf := make([]byte, 0, 17*len(tables))
	for _, t := range tables {
		buf = binary.BigEndian.AppendUint64(buf, g.seed)
		buf = binary.BigEndian.AppendUint64(buf, g.m[t])
		buf = append(buf, ';')
	}
	return string(buf)
}

func (g *generations) bump(tables []string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.m == nil {
		g.m = map[string]uint64{}
	}
	for _, t := range tables {
		g.m[t]++
	}
}

// lru is a process-local tier bounded in bytes: the least recently used
// entries go first.
type lru struct {
	mu    sync.Mutex
	max   int
	bytes int
	ll    *list.List
	m     map[string]*list.Element
}

type lruEntry struct {
	key     string
	payload []byte
	until   int64 // Unix ns
}

// lruOverhead approximates the bookkeeping of an entry beyond its bytes.
const lruOverhead = 160

func newLRU(maxBytes int) *lru {
	return &lru{max: maxBytes, ll: list.New(), m: map[string]*list.Element{}}
}

func (l *lru) get(key string) ([]byte, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	el, ok := l.m[key]
	if !ok {
		return nil, false
	}
	e := el.Value.(*lruEntry)
	if time.Now().UnixNano() >= e.until {
		l.remove(el)
		return nil, false
	}
	l.ll.MoveToFront(el)
	return e.payload, true
}

func (l *lru) put(key string, payload []byte, until int64) {
	size := len(key) + len(payload) + lruOverhead
	if size > l.max {
		return
	}
	p := append([]byte(nil), payload...)
	l.mu.Lock()
	defer l.mu.Unlock()
	if el, ok := l.m[key]; ok {
		l.remove(el)
	}
	for l.bytes+size > l.max {
		l.remove(l.ll.Back())
	}
	l.m[key] = l.ll.PushFront(&lruEntry{key: key, payload: p, until: until})
	l.bytes += size
}

func (l *lru) remove(el *list.Element) {
	e := el.Value.(*lruEntry)
	l.ll.Remove(el)
	delete(l.m, e.key)
	l.bytes -= len(e.key) + len(e.payload) + lruOverhead
}

func (l *lru) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.m)
}
