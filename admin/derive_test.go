package admin_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"manouche/admin"
	"manouche/core/models"
)

type deriveAuthor struct {
	bun.BaseModel `bun:"table:derive_authors,alias:a"`
	ID            uuid.UUID `bun:"id,pk,type:uuid"`
	Name          string    `bun:"name,notnull"`
}

// deriveKinds has a column of every kind, as startapp writes them.
type deriveKinds struct {
	bun.BaseModel `bun:"table:derive_kinds,alias:k"`

	ID        uuid.UUID     `bun:"id,pk,type:uuid"`
	CreatedAt time.Time     `bun:"created_at,notnull,default:current_timestamp"`
	UpdatedAt time.Time     `bun:"updated_at,notnull,default:current_timestamp"`
	Title     string        `bun:"title,type:varchar(120),notnull,default:''"`
	Body      string        `bun:"body,type:text,notnull,default:''"`
	Views     int64         `bun:"views,notnull,default:0"`
	Rating    float64       `bun:"rating,notnull,default:0"`
	Published bool          `bun:"published,notnull,default:false"`
	Day       time.Time     `bun:"day,type:date,notnull"`
	At        time.Time     `bun:"at,notnull"`
	Ref       uuid.UUID     `bun:"ref,type:uuid,notnull"`
	AuthorID  uuid.UUID     `bun:"author_id,type:uuid,notnull"`
	Author    *deriveAuthor `bun:"rel:belongs-to,join:author_id=id,on_delete:CASCADE"`
	Photo     models.Image  `bun:"photo,type:varchar(255),notnull,default:''"`
	Manual    models.File   `bun:"manual,type:varchar(255),notnull,default:''"`
	Seen      *time.Time    `bun:"seen"`
}

func TestFromModelDefaults(t *testing.T) {
	t.Parallel()
	m, err := admin.FromModel((*deriveKinds)(nil), admin.Options{Title: "Kinds"})
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]admin.Kind{}
	var names []string
	for _, f := range m.Fields {
		kinds[f.Name] = f.Kind
		names = append(names, f.Name)
	}
	wantKinds := map[string]admin.Kind{
		"id": admin.KindUUID, "created_at": admin.KindDateTime, "updated_at": admin.KindDateTime,
		"title": admin.KindString, "body": admin.KindText, "views": admin.KindInt, "rating": admin.KindFloat,
		"published": admin.KindBool, "day": admin.KindDate, "at": admin.KindDateTime, "ref": admin.KindUUID,
		"author_id": admin.KindFK, "photo": admin.KindImage, "manual": admin.KindFile, "seen": admin.KindDateTime,
	}
	for name, k := range wantKinds {
		if kinds[name] != k {
			t.Errorf("%s: kind %v, want %v", name, kinds[name], k)
		}
	}
	if len(names) != len(wantKinds) {
		t.Errorf("fields %v, want %d", names, len(wantKinds))
	}
	for _, f := range m.Fields {
		switch f.Name {
		case "author_id":
			if f.Ref != "derive_authors" {
				t.Errorf("author_id Ref %q", f.Ref)
			}
		case "seen":
			if !f.Null {
				t.Error("seen is nullable")
			}
		case "id":
			if f.Label != "ID" {
				t.Errorf("id label %q", f.Label)
			}
		case "created_at":
			if f.Label != "Created at" {
				t.Errorf("created_at label %q", f.Label)
			}
		}
	}
	check := func(name string, got, want []string) {
		t.Helper()
		if !slices.Equal(got, want) {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	check("List", m.List, []string{"title", "views", "rating", "published", "day", "at", "created_at"})
	check("Search", m.Search, []string{"title", "body"})
	check("Filters", m.Filters, []string{"published", "day", "at", "author_id", "seen"})
	check("Form", m.Form, []string{"title", "body", "views", "rating", "published", "day", "at", "ref",
		"author_id", "photo", "manual", "seen", "created_at", "updated_at"})
	check("ReadOnly", m.ReadOnly, []string{"photo", "manual", "created_at", "updated_at"})
	if m.Ordering != "-created_at" || m.Title != "Kinds" || m.Table != "derive_kinds" {
		t.Errorf("ordering %q title %q table %q", m.Ordering, m.Title, m.Table)
	}
}

func TestFromModelOptions(t *testing.T) {
	t.Parallel()
	hash := func(s string) (string, error) { return "h" + s, nil }
	m, err := admin.FromModel((*deriveKinds)(nil), admin.Options{
		Labels:  map[string]string{"title": "Headline"},
		Fields:  map[string]admin.Field{"body": {Kind: admin.KindPassword, Hash: hash}},
		Exclude: []string{"manual"},
		List:    []string{"title"}, Search: []string{}, Ordering: "title", NoDelete: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range m.Fields {
		switch f.Name {
		case "title":
			if f.Label != "Headline" {
				t.Errorf("title label %q", f.Label)
			}
		case "body":
			if f.Kind != admin.KindPassword || f.Hash == nil {
				t.Errorf("body override lost: %+v", f)
			}
		case "manual":
			t.Error("manual is excluded")
		}
	}
	if len(m.Search) != 0 || !slices.Equal(m.List, []string{"title"}) || m.Ordering != "title" || !m.NoDelete {
		t.Errorf("options not applied: %+v", m)
	}
	if slices.Contains(m.Form, "manual") {
		t.Error("excluded column in the form")
	}
}

func TestFromModelErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		model any
		o     admin.Options
		want  string
	}{
		{"not a pointer", deriveKinds{}, admin.Options{}, "not a pointer to a struct"},
		{"unknown label", (*deriveKinds)(nil), admin.Options{Labels: map[string]string{"nope": "x"}}, "nope"},
		{"unknown field", (*deriveKinds)(nil), admin.Options{Fields: map[string]admin.Field{"nope": {}}}, "nope"},
		{"unknown list column", (*deriveKinds)(nil), admin.Options{List: []string{"nope"}}, `"nope", which is not in Fields`},
		{"excluded but listed", (*deriveKinds)(nil), admin.Options{Exclude: []string{"title"}, List: []string{"title"}}, `"title"`},
		{"password without hash", (*deriveKinds)(nil), admin.Options{Fields: map[string]admin.Field{"body": {Kind: admin.KindPassword}}}, "needs a Hash"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := admin.FromModel(tc.model, tc.o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v, want it to say %q", err, tc.want)
			}
		})
	}
}
