package openapi

import (
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Schemer is a type that gives its own schema (a custom JSON encoding).
type Schemer interface {
	OpenAPISchema() *Schema
}

// Struct tags the registry reads besides json and validate: `doc:"..."` is
// a field's description, `format:"uuid"` its format (for a string that
// holds one), `query:"name"` a query parameter (Op.Query), `default:"30"`
// its default.

// Named is a schema built by hand (a generated resource's, from its model's
// fields) to use as a Body or a response: it becomes the component Name.
type Named struct {
	Name   string
	Schema *Schema
}

// SchemaFunc builds a schema with the document's registry at hand: a view
// set registers its model's components with Registry.Unique and refers to
// them by the names they got.
type SchemaFunc func(reg *Registry) *Schema

// Content is a response or body that is not JSON (the docs page's HTML): its
// content type and schema.
type Content struct {
	Type   string
	Schema *Schema
}

// Contents is a response body that comes in one of several content types
// (the docs page's assets: scripts, styles, icons).
type Contents []Content

// Direction says whether a type is read from requests or written in
// responses: they differ in what is required and what else is allowed.
type Direction int

const (
	// ForResponse schemas are exact: every field without omitempty is
	// required, a pointer may be null, and no other field may appear
	// (additionalProperties: false), as encoding/json writes them.
	ForResponse Direction = iota
	// ForRequest schemas follow the binder (core/api.Bind): a field is required
	// when its validate tag says so, optional ones may be null (null is "not
	// sent"), validate's max/min/email/uuid/oneof become constraints, and
	// unknown fields are allowed (they are ignored).
	ForRequest
)

// Registry turns Go types into schemas; named structs become components
// (#/components/schemas/Name), each once.
type Registry struct {
	// Schemas are the components, by name.
	Schemas map[string]*Schema
	names   map[regKey]string
}

type regKey struct {
	t reflect.Type
	d Direction
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{Schemas: map[string]*Schema{}, names: map[regKey]string{}}
}

var (
	timeType      = reflect.TypeFor[time.Time]()
	uuidType      = reflect.TypeFor[uuid.UUID]()
	rawType       = reflect.TypeFor[json.RawMessage]()
	schemerType   = reflect.TypeFor[Schemer]()
	textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()
	nameSanitizer = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)
)

// Of returns the schema of v's type (a value such as LoginRequest{}, a
// Named, or a *Schema), registering the named structs it holds.
func (g *Registry) Of(v any, d Direction) *Schema {
	switch x := v.(type) {
	case nil:
		return nil
	case *Schema:
		return x
	case Named:
		g.Add(x.Name, x.Schema)
		return Ref(x.Name)
	case Content:
		return x.Schema
	case SchemaFunc:
		return x(g)
	}
	return g.schema(reflect.TypeOf(v), d)
}

// Add registers a component schema under name; a different schema under
// the same name is a programming error (use Unique where names may clash).
func (g *Registry) Add(name string, s *Schema) {
	if got := g.Unique(name, s); got != name {
		panic(fmt.Sprintf("openapi: two different schemas are named %q", name))
	}
}

// Unique registers s under name, or under name2, name3... when a different
// schema holds name already, and returns the name it got: an equal schema
// already registered is reused.
func (g *Registry) Unique(name string, s *Schema) string {
	enc, _ := json.Marshal(s)
	for i := 1; ; i++ {
		n := name
		if i > 1 {
			n = fmt.Sprintf("%s%d", name, i)
		}
		old, ok := g.Schemas[n]
		if !ok {
			g.Schemas[n] = s
			return n
		}
		if old == s {
			return n
		}
		if b, _ := json.Marshal(old); string(b) == string(enc) {
			return n
		}
	}
}

func (g *Registry) schema(t reflect.Type, d Direction) *Schema {
	if t.Implements(schemerType) {
		return reflect.Zero(t).Interface().(Schemer).OpenAPISchema()
	}
	switch t {
	case timeType:
		if d == ForRequest {
			return &Schema{Type: "string", Description: "An instant, RFC 3339 (YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z])."}
		}
		return &Schema{Type: "string", Format: "date-time"}
	case uuidType:
		return &Schema{Type: "string", Format: "uuid"}
	case rawType:
		return &Schema{}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return g.schema(t.Elem(), d).Nullable()
	case reflect.String:
		return &Schema{Type: "string"}
	case reflect.Bool:
		return &Schema{Type: "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		s := &Schema{Type: "integer"}
		switch t.Kind() {
		case reflect.Int32:
			s.Format = "int32"
		case reflect.Int64, reflect.Int:
			s.Format = "int64"
		}
		if t.Kind() >= reflect.Uint && t.Kind() <= reflect.Uint64 {
			s.Minimum = floatp(0)
		}
		return s
	case reflect.Float32, reflect.Float64:
		return &Schema{Type: "number"}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 && t.Kind() == reflect.Slice {
			return &Schema{Type: "string", ContentMediaType: "application/octet-stream", Description: "base64"}
		}
		return &Schema{Type: "array", Items: g.schema(t.Elem(), d)}
	case reflect.Map:
		return &Schema{Type: "object", AdditionalProperties: g.schema(t.Elem(), d)}
	case reflect.Struct:
		if t.Implements(textMarshaler) || reflect.PointerTo(t).Implements(textMarshaler) {
			return &Schema{Type: "string"}
		}
		if t.Name() == "" {
			return g.object(t, d)
		}
		k := regKey{t, d}
		if name, ok := g.names[k]; ok {
			return Ref(name)
		}
		name := g.name(t, d)
		g.names[k] = name
		g.Schemas[name] = &Schema{} // placeholder for recursive types
		g.Schemas[name] = g.object(t, d)
		return Ref(name)
	case reflect.Interface:
		return &Schema{}
	}
	return &Schema{}
}

// name is a component name for a named struct: its Go name, made unique.
func (g *Registry) name(t reflect.Type, d Direction) string {
	base := nameSanitizer.ReplaceAllString(t.Name(), "_")
	base = strings.Trim(base, "_")
	name := base
	if _, taken := g.Schemas[name]; taken {
		if d == ForRequest {
			name = base + "Request"
		} else {
			pkg := t.PkgPath()
			if i := strings.LastIndex(pkg, "/"); i >= 0 {
				pkg = pkg[i+1:]
			}
			name = strings.ToUpper(pkg[:min(1, len(pkg))]) + pkg[min(1, len(pkg)):] + base
		}
	}
	for i := 2; ; i++ {
		if _, taken := g.Schemas[name]; !taken {
			return name
		}
		name = fmt.Sprintf("%s%d", base, i)
	}
}

// object is the schema of a struct's fields, as encoding/json sees them.
func (g *Registry) object(t reflect.Type, d Direction) *Schema {
	s := &Schema{Type: "object", Properties: map[string]*Schema{}}
	g.fields(s, t, d)
	if d == ForResponse {
		s.AdditionalProperties = false
	}
	if len(s.Properties) == 0 {
		s.Properties = nil
	}
	return s
}

func (g *Registry) fields(s *Schema, t reflect.Type, d Direction) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				g.fields(s, ft, d)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		omit := strings.Contains(","+opts+",", ",omitempty,") || strings.Contains(","+opts+",", ",omitzero,")
		var fs *Schema
		required := false
		if d == ForResponse {
			fs = g.schema(f.Type, d)
			required = !omit
		} else {
			rules := parseRules(f.Tag.Get("validate"))
			required = rules.required
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			fs = g.schema(ft, d)
			rules.apply(fs)
			if !required {
				fs = fs.Nullable()
			}
		}
		if format := f.Tag.Get("format"); format != "" && fs.Ref == "" {
			c := *fs
			c.Format = format
			fs = &c
		}
		if doc := f.Tag.Get("doc"); doc != "" {
			if fs.Ref != "" {
				fs = &Schema{AnyOf: []*Schema{fs}, Description: doc}
			} else {
				c := *fs
				c.Description = doc
				fs = &c
			}
		}
		s.Properties[name] = fs
		if required {
			s.Required = append(s.Required, name)
		}
	}
}

// rules are the parts of a go-playground/validator tag a schema can say.
type rules struct {
	required bool
	min, max *float64
	format   string
	enum     []any
}

func parseRules(tag string) rules {
	var r rules
	if tag == "" {
		return r
	}
	parts := strings.Split(tag, ",")
	for i, p := range parts {
		k, v, _ := strings.Cut(p, "=")
		switch k {
		case "required":
			// omitnil/omitempty before it make it apply only when sent.
			r.required = i == 0 || (parts[0] != "omitnil" && parts[0] != "omitempty")
		case "max", "lte":
			if n, err := strconv.ParseFloat(v, 64); err == nil {
				r.max = &n
			}
		case "min", "gte":
			if n, err := strconv.ParseFloat(v, 64); err == nil {
				r.min = &n
			}
		case "len":
			if n, err := strconv.ParseFloat(v, 64); err == nil {
				r.min, r.max = &n, &n
			}
		case "email":
			r.format = "email"
		case "uuid", "uuid4":
			r.format = "uuid"
		case "url", "http_url":
			r.format = "uri"
		case "oneof":
			if parts[0] == "omitempty" {
				r.enum = append(r.enum, "") // the zero value is not checked
			}
			for _, e := range strings.Fields(v) {
				r.enum = append(r.enum, e)
			}
		}
	}
	return r
}

// apply writes the rules into a field's schema (not a reference).
func (r rules) apply(s *Schema) {
	if s.Ref != "" {
		return
	}
	switch s.Type {
	case "string":
		if r.max != nil {
			s.MaxLength = intp(int(*r.max))
		}
		if r.min != nil {
			s.MinLength = intp(int(*r.min))
		}
		if r.format != "" {
			s.Format = r.format
		}
		if len(r.enum) > 0 {
			s.Enum = r.enum
		}
	case "integer", "number":
		s.Maximum, s.Minimum = r.max, r.min
	}
}
