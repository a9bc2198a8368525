// Package migrations holds the framework's own migrations (GoAdmin's tables,
// the job queue's tables) and the runner that applies them, then every
// installed app's, in order, recording what ran in the manouche_migrations
// table.
//
// A migration is an up and a down file per dialect in an app's embedded
// folder, as startapp and makemigrations write them (see Generated):
//
//	20261126190000_create_posts.up.postgres.sql
//	20261126190000_create_posts.down.postgres.sql
//	20261126190000_create_posts.up.sqlite.sql
//	20261126190000_create_posts.down.sqlite.sql
//
// or a plain 20261126190000_create_posts.up.sql / .down.sql that serves both
// dialects (what `makemigrations --empty` writes for SQL written by hand), a
// dialect file winning over the plain one. Each runs in a
// transaction; a file whose first line is `-- manouche:no-transaction` runs
// outside one (Postgres' CREATE INDEX CONCURRENTLY needs that).
package migrations

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
)

//go:embed sql
var frameworkFiles embed.FS

// FrameworkApp is the name the framework's own migrations are recorded under.
const FrameworkApp = "manouche"

// Func is a Go migration step. It runs inside the migration's transaction.
type Func func(ctx context.Context, tx bun.Tx) error

// GoMigration is a migration written in Go rather than SQL.
type GoMigration struct {
	Name     string
	Up, Down Func
}

// goMigrations is the registry of the framework's Go migrations, filled by init
// functions in this package.
var goMigrations []GoMigration

// register adds a framework Go migration; it panics on a duplicate name.
func register(name string, up, down Func) {
	for _, m := range goMigrations {
		if m.Name == name {
			panic("migrations: duplicate framework migration " + name)
		}
	}
	goMigrations = append(goMigrations, GoMigration{Name: name, Up: up, Down: down})
}

// Source is one app's migrations: an embedded folder of SQL files and,
// optionally, Go migrations.
type Source struct {
	App string
	FS  fs.FS
	Go  []GoMigration
	// Adopts names migrations of this source that another app recorded before they moved
	// here: migration name -> the app they were recorded under. Migrate re-records them under
	// App (when App has no record of that name yet) before it plans anything, so a database
	// migrated with the old layout does not run them a second time.
	Adopts map[string]string
}

// Framework returns the framework's own migrations, which run before any app's.
func Framework() Source {
	sub, err := fs.Sub(frameworkFiles, "sql")
	if err != nil {
		panic(err)
	}
	return Source{App: FrameworkApp, FS: sub, Go: goMigrations}
}

// Migration is one step of an app, with its SQL or Go code for both directions.
type Migration struct {
	App  string
	Name string
	up   step
	down step
}

type step struct {
	file string // the file's name, for error messages; "" for Go migrations
	sql  string
	fn   Func
	noTx bool
}

func (s step) empty() bool { return s.fn == nil && s.file == "" }

// HasDown reports whether the migration can be unapplied.
func (m *Migration) HasDown() bool { return !m.down.empty() }

var fileRe = regexp.MustCompile(`^(\d{14}_[a-z0-9_]+)\.(up|down)(?:\.(postgres|sqlite))?\.sql$`)

// load reads a source's migrations for one dialect, in name order.
func load(src Source, d dialect.Name) ([]*Migration, error) {
	byName := map[string]*Migration{}
	get := func(name string) *Migration {
		m := byName[name]
		if m == nil {
			m = &Migration{App: src.App, Name: name}
			byName[name] = m
		}
		return m
	}
	dialectName := map[dialect.Name]string{dialect.PG: "postgres", dialect.SQLite: "sqlite"}[d]
	if src.FS != nil {
		entries, err := fs.ReadDir(src.FS, ".")
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("migrations: read %s: %w", src.App, err)
		}
		for _, e := range entries {
			if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
				continue
			}
			parts := fileRe.FindStringSubmatch(e.Name())
			if parts == nil {
				return nil, fmt.Errorf("migrations: %s/%s: a migration file is named YYYYMMDDHHMMSS_name.up.sql or .down.sql (optionally .up.postgres.sql / .up.sqlite.sql)", src.App, e.Name())
			}
			name, dir, fileDialect := parts[1], parts[2], parts[3]
			if fileDialect != "" && fileDialect != dialectName {
				get(name) // the migration exists even when only the other dialect has a file
				continue
			}
			b, err := fs.ReadFile(src.FS, e.Name())
			if err != nil {
				return nil, fmt.Errorf("migrations: read %s/%s: %w", src.App, e.Name(), err)
			}
			st := step{file: path.Join(src.App, e.Name()), sql: string(b), noTx: hasNoTxDirective(string(b))}
			m := get(name)
			target := &m.up
			if dir == "down" {
				target = &m.down
			}
			// A dialect-specific file wins over the plain one.
			if target.file == "" || fileDialect != "" {
				*target = st
			}
		}
	}
	for _, g := range src.Go {
		m := get(g.Name)
		if !m.up.empty() {
			return nil, fmt.Errorf("migrations: %s %s is both a Go and an SQL migration", src.App, g.Name)
		}
		m.up = step{fn: g.Up}
		if g.Down != nil {
			m.down = step{fn: g.Down}
		}
	}
	out := make([]*Migration, 0, len(byName))
	for _, m := range byName {
		if m.up.empty() {
			return nil, fmt.Errorf("migrations: %s %s has no up migration for %s", src.App, m.Name, dialectName)
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func hasNoTxDirective(sql string) bool {
	first, _, _ := strings.Cut(strings.TrimSpace(sql), "\n")
	return strings.TrimSpace(first) == "-- manouche:no-transaction"
}
