package scaffold_test

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"manouche/core/scaffold"
)

// fakeMigration stands for makemigrations in a fake project: it writes one
// file and returns it, or fails with err.
func fakeMigration(err error) func(root, app, name string) ([]string, error) {
	return func(root, app, name string) ([]string, error) {
		if err != nil {
			return nil, err
		}
		rel := "apps/" + app + "/migrations/20261126180510_" + name + ".up.sql"
		return []string{rel}, os.WriteFile(filepath.Join(root, filepath.FromSlash(rel)), []byte("-- "+name+"\n"), 0o644)
	}
}

func TestAddModel(t *testing.T) {
	t.Parallel()
	root := fakeProject(t)
	now := time.Date(2026, 11, 26, 18, 5, 9, 0, time.UTC)
	if _, err := scaffold.Generate(scaffold.Options{Root: root, App: "blog", Model: "Post", Fields: "title:string", Installed: installed, Now: now}); err != nil {
		t.Fatal(err)
	}
	// A failing migration leaves the project as it was.
	before := snapshot(t, root)
	_, err := scaffold.AddModel(scaffold.Options{Root: root, App: "blog", Model: "Comment",
		Fields: "body:text post:fk:blog.Post photo:image", Owner: "public", MakeMigration: fakeMigration(errors.New("boom"))})
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("err %v", err)
	}
	if after := snapshot(t, root); !maps.Equal(before, after) {
		t.Fatalf("a failed AddModel changed the project")
	}

	res, err := scaffold.AddModel(scaffold.Options{Root: root, App: "blog", Model: "Comment",
		Fields: "body:text post:fk:blog.Post photo:image", Owner: "public", Now: now.Add(time.Second), MakeMigration: fakeMigration(nil)})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"apps/blog/comments.go", "apps/blog/comments_test.go",
		"apps/blog/migrations/20261126180510_create_blog_comments.up.sql"}
	if !slices.Equal(res.Created, want) {
		t.Errorf("created %v, want %v (helpers_test.go exists already)", res.Created, want)
	}
	if !slices.Equal(res.Modified, []string{"apps/blog/app.go"}) {
		t.Errorf("modified %v", res.Modified)
	}
	if !slices.Contains(res.Routes, "PUT /api/blog/comments/{id}/photo") {
		t.Errorf("routes %v", res.Routes)
	}
	checkGenerated(t, root, res.Created[:2])
	checkGenerated(t, root, res.Modified)
	app, err := os.ReadFile(filepath.Join(root, "apps", "blog", "app.go"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(app), "var resources = []rest.Resource{\n\tposts,\n\tcomments,\n}") {
		t.Errorf("app.go does not list both resources:\n%s", app)
	}
	// The owner is a foreign key to users: the app now depends on it.
	if !strings.Contains(string(app), `func (App) DependsOn() []string { return []string{"users"} }`) {
		t.Errorf("app.go does not depend on users:\n%s", app)
	}
	model, _ := os.ReadFile(filepath.Join(root, "apps", "blog", "comments.go"))
	for _, want := range []string{" *Post ", " *users.User ", `Owner:      "owner_id"`, "Policy: perm.OwnerOrReadOnly", `"example.com/site/apps/users"`} {
		if !strings.Contains(string(model), want) {
			t.Errorf("comments.go lacks %q:\n%s", want, model)
		}
	}
	tests, _ := os.ReadFile(filepath.Join(root, "apps", "blog", "comments_test.go"))
	for _, want := range []string{"rf := newFixturePost(t, app, token, userID, other, otherID)", `"post": f.postIDs[0]`, "func TestCommentPermissions("} {
		if !strings.Contains(string(tests), want) {
			t.Errorf("comments_test.go lacks %q", want)
		}
	}

	// A second owned model: DependsOn already lists users.
	if _, err := scaffold.AddModel(scaffold.Options{Root: root, App: "blog", Model: "Note", Fields: "text:text", Owner: "private", MakeMigration: fakeMigration(nil)}); err != nil {
		t.Fatal(err)
	}
	app, _ = os.ReadFile(filepath.Join(root, "apps", "blog", "app.go"))
	if strings.Count(string(app), "func (App) DependsOn") != 1 || !strings.Contains(string(app), `[]string{"users"}`) {
		t.Errorf("app.go after a second owned model:\n%s", app)
	}
	if note, _ := os.ReadFile(filepath.Join(root, "apps", "blog", "notes.go")); !strings.Contains(string(note), "Policy: perm.OwnerOnly") {
		t.Errorf("notes.go:\n%s", note)
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
		{"bad owner", scaffold.Options{App: "blog", Model: "Tag", Fields: "name:string", Owner: "everyone"}, "--owner"},
		{"owner field and --owner", scaffold.Options{App: "blog", Model: "Tag", Fields: "owner:fk:users.User", Owner: "public"}, "remove it from --fields"},
		{"fk to a model without fixture", scaffold.Options{App: "blog", Model: "Tag", Fields: "name:string hand:fk:blog.Hand"}, "newFixtureHand"},
	}
	if err := os.WriteFile(filepath.Join(root, "apps", "blog", "hand.go"), []byte("package blog\n\ntype Hand struct {\n\tbun.BaseModel `bun:\"table:blog_hands\"`\n\tID uuid.UUID `bun:\"id,pk\"`\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	app, _ = os.ReadFile(filepath.Join(root, "apps", "blog", "app.go"))
	for _, tc := range cases {
		tc.opts.Root = root
		tc.opts.MakeMigration = fakeMigration(nil)
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
	_, err = scaffold.AddModel(scaffold.Options{Root: root, App: "blog", Model: "Tag", Fields: "name:string", MakeMigration: fakeMigration(nil)})
	if err == nil || !strings.Contains(err.Error(), "add tags to the app's resources by hand") {
		t.Errorf("err %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "apps", "blog", "tags.go")); err == nil {
		t.Error("a refused AddModel wrote tags.go")
	}
}
