package scaffold_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"manouche/core/scaffold"
)

func TestAddModel(t *testing.T) {
	t.Parallel()
	root := fakeProject(t)
	now := time.Date(2026, 11, 26, 18, 5, 9, 0, time.UTC)
	if _, err := scaffold.Generate(scaffold.Options{Root: root, App: "blog", Model: "Post", Fields: "title:string", Installed: installed, Now: now}); err != nil {
		t.Fatal(err)
	}
	res, err := scaffold.AddModel(scaffold.Options{Root: root, App: "blog", Model: "Comment",
		Fields: "body:text author:fk:users.User photo:image", Now: now.Add(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"apps/blog/comments.go", "apps/blog/comments_test.go",
		"apps/blog/migrations/20261126180510_create_blog_comments.up.postgres.sql",
		"apps/blog/migrations/20261126180510_create_blog_comments.down.postgres.sql",
		"apps/blog/migrations/20261126180510_create_blog_comments.up.sqlite.sql",
		"apps/blog/migrations/20261126180510_create_blog_comments.down.sqlite.sql"}
	if !slices.Equal(res.Created, want) {
		t.Errorf("created %v, want %v (helpers_test.go exists already)", res.Created, want)
	}
	if !slices.Equal(res.Modified, []string{"apps/blog/app.go"}) {
		t.Errorf("modified %v", res.Modified)
	}
	if !slices.Contains(res.Routes, "PUT /api/blog/comments/{id}/photo") {
		t.Errorf("routes %v", res.Routes)
	}
	checkGenerated(t, root, res.Created)
	checkGenerated(t, root, res.Modified)
	app, err := os.ReadFile(filepath.Join(root, "apps", "blog", "app.go"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(app), "var resources = []rest.Resource{\n\tposts,\n\tcomments,\n}") {
		t.Errorf("app.go does not list both resources:\n%s", app)
	}

	// Refusals change nothing.
	cases := []struct {
		name string
		opts scaffold.Options
		want string
	}{
		{"same model again", scaffold.Options{App: "blog", Model: "Comment", Fields: "body:text"}, "already declares Comment"},
		{"unknown app", scaffold.Options{App: "nope", Model: "Tag", Fields: "name:string"}, `no installed app named "nope"`},
		{"no model", scaffold.Options{App: "blog", Fields: "name:string"}, "name the model"},
		{"bad fields", scaffold.Options{App: "blog", Model: "Tag", Fields: "name:nope"}, "unknown type"},
	}
	for _, tc := range cases {
		tc.opts.Root = root
		if _, err := scaffold.AddModel(tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want it to say %q", tc.name, err, tc.want)
		}
	}
	after, _ := os.ReadFile(filepath.Join(root, "apps", "blog", "app.go"))
	if string(after) != string(app) {
		t.Error("a refused AddModel changed app.go")
	}

	// An app.go without the resources list is refused with the fix.
	if err := os.WriteFile(filepath.Join(root, "apps", "blog", "app.go"), []byte("package blog\n\nfunc (App) Prefix() string { return \"/api/blog\" }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = scaffold.AddModel(scaffold.Options{Root: root, App: "blog", Model: "Tag", Fields: "name:string"})
	if err == nil || !strings.Contains(err.Error(), "add tags to the app's resources by hand") {
		t.Errorf("err %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "apps", "blog", "tags.go")); err == nil {
		t.Error("a refused AddModel wrote tags.go")
	}
}
