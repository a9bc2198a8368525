// Package models describes a bun model once for everything that derives from
// it: the API's serializers (core/rest), the admin's pages (admin.FromModel)
// and the scaffold's tests. It reads the model the way bun and makemigrations
// do (bun's schema of the Postgres dialect), so the three cannot disagree
// about a column.
package models

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/schema"
)

// Kind is the kind of value a column holds.
type Kind string

// The kinds of columns Describe recognises.
const (
	KindString   Kind = "string"   // varchar(N) or varchar: short text
	KindText     Kind = "text"     // text: long text
	KindInt      Kind = "int"      // any Go integer
	KindFloat    Kind = "float"    // float32, float64
	KindBool     Kind = "bool"     // bool
	KindDate     Kind = "date"     // time.Time with type:date
	KindDateTime Kind = "datetime" // time.Time
	KindUUID     Kind = "uuid"     // uuid.UUID
	KindFK       Kind = "fk"       // uuid.UUID joined by a rel:belongs-to sibling field
	KindImage    Kind = "image"    // models.Image: the stored name of an uploaded image
	KindFile     Kind = "file"     // models.File: the stored name of an uploaded file
	KindOther    Kind = "other"    // anything else: left to hand-written code
)

// Image is a column holding the stored name of an uploaded image in the media
// storage, or "". Declare it `bun:"photo,type:varchar(255),notnull,default:”"`.
type Image string

// File is a column holding the stored name of an uploaded file in the media
// storage, or "". Declare it `bun:"attachment,type:varchar(255),notnull,default:”"`.
type File string

// Field is one column of a model.
type Field struct {
	// Name is the field's name in the API: the column, or for a foreign key
	// the relation's name (author for author_id), as Django REST framework does.
	Name string
	// Column is the SQL column.
	Column string
	// GoName is the struct field.
	GoName string
	// Kind is the kind of value.
	Kind Kind
	// MaxLen is a string's maximum length in characters (varchar(N)); 0 when unbounded.
	MaxLen int
	// Null says the column accepts NULL (a pointer field, or no notnull).
	Null bool
	// PK says the column is the primary key.
	PK bool
	// Auto says the framework sets the column: the primary key id, created_at, updated_at.
	Auto bool
	// Ref is the model a foreign key points to.
	Ref *Ref
	// Index is the struct field's index, for reflect.Value.FieldByIndex.
	Index []int
}

// Ref is the target of a foreign key.
type Ref struct {
	// Table is the referenced table, joined by its primary key.
	Table string
	// Model is the referenced model's struct type.
	Model reflect.Type
}

// Model describes a bun model.
type Model struct {
	// Table and Alias are the bun.BaseModel tag's.
	Table, Alias string
	// Type is the struct type.
	Type reflect.Type
	// Fields are the columns, in struct order.
	Fields []Field
}

// Field returns the field of a column or of an API name.
func (m *Model) Field(name string) (Field, bool) {
	for _, f := range m.Fields {
		if f.Column == name || f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

// Has reports whether the model has a column named column.
func (m *Model) Has(column string) bool {
	for _, f := range m.Fields {
		if f.Column == column {
			return true
		}
	}
	return false
}

// PK returns the primary key's field (the first, for a composite key).
func (m *Model) PK() Field {
	for _, f := range m.Fields {
		if f.PK {
			return f
		}
	}
	return Field{}
}

var (
	tables = pgdialect.New().Tables()
	cache  sync.Map // reflect.Type -> *Model
)

var (
	timeType  = reflect.TypeOf(time.Time{})
	uuidType  = reflect.TypeOf(uuid.UUID{})
	imageType = reflect.TypeOf(Image(""))
	fileType  = reflect.TypeOf(File(""))
)

// Describe reads a model, given as a pointer to its struct ((*Post)(nil)).
// Descriptions are cached per type; the result must not be modified.
func Describe(model any) (m *Model, err error) {
	typ := reflect.TypeOf(model)
	if typ == nil || typ.Kind() != reflect.Pointer || typ.Elem().Kind() != reflect.Struct {
		return nil, fmt.Errorf("models: %T is not a pointer to a struct: pass (*Post)(nil)", model)
	}
	typ = typ.Elem()
	if v, ok := cache.Load(typ); ok {
		return v.(*Model), nil
	}
	defer func() {
		if r := recover(); r != nil {
			m, err = nil, fmt.Errorf("models: %s: bun cannot read it: %v", typ, r)
		}
	}()
	t := tables.Get(typ)
	if t.Name == "" || len(t.Fields) == 0 {
		return nil, fmt.Errorf("models: %s has no table or no columns: embed bun.BaseModel `bun:\"table:posts,alias:p\"`", typ)
	}
	m = &Model{Table: t.Name, Alias: t.Alias, Type: typ}
	refs := map[string]*Ref{}
	relNames := map[string]string{}
	for _, rel := range t.Relations {
		if rel.Type != schema.BelongsToRelation || len(rel.BasePKs) != 1 {
			continue
		}
		col := rel.BasePKs[0].Name
		refs[col] = &Ref{Table: rel.JoinTable.Name, Model: rel.JoinTable.Type}
		relNames[col] = rel.Field.Name
	}
	for _, f := range t.Fields {
		fd := Field{
			Name: f.Name, Column: f.Name, GoName: f.GoName, PK: f.IsPK,
			Null:  !f.NotNull && !f.IsPK,
			Index: f.Index,
		}
		fd.Kind, fd.MaxLen = kindOf(f)
		if ref, ok := refs[f.Name]; ok && fd.Kind == KindUUID {
			fd.Kind, fd.Ref, fd.Name = KindFK, ref, relNames[f.Name]
		}
		fd.Auto = (f.IsPK && f.Name == "id") || f.Name == "created_at" || f.Name == "updated_at"
		m.Fields = append(m.Fields, fd)
	}
	v, _ := cache.LoadOrStore(typ, m)
	return v.(*Model), nil
}

// MustDescribe is Describe for models known to be valid; it panics otherwise.
func MustDescribe(model any) *Model {
	m, err := Describe(model)
	if err != nil {
		panic(err)
	}
	return m
}

// kindOf maps a column's Go type and SQL type to its Kind.
func kindOf(f *schema.Field) (Kind, int) {
	t := f.IndirectType
	sqlType := strings.ToLower(f.CreateTableSQLType)
	switch t {
	case imageType:
		return KindImage, 0
	case fileType:
		return KindFile, 0
	case timeType:
		if sqlType == "date" {
			return KindDate, 0
		}
		return KindDateTime, 0
	case uuidType:
		return KindUUID, 0
	}
	switch t.Kind() {
	case reflect.String:
		if sqlType == "text" {
			return KindText, 0
		}
		if rest, ok := strings.CutPrefix(sqlType, "varchar("); ok {
			if n, err := strconv.Atoi(strings.TrimSuffix(rest, ")")); err == nil {
				return KindString, n
			}
		}
		if strings.HasPrefix(sqlType, "varchar") || strings.HasPrefix(sqlType, "character varying") {
			return KindString, 0
		}
		return KindText, 0
	case reflect.Bool:
		return KindBool, 0
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return KindInt, 0
	case reflect.Float32, reflect.Float64:
		return KindFloat, 0
	}
	return KindOther, 0
}
