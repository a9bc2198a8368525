package autodetect

import (
	"context"
	"errors"
	"fmt"
	"manouche/migrations"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/uptrace/bun/dialect"
)

// Changes is what makemigrations found between an app's models and the
// schema its migrations produce, as dialect-neutral operations in the order
// they apply.
type Changes struct {
	App      string
	ops      []operation
	warnings []string
}

// Warnings lists what a developer should check before applying the
// migration: SQLite table rebuilds that other tables' foreign keys would
// block, unique columns added with one default for every existing row,
// columns dropped and added together (a rename is not detected as one).
func (c *Changes) Warnings() []string {
	if c == nil {
		return nil
	}
	return c.warnings
}

// Empty reports whether the models and the migrations agree.
func (c *Changes) Empty() bool { return c == nil || len(c.ops) == 0 }

// Operations describes each operation in one line, in order.
func (c *Changes) Operations() []string {
	var out []string
	for _, op := range c.ops {
		out = append(out, op.String())
	}
	return out
}

// SQL renders the changes for one dialect (dialect.PG or dialect.SQLite):
// the up migration and the down migration that undoes it.
func (c *Changes) SQL(d dialect.Name) (up, down string, err error) {
	if c.Empty() {
		return "", "", errors.New("makemigrations: no changes to render")
	}
	var r renderer
	switch d {
	case dialect.PG:
		r = pgRenderer{}
	case dialect.SQLite:
		r = sqliteRenderer{}
	default:
		return "", "", fmt.Errorf("makemigrations: cannot render SQL for dialect %s", d)
	}
	up, err = renderAll(r, c.App, c.ops, "up")
	if err != nil {
		return "", "", err
	}
	rev := make([]operation, 0, len(c.ops))
	for i := len(c.ops) - 1; i >= 0; i-- {
		rev = append(rev, c.ops[i].reverse())
	}
	down, err = renderAll(r, c.App, rev, "down")
	if err != nil {
		return "", "", err
	}
	return up, down, nil
}

// Detect builds the schema that sources produce by applying them, in order,
// to a scratch SQLite database in a temporary folder, then compares the
// tables that the app's own source (the one whose App is app) creates with
// models (bun model pointers, as core.Modeler returns them). Sources before
// the app's are applied first so that its foreign keys resolve; sources after
// it are ignored. No Postgres server is needed.
func Detect(ctx context.Context, app string, models []any, sources []migrations.Source) (*Changes, error) {
	idx := -1
	for i, s := range sources {
		if s.App == app {
			idx = i
			break
		}
	}
	if idx < 0 {
		return nil, fmt.Errorf("makemigrations: no migrations source for app %q", app)
	}
	if len(models) == 0 {
		return nil, fmt.Errorf("makemigrations: app %s lists no models", app)
	}
	want, err := modelSchema(models)
	if err != nil {
		return nil, fmt.Errorf("makemigrations: %s: %w", app, err)
	}
	cur, refs, err := scratchSchema(ctx, sources[:idx+1])
	if err != nil {
		return nil, fmt.Errorf("makemigrations: %s: %w", app, err)
	}
	ops, err := diff(cur, want)
	if err != nil {
		return nil, fmt.Errorf("makemigrations: %s: %w", app, err)
	}
	return &Changes{App: app, ops: ops, warnings: warnings(ops, refs)}, nil
}

func columnNames(cols []columnDef) string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Name
	}
	return strings.Join(names, ", ")
}

func warnings(ops []operation, refs map[string][]string) []string {
	var out []string
	added := map[string]columnDef{}
	for _, op := range ops {
		if op.kind != opAlterTable {
			continue
		}
		a := op.alter
		for _, c := range a.adds {
			added[a.name+"."+c.Name] = c
		}
		if len(a.adds) > 0 && len(a.drops) > 0 {
			out = append(out, fmt.Sprintf("table %s loses column(s) %s and gains %s: if that is a rename, replace the DROP/ADD with ALTER TABLE %s RENAME COLUMN in both files, or the column's data is lost", a.name, columnNames(a.drops), columnNames(a.adds), a.name))
		}
		if !sqliteNeedsRebuild(a) {
			continue
		}
		if r := refs[a.name]; len(r) > 0 {
			out = append(out, fmt.Sprintf("SQLite must rebuild table %s, which %s reference(s) by foreign key: the SQLite migration will refuse to run; write that part by hand", a.name, strings.Join(r, ", ")))
		} else {
			out = append(out, fmt.Sprintf("SQLite rebuilds table %s (copy, drop, rename); it refuses to run if a table of an app installed later has a foreign key to it", a.name))
		}
	}
	for _, op := range ops {
		if op.kind != opCreateIndex || !op.index.Unique {
			continue
		}
		for _, col := range op.index.Columns {
			if c, ok := added[op.index.Table+"."+col]; ok && c.NotNull {
				out = append(out, fmt.Sprintf("column %s.%s is added NOT NULL with the default %s and made unique: the migration fails if the table has more than one row; give existing rows distinct values by hand", op.index.Table, col, c.Default))
			}
		}
	}
	return out
}

// WriteChanges writes the changes as a migration named name into dir: the
// four files of Generated, <ts>_<name>.up.postgres.sql, .down.postgres.sql,
// .up.sqlite.sql and .down.sqlite.sql, timestamped with now (UTC). It never
// overwrites a file and writes none when any exists. It returns the paths
// written.
func WriteChanges(dir, name string, now time.Time, c *Changes) ([]string, error) {
	if !migrations.ValidName(name) {
		return nil, fmt.Errorf("makemigrations: %q is not a migration name: use lower-case letters, digits and underscores, starting with a letter", name)
	}
	if c.Empty() {
		return nil, errors.New("makemigrations: no changes to write")
	}
	type file struct{ path, body string }
	sql := map[string]string{} // "up.postgres" → its SQL
	generated := migrations.Generated(now.UTC().Format("20060102150405") + "_" + name)
	for _, g := range generated {
		if _, done := sql["up."+g.Dialect]; done {
			continue
		}
		up, down, err := c.SQL(g.Bun)
		if err != nil {
			return nil, err
		}
		sql["up."+g.Dialect], sql["down."+g.Dialect] = up, down
	}
	var files []file
	for _, g := range generated {
		files = append(files, file{filepath.Join(dir, g.Name), sql[g.Direction+"."+g.Dialect]})
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("makemigrations: %w", err)
	}
	for _, f := range files {
		if _, err := os.Stat(f.path); err == nil {
			return nil, fmt.Errorf("makemigrations: %s already exists", f.path)
		} else if !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("makemigrations: %w", err)
		}
	}
	var paths []string
	for _, f := range files {
		if err := os.WriteFile(f.path, []byte(f.body), 0o644); err != nil {
			for _, p := range paths {
				_ = os.Remove(p)
			}
			return nil, fmt.Errorf("makemigrations: %w", err)
		}
		paths = append(paths, f.path)
	}
	return paths, nil
}

// SuggestName names a migration after its changes, the way Django does:
// create_posts, add_posts_title, or auto when there are several.
func (c *Changes) SuggestName() string {
	if c.Empty() {
		return "auto"
	}
	if len(c.ops) == 1 || allCreates(c.ops) {
		var parts []string
		for _, op := range c.ops {
			if n := op.shortName(); n != "" {
				parts = append(parts, n)
			}
		}
		name := strings.Join(parts, "_")
		if name != "" && len(name) <= 60 && migrations.ValidName(name) {
			return name
		}
	}
	return "auto"
}

func allCreates(ops []operation) bool {
	n := 0
	for _, op := range ops {
		switch op.kind {
		case opCreateTable:
			n++
		case opCreateIndex:
		default:
			return false
		}
	}
	return n > 0
}
