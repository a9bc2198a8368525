package scaffold_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"manouche/core/testkit/testdb"
)

// generatedApps are the apps the slow test writes with startapp, covering
// every field kind, besides the tutorial's blog (--model Post --fields
// "title:string:120 body:text published:bool views:int rating:float published_on:date").
var generatedApps = []struct {
	name string
	args []string
}{
	{"wiki", nil},
	{"shop", []string{"--model", "Product", "--fields", "name:string sku:uuid price:float available_at:datetime photo:image"}},
	{"notes", []string{"--model", "Note", "--fields", "title:string author:fk:users.User attachment:file"}},
	// Edge cases: an irregular plural, a one-character string, an initialism, a name like a helper's.
	{"catalog", []string{"--model", "SetText", "--fields", "label:string:1 home_url:string cover:image"}},
}

// minTime is what TestGeneratedApps needs, roughly twice what it takes on
// two cores with a warm module cache.
const minTime = 8 * time.Minute

// TestGeneratedApps copies the repository and, in the copy, runs every
// command of docs/tutorial.md (which writes the blog app), then `startapp` for
// more apps and field sets, and checks that, with no edit, the project builds,
// vets, migrates (SQLite, and Postgres when TEST_DATABASE_URL is set),
// makemigrations finds no changes, and the generated tests pass.
func TestGeneratedApps(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a copy of the project several times (minutes): skipped with -short")
	}
	if deadline, ok := t.Deadline(); ok && time.Until(deadline) < minTime {
		t.Skipf("needs about %s and the test binary's -timeout leaves %s: run with -timeout=30m", minTime, time.Until(deadline).Round(time.Second))
	}
	root := repoRoot(t)
	dir := t.TempDir()
	copyRepo(t, root, dir)
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

	run(ctx, t, dir, nil, "go", "build", "./...")
	run(ctx, t, dir, nil, "go", "vet", "./...")
	run(ctx, t, dir, nil, "go", "build", "-o", bin, ".")
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
		if matches, _ := filepath.Glob(filepath.Join(dir, "apps", app, "migrations", "*")); len(matches) != 3 {
			t.Errorf("apps/%s/migrations holds %v, want the first migration's three files", app, matches)
		}
	}
	// The tutorial ran the blog's tests; these are the others'.
	args := []string{"test", "-count=1"}
	for _, app := range generatedApps {
		args = append(args, "./apps/"+app.name+"/...")
	}
	// The environment passes through: with TEST_DATABASE_URL the generated tests run on Postgres.
	run(ctx, t, dir, nil, "go", args...)
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

// repoRoot is the folder of go.mod above the test's folder.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's folder")
		}
		dir = parent
	}
}

// copyRepo copies the project's files into dst, as they are in the working
// tree: those git tracks or would track (not ignored) when git is there, else
// every file; never version control, databases, media or .env.
func copyRepo(t *testing.T, src, dst string) {
	t.Helper()
	var files []string
	if out, err := exec.Command("git", "-C", src, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output(); err == nil && len(out) > 0 {
		for _, f := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
			if !skipFile(f) {
				files = append(files, filepath.FromSlash(f))
			}
		}
	} else {
		err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(src, p)
			if d.IsDir() {
				if d.Name() == ".git" || skipFile(filepath.ToSlash(rel)) {
					return filepath.SkipDir
				}
				return nil
			}
			if !skipFile(filepath.ToSlash(rel)) {
				files = append(files, rel)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(src, f))
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted in the working tree, not yet in git
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dst, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// skipFile reports whether a project file stays out of the copy: databases,
// Redis dumps, media, test artifacts, .env.
func skipFile(rel string) bool {
	base := path.Base(rel)
	first, _, _ := strings.Cut(rel, "/")
	return strings.Contains(base, ".sqlite3") || strings.HasSuffix(base, ".rdb") || base == ".env" ||
		first == "media" || first == "test-artifacts" || first == "node_modules"
}
