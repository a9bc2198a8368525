package cli

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestReloaderScan: the files a change of which reloads the server, and what
// each change needs: templates nothing, .env a restart, the rest a rebuild.
func TestReloaderScan(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	write := func(rel, content string) {
		t.Helper()
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{
		"go.mod", "go.sum", "main.go", ".env", "settings/common.toml",
		"apps/blog/app.go", "apps/blog/migrations/1_x.up.sql", "apps/blog/templates/blog/post.html",
		"templates/email/welcome.txt", "templates/templates.go",
		// not watched:
		"apps/blog/app_test.go", "apps/blog/testdata/x.go", ".git/HEAD.go", "media/a.go", "node_modules/x/y.go",
		"README.md", "db.sqlite3", "core/scaffold/templates/app.go.tmpl",
	} {
		write(f, "1")
	}
	r := &reloader{root: root, templateDirs: []string{
		filepath.FromSlash("templates/"), filepath.FromSlash("apps/blog/templates/"),
	}}
	files := r.scan()
	var got []string
	for f := range files {
		got = append(got, filepath.ToSlash(f))
	}
	slices.Sort(got)
	want := []string{".env", "apps/blog/app.go", "apps/blog/migrations/1_x.up.sql", "apps/blog/templates/blog/post.html",
		"go.mod", "go.sum", "main.go", "settings/common.toml", "templates/email/welcome.txt", "templates/templates.go"}
	if !slices.Equal(got, want) {
		t.Fatalf("watched %q\nwant    %q", got, want)
	}

	later := time.Now().Add(time.Second)
	for _, tt := range []struct {
		edit     []string
		wantKind int
	}{
		{[]string{"apps/blog/templates/blog/post.html"}, changeTemplates},
		{[]string{"templates/email/welcome.txt", "apps/blog/templates/blog/post.html"}, changeTemplates},
		{[]string{".env"}, changeEnv},
		{[]string{".env", "templates/email/welcome.txt"}, changeEnv},
		{[]string{"templates/templates.go"}, changeCode},
		{[]string{"apps/blog/migrations/1_x.up.sql"}, changeCode},
		{[]string{"settings/common.toml", ".env"}, changeCode},
	} {
		for _, f := range tt.edit {
			later = later.Add(time.Second)
			if err := os.Chtimes(filepath.Join(root, filepath.FromSlash(f)), later, later); err != nil {
				t.Fatal(err)
			}
		}
		now := r.scan()
		changed := diffFiles(files, now)
		files = now
		var names []string
		for _, f := range changed {
			names = append(names, filepath.ToSlash(f))
		}
		if !slices.Equal(names, slices.Sorted(slices.Values(tt.edit))) {
			t.Errorf("edited %q, changed %q", tt.edit, names)
		}
		if kind := r.classify(changed); kind != tt.wantKind {
			t.Errorf("edited %q: kind %d, want %d", tt.edit, kind, tt.wantKind)
		}
	}

	// A file added in a new folder, and one removed.
	write("apps/shop/app.go", "package shop")
	if err := os.Remove(filepath.Join(root, "main.go")); err != nil {
		t.Fatal(err)
	}
	if changed := diffFiles(files, r.scan()); !slices.Equal(changed, []string{filepath.FromSlash("apps/shop/app.go"), "main.go"}) {
		t.Errorf("changed %q, want the new and the removed file", changed)
	}
}
