package admin

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"manouche/core/models"
)

// Options declares how a model's admin pages differ from the ones FromModel
// derives, like the attributes of a Django ModelAdmin. A nil list keeps the
// derived default; an empty non-nil list means none.
type Options struct {
	// Name is the URL segment; it defaults to the table.
	Name string
	// Title is shown on the pages and in the menu; it defaults to the table.
	Title string
	// Icon is a Font Awesome icon for the menu; it defaults to "fa-table".
	Icon string
	// Labels are column labels that differ from the default (the column with
	// its first letter capitalised and underscores as spaces; "ID" for id).
	Labels map[string]string
	// Fields override the derived declaration of columns: Kind, Hash, URL,
	// Ref and RefLabel replace the derived ones, Label and Null apply when set.
	// Use it for a password (KindPassword with Hash) or an image's URL.
	Fields map[string]Field
	// Exclude are columns the admin never shows nor writes.
	Exclude []string
	// List are the list page's columns; default: the first six columns that
	// read well in a row (not text, files nor passwords), then created_at.
	List []string
	// Search are the searched columns; default: the string and text columns.
	Search []string
	// Filters are the filter columns; default: booleans, dates, instants and
	// foreign keys, but the timestamps the framework sets.
	Filters []string
	// Ordering is the list's default order; default: "-created_at" when the
	// model has it, else the primary key descending.
	Ordering string
	// Form are the form's columns; default: every column but the primary key,
	// with created_at and updated_at last.
	Form []string
	// ReadOnly are form columns never written; default: created_at,
	// updated_at, images and files (uploaded through the API).
	ReadOnly []string
	// Label names a row where a foreign key points to it (see ModelAdmin.Label).
	Label string
	// PageSize is the default number of rows per page.
	PageSize int
	// NoCreate, NoDelete and SuperuserOnly are ModelAdmin's.
	NoCreate, NoDelete, SuperuserOnly bool
	// Actions are buttons on each row of the list.
	Actions []Action
	// AfterSave runs after a row is created, changed or deleted (see ModelAdmin.AfterSave).
	AfterSave func(ctx context.Context, id string)
}

// FromModel derives the admin pages of a bun model ((*Post)(nil)) from its
// columns, as core/models reads them, and applies the Options' differences.
// Adding a column to the model adds it to the pages. The result is validated.
func FromModel(model any, o Options) (ModelAdmin, error) {
	desc, err := models.Describe(model)
	if err != nil {
		return ModelAdmin{}, fmt.Errorf("admin: %w", err)
	}
	pk := desc.PK().Column
	if pk == "" {
		pk = "id"
	}
	m := ModelAdmin{
		Table: desc.Table, Name: o.Name, Title: o.Title, Icon: o.Icon, PrimaryKey: pk,
		Label: o.Label, PageSize: o.PageSize, NoCreate: o.NoCreate, NoDelete: o.NoDelete,
		SuperuserOnly: o.SuperuserOnly, Actions: o.Actions, AfterSave: o.AfterSave,
	}
	if m.PrimaryKey == "id" {
		m.PrimaryKey = ""
	}
	var unknown []string
	for col := range o.Fields {
		if !desc.Has(col) {
			unknown = append(unknown, col)
		}
	}
	for col := range o.Labels {
		if !desc.Has(col) {
			unknown = append(unknown, col)
		}
	}
	for _, col := range o.Exclude {
		if !desc.Has(col) {
			unknown = append(unknown, col)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return ModelAdmin{}, fmt.Errorf("admin: model %q: Options name %s, which %s not a column", desc.Table,
			strings.Join(unknown, ", "), map[bool]string{true: "is", false: "are"}[len(unknown) == 1])
	}
	auto := map[string]bool{}
	var files []string
	for _, mf := range desc.Fields {
		if mf.Kind == models.KindOther || slices.Contains(o.Exclude, mf.Column) {
			continue
		}
		f := Field{Name: mf.Column, Label: defaultLabel(mf.Column), Kind: kindOf(mf.Kind), Null: mf.Null}
		if mf.Ref != nil {
			f.Ref = mf.Ref.Table
		}
		if over, ok := o.Fields[mf.Column]; ok {
			f.Kind, f.Hash, f.URL, f.Ref, f.RefLabel = over.Kind, over.Hash, over.URL, over.Ref, over.RefLabel
			if over.Label != "" {
				f.Label = over.Label
			}
			f.Null = f.Null || over.Null
		}
		if l, ok := o.Labels[mf.Column]; ok {
			f.Label = l
		}
		if mf.Auto && !mf.PK {
			auto[f.Name] = true
		}
		if f.Kind == KindImage || f.Kind == KindFile {
			files = append(files, f.Name)
		}
		m.Fields = append(m.Fields, f)
	}
	m.List = o.List
	if m.List == nil {
		for _, f := range m.Fields {
			if f.Name == pk || auto[f.Name] || len(m.List) == 6 {
				continue
			}
			switch f.Kind {
			case KindText, KindPassword, KindImage, KindFile:
				continue
			}
			m.List = append(m.List, f.Name)
		}
		if auto["created_at"] {
			m.List = append(m.List, "created_at")
		}
		if len(m.List) == 0 {
			m.List = []string{pk}
		}
	}
	m.Search = o.Search
	if m.Search == nil {
		for _, f := range m.Fields {
			if f.Name != pk && (f.Kind == KindString || f.Kind == KindText) {
				m.Search = append(m.Search, f.Name)
			}
		}
	}
	m.Filters = o.Filters
	if m.Filters == nil {
		for _, f := range m.Fields {
			switch f.Kind {
			case KindBool, KindDate, KindDateTime, KindFK:
				if !auto[f.Name] {
					m.Filters = append(m.Filters, f.Name)
				}
			}
		}
	}
	m.Ordering = o.Ordering
	if m.Ordering == "" && auto["created_at"] {
		m.Ordering = "-created_at"
	}
	m.Form = o.Form
	if m.Form == nil {
		var last []string
		for _, f := range m.Fields {
			switch {
			case f.Name == pk:
			case auto[f.Name]:
				last = append(last, f.Name)
			default:
				m.Form = append(m.Form, f.Name)
			}
		}
		m.Form = append(m.Form, last...)
	}
	m.ReadOnly = o.ReadOnly
	if m.ReadOnly == nil {
		m.ReadOnly = files
		for _, c := range m.Form {
			if auto[c] {
				m.ReadOnly = append(m.ReadOnly, c)
			}
		}
	}
	if err := m.Validate(); err != nil {
		return ModelAdmin{}, err
	}
	return m, nil
}

// MustFromModel is FromModel for declarations known to be valid; it panics otherwise.
func MustFromModel(model any, o Options) ModelAdmin {
	m, err := FromModel(model, o)
	if err != nil {
		panic(err)
	}
	return m
}

// defaultLabel is a column's label: "ID" for id, else Django's verbose name
// capitalised: first_name gives "First name".
func defaultLabel(column string) string {
	if column == "id" {
		return "ID"
	}
	s := strings.ReplaceAll(column, "_", " ")
	return strings.ToUpper(s[:1]) + s[1:]
}

// kindOf maps a model column's kind to the admin's.
func kindOf(k models.Kind) Kind {
	switch k {
	case models.KindText:
		return KindText
	case models.KindInt:
		return KindInt
	case models.KindFloat:
		return KindFloat
	case models.KindBool:
		return KindBool
	case models.KindDate:
		return KindDate
	case models.KindDateTime:
		return KindDateTime
	case models.KindUUID:
		return KindUUID
	case models.KindFK:
		return KindFK
	case models.KindImage:
		return KindImage
	case models.KindFile:
		return KindFile
	}
	return KindString
}
