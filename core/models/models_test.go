package models_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"manouche/core/models"
)

type author struct {
	bun.BaseModel `bun:"table:authors,alias:a"`
	ID            uuid.UUID `bun:"id,pk,type:uuid"`
}

type post struct {
	bun.BaseModel `bun:"table:blog_posts,alias:p"`

	ID        uuid.UUID    `bun:"id,pk,type:uuid"`
	CreatedAt time.Time    `bun:"created_at,notnull,default:current_timestamp"`
	UpdatedAt time.Time    `bun:"updated_at,notnull,default:current_timestamp"`
	Title     string       `bun:"title,type:varchar(120),notnull,default:''"`
	Email     string       `bun:"email,notnull"`
	Body      string       `bun:"body,type:text,notnull,default:''"`
	Views     int64        `bun:"views,notnull,default:0"`
	Small     int32        `bun:"small,notnull,default:0"`
	Rating    float64      `bun:"rating,notnull,default:0"`
	Published bool         `bun:"published,notnull,default:false"`
	Day       time.Time    `bun:"day,type:date,notnull"`
	At        time.Time    `bun:"at,notnull"`
	Seen      *time.Time   `bun:"seen"`
	Ref       uuid.UUID    `bun:"ref,type:uuid,notnull"`
	AuthorID  uuid.UUID    `bun:"author_id,type:uuid,notnull"`
	Author    *author      `bun:"rel:belongs-to,join:author_id=id,on_delete:CASCADE"`
	Photo     models.Image `bun:"photo,type:varchar(255),notnull,default:''"`
	Manual    models.File  `bun:"manual,type:varchar(255),notnull,default:''"`
	Tags      []string     `bun:"tags,type:jsonb"`
	Hidden    string       `bun:"-"`
}

func TestDescribe(t *testing.T) {
	t.Parallel()
	m, err := models.Describe((*post)(nil))
	if err != nil {
		t.Fatal(err)
	}
	if m.Table != "blog_posts" || m.Alias != "p" || m.Type != reflect.TypeOf(post{}) {
		t.Errorf("table %q alias %q type %v", m.Table, m.Alias, m.Type)
	}
	authorType := reflect.TypeOf(author{})
	want := []models.Field{
		{Name: "id", Column: "id", GoName: "ID", Kind: models.KindUUID, PK: true, Auto: true},
		{Name: "created_at", Column: "created_at", GoName: "CreatedAt", Kind: models.KindDateTime, Auto: true},
		{Name: "updated_at", Column: "updated_at", GoName: "UpdatedAt", Kind: models.KindDateTime, Auto: true},
		{Name: "title", Column: "title", GoName: "Title", Kind: models.KindString, MaxLen: 120},
		{Name: "email", Column: "email", GoName: "Email", Kind: models.KindString},
		{Name: "body", Column: "body", GoName: "Body", Kind: models.KindText},
		{Name: "views", Column: "views", GoName: "Views", Kind: models.KindInt},
		{Name: "small", Column: "small", GoName: "Small", Kind: models.KindInt},
		{Name: "rating", Column: "rating", GoName: "Rating", Kind: models.KindFloat},
		{Name: "published", Column: "published", GoName: "Published", Kind: models.KindBool},
		{Name: "day", Column: "day", GoName: "Day", Kind: models.KindDate},
		{Name: "at", Column: "at", GoName: "At", Kind: models.KindDateTime},
		{Name: "seen", Column: "seen", GoName: "Seen", Kind: models.KindDateTime, Null: true},
		{Name: "ref", Column: "ref", GoName: "Ref", Kind: models.KindUUID},
		{Name: "author", Column: "author_id", GoName: "AuthorID", Kind: models.KindFK, Ref: &models.Ref{Table: "authors", Model: authorType}},
		{Name: "photo", Column: "photo", GoName: "Photo", Kind: models.KindImage},
		{Name: "manual", Column: "manual", GoName: "Manual", Kind: models.KindFile},
		{Name: "tags", Column: "tags", GoName: "Tags", Kind: models.KindOther, Null: true},
	}
	if len(m.Fields) != len(want) {
		t.Fatalf("%d fields, want %d: %+v", len(m.Fields), len(want), m.Fields)
	}
	for i, w := range want {
		got := m.Fields[i]
		got.Index = nil
		if !reflect.DeepEqual(got, w) {
			t.Errorf("field %d:\n got %+v\nwant %+v", i, got, w)
		}
	}
	// Index reaches the struct field.
	v := reflect.ValueOf(post{Title: "x"})
	if f, _ := m.Field("title"); v.FieldByIndex(f.Index).String() != "x" {
		t.Error("Index does not reach Title")
	}
	if f, ok := m.Field("author"); !ok || f.Column != "author_id" {
		t.Error("Field does not find a foreign key by its API name")
	}
	if m.PK().Column != "id" || !m.Has("author_id") || m.Has("author") {
		t.Error("PK or Has")
	}
	again, _ := models.Describe((*post)(nil))
	if again != m {
		t.Error("descriptions are not cached")
	}
}

func TestDescribeErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		model any
		want  string
	}{
		{"nil", nil, "not a pointer to a struct"},
		{"a struct value", post{}, "not a pointer to a struct"},
		{"a pointer to a non-struct", new(int), "not a pointer to a struct"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := models.Describe(tc.model)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v, want %q", err, tc.want)
			}
		})
	}
}
