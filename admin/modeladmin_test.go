package admin_test

import (
	"context"
	"slices"
	"testing"

	"manouche/admin"
)

// TestModelAdminDefaults checks what the adapter reads from a declaration: each default
// applies when the field is empty and gives way to what is declared.
func TestModelAdminDefaults(t *testing.T) {
	t.Parallel()
	run := func(context.Context, string) error { return nil }
	bare := admin.ModelAdmin{
		Table: "posts",
		Fields: []admin.Field{
			{Name: "id", Kind: admin.KindInt},
			{Name: "published_at", Kind: admin.KindDateTime},
			{Name: "title", Kind: admin.KindString},
			{Name: "secret", Kind: admin.KindPassword},
		},
		List:     []string{"published_at", "title", "secret"},
		Form:     []string{"title", "published_at"},
		ReadOnly: []string{"published_at"},
		Actions:  []admin.Action{{Name: "publish", Run: run}},
	}
	declared := bare
	declared.Name, declared.Title, declared.PrimaryKey, declared.PageSize = "articles", "Articles", "title", 10
	declared.Label, declared.Ordering = "published_at", "title"

	cases := []struct {
		name, got, want string
	}{
		{"URLName default", bare.URLName(), "posts"},
		{"URLName declared", declared.URLName(), "articles"},
		{"PageTitle default", bare.PageTitle(), "posts"},
		{"PageTitle declared", declared.PageTitle(), "Articles"},
		{"PK default", bare.PK(), "id"},
		{"PK declared", declared.PK(), "title"},
		{"RowLabel default: the first string column of List", bare.RowLabel(), "title"},
		{"RowLabel declared", declared.RowLabel(), "published_at"},
		{"DisplayLabel default", bare.Fields[1].DisplayLabel(), "published at"},
		{"DisplayLabel declared", admin.Field{Name: "x", Label: "Ex"}.DisplayLabel(), "Ex"},
		{"OperationID", declared.OperationID(declared.Actions[0]), "articles-publish"},
	}
	for _, tc := range cases {
		if tc.got != tc.want {
			t.Errorf("%s = %q, want %q", tc.name, tc.got, tc.want)
		}
	}
	if bare.RowsPerPage() != 25 || declared.RowsPerPage() != 10 {
		t.Errorf("RowsPerPage = %d, %d; want 25, 10", bare.RowsPerPage(), declared.RowsPerPage())
	}
	if col, desc := bare.DefaultOrder(); col != "id" || !desc {
		t.Errorf("DefaultOrder default = %q, %v; want the primary key, descending", col, desc)
	}
	if col, desc := declared.DefaultOrder(); col != "title" || desc {
		t.Errorf("DefaultOrder declared = %q, %v", col, desc)
	}
	if got := bare.Columns(); !slices.Equal(got, []string{"id", "published_at", "title", "secret"}) {
		t.Errorf("Columns = %q", got)
	}
	if got := bare.Sortable(); !slices.Equal(got, []string{"id", "published_at", "title"}) {
		t.Errorf("Sortable = %q: a password column is never sortable", got)
	}
	if got := bare.Writable(); !slices.Equal(got, []string{"title"}) {
		t.Errorf("Writable = %q: read-only columns are not written", got)
	}
	if f, ok := bare.Field("title"); !ok || f.Kind != admin.KindString {
		t.Errorf("Field(title) = %v, %v", f, ok)
	}
	if _, ok := bare.Field("nope"); ok {
		t.Error("Field(nope) found")
	}
	if a, ok := declared.Action("ARTICLES-publish"); !ok || a.Name != "publish" {
		t.Errorf("Action by operation id (any case) = %v, %v", a, ok)
	}
	if _, ok := bare.Action("articles-publish"); ok {
		t.Error("Action found under another model's name")
	}
}
