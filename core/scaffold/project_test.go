package scaffold_test

import (
	"bytes"
	"context"
	"errors"
	"go/format"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	_ "manouche/core/mail" // the mail backends own EMAIL_* settings the layer files set
	"manouche/core/scaffold"
	_ "manouche/core/storage" // the storage backends own MEDIA_ROOT, which testing.toml sets
	"manouche/core/testkit"
	"manouche/core/testkit/testdb"
	"manouche/settings"
)

// generatedApps are the apps the slow test writes with startapp, covering
// every field kind, besides the tutorial's blog (--model Post --fields
// "title:string:120 body:text published:bool views:int rating:float published_on:date").
var generatedApps = []struct {
	name string
	args []string
}{
	{"wiki", nil},
	{"shop", []string{"--model", "Product", "--fields", "name:string sku:uuid price:float available_at:datetime photo:image", "--owner"}},
	{"notes", []string{"--model", "Note", "--fields", "title:string author:fk:users.User attachment:file", "--owner=private"}},
	// Edge cases: an irregular plural, a one-character string, an initialism, a name like a helper's.
	{"catalog", []string{"--model", "SetText", "--fields", "label:string:1 home_url:string cover:image"}},
}

// minTime is what TestGeneratedApps needs, roughly twice what it takes on
// two cores with a warm module cache.
const minTime = 8 * time.Minute

// TestGeneratedApps copies the repository, resets the copy to the framework's
// own apps, and, in the copy, runs every command of docs/tutorial.md (which
// writes the blog app), then `startapp` for more apps and field sets, and
// checks that, with no edit, the project builds, vets, migrates (SQLite, and
// Postgres when TEST_DATABASE_URL is set), makemigrations finds no changes and
// writes the files startapp wrote, and the generated tests pass. It starts
// from the project as it is after the tutorial (apps of its own, their
// settings and templates): `go test ./...` passes there too.
func TestGeneratedApps(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a copy of the project several times (minutes): skipped with -short")
	}
	if deadline, ok := t.Deadline(); ok && time.Until(deadline) < minTime {
		t.Skipf("needs about %s and the test binary's -timeout leaves %s: run with -timeout=30m", minTime, time.Until(deadline).Round(time.Second))
	}
	root := testkit.ProjectRoot(t)
	src := t.TempDir()
	testkit.CopyProject(t, root, src)
	addProjectApps(t, src)
	dir := t.TempDir()
	testkit.CopyProject(t, src, dir)
	resetToFramework(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	tutorialRan := runTutorial(ctx, t, root, dir)
	// A database of its own: the tutorial's db.sqlite3 already has the blog's table.
	sqliteURL := testdb.URL(t, testdb.SQLite)
	env := []string{"SETTINGS=development", "DATABASE_URL=" + sqliteURL}

	bin := filepath.Join(t.TempDir(), "manouche")
	run(ctx, t, dir, nil, "go", "build", "-o", bin, ".")
	for _, app := range generatedApps {
		out := run(ctx, t, dir, env, bin, append([]string{"startapp", app.name}, app.args...)...)
		if !strings.Contains(out, "apps/"+app.name+"/app.go") || !strings.Contains(out, "go run . migrate") {
			t.Errorf("startapp %s printed:\n%s", app.name, out)
		}
	}
	// The command line refuses with the reason, exit status 1, and writes nothing.
	appsBefore, err := os.ReadFile(filepath.Join(dir, "apps", "apps.go"))
	if err != nil {
		t.Fatal(err)
	}
	for name, reason := range map[string]string{"users": "already", "fmt": "standard library", "wiki": "already"} {
		cmd := exec.CommandContext(ctx, bin, "startapp", name)
		cmd.Dir, cmd.Env = dir, append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(string(out), reason) {
			t.Errorf("startapp %s: %v, output %q; want exit status 1 saying %q", name, err, out, reason)
		}
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "apps", "apps.go")); !bytes.Equal(after, appsBefore) {
		t.Errorf("a refused startapp changed apps/apps.go:\n%s", after)
	}

	if tutorialRan {
		addToBlog(ctx, t, dir, bin, env)
	}

	run(ctx, t, dir, nil, "go", "build", "./...")
	run(ctx, t, dir, nil, "go", "vet", "./...")
	run(ctx, t, dir, nil, "go", "build", "-o", bin, ".")
	if tutorialRan {
		// The field added to Post needs its migration, which makemigrations writes.
		if out := run(ctx, t, dir, env, bin, "makemigrations", "blog"); !strings.Contains(out, "subtitle") {
			t.Errorf("makemigrations blog after adding Post.Subtitle:\n%s", out)
		}
		run(ctx, t, dir, nil, "go", "build", "-o", bin, ".") // the migrations are embedded
	}
	databases := []string{sqliteURL}
	if slices.Contains(testdb.Dialects(t), testdb.Postgres) {
		databases = append(databases, testdb.URL(t, testdb.Postgres))
	}
	modelApps := []string{"shop", "notes", "catalog"}
	if tutorialRan {
		modelApps = append(modelApps, "blog")
	}
	for _, url := range databases {
		env := []string{"SETTINGS=development", "DATABASE_URL=" + url}
		out := run(ctx, t, dir, env, bin, "migrate")
		for _, app := range modelApps {
			if !strings.Contains(out, "Applying "+app+".") {
				t.Errorf("migrate did not apply %s's migration:\n%s", app, out)
			}
			// The first migration round-trips: the models describe what it made.
			if out := run(ctx, t, dir, env, bin, "makemigrations", app); !strings.Contains(out, "No changes detected") {
				t.Errorf("makemigrations %s after migrate:\n%s", app, out)
			}
		}
	}
	for _, app := range modelApps {
		matches, _ := filepath.Glob(filepath.Join(dir, "apps", app, "migrations", "*"))
		if app == "blog" {
			// The tutorial's makemigrations for Comment wrote the second one's four.
			matches, _ = filepath.Glob(filepath.Join(dir, "apps", app, "migrations", "*_create_blog_posts*"))
		}
		if len(matches) != 4 {
			t.Errorf("apps/%s/migrations holds %v, want the first migration's four files", app, matches)
		}
	}
	// makemigrations writes, for a model with no migration, the files
	// startapp wrote for it: set the shop's aside and ask for them again.
	shopDir := filepath.Join(dir, "apps", "shop", "migrations")
	aside := t.TempDir()
	startapp := migrationFiles(t, shopDir)
	for _, f := range startapp {
		if err := os.Rename(filepath.Join(shopDir, f), filepath.Join(aside, f)); err != nil {
			t.Fatal(err)
		}
	}
	run(ctx, t, dir, env, bin, "makemigrations", "shop")
	made := migrationFiles(t, shopDir)
	if !slices.Equal(withoutTimestamps(startapp), withoutTimestamps(made)) {
		t.Errorf("for the same model, startapp wrote %q and makemigrations %q", startapp, made)
	}
	for _, f := range made {
		if err := os.Remove(filepath.Join(shopDir, f)); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range startapp {
		if err := os.Rename(filepath.Join(aside, f), filepath.Join(shopDir, f)); err != nil {
			t.Fatal(err)
		}
	}
	// The tutorial ran the blog's tests; these are the others', and the
	// blog's again with its second model and its added field.
	args := []string{"test", "-count=1"}
	for _, app := range generatedApps {
		args = append(args, "./apps/"+app.name+"/...")
	}
	if tutorialRan {
		args = append(args, "./apps/blog/...")
	}
	// The environment passes through: with TEST_DATABASE_URL the generated tests run on Postgres.
	run(ctx, t, dir, nil, "go", args...)
}

// addToBlog changes the tutorial's blog as a developer would: another model
// (`addmodel`, private to its owners, with a foreign key to the tutorial's
// Review, itself added by addmodel) and a field added to Post by editing its
// struct alone, with a test that the API accepts, validates and shows the
// field and that the admin page has it. Nothing else is edited.
func addToBlog(ctx context.Context, t *testing.T, dir, bin string, env []string) {
	t.Helper()
	appGo, err := os.ReadFile(filepath.Join(dir, "apps", "blog", "app.go"))
	if err != nil {
		t.Fatal(err)
	}
	out := run(ctx, t, dir, env, bin, "addmodel", "blog", "Tag", "--fields", "name:string review:fk:blog.Review author:fk:users.User attachment:file", "--owner=private")
	for _, want := range []string{"apps/blog/tags.go", "apps/blog/tags_test.go", "_create_blog_tags.up.postgres.sql", "_create_blog_tags.down.sqlite.sql", "Listed it in apps/blog/app.go", "PUT /api/blog/tags/{id}/attachment"} {
		if !strings.Contains(out, want) {
			t.Errorf("addmodel printed no %q:\n%s", want, out)
		}
	}
	after, _ := os.ReadFile(filepath.Join(dir, "apps", "blog", "app.go"))
	if !strings.Contains(string(after), "\treviews,\n\ttags,\n}") {
		t.Errorf("app.go after addmodel:\n%s", after)
	}
	// A refused addmodel writes nothing: a model the app declares already, a field of an unknown type.
	for _, args := range [][]string{{"addmodel", "blog", "Tag", "--fields", "name:string"}, {"addmodel", "blog", "Box", "--fields", "name:nope"}} {
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Dir, cmd.Env = dir, append(os.Environ(), env...)
		if out, err := cmd.CombinedOutput(); err == nil {
			t.Errorf("%v succeeded:\n%s", args, out)
		}
	}
	if again, _ := os.ReadFile(filepath.Join(dir, "apps", "blog", "app.go")); !bytes.Equal(again, after) || bytes.Equal(appGo, after) {
		t.Errorf("app.go changed by a refused addmodel, or not by addmodel")
	}
	if _, err := os.Stat(filepath.Join(dir, "apps", "blog", "boxes.go")); err == nil {
		t.Error("a refused addmodel wrote boxes.go")
	}
	postsGo := filepath.Join(dir, "apps", "blog", "posts.go")
	b, err := os.ReadFile(postsGo)
	if err != nil {
		t.Fatal(err)
	}
	titleRe := regexp.MustCompile(`(?m)^\tTitle .*$`)
	loc := titleRe.FindIndex(b)
	if loc == nil {
		t.Fatalf("posts.go has no Title field:\n%s", b)
	}
	field := "\n\t// Subtitle is optional: a nullable column.\n\tSubtitle *string `bun:\"subtitle,type:varchar(255)\"`"
	b = append(append(append([]byte{}, b[:loc[1]]...), field...), b[loc[1]:]...)
	if err := os.WriteFile(postsGo, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "apps", "blog", "subtitle_test.go"), []byte(subtitleTest), 0o644); err != nil {
		t.Fatal(err)
	}
}

// subtitleTest checks the field added to Post, with no edit but the struct's.
const subtitleTest = `package blog_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"manouche/apps/blog"
	"manouche/core/testkit"
)

func TestAddedSubtitle(t *testing.T) {
	t.Parallel()
	app := testkit.New(t, testkit.Settings{"AUTH_THROTTLE_RATE": "1000/min"})
	_, token := register(t, app, "sub@example.com")
	c := app.Client.WithToken(token)
	body := map[string]any{"title": "T", "body": "B", "views": 1, "rating": 1.5, "published_on": "2026-01-02"}
	if got := c.Post("/api/blog/posts", body).AssertStatus(http.StatusCreated).Map(); got["subtitle"] != nil {
		t.Errorf("subtitle not sent: %v, want null", got["subtitle"])
	}
	body["subtitle"] = strings.Repeat("x", 256)
	c.Post("/api/blog/posts", body).AssertError(http.StatusBadRequest, "ValidationError", "subtitle")
	body["subtitle"] = "Sub"
	id := c.Post("/api/blog/posts", body).AssertStatus(http.StatusCreated).Map()["id"].(string)
	if got := c.Get("/api/blog/posts/" + id).AssertStatus(http.StatusOK).Map()["subtitle"]; got != "Sub" {
		t.Errorf("GET subtitle %v", got)
	}
	c.Patch("/api/blog/posts/"+id, map[string]any{"subtitle": "  "}).AssertError(http.StatusBadRequest, "ValidationError", "subtitle")
	for _, m := range (blog.App{}).AdminPages(app.Project) {
		if m.Table != "blog_posts" {
			continue
		}
		declared := false
		for _, f := range m.Fields {
			declared = declared || (f.Name == "subtitle" && f.Null)
		}
		if !declared || !slices.Contains(m.Form, "subtitle") {
			t.Errorf("admin page: subtitle declared %v, form %v", declared, m.Form)
		}
	}
}
`

// migrationFiles lists the SQL files of a migrations folder, sorted.
func migrationFiles(t *testing.T, dir string) []string {
	t.Helper()
	matches, err := filepath.Glob(filepath.Join(dir, "*.sql"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range matches {
		names = append(names, filepath.Base(m))
	}
	slices.Sort(names)
	return names
}

// withoutTimestamps drops the YYYYMMDDHHMMSS_ of migration file names.
func withoutTimestamps(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		_, out[i], _ = strings.Cut(n, "_")
	}
	return out
}

// frameworkApps are the apps the framework ships in apps/. The slow test
// resets its copy of the project to them: the project's own apps (the
// tutorial's blog among them) take the names the test writes.
var frameworkApps = []string{"pages", "users"}

// appImportRe matches an app's import in apps/apps.go, appElemRe its element
// of the Installed list.
var (
	appImportRe = regexp.MustCompile(`^\s*(?:[A-Za-z_]\w*\s+)?"[^"]+/apps/([a-z][a-z0-9_]*)"`)
	appElemRe   = regexp.MustCompile(`^\s*([a-z][a-z0-9_]*)\.App\{\},?\s*$`)
)

// resetToFramework removes from the copy of the project in dir what the
// project added to the framework's apps: every folder of apps/ but
// frameworkApps', their imports and elements in apps/apps.go, their project templates
// (templates/NAME/) and their sections in the layer files (which a binary
// without them refuses). It returns the names of the apps removed.
func resetToFramework(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, "apps"))
	if err != nil {
		t.Fatal(err)
	}
	removed := map[string]bool{}
	for _, e := range entries {
		if e.IsDir() && !slices.Contains(frameworkApps, e.Name()) {
			removed[e.Name()] = true
		}
	}
	appsPath := filepath.Join(dir, "apps", "apps.go")
	src, err := os.ReadFile(appsPath)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, line := range strings.Split(string(src), "\n") {
		if m := appImportRe.FindStringSubmatch(line); m != nil && !slices.Contains(frameworkApps, m[1]) {
			removed[m[1]] = true
			continue
		}
		lines = append(lines, line)
	}
	kept := lines[:0]
	for _, line := range lines {
		if m := appElemRe.FindStringSubmatch(line); m != nil && removed[m[1]] {
			continue
		}
		kept = append(kept, line)
	}
	lines = kept
	if err := os.WriteFile(appsPath, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	layers, err := filepath.Glob(filepath.Join(dir, "settings", "*.toml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range layers {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(withoutSections(string(b), removed)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	for name := range removed {
		for _, p := range []string{filepath.Join(dir, "apps", name), filepath.Join(dir, "templates", name)} {
			if err := os.RemoveAll(p); err != nil {
				t.Fatal(err)
			}
		}
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// tableRe matches a TOML table header and captures its first name.
var tableRe = regexp.MustCompile(`^\[\[?\s*"?([A-Za-z0-9_-]+)`)

// withoutSections removes the apps' sections from a layer file: their tables
// ([blog], [blog.sub]) and their dotted top-level keys (blog.KEY = ...).
func withoutSections(toml string, apps map[string]bool) string {
	var out []string
	inTable, skipping := false, false
	for _, line := range strings.Split(toml, "\n") {
		trimmed := strings.TrimSpace(line)
		if m := tableRe.FindStringSubmatch(trimmed); m != nil && !strings.Contains(strings.SplitN(trimmed, "]", 2)[0], "=") {
			inTable, skipping = true, apps[m[1]]
		}
		if skipping {
			continue
		}
		if key, _, ok := strings.Cut(trimmed, "="); ok && !inTable && !strings.HasPrefix(trimmed, "#") {
			if app, _, dotted := strings.Cut(strings.TrimSpace(key), "."); dotted && apps[strings.Trim(app, `"`)] {
				continue
			}
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n")
}

// tutorialFields are the fields docs/tutorial.md gives the blog's Post.
const tutorialFields = "title:string:120 body:text published:bool views:int rating:float published_on:date"

// addProjectApps makes the project in dir one that has followed the tutorial
// and gone on: the tutorial's blog (unless it has one), a wiki (a name the
// slow test writes too), a setting of the blog's in development.toml and a
// project template overriding the blog's.
func addProjectApps(t *testing.T, dir string) {
	t.Helper()
	for _, app := range []scaffold.Options{
		{App: "blog", Model: "Post", Fields: tutorialFields},
		{App: "wiki"},
	} {
		if _, err := os.Stat(filepath.Join(dir, "apps", app.App)); err == nil {
			continue
		}
		app.Root, app.Installed = dir, append([]string{"admin"}, frameworkApps...)
		if _, err := scaffold.Generate(app); err != nil {
			t.Fatal(err)
		}
	}
	dev := filepath.Join(dir, "settings", "development.toml")
	b, err := os.ReadFile(dev)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "[blog]") {
		b = append(b, "\n[blog]\nCOMMENT_MAX_LENGTH = 10\n"...)
		if err := os.WriteFile(dev, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tmpl := filepath.Join(dir, "templates", "blog", "README.md")
	if err := os.MkdirAll(filepath.Dir(tmpl), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tmpl, []byte("The project's own blog templates.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// run runs a command in dir with env added to the process's, and fails the
// test with its output if it fails.
func run(ctx context.Context, t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	t.Logf("%s %s: ok (%s)", filepath.Base(name), strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
	return string(out)
}

// TestFrameworkCopy checks the copy TestGeneratedApps starts from, in a
// project that has followed the tutorial and added apps of its own: the
// project's apps, their settings sections and templates are gone, the
// framework's remain, and the tutorial's startapp, which an installed blog
// refused, succeeds.
func TestFrameworkCopy(t *testing.T) {
	t.Parallel()
	root := testkit.ProjectRoot(t)
	src := t.TempDir()
	testkit.CopyProject(t, root, src)
	addProjectApps(t, src)
	if err := os.WriteFile(filepath.Join(src, "settings", "staging.toml"),
		[]byte("SITE_NAME = \"Staging\"\nwiki.TITLE = \"Wiki\"\n\n[blog.extra]\nX = 1\n\n[other]\nwiki.Y = 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, app := range []string{"blog", "wiki"} {
		if _, err := scaffold.Generate(scaffold.Options{Root: src, App: app, Installed: frameworkApps}); err == nil || !strings.Contains(err.Error(), "already exists") {
			t.Fatalf("startapp %s in the project with apps: %v, want it refused", app, err)
		}
	}

	dir := t.TempDir()
	testkit.CopyProject(t, src, dir)
	removed := resetToFramework(t, dir)
	for _, app := range []string{"blog", "wiki"} {
		if !slices.Contains(removed, app) {
			t.Errorf("removed %q, want %s among them", removed, app)
		}
	}
	entries, err := os.ReadDir(filepath.Join(dir, "apps"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() && !slices.Contains(frameworkApps, e.Name()) {
			t.Errorf("apps/%s is still in the copy", e.Name())
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "templates", "blog")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("templates/blog is still in the copy: %v", err)
	}
	apps, err := os.ReadFile(filepath.Join(dir, "apps", "apps.go"))
	if err != nil {
		t.Fatal(err)
	}
	var imports, installed []string
	for _, line := range strings.Split(string(apps), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), `"manouche/`) {
			imports = append(imports, strings.TrimSpace(line))
		}
		if m := appElemRe.FindStringSubmatch(line); m != nil {
			installed = append(installed, m[1])
		}
	}
	if want := []string{`"manouche/admin/site"`, `"manouche/apps/pages"`, `"manouche/apps/users"`, `"manouche/core"`}; !slices.Equal(imports, want) {
		t.Errorf("apps/apps.go imports %q, want %q:\n%s", imports, want, apps)
	}
	if want := []string{"pages", "users", "site"}; !slices.Equal(installed, want) {
		t.Errorf("apps.Installed = %q, want %q:\n%s", installed, want, apps)
	}
	if _, err := format.Source(apps); err != nil {
		t.Errorf("apps/apps.go does not parse: %v\n%s", err, apps)
	}
	// The layer files keep every framework setting and lose the apps' sections.
	staging, _ := os.ReadFile(filepath.Join(dir, "settings", "staging.toml"))
	if want := "SITE_NAME = \"Staging\"\n\n[other]\nwiki.Y = 2\n"; string(staging) != want {
		t.Errorf("staging.toml:\n%s\nwant:\n%s", staging, want)
	}
	for _, layer := range []string{"development", "production", "testing", "staging"} {
		_, err := settings.Load(settings.Options{
			Files: os.DirFS(filepath.Join(dir, "settings")), Layer: layer, Environ: []string{
				"SECRET_KEY=" + strings.Repeat("k", 50), "DATABASE_URL=postgres://u:p@db/app"},
			DotEnv: "-",
		})
		if err != nil && !strings.Contains(err.Error(), "other.wiki.Y") {
			t.Errorf("%s in the copy: %v", layer, err)
		} else if err == nil && layer == "staging" {
			t.Errorf("staging.toml's [other] table was lost")
		}
	}
	// The tutorial's first command now succeeds.
	if _, err := scaffold.Generate(scaffold.Options{Root: dir, App: "blog", Model: "Post", Fields: tutorialFields, Installed: frameworkApps}); err != nil {
		t.Errorf("the tutorial's startapp in the copy: %v", err)
	}
}
