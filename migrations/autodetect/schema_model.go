package autodetect

import (
	"fmt"
	"manouche/migrations"
	"reflect"
	"sort"
	"strings"

	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/schema"
)

// modelSchema reads the tables the models describe. Types are taken as the
// Postgres dialect of bun sees them (the richer of the two), then made
// canonical.
func modelSchema(models []any) (map[string]*tableDef, error) {
	tables := pgdialect.New().Tables()
	out := map[string]*tableDef{}
	for _, m := range models {
		t, err := modelTable(tables, m)
		if err != nil {
			return nil, err
		}
		if prev, ok := out[t.Name]; ok && prev != nil {
			return nil, fmt.Errorf("two models use table %s", t.Name)
		}
		out[t.Name] = t
	}
	return out, nil
}

func modelTable(tables *schema.Tables, m any) (def *tableDef, err error) {
	if m == nil {
		return nil, fmt.Errorf("a model is nil: list models as (*Post)(nil)")
	}
	typ := reflect.TypeOf(m)
	if typ.Kind() != reflect.Pointer || typ.Elem().Kind() != reflect.Struct {
		return nil, fmt.Errorf("model %T is not a pointer to a struct: list models as (*Post)(nil)", m)
	}
	if !hasTableTag(typ.Elem()) {
		return nil, fmt.Errorf("model %s has no table name: embed bun.BaseModel with a tag such as `bun:\"table:posts,alias:p\"`", typ.Elem())
	}
	defer func() {
		if r := recover(); r != nil {
			def, err = nil, fmt.Errorf("model %s: bun cannot read it: %v", typ.Elem(), r)
		}
	}()
	t := tables.Get(typ.Elem())
	if strings.Contains(t.Name, ".") {
		return nil, fmt.Errorf("model %s: tables in a named schema (%s) are not supported", typ.Elem(), t.Name)
	}
	def = &tableDef{Name: t.Name}
	if len(t.Fields) == 0 {
		return nil, fmt.Errorf("model %s has no columns", typ.Elem())
	}
	for _, f := range t.Fields {
		sqlType := f.CreateTableSQLType
		c := columnDef{
			Name:          f.Name,
			Type:          parseType(sqlType),
			NotNull:       f.NotNull || f.IsPK,
			PK:            f.IsPK,
			AutoIncrement: f.AutoIncrement || f.Identity || isSerial(sqlType),
			Default:       f.SQLDefault,
			explicit:      f.UserSQLType != "",
		}
		if c.Type.Kind == "" {
			return nil, fmt.Errorf("model %s: field %s has no SQL type", typ.Elem(), f.GoName)
		}
		def.Columns = append(def.Columns, c)
	}
	// Unique indexes from tags: `unique` alone makes one per column, a named
	// group (`unique:group`) one over the group.
	names := make([]string, 0, len(t.Unique))
	for name := range t.Unique {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		group := t.Unique[name]
		if name == "" {
			for _, f := range group {
				def.Indexes = append(def.Indexes, indexDef{Table: t.Name, Columns: []string{f.Name}, Unique: true})
			}
			continue
		}
		cols := make([]string, len(group))
		for i, f := range group {
			cols[i] = f.Name
		}
		def.Indexes = append(def.Indexes, indexDef{Name: name, Table: t.Name, Columns: cols, Unique: true})
	}
	if mi, ok := m.(migrations.ModelIndexes); ok {
		def.managed = true
		for _, ix := range mi.Indexes() {
			if len(ix.Columns) == 0 {
				return nil, fmt.Errorf("model %s: an index has no columns", typ.Elem())
			}
			for _, c := range ix.Columns {
				if _, ok := def.column(c); !ok {
					return nil, fmt.Errorf("model %s: index on unknown column %q", typ.Elem(), c)
				}
			}
			def.Indexes = append(def.Indexes, indexDef{Name: ix.Name, Table: t.Name, Columns: append([]string(nil), ix.Columns...), Unique: ix.Unique})
		}
	}
	for i := range def.Indexes {
		if def.Indexes[i].Name == "" {
			def.Indexes[i].Name = indexName(t.Name, def.Indexes[i].Columns, def.Indexes[i].Unique)
		}
	}
	// Foreign keys from belongs-to and has-one relations, as bun's CREATE TABLE
	// ... WithForeignKeys() would declare them.
	relNames := make([]string, 0, len(t.Relations))
	for name := range t.Relations {
		relNames = append(relNames, name)
	}
	sort.Strings(relNames)
	for _, name := range relNames {
		rel := t.Relations[name]
		if !rel.References() {
			continue
		}
		fk := fkDef{RefTable: rel.JoinTable.Name, OnDelete: action(rel.OnDelete, "ON DELETE"), OnUpdate: action(rel.OnUpdate, "ON UPDATE")}
		for _, f := range rel.BasePKs {
			fk.Columns = append(fk.Columns, f.Name)
		}
		for _, f := range rel.JoinPKs {
			fk.RefColumns = append(fk.RefColumns, f.Name)
		}
		fk.Name = t.Name + "_" + strings.Join(fk.Columns, "_") + "_fkey"
		def.FKs = append(def.FKs, fk)
	}
	return def, nil
}

// action turns bun's "ON DELETE CASCADE" into "CASCADE"; NO ACTION, the
// default, into "".
func action(s, prefix string) string {
	s = strings.ToUpper(strings.TrimSpace(strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(s)), prefix)))
	if s == "NO ACTION" {
		return ""
	}
	return s
}

// hasTableTag reports whether a struct embeds bun.BaseModel with a table name.
func hasTableTag(t reflect.Type) bool {
	base := reflect.TypeOf(schema.BaseModel{})
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Type != base {
			continue
		}
		for _, part := range strings.Split(f.Tag.Get("bun"), ",") {
			if name, ok := strings.CutPrefix(strings.TrimSpace(part), "table:"); ok && name != "" {
				return true
			}
		}
		// bun also reads `bun:"posts"` (the first, unnamed option) as the table.
		first, _, _ := strings.Cut(f.Tag.Get("bun"), ",")
		return first != "" && !strings.Contains(first, ":")
	}
	return false
}

func indexName(table string, cols []string, unique bool) string {
	suffix := "_idx"
	if unique {
		suffix = "_key"
	}
	return table + "_" + strings.Join(cols, "_") + suffix
}
