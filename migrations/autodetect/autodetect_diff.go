package autodetect

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

type opKind int

const (
	opDropIndex opKind = iota
	opDropTable
	opCreateTable
	opAlterTable
	opCreateIndex
)

// operation is one dialect-neutral step of a migration.
type operation struct {
	kind  opKind
	table *tableDef // create/drop table: the whole table
	index indexDef  // create/drop index
	alter *alterTable
}

// alterTable is every change to the columns and foreign keys of one table.
type alterTable struct {
	name    string
	adds    []columnDef
	drops   []columnDef
	alters  []columnChange
	fkAdds  []fkDef
	fkDrops []fkDef
	// from and to are the whole table before and after, for SQLite's
	// rebuild; their indexes are the ones the rebuild recreates.
	from, to *tableDef
}

type columnChange struct{ old, new columnDef }

func (op operation) reverse() operation {
	switch op.kind {
	case opCreateTable:
		return operation{kind: opDropTable, table: op.table}
	case opDropTable:
		return operation{kind: opCreateTable, table: op.table}
	case opCreateIndex:
		return operation{kind: opDropIndex, index: op.index}
	case opDropIndex:
		return operation{kind: opCreateIndex, index: op.index}
	}
	a := op.alter
	r := &alterTable{name: a.name, adds: a.drops, drops: a.adds, fkAdds: a.fkDrops, fkDrops: a.fkAdds, from: a.to, to: a.from}
	for _, c := range a.alters {
		r.alters = append(r.alters, columnChange{old: c.new, new: c.old})
	}
	return operation{kind: opAlterTable, alter: r}
}

// String describes the operation in one line.
func (op operation) String() string {
	switch op.kind {
	case opCreateTable:
		return "Create table " + op.table.Name
	case opDropTable:
		return "Drop table " + op.table.Name
	case opCreateIndex:
		return fmt.Sprintf("Create %s %s on %s (%s)", uniqueWord(op.index.Unique), op.index.Name, op.index.Table, strings.Join(op.index.Columns, ", "))
	case opDropIndex:
		return fmt.Sprintf("Drop %s %s on %s", uniqueWord(op.index.Unique), op.index.Name, op.index.Table)
	}
	a := op.alter
	var parts []string
	for _, c := range a.adds {
		parts = append(parts, "add column "+c.Name)
	}
	for _, c := range a.drops {
		parts = append(parts, "drop column "+c.Name)
	}
	for _, c := range a.alters {
		parts = append(parts, fmt.Sprintf("alter column %s (%s -> %s)", c.new.Name, describeColumn(c.old), describeColumn(c.new)))
	}
	for _, fk := range a.fkAdds {
		parts = append(parts, fmt.Sprintf("add foreign key (%s) to %s", strings.Join(fk.Columns, ", "), fk.RefTable))
	}
	for _, fk := range a.fkDrops {
		parts = append(parts, fmt.Sprintf("drop foreign key (%s) to %s", strings.Join(fk.Columns, ", "), fk.RefTable))
	}
	return "Alter table " + a.name + ": " + strings.Join(parts, ", ")
}

func (op operation) shortName() string {
	switch op.kind {
	case opCreateTable:
		return "create_" + op.table.Name
	case opDropTable:
		return "delete_" + op.table.Name
	case opCreateIndex, opDropIndex:
		if op.kind == opDropIndex {
			return "drop_" + op.index.Name
		}
		return "" // named with the table it belongs to, or "auto"
	}
	a := op.alter
	switch {
	case len(a.adds) == 1 && len(a.drops)+len(a.alters) == 0:
		return "add_" + a.name + "_" + a.adds[0].Name
	case len(a.drops) == 1 && len(a.adds)+len(a.alters) == 0:
		return "remove_" + a.name + "_" + a.drops[0].Name
	case len(a.alters) == 1 && len(a.adds)+len(a.drops) == 0:
		return "alter_" + a.name + "_" + a.alters[0].new.Name
	}
	return "alter_" + a.name
}

func uniqueWord(u bool) string {
	if u {
		return "unique index"
	}
	return "index"
}

func describeColumn(c columnDef) string {
	s := c.Type.String()
	if c.NotNull {
		s += " not null"
	} else {
		s += " null"
	}
	return s
}

// diff compares the schema the migrations produce (cur; a nil entry is a
// table created by an earlier source) with the models' (want), and returns
// the operations that take cur to want.
func diff(cur, want map[string]*tableDef) ([]operation, error) {
	var dropIdx, dropTables, creates, alters, createIdx []operation
	for _, name := range sortedKeys(want) {
		w := want[name]
		c, ok := cur[name]
		if ok && c == nil {
			return nil, fmt.Errorf("the table %s of a model is created by the migrations of another app (or the framework), not this app's", name)
		}
		if !ok {
			creates = append(creates, operation{kind: opCreateTable, table: w})
			continue
		}
		a, di, ci := diffTable(c, w)
		dropIdx = append(dropIdx, di...)
		createIdx = append(createIdx, ci...)
		if a != nil {
			alters = append(alters, operation{kind: opAlterTable, alter: a})
		}
	}
	for _, name := range sortedKeys(cur) {
		if c := cur[name]; c != nil && want[name] == nil {
			dropTables = append(dropTables, operation{kind: opDropTable, table: c})
		}
	}
	creates = byDependency(creates, false)
	dropTables = byDependency(dropTables, true)
	out := slices.Concat(dropIdx, dropTables, creates, alters, createIdx)
	return out, nil
}

// diffTable compares one table. It returns the alteration (nil when the
// columns and foreign keys agree), the indexes to drop first and the ones to
// create last.
func diffTable(c, w *tableDef) (*alterTable, []operation, []operation) {
	a := &alterTable{name: c.Name}
	dropped := map[string]bool{}
	for _, wc := range w.Columns {
		cc, ok := c.column(wc.Name)
		if !ok {
			if wc.NotNull && wc.Default == "" && !wc.PK {
				wc.Default = zeroDefault(wc.Type)
			}
			a.adds = append(a.adds, wc)
			continue
		}
		typeOK := sameType(wc, cc)
		if typeOK && wc.NotNull == cc.NotNull {
			continue
		}
		nc := cc
		nc.NotNull = wc.NotNull
		if !typeOK {
			nc.Type, nc.explicit = wc.Type, wc.explicit
		}
		a.alters = append(a.alters, columnChange{old: cc, new: nc})
	}
	for _, cc := range c.Columns {
		if _, ok := w.column(cc.Name); !ok {
			a.drops = append(a.drops, cc)
			dropped[cc.Name] = true
		}
	}
	touchesDropped := func(cols []string) bool {
		return slices.ContainsFunc(cols, func(s string) bool { return dropped[s] })
	}
	for _, fk := range w.FKs {
		if !slices.ContainsFunc(c.FKs, func(o fkDef) bool { return sameFK(fk, o) }) {
			a.fkAdds = append(a.fkAdds, fk)
		}
	}
	for _, fk := range c.FKs {
		if touchesDropped(fk.Columns) {
			a.fkDrops = append(a.fkDrops, fk)
		}
	}

	var dropIdx, createIdx []operation
	droppedIdx := map[string]bool{}
	for _, ix := range c.Indexes {
		if ix.opaque || ix.inline {
			continue
		}
		declared := slices.ContainsFunc(w.Indexes, func(o indexDef) bool { return o.sameKey(ix) })
		if touchesDropped(ix.Columns) || (w.managed && !declared) {
			dropIdx = append(dropIdx, operation{kind: opDropIndex, index: ix})
			droppedIdx[ix.Name] = true
		}
	}
	for _, ix := range w.Indexes {
		if !slices.ContainsFunc(c.Indexes, func(o indexDef) bool { return !o.opaque && o.sameKey(ix) }) {
			createIdx = append(createIdx, operation{kind: opCreateIndex, index: ix})
		}
	}
	if len(a.adds)+len(a.drops)+len(a.alters)+len(a.fkAdds) == 0 {
		return nil, dropIdx, createIdx
	}

	// The whole table before and after, for SQLite's rebuild.
	from := c.clone()
	from.Indexes = slices.DeleteFunc(from.Indexes, func(ix indexDef) bool { return droppedIdx[ix.Name] })
	to := &tableDef{Name: c.Name}
	for _, cc := range c.Columns {
		if dropped[cc.Name] {
			continue
		}
		for _, ch := range a.alters {
			if ch.new.Name == cc.Name {
				cc = ch.new
			}
		}
		to.Columns = append(to.Columns, cc)
	}
	to.Columns = append(to.Columns, a.adds...)
	for _, fk := range c.FKs {
		if !touchesDropped(fk.Columns) {
			to.FKs = append(to.FKs, fk)
		}
	}
	to.FKs = append(to.FKs, a.fkAdds...)
	for _, ix := range from.Indexes {
		if ix.opaque && !indexSQLMentionsAny(ix.sqliteSQL, dropped) || !ix.opaque && !touchesDropped(ix.Columns) {
			to.Indexes = append(to.Indexes, ix)
		}
	}
	a.from, a.to = from, to
	return a, dropIdx, createIdx
}

// indexSQLMentionsAny is a conservative check that an expression index uses
// none of the dropped columns.
func indexSQLMentionsAny(sql string, cols map[string]bool) bool {
	l := strings.ToLower(sql)
	for c := range cols {
		if strings.Contains(l, strings.ToLower(c)) {
			return true
		}
	}
	return false
}

func sameFK(a, b fkDef) bool {
	if strings.Join(a.Columns, ",") != strings.Join(b.Columns, ",") || a.RefTable != b.RefTable {
		return false
	}
	// SQLite leaves the referenced columns empty for REFERENCES t (its key).
	if strings.Join(a.RefColumns, "") == "" || strings.Join(b.RefColumns, "") == "" {
		return true
	}
	return strings.Join(a.RefColumns, ",") == strings.Join(b.RefColumns, ",")
}

// byDependency orders table creations so that a table comes after the tables
// it references (reversed for drops).
func byDependency(ops []operation, reverse bool) []operation {
	in := map[string]bool{}
	for _, op := range ops {
		in[op.table.Name] = true
	}
	done := map[string]bool{}
	var out []operation
	var visit func(op operation, depth int)
	byName := map[string]operation{}
	for _, op := range ops {
		byName[op.table.Name] = op
	}
	visit = func(op operation, depth int) {
		if done[op.table.Name] || depth > len(ops) {
			return
		}
		done[op.table.Name] = true
		for _, fk := range op.table.FKs {
			if in[fk.RefTable] && fk.RefTable != op.table.Name {
				visit(byName[fk.RefTable], depth+1)
			}
		}
		out = append(out, op)
	}
	for _, op := range ops {
		visit(op, 0)
	}
	if reverse {
		slices.Reverse(out)
	}
	return out
}

func sortedKeys(m map[string]*tableDef) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
