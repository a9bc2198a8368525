package testkit

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

// ProjectRoot is the project's root: the folder of the go.mod above the
// test's working directory.
func ProjectRoot(t testing.TB) string {
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

// CopyProject copies the project's files at src (ProjectRoot) into dst, for a
// test that builds or edits a copy of the project (scaffolding, reloading), as they are in the working
// tree: those git tracks or would track (not ignored) when git is there, else
// every file; never version control, databases, media or .env.
func CopyProject(t testing.TB, src, dst string) {
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
