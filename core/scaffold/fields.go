package scaffold

import (
	"fmt"
	"strconv"
	"strings"
)

// Kind is the type of a model field, as written in --fields.
type Kind string

// The field kinds startapp understands.
const (
	String   Kind = "string"   // short text, VARCHAR(n): title:string or title:string:120
	Text     Kind = "text"     // long text, TEXT
	Int      Kind = "int"      // 64-bit integer
	Float    Kind = "float"    // double-precision number
	Bool     Kind = "bool"     // true or false, false by default
	Date     Kind = "date"     // a calendar date, YYYY-MM-DD in JSON
	DateTime Kind = "datetime" // an instant, RFC 3339 in JSON, UTC with microseconds out
	UUID     Kind = "uuid"     // a UUID
	FK       Kind = "fk"       // a foreign key: author:fk:users.User
	Image    Kind = "image"    // an uploaded image (JPEG, PNG, WebP), checked with Project.Images
	File     Kind = "file"     // an uploaded file of any type
)

// kinds lists the kinds in the order help texts show them.
var kinds = []Kind{String, Text, Int, Float, Bool, Date, DateTime, UUID, FK, Image, File}

// DefaultMaxLength is the length of a string field declared without one.
const DefaultMaxLength = 255

// maxStringLength bounds string:N; longer text belongs in a text field.
const maxStringLength = 10000

// Field is one declared field of the model.
type Field struct {
	// Name is the field's name in JSON and, but for foreign keys, its column.
	Name string
	// Kind is the field's type.
	Kind Kind
	// Max is the maximum length of a string field, in characters.
	Max int
	// Ref is the model a foreign key points to.
	Ref *Ref
	// Owner marks the owner foreign key --owner adds: set from the signed-in
	// user, never from a body.
	Owner bool
}

// Ref is the target of a foreign key: a model of an installed app.
type Ref struct {
	// App and Model are as written: users.User.
	App, Model string
	// Table is the model's table, read from its bun.BaseModel tag.
	Table string
	// Import is the Go import path of the app's package; "" for a model of
	// the same app (Local).
	Import string
	// Local says the model is of the app the new model joins (addmodel).
	Local bool
}

// GoType is the referenced model's Go type as the new model's file names it.
func (r *Ref) GoType() string {
	if r.Local {
		return r.Model
	}
	return r.App + "." + r.Model
}

// KindNames lists the field kinds, for help texts.
func KindNames() []string {
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = string(k)
	}
	return names
}

// parseFields reads a --fields value: space-separated name:kind[:arg] specs.
// Foreign keys are resolved later (they need the project).
func parseFields(spec string) ([]*Field, error) {
	var fields []*Field
	seen := map[string]bool{}
	columns := map[string]string{}
	for _, item := range strings.Fields(spec) {
		parts := strings.Split(item, ":")
		if len(parts) < 2 || len(parts) > 3 {
			return nil, fmt.Errorf("field %q: write name:kind or name:kind:arg (e.g. title:string:120, author:fk:users.User)", item)
		}
		name, kind := parts[0], Kind(parts[1])
		if err := checkFieldName(name); err != nil {
			return nil, err
		}
		if seen[name] {
			return nil, fmt.Errorf("field %q is declared twice", name)
		}
		seen[name] = true
		f := &Field{Name: name, Kind: kind}
		switch kind {
		case String:
			f.Max = DefaultMaxLength
			if len(parts) == 3 {
				n, err := strconv.Atoi(parts[2])
				if err != nil || n < 1 || n > maxStringLength {
					return nil, fmt.Errorf("field %q: the maximum length of a string is a number from 1 to %d, not %q", name, maxStringLength, parts[2])
				}
				f.Max = n
			}
		case FK:
			if len(parts) != 3 {
				return nil, fmt.Errorf("field %q: a foreign key names its model: %s:fk:APP.Model (e.g. author:fk:users.User)", name, name)
			}
			app, model, ok := strings.Cut(parts[2], ".")
			if !ok || app == "" || model == "" {
				return nil, fmt.Errorf("field %q: %q is not APP.Model (e.g. users.User)", name, parts[2])
			}
			f.Ref = &Ref{App: app, Model: model}
		case Text, Int, Float, Bool, Date, DateTime, UUID, Image, File:
			if len(parts) == 3 {
				return nil, fmt.Errorf("field %q: a %s field takes no argument, got %q", name, kind, parts[2])
			}
		default:
			return nil, fmt.Errorf("field %q: unknown type %q (known: %s)", name, parts[1], strings.Join(KindNames(), ", "))
		}
		if other, ok := columns[f.Column()]; ok {
			return nil, fmt.Errorf("field %q: its column %s is also field %q's", name, f.Column(), other)
		}
		columns[f.Column()] = name
		fields = append(fields, f)
	}
	if len(fields) == 0 {
		return nil, fmt.Errorf("--fields is empty: declare at least one field, e.g. --fields \"title:string body:text\"")
	}
	goNames := map[string]string{"ID": "id", "CreatedAt": "created_at", "UpdatedAt": "updated_at",
		"BaseModel": "bun.BaseModel", "Indexes": "the model's Indexes method"}
	for _, f := range fields {
		names := []string{f.GoName()}
		if f.Kind == FK {
			names = append(names, f.RelName())
		}
		for _, n := range names {
			if other, ok := goNames[n]; ok {
				return nil, fmt.Errorf("field %q: its Go name %s collides with %s's", f.Name, n, other)
			}
			goNames[n] = f.Name
		}
	}
	return fields, nil
}

// RefIDs is the test fixture's field holding two rows a foreign key to a
// model of the same app can point to: postIDs.
func (f *Field) RefIDs() string { return lowerCamel(camel(f.Name)) + "IDs" }

// Column is the field's column: its name, or name_id for a foreign key.
func (f *Field) Column() string {
	if f.Kind == FK {
		return f.Name + "_id"
	}
	return f.Name
}

// GoName is the model's struct field: Title, PublishedOn, AuthorID.
func (f *Field) GoName() string { return camel(f.Column()) }

// RelName is the struct field of a foreign key's relation: Author.
func (f *Field) RelName() string { return camel(f.Name) }

// InName is the field of the request body structs: Title, Author.
func (f *Field) InName() string { return camel(f.Name) }

// GoType is the model field's Go type.
func (f *Field) GoType() string {
	switch f.Kind {
	case Int:
		return "int64"
	case Float:
		return "float64"
	case Bool:
		return "bool"
	case Date, DateTime:
		return "time.Time"
	case UUID, FK:
		return "uuid.UUID"
	case Image:
		return "models.Image"
	case File:
		return "models.File"
	}
	return "string"
}

// BunTag is the model field's bun tag. Types are spelled out where bun's
// default would not be the column's, so the model describes the table.
func (f *Field) BunTag() string {
	tag := f.Column()
	switch f.Kind {
	case String:
		tag += fmt.Sprintf(",type:varchar(%d)", f.Max)
	case Text:
		tag += ",type:text"
	case Date:
		tag += ",type:date"
	case UUID, FK:
		tag += ",type:uuid"
	case Image, File:
		tag += ",type:varchar(255)"
	}
	tag += ",notnull"
	if d := f.modelDefault(); d != "" {
		tag += ",default:" + d
	}
	return tag
}

// modelDefault is the column's default as bun's tag spells it.
func (f *Field) modelDefault() string {
	switch f.Kind {
	case String, Text, Image, File:
		return "''"
	case Int, Float:
		return "0"
	case Bool:
		return "false"
	}
	return ""
}

// SQLType is the column's type in the dialect (postgres or sqlite): what bun
// creates for the model's field.
func (f *Field) SQLType(dialect string) string {
	pg := dialect == "postgres"
	switch f.Kind {
	case String:
		return fmt.Sprintf("VARCHAR(%d)", f.Max)
	case Text:
		return "TEXT"
	case Int:
		return "BIGINT"
	case Float:
		return "DOUBLE PRECISION"
	case Bool:
		return "BOOLEAN"
	case Date:
		return "DATE"
	case DateTime:
		if pg {
			return "TIMESTAMPTZ"
		}
		return "TIMESTAMP"
	case UUID, FK:
		if pg {
			return "UUID"
		}
		return "TEXT"
	}
	return "VARCHAR(255)"
}

// SQLColumn is the column's definition in CREATE TABLE.
func (f *Field) SQLColumn(dialect string) string {
	def := f.Column() + " " + f.SQLType(dialect) + " NOT NULL"
	if d := f.modelDefault(); d != "" {
		def += " DEFAULT " + strings.ToUpper(d)
	}
	if f.Kind == FK {
		def += fmt.Sprintf(" REFERENCES %s (id) ON DELETE CASCADE", f.Ref.Table)
	}
	return def
}

// Required reports whether a create must give the field: all but booleans
// (false by default) and files (uploaded on their own route).
func (f *Field) Required() bool {
	return f.Kind != Bool && !f.IsFile()
}

// IsText reports whether search looks in the field.
func (f *Field) IsText() bool { return f.Kind == String || f.Kind == Text }

// IsFile reports whether the field is an uploaded file or image.
func (f *Field) IsFile() bool { return f.Kind == Image || f.Kind == File }

// fit cuts s to the field's maximum length.
func (f *Field) fit(s string) string {
	if f.Kind == String && len([]rune(s)) > f.Max {
		return string([]rune(s)[:f.Max])
	}
	return s
}

// Sample is a Go expression of a valid JSON value for the field; variant 0
// and 1 differ.
func (f *Field) Sample(variant int) string {
	switch f.Kind {
	case String, Text:
		return strconv.Quote(f.fit([]string{"Alpha", "Beta"}[variant]))
	case Int:
		return []string{"42", "-7"}[variant]
	case Float:
		return []string{"4.5", "0.25"}[variant]
	case Bool:
		return []string{"true", "false"}[variant]
	case Date:
		return []string{`"2026-11-26"`, `"1999-12-31"`}[variant]
	case DateTime:
		return []string{`"2026-11-26T18:05:09.123456+02:00"`, `"2027-01-02T03:04:05Z"`}[variant]
	case UUID:
		return []string{`"7c9e6679-7425-40de-944b-e07fc1f90ae7"`, `"0b1c9e0a-3f51-4d8e-9a55-0a5b3c2d1e4f"`}[variant]
	case FK:
		if f.Ref != nil && f.Ref.Local {
			return fmt.Sprintf("f.%s[%d]", f.RefIDs(), variant)
		}
		return []string{"f.userID", "f.otherID"}[variant]
	}
	return "nil"
}

// Want is a Go expression of the value a response carries for Sample(variant),
// as encoding/json decodes it into an any.
func (f *Field) Want(variant int) string {
	switch f.Kind {
	case Int:
		return []string{"float64(42)", "float64(-7)"}[variant]
	case DateTime:
		return []string{`"2026-11-26T16:05:09.123456Z"`, `"2027-01-02T03:04:05.000000Z"`}[variant]
	}
	return f.Sample(variant)
}

// WrongType is a Go expression of a JSON value of the wrong type for the field.
func (f *Field) WrongType() string {
	switch f.Kind {
	case Int:
		return "1.5"
	case Float, Bool:
		return `"yes"`
	case Date, DateTime:
		return "20261126"
	}
	return "42"
}

// Case is a named invalid value of a field, for the generated tests.
type Case struct {
	Name string
	Expr string
}

// Invalid lists values of the right JSON type that the field refuses with a
// ValidationError.
func (f *Field) Invalid() []Case {
	switch f.Kind {
	case String:
		return []Case{
			{"too long", fmt.Sprintf("strings.Repeat(\"x\", %d)", f.Max+1)},
			{"blank", `"   "`},
			{"NUL character", `"a\x00b"`},
		}
	case Text:
		return []Case{{"blank", `""`}, {"NUL character", `"a\x00b"`}}
	case Date:
		return []Case{{"not a date", `"26/11/2026"`}, {"month 13", `"2026-13-01"`}, {"with a time", `"2026-11-26T10:00:00Z"`}}
	case DateTime:
		// A time without a zone is UTC, as Django REST framework reads it (USE_TZ, TIME_ZONE UTC).
		return []Case{{"no minutes", `"2026-11-26T18"`}, {"a date", `"2026-11-26"`}, {"garbage", `"yesterday"`}}
	case UUID:
		return []Case{{"not a UUID", `"not-a-uuid"`}}
	case FK:
		return []Case{{"not a UUID", `"not-a-uuid"`}, {"unknown id", "uuid.NewString()"}}
	}
	return nil
}
