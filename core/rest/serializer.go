package rest

import (
	"context"
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"manouche/core"
	"manouche/core/api"
	"manouche/core/models"
)

// Serializer turns a model into the API's JSON and a request body into
// changes of the model, like Django REST framework's ModelSerializer. Every
// column is a field unless Fields says otherwise; the primary key id and the
// created_at and updated_at timestamps are read-only, and images and files
// are read-only too (they are uploaded on their own route, see ModelViewSet).
//
// Input is checked as the API contract says: a value of the wrong JSON type
// is a ParseError; a missing or null required field (on create: all but
// booleans and nullable columns), a blank or NUL-holding string, a string
// longer than its varchar(N), a malformed date, instant or UUID, or a
// foreign key naming no row is a ValidationError naming every bad field.
// Unknown fields are ignored.
type Serializer[T any] struct {
	// Fields are the API names of the fields, in output order; empty means
	// every column the framework understands, in the struct's order.
	Fields []string
	// ReadOnly are fields shown but never written from a request body.
	ReadOnly []string
	// WriteOnly are fields written but never shown (a password, say).
	WriteOnly []string
	// Validate, when set, checks an object after the body was applied to it,
	// with the columns the body set; its errors join the ValidationError.
	Validate func(ctx context.Context, obj *T, changed []string) []api.FieldError

	once sync.Once
	plan *plan
	err  error
}

// plan is what a Serializer derives from its model, once.
type plan struct {
	model          *models.Model
	out            []models.Field // shown, in order
	keys           [][]byte       // the JSON keys of out, with their colon
	custom         []bool         // out's types that encode themselves (json.Marshaler...)
	in             []models.Field // written from bodies, in order
	files          []models.Field // uploaded on their own routes
	create, update reflect.Type   // request bodies: a pointer field per input field
}

// Model describes the serializer's model.
func (s *Serializer[T]) Model() (*models.Model, error) {
	p, err := s.compile()
	if err != nil {
		return nil, err
	}
	return p.model, nil
}

func (s *Serializer[T]) compile() (*plan, error) {
	s.once.Do(func() { s.plan, s.err = s.build() })
	return s.plan, s.err
}

func (s *Serializer[T]) build() (*plan, error) {
	m, err := models.Describe((*T)(nil))
	if err != nil {
		return nil, err
	}
	p := &plan{model: m}
	var errs []string
	known := func(list string, names []string) {
		for _, n := range names {
			if _, ok := m.Field(n); !ok {
				errs = append(errs, fmt.Sprintf("%s names %q, which is not a column of %s", list, n, m.Table))
			}
		}
	}
	known("Fields", s.Fields)
	known("ReadOnly", s.ReadOnly)
	known("WriteOnly", s.WriteOnly)
	if len(errs) > 0 {
		return nil, fmt.Errorf("rest: serializer of %s: %s", m.Type, strings.Join(errs, "; "))
	}
	in := func(list []string, f models.Field) bool {
		return slices.Contains(list, f.Name) || slices.Contains(list, f.Column)
	}
	var fields []models.Field
	if len(s.Fields) == 0 {
		for _, f := range m.Fields {
			if f.Kind != models.KindOther {
				fields = append(fields, f)
			}
		}
	} else {
		for _, n := range s.Fields {
			f, _ := m.Field(n)
			fields = append(fields, f)
		}
	}
	var createFields, updateFields []reflect.StructField
	for _, f := range fields {
		if !in(s.WriteOnly, f) {
			p.out = append(p.out, f)
			p.keys = append(p.keys, append(appendJSONString(nil, f.Name), ':'))
			p.custom = append(p.custom, encodesItself(m.Type.FieldByIndex(f.Index).Type))
		}
		if f.Kind == models.KindImage || f.Kind == models.KindFile {
			p.files = append(p.files, f)
			continue
		}
		if f.Auto || f.PK || f.Kind == models.KindOther || in(s.ReadOnly, f) {
			continue
		}
		p.in = append(p.in, f)
		name := fmt.Sprintf("F%d", len(p.in))
		createFields = append(createFields, reflect.StructField{Name: name, Type: inputType(f),
			Tag: tag(f.Name, createRules(f))})
		updateFields = append(updateFields, reflect.StructField{Name: name, Type: inputType(f),
			Tag: tag(f.Name, updateRules(f))})
	}
	p.create, p.update = reflect.StructOf(createFields), reflect.StructOf(updateFields)
	return p, nil
}

var (
	jsonMarshaler = reflect.TypeFor[json.Marshaler]()
	textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()
)

// encodesItself says whether encoding/json encodes t (or *t) with a method
// of its own rather than by its kind.
func encodesItself(t reflect.Type) bool {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	for _, u := range []reflect.Type{t, reflect.PointerTo(t)} {
		if u.Implements(jsonMarshaler) || u.Implements(textMarshaler) {
			return true
		}
	}
	return false
}

func tag(name, rules string) reflect.StructTag {
	t := fmt.Sprintf("json:%q", name)
	if rules != "" {
		t += fmt.Sprintf(" validate:%q", rules)
	}
	return reflect.StructTag(t)
}

// inputType is a field's Go type in request bodies: a pointer, nil when not sent.
func inputType(f models.Field) reflect.Type {
	switch f.Kind {
	case models.KindInt:
		return reflect.TypeOf((*int64)(nil))
	case models.KindFloat:
		return reflect.TypeOf((*float64)(nil))
	case models.KindBool:
		return reflect.TypeOf((*bool)(nil))
	}
	return reflect.TypeOf((*string)(nil))
}

// rules are a field's validate rules beyond presence.
func rules(f models.Field) []string {
	switch f.Kind {
	case models.KindString:
		if f.MaxLen > 0 {
			return []string{fmt.Sprintf("max=%d", f.MaxLen)}
		}
	case models.KindUUID, models.KindFK:
		return []string{"uuid"}
	}
	return nil
}

// required says whether a create must send the field: all but booleans
// (false by default) and nullable columns.
func required(f models.Field) bool { return f.Kind != models.KindBool && !f.Null }

func createRules(f models.Field) string {
	if required(f) {
		return strings.Join(append([]string{"required"}, rules(f)...), ",")
	}
	return updateRules(f)
}

func updateRules(f models.Field) string {
	r := rules(f)
	if len(r) == 0 {
		return ""
	}
	return strings.Join(append([]string{"omitnil"}, r...), ",")
}

// Output renders obj as the API shows it: its fields in order, instants in
// RFC 3339 UTC with microseconds, dates as YYYY-MM-DD, UUIDs as text, images
// and files as the absolute URL of the stored file or null.
func (s *Serializer[T]) Output(c *fiber.Ctx, p *core.Project, obj *T) (json.RawMessage, error) {
	pl, err := s.compile()
	if err != nil {
		return nil, err
	}
	return s.appendOutput(make([]byte, 0, 256), c, p, pl, obj)
}

// appendOutput appends obj's JSON to b: keys encoded once (plan.keys),
// strings, ids, instants, integers and booleans encoded without
// encoding/json's reflection, anything else with it.
func (s *Serializer[T]) appendOutput(b []byte, c *fiber.Ctx, p *core.Project, pl *plan, obj *T) ([]byte, error) {
	v := reflect.ValueOf(obj).Elem()
	b = append(b, '{')
	for i, f := range pl.out {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, pl.keys[i]...)
		var err error
		if b, err = appendValue(b, c, p, f, v.FieldByIndex(f.Index), pl.custom[i]); err != nil {
			return nil, fmt.Errorf("rest: %s.%s: %w", pl.model.Type, f.GoName, err)
		}
	}
	return append(b, '}'), nil
}

// appendValue appends one field's value; custom says its type has a JSON or
// text encoding of its own, which encoding/json then uses.
func appendValue(b []byte, c *fiber.Ctx, p *core.Project, f models.Field, v reflect.Value, custom bool) ([]byte, error) {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return append(b, "null"...), nil
		}
		v = v.Elem()
	}
	switch f.Kind {
	case models.KindUUID, models.KindFK:
		if u, ok := v.Interface().(uuid.UUID); ok {
			b = append(b, '"')
			b = append(b, u.String()...)
			return append(b, '"'), nil
		}
	case models.KindDateTime:
		b = append(b, '"')
		b = v.Interface().(time.Time).UTC().AppendFormat(b, TimeFormat)
		return append(b, '"'), nil
	case models.KindDate:
		b = append(b, '"')
		b = v.Interface().(time.Time).AppendFormat(b, time.DateOnly)
		return append(b, '"'), nil
	case models.KindImage, models.KindFile:
		if u := mediaURL(c, p, v.String()); u != nil {
			return appendJSONString(b, *u), nil
		}
		return append(b, "null"...), nil
	}
	switch k := v.Kind(); {
	case custom:
	case k == reflect.String:
		return appendJSONString(b, v.String()), nil
	case k == reflect.Bool:
		return strconv.AppendBool(b, v.Bool()), nil
	case k >= reflect.Int && k <= reflect.Int64:
		return strconv.AppendInt(b, v.Int(), 10), nil
	case k >= reflect.Uint && k <= reflect.Uint64:
		return strconv.AppendUint(b, v.Uint(), 10), nil
	}
	enc, err := json.Marshal(v.Interface())
	if err != nil {
		return nil, err
	}
	return append(b, enc...), nil
}

// mediaURL is the absolute URL of a stored file, or nil when there is none.
// A storage error is logged and gives nil rather than failing the request.
func mediaURL(c *fiber.Ctx, p *core.Project, name string) *string {
	if name == "" {
		return nil
	}
	url, err := p.MediaURL(c.UserContext(), name)
	if err != nil || url == "" {
		p.Log.WarnContext(c.UserContext(), "rest: media URL", "name", name, "request_id", api.RequestIDOf(c), "error", err)
		return nil
	}
	return &url
}

// Apply decodes the request body (every required field on create, any of
// them on update; those not sent, or sent as null, are left as they are),
// checks it and copies it into obj. It returns the columns it set.
func (s *Serializer[T]) Apply(c *fiber.Ctx, p *core.Project, obj *T, create bool) ([]string, error) {
	in, err := s.Decode(c, create)
	if err != nil {
		return nil, err
	}
	return in.Apply(c.UserContext(), p, obj)
}

// Input is a decoded request body, before it is applied to an object.
type Input[T any] struct {
	s    *Serializer[T]
	pl   *plan
	body reflect.Value
}

// Decode reads and checks the request body's JSON (types, presence, lengths,
// UUID formats) without touching any object, so that a bad body is refused
// before the object is looked up.
func (s *Serializer[T]) Decode(c *fiber.Ctx, create bool) (*Input[T], error) {
	pl, err := s.compile()
	if err != nil {
		return nil, err
	}
	typ := pl.update
	if create {
		typ = pl.create
	}
	body := reflect.New(typ)
	if err := api.Bind(c, body.Interface()); err != nil {
		return nil, err
	}
	return &Input[T]{s: s, pl: pl, body: body}, nil
}

// Apply copies the decoded fields into obj, checking what the body's JSON
// alone cannot say (blank text, formats, foreign keys, Serializer.Validate).
// It returns the columns it set, or a ValidationError naming every bad field.
func (in *Input[T]) Apply(ctx context.Context, p *core.Project, obj *T) ([]string, error) {
	s, pl, body := in.s, in.pl, in.body
	v := reflect.ValueOf(obj).Elem()
	var ch Changes
	for i, f := range pl.in {
		src := body.Elem().Field(i)
		if src.IsNil() {
			continue
		}
		dst := v.FieldByIndex(f.Index)
		switch f.Kind {
		case models.KindString, models.KindText:
			var s string
			if SetText(&ch, f.Column, src.Interface().(*string), &s) {
				assign(dst, reflect.ValueOf(s))
			}
		case models.KindDate, models.KindDateTime:
			var t time.Time
			set := SetDateTime
			if f.Kind == models.KindDate {
				set = SetDate
			}
			if set(&ch, f.Column, src.Interface().(*string), &t) {
				assign(dst, reflect.ValueOf(t))
			}
		case models.KindUUID, models.KindFK:
			var id uuid.UUID
			if !SetUUID(&ch, f.Name, f.Column, src.Interface().(*string), &id) {
				continue
			}
			assign(dst, reflect.ValueOf(id))
			if f.Kind == models.KindFK {
				exists, err := p.DB.NewSelect().Model(reflect.New(f.Ref.Model).Interface()).Where("id = ?", id).Exists(ctx)
				if err != nil {
					return nil, fmt.Errorf("rest: check %s %s: %w", f.Name, id, err)
				}
				if !exists {
					ch.Fail(f.Name, fmt.Sprintf(MsgNoSuchObject, id))
				}
			}
		default:
			assign(dst, src.Elem())
			ch.Set(f.Column)
		}
	}
	if len(ch.Errs) == 0 && s.Validate != nil {
		ch.Errs = append(ch.Errs, s.Validate(ctx, obj, ch.Cols)...)
	}
	if err := ch.Err(); err != nil {
		return nil, err
	}
	return ch.Cols, nil
}

// assign stores val into dst, converting to dst's type (a named string, an
// int32) and allocating a nullable column's pointer.
func assign(dst, val reflect.Value) {
	if dst.Kind() == reflect.Pointer {
		p := reflect.New(dst.Type().Elem())
		p.Elem().Set(val.Convert(dst.Type().Elem()))
		dst.Set(p)
		return
	}
	dst.Set(val.Convert(dst.Type()))
}
