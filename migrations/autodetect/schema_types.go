package autodetect

import (
	"strings"
)

// tableDef is a table as makemigrations compares and renders it, independent
// of the dialect.
type tableDef struct {
	Name    string
	Columns []columnDef
	Indexes []indexDef
	FKs     []fkDef
	// sqliteSQL is the CREATE TABLE statement SQLite recorded, for a table read
	// from the scratch database ("" for a model's table).
	sqliteSQL string
	// managed is true for a model that implements migrations.ModelIndexes.
	managed bool
}

func (t *tableDef) column(name string) (columnDef, bool) {
	for _, c := range t.Columns {
		if c.Name == name {
			return c, true
		}
	}
	return columnDef{}, false
}

func (t *tableDef) pk() []string {
	var out []string
	for _, c := range t.Columns {
		if c.PK {
			out = append(out, c.Name)
		}
	}
	return out
}

func (t *tableDef) clone() *tableDef {
	c := *t
	c.Columns = append([]columnDef(nil), t.Columns...)
	c.Indexes = append([]indexDef(nil), t.Indexes...)
	c.FKs = append([]fkDef(nil), t.FKs...)
	return &c
}

type columnDef struct {
	Name          string
	Type          colType
	NotNull       bool
	PK            bool
	AutoIncrement bool
	// Default is an SQL expression written the same in both dialects, or "".
	Default string
	// plainRowid is a SQLite INTEGER PRIMARY KEY declared without
	// AUTOINCREMENT: a rebuild keeps it that way.
	plainRowid bool
	// explicit is true when a model spelled the type out (`type:varchar(100)`):
	// then its length, and text versus varchar, count.
	explicit bool
}

type indexDef struct {
	Name    string
	Table   string
	Columns []string
	Unique  bool
	// inline is an index SQLite made for a UNIQUE constraint in CREATE TABLE
	// (sqlite_autoindex_*): it cannot be dropped by name.
	inline bool
	// opaque is an expression or partial index: never compared, kept as is.
	opaque bool
	// sqliteSQL is the index's CREATE INDEX statement as SQLite recorded it.
	sqliteSQL string
}

func (ix indexDef) sameKey(o indexDef) bool {
	return ix.Unique == o.Unique && strings.Join(ix.Columns, ",") == strings.Join(o.Columns, ",")
}

type fkDef struct {
	Name       string
	Columns    []string
	RefTable   string
	RefColumns []string
	OnDelete   string // CASCADE, SET NULL, ... or ""
	OnUpdate   string
}

// colType is a column type in canonical, Postgres-flavoured terms: Kind is
// one of smallint, integer, bigint, real, double, numeric, boolean, varchar,
// char, text, timestamp, timestamptz, date, time, uuid, json, jsonb, bytea,
// or any other type name as written (lower case). Params is what followed in
// parentheses ("254", "10,2"), spaces removed.
type colType struct {
	Kind   string
	Params string
}

var typeAliases = map[string]string{
	"int": "integer", "integer": "integer", "int4": "integer", "mediumint": "integer", "serial": "integer",
	"bigint": "bigint", "int8": "bigint", "bigserial": "bigint",
	"smallint": "smallint", "int2": "smallint", "tinyint": "smallint", "smallserial": "smallint",
	"real": "real", "float4": "real",
	"double precision": "double", "double": "double", "float8": "double", "float": "double",
	"numeric": "numeric", "decimal": "numeric",
	"boolean": "boolean", "bool": "boolean",
	"varchar": "varchar", "character varying": "varchar", "nvarchar": "varchar", "varying character": "varchar",
	"char": "char", "character": "char", "bpchar": "char", "nchar": "char",
	"text": "text", "clob": "text",
	"timestamp": "timestamp", "datetime": "timestamp", "timestamp without time zone": "timestamp",
	"timestamptz": "timestamptz", "timestamp with time zone": "timestamptz",
	"date": "date", "time": "time", "time without time zone": "time",
	"uuid": "uuid", "json": "json", "jsonb": "jsonb",
	"bytea": "bytea", "blob": "bytea",
}

// parseType reads a declared SQL type (from a model or from SQLite).
func parseType(s string) colType {
	s = strings.ToLower(strings.Join(strings.Fields(s), " "))
	name, params := s, ""
	if i := strings.IndexByte(s, '('); i >= 0 && strings.HasSuffix(s, ")") {
		name, params = strings.TrimSpace(s[:i]), strings.ReplaceAll(s[i+1:len(s)-1], " ", "")
	}
	if k, ok := typeAliases[name]; ok {
		return colType{Kind: k, Params: params}
	}
	return colType{Kind: name, Params: params}
}

func (t colType) String() string {
	if t.Params == "" {
		return t.Kind
	}
	return t.Kind + "(" + t.Params + ")"
}

// family is the broad type: what makemigrations compares when a model does
// not spell its type out.
func (t colType) family() string {
	switch t.Kind {
	case "real", "double":
		return "float"
	case "varchar", "char", "text":
		return "string"
	case "timestamp", "timestamptz":
		return "timestamp"
	case "json", "jsonb":
		return "json"
	}
	return t.Kind
}

// isSerial reports whether a type name is Postgres' auto-incrementing kind.
func isSerial(s string) bool {
	s = strings.ToLower(strings.TrimSpace(s))
	return s == "serial" || s == "bigserial" || s == "smallserial"
}

// sameType reports whether the schema's column (read from SQLite) satisfies
// the model's. Integer widths count; a string column satisfies uuid and json
// (SQLite files commonly declare those TEXT); time zones do not count; a
// length counts when the model spelled its type out.
func sameType(model columnDef, db columnDef) bool {
	fm, fd := model.Type.family(), db.Type.family()
	if sqliteType(model) == sqliteType(db) && (!model.explicit || model.Type.Params == db.Type.Params) {
		return true // what makemigrations writes for SQLite reads back the same
	}
	if db.PK && db.Type.Kind == "integer" && (fm == "integer" || fm == "bigint" || fm == "smallint") {
		return true // SQLite's INTEGER PRIMARY KEY is a 64-bit rowid
	}
	if fd == "string" && (fm == "uuid" || fm == "json") {
		return true
	}
	if fm != fd {
		return false
	}
	if !model.explicit {
		return true
	}
	if model.Type.Params != "" {
		return model.Type.Kind == db.Type.Kind && model.Type.Params == db.Type.Params
	}
	if model.Type.Kind == "text" {
		return db.Type.Kind == "text"
	}
	return true
}

// zeroDefault is the default a NOT NULL column gets when it is added to a
// table that may have rows and the model names none.
func zeroDefault(t colType) string {
	switch t.family() {
	case "smallint", "integer", "bigint", "float", "numeric":
		return "0"
	case "boolean":
		return "FALSE"
	case "timestamp":
		return "'1970-01-01 00:00:00'"
	case "date":
		return "'1970-01-01'"
	case "time":
		return "'00:00:00'"
	case "uuid":
		return "'00000000-0000-0000-0000-000000000000'"
	case "json":
		return "'null'"
	}
	return "''"
}
