package autodetect

import (
	"context"
	"database/sql"
	"fmt"
	"manouche/migrations"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/driver/sqliteshim"
)

// scratchSchema applies sources, in order, to a new SQLite database in a
// temporary folder and returns the tables the last source created (tables
// that existed before it are left out), read back from SQLite, and for every
// table the tables whose foreign keys reference it.
func scratchSchema(ctx context.Context, sources []migrations.Source) (map[string]*tableDef, map[string][]string, error) {
	dir, err := os.MkdirTemp("", "manouche-makemigrations-")
	if err != nil {
		return nil, nil, fmt.Errorf("scratch database: %w", err)
	}
	defer os.RemoveAll(dir)
	sqldb, err := sql.Open(sqliteshim.ShimName, "file:"+filepath.Join(dir, "scratch.sqlite3")+"?_pragma=foreign_keys(1)&_pragma=busy_timeout(5000)")
	if err != nil {
		return nil, nil, fmt.Errorf("scratch database: %w", err)
	}
	sqldb.SetMaxOpenConns(1)
	db := bun.NewDB(sqldb, sqlitedialect.New())
	defer db.Close()

	last := sources[len(sources)-1]
	if _, err := migrations.New(db, sources[:len(sources)-1]...).Migrate(ctx); err != nil {
		return nil, nil, fmt.Errorf("apply the migrations of the apps before %s to a scratch SQLite database: %w", last.App, err)
	}
	before, err := tableNames(ctx, db)
	if err != nil {
		return nil, nil, err
	}
	if _, err := migrations.New(db, sources...).Migrate(ctx); err != nil {
		return nil, nil, fmt.Errorf("apply the migrations of %s to a scratch SQLite database: %w", last.App, err)
	}
	after, err := tableNames(ctx, db)
	if err != nil {
		return nil, nil, err
	}
	out := map[string]*tableDef{}
	for name, createSQL := range after {
		if _, ok := before[name]; ok || name == migrations.Table {
			continue
		}
		t, err := inspectTable(ctx, db, name, createSQL)
		if err != nil {
			return nil, nil, err
		}
		out[name] = t
	}
	// A table created before the app's migrations may not be claimed by one
	// of its models; report it through a placeholder.
	for name := range before {
		if _, ok := out[name]; !ok && name != migrations.Table {
			out[name] = nil
		}
	}
	refs, err := referencingTables(ctx, db)
	if err != nil {
		return nil, nil, err
	}
	return out, refs, nil
}

// referencingTables maps each table to the other tables that have foreign
// keys to it.
func referencingTables(ctx context.Context, db *bun.DB) (map[string][]string, error) {
	rows, err := db.QueryContext(ctx, `SELECT DISTINCT m.name, f."table" FROM sqlite_schema AS m, pragma_foreign_key_list(m.name) AS f WHERE m.type = 'table' ORDER BY m.name`)
	if err != nil {
		return nil, fmt.Errorf("inspect scratch database: %w", err)
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var from, to string
		if err := rows.Scan(&from, &to); err != nil {
			return nil, fmt.Errorf("inspect scratch database: %w", err)
		}
		if from != to {
			out[to] = append(out[to], from)
		}
	}
	return out, rows.Err()
}

func tableNames(ctx context.Context, db *bun.DB) (map[string]string, error) {
	rows, err := db.QueryContext(ctx, "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
	if err != nil {
		return nil, fmt.Errorf("inspect scratch database: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var name string
		var s sql.NullString
		if err := rows.Scan(&name, &s); err != nil {
			return nil, fmt.Errorf("inspect scratch database: %w", err)
		}
		out[name] = s.String
	}
	return out, rows.Err()
}

func inspectTable(ctx context.Context, db *bun.DB, name, createSQL string) (*tableDef, error) {
	t := &tableDef{Name: name, sqliteSQL: createSQL}
	fail := func(err error) (*tableDef, error) {
		return nil, fmt.Errorf("inspect table %s: %w", name, err)
	}
	q := quoteIdent(name)
	rows, err := db.QueryContext(ctx, "PRAGMA table_info("+q+")")
	if err != nil {
		return fail(err)
	}
	for rows.Next() {
		var cid, notnull, pk int
		var cname, ctype string
		var dflt sql.NullString
		if err := rows.Scan(&cid, &cname, &ctype, &notnull, &dflt, &pk); err != nil {
			rows.Close()
			return fail(err)
		}
		t.Columns = append(t.Columns, columnDef{Name: cname, Type: parseType(ctype), NotNull: notnull == 1 || pk > 0, PK: pk > 0, Default: dflt.String})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fail(err)
	}
	if pk := t.pk(); len(pk) == 1 {
		for i := range t.Columns {
			if t.Columns[i].PK && t.Columns[i].Type.Kind == "integer" && t.Columns[i].Type.Params == "" {
				t.Columns[i].AutoIncrement = true // a rowid alias
				t.Columns[i].plainRowid = !strings.Contains(strings.ToUpper(createSQL), "AUTOINCREMENT")
			}
		}
	}

	type idx struct {
		name, origin  string
		unique, part  int
		createSQL     sql.NullString
		cols          []string
		hasExpression bool
	}
	var idxs []*idx
	rows, err = db.QueryContext(ctx, "PRAGMA index_list("+q+")")
	if err != nil {
		return fail(err)
	}
	for rows.Next() {
		var seq int
		ix := &idx{}
		if err := rows.Scan(&seq, &ix.name, &ix.unique, &ix.origin, &ix.part); err != nil {
			rows.Close()
			return fail(err)
		}
		idxs = append(idxs, ix)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fail(err)
	}
	for _, ix := range idxs {
		if ix.origin == "pk" {
			continue
		}
		rows, err := db.QueryContext(ctx, "PRAGMA index_xinfo("+quoteIdent(ix.name)+")")
		if err != nil {
			return fail(err)
		}
		for rows.Next() {
			var seqno, cid, desc, key int
			var cname, coll sql.NullString
			if err := rows.Scan(&seqno, &cid, &cname, &desc, &coll, &key); err != nil {
				rows.Close()
				return fail(err)
			}
			if key == 0 {
				continue
			}
			if cid == -2 || !cname.Valid {
				ix.hasExpression = true
				continue
			}
			ix.cols = append(ix.cols, cname.String)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fail(err)
		}
		if err := db.QueryRowContext(ctx, "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?", ix.name).Scan(&ix.createSQL); err != nil {
			return fail(err)
		}
		t.Indexes = append(t.Indexes, indexDef{
			Name: ix.name, Table: name, Columns: ix.cols, Unique: ix.unique == 1,
			inline: ix.origin == "u", opaque: ix.hasExpression || ix.part == 1, sqliteSQL: ix.createSQL.String,
		})
	}
	sort.Slice(t.Indexes, func(i, j int) bool { return t.Indexes[i].Name < t.Indexes[j].Name })

	rows, err = db.QueryContext(ctx, "PRAGMA foreign_key_list("+q+")")
	if err != nil {
		return fail(err)
	}
	byID := map[int]*fkDef{}
	var ids []int
	for rows.Next() {
		var id, seq int
		var ref, from, onUpdate, onDelete, match string
		var to sql.NullString
		if err := rows.Scan(&id, &seq, &ref, &from, &to, &onUpdate, &onDelete, &match); err != nil {
			rows.Close()
			return fail(err)
		}
		fk := byID[id]
		if fk == nil {
			fk = &fkDef{RefTable: ref, OnDelete: action(onDelete, ""), OnUpdate: action(onUpdate, "")}
			byID[id] = fk
			ids = append(ids, id)
		}
		fk.Columns = append(fk.Columns, from)
		fk.RefColumns = append(fk.RefColumns, to.String)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fail(err)
	}
	sort.Ints(ids)
	for _, id := range ids {
		fk := byID[id]
		fk.Name = name + "_" + strings.Join(fk.Columns, "_") + "_fkey"
		t.FKs = append(t.FKs, *fk)
	}
	return t, nil
}

// quoteIdent quotes an identifier the same way for both dialects.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
