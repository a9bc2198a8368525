package migrations

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
)

// Table is where applied migrations are recorded.
const Table = "manouche_migrations"

// lockKey is the Postgres advisory lock that serialises migrate runs.
const lockKey = 7_262_618_434

// Runner applies and unapplies the migrations of a list of sources, in order.
type Runner struct {
	db      *bun.DB
	sources []Source
	// Progress, when set, is told about each migration as it is applied or unapplied.
	Progress func(action, app, name string, took time.Duration)
	// After, when set, runs at the end of every Migrate and MigrateApp, still
	// holding the lock, even when there was nothing to apply (Django's
	// post_migrate signal: the users app creates the models' permissions).
	After func(ctx context.Context) error
}

// New returns a runner over sources, in the order given (the framework's
// first, then the installed apps').
func New(db *bun.DB, sources ...Source) *Runner {
	return &Runner{db: db, sources: sources}
}

// Status is one migration as showmigrations prints it.
type Status struct {
	Name      string
	Applied   bool
	AppliedAt time.Time
	// Missing is true for a migration recorded as applied whose files are gone.
	Missing bool
}

// AppStatus is the migrations of one app.
type AppStatus struct {
	App        string
	Migrations []Status
}

// Report says what a migrate run did and what it found amiss.
type Report struct {
	Applied   []string // "app name", in order
	Unapplied []string
	// Missing lists migrations recorded as applied whose files no longer exist.
	Missing []string
}

type record struct {
	App       string
	Name      string
	AppliedAt time.Time
}

// Plan loads every source's migrations for the database's dialect.
func (r *Runner) plan() (map[string][]*Migration, error) {
	out := map[string][]*Migration{}
	for _, src := range r.sources {
		ms, err := load(src, r.db.Dialect().Name())
		if err != nil {
			return nil, err
		}
		out[src.App] = ms
	}
	return out, nil
}

// Status lists, per app in order, every migration and whether it is applied,
// followed by recorded migrations whose files are gone.
func (r *Runner) Status(ctx context.Context) ([]AppStatus, error) {
	plan, applied, err := r.state(ctx)
	if err != nil {
		return nil, err
	}
	var out []AppStatus
	seen := map[string]bool{}
	for _, src := range r.sources {
		as := AppStatus{App: src.App}
		for _, m := range plan[src.App] {
			rec, ok := applied[key(src.App, m.Name)]
			seen[key(src.App, m.Name)] = true
			as.Migrations = append(as.Migrations, Status{Name: m.Name, Applied: ok, AppliedAt: rec.AppliedAt})
		}
		out = append(out, as)
	}
	for _, rec := range sortedRecords(applied) {
		if seen[key(rec.App, rec.Name)] {
			continue
		}
		i := slices.IndexFunc(out, func(a AppStatus) bool { return a.App == rec.App })
		if i < 0 {
			out = append(out, AppStatus{App: rec.App})
			i = len(out) - 1
		}
		out[i].Migrations = append(out[i].Migrations, Status{Name: rec.Name, Applied: true, AppliedAt: rec.AppliedAt, Missing: true})
	}
	return out, nil
}

// Pending returns the migrations not applied yet, in the order migrate would
// apply them.
func (r *Runner) Pending(ctx context.Context) ([]*Migration, error) {
	plan, applied, err := r.state(ctx)
	if err != nil {
		return nil, err
	}
	var out []*Migration
	for _, src := range r.sources {
		for _, m := range plan[src.App] {
			if _, ok := applied[key(src.App, m.Name)]; !ok {
				out = append(out, m)
			}
		}
	}
	return out, nil
}

// state returns the plan and what is recorded as applied, outside the lock.
func (r *Runner) state(ctx context.Context) (map[string][]*Migration, map[string]record, error) {
	plan, err := r.plan()
	if err != nil {
		return nil, nil, err
	}
	if err := r.ensureTable(ctx); err != nil {
		return nil, nil, err
	}
	applied, err := r.applied(ctx)
	return plan, applied, err
}

// Migrate applies every pending migration: the framework's, then each app's in
// the order of the sources. It holds a lock for the whole run, so two
// processes migrating at once apply each migration once.
func (r *Runner) Migrate(ctx context.Context) (*Report, error) {
	plan, err := r.plan()
	if err != nil {
		return nil, err
	}
	rep := &Report{}
	err = r.locked(ctx, func() error {
		if err := r.adopt(ctx); err != nil {
			return err
		}
		applied, err := r.applied(ctx)
		if err != nil {
			return err
		}
		rep.Missing = missing(plan, applied)
		for _, src := range r.sources {
			for _, m := range plan[src.App] {
				if _, ok := applied[key(src.App, m.Name)]; ok {
					continue
				}
				if err := r.run(ctx, m, true); err != nil {
					return err
				}
				rep.Applied = append(rep.Applied, src.App+" "+m.Name)
			}
		}
		return r.after(ctx)
	})
	return rep, err
}

// MigrateApp moves one app forward or back to target: a migration's name (or
// a unique prefix of it, such as its timestamp), or "zero" to unapply all of
// the app's migrations.
func (r *Runner) MigrateApp(ctx context.Context, app, target string) (*Report, error) {
	plan, err := r.plan()
	if err != nil {
		return nil, err
	}
	ms, ok := plan[app]
	if !ok {
		names := make([]string, len(r.sources))
		for i, s := range r.sources {
			names[i] = s.App
		}
		return nil, fmt.Errorf("migrate: no app named %q has migrations (apps: %s)", app, strings.Join(names, ", "))
	}
	idx := -1
	if target != "zero" {
		var matches []int
		for i, m := range ms {
			if m.Name == target {
				matches = []int{i}
				break
			}
			if strings.HasPrefix(m.Name, target) {
				matches = append(matches, i)
			}
		}
		switch len(matches) {
		case 0:
			return nil, fmt.Errorf("migrate: %s has no migration %q (use `showmigrations %s` to list them, or zero)", app, target, app)
		case 1:
			idx = matches[0]
		default:
			return nil, fmt.Errorf("migrate: %q matches several migrations of %s: give more of the name", target, app)
		}
	}
	rep := &Report{}
	err = r.locked(ctx, func() error {
		if err := r.adopt(ctx); err != nil {
			return err
		}
		applied, err := r.applied(ctx)
		if err != nil {
			return err
		}
		rep.Missing = missing(plan, applied)
		for _, name := range rep.Missing {
			if a, n, _ := strings.Cut(name, " "); a == app && (idx < 0 || n > ms[idx].Name) {
				return fmt.Errorf("migrate: cannot unapply %s %s: it is recorded as applied but its files are gone", a, n)
			}
		}
		for i := len(ms) - 1; i > idx; i-- {
			if _, ok := applied[key(app, ms[i].Name)]; !ok {
				continue
			}
			if !ms[i].HasDown() {
				return fmt.Errorf("migrate: cannot unapply %s %s: it has no down migration", app, ms[i].Name)
			}
			if err := r.run(ctx, ms[i], false); err != nil {
				return err
			}
			rep.Unapplied = append(rep.Unapplied, app+" "+ms[i].Name)
		}
		for i := 0; i <= idx; i++ {
			if _, ok := applied[key(app, ms[i].Name)]; ok {
				continue
			}
			if err := r.run(ctx, ms[i], true); err != nil {
				return err
			}
			rep.Applied = append(rep.Applied, app+" "+ms[i].Name)
		}
		return r.after(ctx)
	})
	return rep, err
}

func (r *Runner) after(ctx context.Context) error {
	if r.After == nil {
		return nil
	}
	if err := r.After(ctx); err != nil {
		return fmt.Errorf("migrate: after migrating: %w", err)
	}
	return nil
}

// run applies (up) or unapplies one migration, in a transaction unless its
// file opts out, recording it in the same transaction.
func (r *Runner) run(ctx context.Context, m *Migration, up bool) error {
	st, action := m.up, "apply"
	if !up {
		st, action = m.down, "unapply"
	}
	start := time.Now()
	record := func(ctx context.Context, db bun.IDB) error {
		if up {
			_, err := db.NewRaw("INSERT INTO "+Table+" (app, name, applied_at) VALUES (?, ?, ?)", m.App, m.Name, time.Now().UTC()).Exec(ctx)
			return err
		}
		_, err := db.NewRaw("DELETE FROM "+Table+" WHERE app = ? AND name = ?", m.App, m.Name).Exec(ctx)
		return err
	}
	var err error
	if st.noTx {
		if err = execStep(ctx, r.db, st, nil); err == nil {
			err = record(ctx, r.db)
		}
	} else {
		err = r.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			if err := execStep(ctx, tx, st, &tx); err != nil {
				return err
			}
			return record(ctx, tx)
		})
	}
	if err != nil {
		return fmt.Errorf("migrate: %s %s %s: %w", action, m.App, m.Name, err)
	}
	if r.Progress != nil {
		r.Progress(action, m.App, m.Name, time.Since(start))
	}
	return nil
}

// execStep runs a step's statements one by one so that a failure names the
// file and the statement.
func execStep(ctx context.Context, db bun.IDB, st step, tx *bun.Tx) error {
	if st.fn != nil {
		if tx == nil {
			return errors.New("a Go migration must run in a transaction")
		}
		return st.fn(ctx, *tx)
	}
	for i, stmt := range splitStatements(st.sql) {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("%s, statement %d:\n    %s\n  %w", st.file, i+1, abbreviate(stmt), err)
		}
	}
	return nil
}

func abbreviate(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = s[:300] + " …"
	}
	return s
}

func (r *Runner) ensureTable(ctx context.Context) error {
	ts := "TIMESTAMP"
	if r.db.Dialect().Name() == dialect.PG {
		ts = "TIMESTAMPTZ"
	}
	_, err := r.db.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS "+Table+
		" (app VARCHAR(100) NOT NULL, name VARCHAR(255) NOT NULL, applied_at "+ts+" NOT NULL, PRIMARY KEY (app, name))")
	if err != nil {
		return fmt.Errorf("migrate: create %s: %w", Table, err)
	}
	return nil
}

// applied returns the recorded migrations, with those a source adopts shown under that
// source's app (as adopt will record them), so that status and pending agree with migrate
// before the first migrate run of a new layout.
func (r *Runner) applied(ctx context.Context) (map[string]record, error) {
	var recs []record
	if err := r.db.NewRaw("SELECT app, name, applied_at FROM "+Table).Scan(ctx, &recs); err != nil {
		return nil, fmt.Errorf("migrate: read %s: %w", Table, err)
	}
	out := make(map[string]record, len(recs))
	for _, rec := range recs {
		out[key(rec.App, rec.Name)] = rec
	}
	for _, src := range r.sources {
		for name, former := range src.Adopts {
			rec, ok := out[key(former, name)]
			if _, done := out[key(src.App, name)]; !ok || done || former == src.App {
				continue
			}
			delete(out, key(former, name))
			rec.App = src.App
			out[key(src.App, name)] = rec
		}
	}
	return out, nil
}

// adopt re-records, under the migration lock, the migrations a source adopts: a record of
// the former app becomes the source's, unless the source already has one of that name.
func (r *Runner) adopt(ctx context.Context) error {
	for _, src := range r.sources {
		names := make([]string, 0, len(src.Adopts))
		for name := range src.Adopts {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			former := src.Adopts[name]
			if former == src.App {
				continue
			}
			_, err := r.db.NewRaw("UPDATE "+Table+" SET app = ? WHERE app = ? AND name = ? AND NOT EXISTS "+
				"(SELECT 1 FROM "+Table+" AS t WHERE t.app = ? AND t.name = ?)",
				src.App, former, name, src.App, name).Exec(ctx)
			if err != nil {
				return fmt.Errorf("migrate: record %s %s under %s: %w", former, name, src.App, err)
			}
		}
	}
	return nil
}

// locked runs fn holding the migration lock: a Postgres advisory lock, or on
// SQLite an exclusive flock on a file beside the database.
func (r *Runner) locked(ctx context.Context, fn func() error) error {
	if r.db.Dialect().Name() == dialect.PG {
		conn, err := r.db.Conn(ctx)
		if err != nil {
			return fmt.Errorf("migrate: lock: %w", err)
		}
		defer conn.Close()
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock(?)", int64(lockKey)); err != nil {
			return fmt.Errorf("migrate: take the migration lock: %w", err)
		}
		defer func() {
			_, _ = conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(?)", int64(lockKey))
		}()
		if err := r.ensureTable(ctx); err != nil {
			return err
		}
		return fn()
	}
	path, err := sqliteFile(ctx, r.db)
	if err != nil {
		return err
	}
	if path != "" {
		f, err := os.OpenFile(path+".migrate-lock", os.O_CREATE|os.O_RDWR, 0o644)
		if err != nil {
			return fmt.Errorf("migrate: lock: %w", err)
		}
		defer f.Close()
		if err := flock(ctx, f); err != nil {
			return err
		}
		defer func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }()
	}
	if err := r.ensureTable(ctx); err != nil {
		return err
	}
	return fn()
}

// flock waits for an exclusive lock on f, giving up when ctx ends.
func flock(ctx context.Context, f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return fmt.Errorf("migrate: lock %s: %w", f.Name(), err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("migrate: waiting for another migrate to finish: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// sqliteFile returns the main database file of a SQLite connection, or "" for
// an in-memory database.
func sqliteFile(ctx context.Context, db *bun.DB) (string, error) {
	rows, err := db.QueryContext(ctx, "PRAGMA database_list")
	if err != nil {
		return "", fmt.Errorf("migrate: find the database file: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var seq int
		var name string
		var file sql.NullString
		if err := rows.Scan(&seq, &name, &file); err != nil {
			return "", fmt.Errorf("migrate: find the database file: %w", err)
		}
		if name == "main" {
			return file.String, nil
		}
	}
	return "", rows.Err()
}

func missing(plan map[string][]*Migration, applied map[string]record) []string {
	known := map[string]bool{}
	for app, ms := range plan {
		for _, m := range ms {
			known[key(app, m.Name)] = true
		}
	}
	var out []string
	for _, rec := range sortedRecords(applied) {
		if !known[key(rec.App, rec.Name)] {
			out = append(out, rec.App+" "+rec.Name)
		}
	}
	return out
}

func sortedRecords(m map[string]record) []record {
	out := make([]record, 0, len(m))
	for _, r := range m {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b record) int { return strings.Compare(key(a.App, a.Name), key(b.App, b.Name)) })
	return out
}

func key(app, name string) string { return app + " " + name }
