package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/uptrace/bun"
)

// Followers sends reads that tolerate lag to Postgres followers (streaming
// replicas, Heroku's followers), round-robin, and falls back to the primary
// when none is usable: a follower is used while it answers and replays
// within MaxLag of its primary. A monitor checks each one every Interval.
type Followers struct {
	primary  *bun.DB
	nodes    []*follower
	next     atomic.Uint64
	maxLag   time.Duration
	interval time.Duration
	log      *slog.Logger
	stop     chan struct{}
	done     sync.WaitGroup
}

type follower struct {
	name   string
	db     *bun.DB
	usable atomic.Bool
	lag    atomic.Int64 // nanoseconds, at the last check
	reason atomic.Value // string: why it is not usable
}

// FollowerStatus is one follower as the monitor last saw it.
type FollowerStatus struct {
	Name   string
	Usable bool
	Lag    time.Duration
	Reason string
}

// OpenFollowers opens a pool for each follower URL (names are the variables
// they came from, for messages) with o's pool settings, checks them once, and
// starts the monitor; a follower that is down is not used until it answers.
// maxLag is DATABASE_REPLICA_MAX_LAG.
func OpenFollowers(ctx context.Context, primary *bun.DB, urls, names []string, o Options, maxLag, interval time.Duration, log *slog.Logger) (*Followers, error) {
	f := &Followers{primary: primary, maxLag: maxLag, interval: interval, log: log, stop: make(chan struct{})}
	if f.interval <= 0 {
		f.interval = time.Second
	}
	for i, u := range urls {
		o := o
		o.Name, o.NoPing = names[i], true
		cfg, err := ParseURLOptions(u, o)
		if err != nil {
			_ = f.Close()
			return nil, err
		}
		if cfg.Driver != "pgx" {
			_ = f.Close()
			return nil, fmt.Errorf("%s: followers must be Postgres", names[i])
		}
		db, err := openConfig(ctx, cfg, o)
		if err != nil {
			_ = f.Close()
			return nil, err
		}
		n := &follower{name: names[i], db: db}
		n.reason.Store("not checked yet")
		f.nodes = append(f.nodes, n)
	}
	f.checkAll(ctx)
	f.done.Add(1)
	go f.monitor()
	return f, nil
}

// Read returns a usable follower, round-robin, or the primary.
func (f *Followers) Read() *bun.DB {
	if f == nil {
		return nil
	}
	n := len(f.nodes)
	start := int(f.next.Add(1))
	for i := range n {
		if node := f.nodes[(start+i)%n]; node.usable.Load() {
			return node.db
		}
	}
	return f.primary
}

// Window is how long after a user's write their reads stay on the primary
// (read-your-writes): the most a usable follower may lag, plus one check.
func (f *Followers) Window() time.Duration { return f.maxLag + f.interval }

// Status reports each follower as the monitor last saw it.
func (f *Followers) Status() []FollowerStatus {
	var out []FollowerStatus
	for _, n := range f.nodes {
		r, _ := n.reason.Load().(string)
		out = append(out, FollowerStatus{Name: n.name, Usable: n.usable.Load(), Lag: time.Duration(n.lag.Load()), Reason: r})
	}
	return out
}

// Close stops the monitor and closes the followers' pools.
func (f *Followers) Close() error {
	select {
	case <-f.stop:
	default:
		close(f.stop)
	}
	f.done.Wait()
	var errs []error
	for _, n := range f.nodes {
		errs = append(errs, n.db.Close())
	}
	return errors.Join(errs...)
}

func (f *Followers) monitor() {
	defer f.done.Done()
	t := time.NewTicker(f.interval)
	defer t.Stop()
	for {
		select {
		case <-f.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), f.interval)
			f.checkAll(ctx)
			cancel()
		}
	}
}

func (f *Followers) checkAll(ctx context.Context) {
	var wg sync.WaitGroup
	for _, n := range f.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lag, err := replicationLag(ctx, n.db)
			usable := err == nil && lag <= f.maxLag
			reason := ""
			switch {
			case err != nil:
				reason = err.Error()
			case !usable:
				reason = fmt.Sprintf("replays %s behind its primary (DATABASE_REPLICA_MAX_LAG is %s)", lag.Round(time.Millisecond), f.maxLag)
			}
			n.lag.Store(int64(lag))
			n.reason.Store(reason)
			if was := n.usable.Swap(usable); was != usable && f.log != nil {
				if usable {
					f.log.Info("database follower usable again", "follower", n.name, "lag", lag)
				} else {
					f.log.Warn("database follower not used: reads go to the primary", "follower", n.name, "reason", reason)
				}
			}
		}()
	}
	wg.Wait()
}

// replicationLag is how far behind its primary a follower replays: 0 when it
// has replayed all it received, else the age of the last transaction it
// replayed. A server that is not in recovery is not a follower.
func replicationLag(ctx context.Context, db *bun.DB) (time.Duration, error) {
	var inRecovery bool
	var seconds sql.NullFloat64
	err := db.QueryRowContext(ctx, `SELECT pg_is_in_recovery(),
		CASE WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0
		     ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()) END`).Scan(&inRecovery, &seconds)
	if err != nil {
		return 0, err
	}
	if !inRecovery {
		return 0, errors.New("not a follower: pg_is_in_recovery() is false")
	}
	return time.Duration(seconds.Float64 * float64(time.Second)), nil
}
