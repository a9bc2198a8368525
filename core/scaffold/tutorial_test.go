package scaffold_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"manouche/core/testenv"
)

// shBlockRe matches the ```sh blocks of a Markdown file, and the ```go
// blocks that start with a path comment (// apps/blog/comment.go): files to
// write, or lines to replace in one.
var shBlockRe = regexp.MustCompile("(?s)```(sh|go)\n(.*?)```")

// goFile writes a ```go block of the tutorial into dir: the file its first
// line names, whole when it does not exist; when it does, each func line of
// the block replaces the line of the file that starts the same way (up to its
// " {"), as the text asks the reader to do; a one-line func the file lacks
// is added at its end. A block with no path comment is
// an example, not an edit, and is skipped.
func goFile(t *testing.T, dir, block string) {
	t.Helper()
	if !isGoFile(block) {
		return
	}
	first, body, _ := strings.Cut(block, "\n")
	name := strings.TrimPrefix(first, "// ")
	path := filepath.Join(dir, filepath.FromSlash(name))
	old, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		if err := os.WriteFile(path, []byte(body+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	text := string(old)
	for _, line := range strings.Split(body, "\n") {
		sig, _, found := strings.Cut(line, " {")
		if !strings.HasPrefix(line, "func ") || !found {
			continue
		}
		i := strings.Index(text, "\n"+sig+" {")
		if i < 0 && strings.HasSuffix(strings.TrimSpace(line), "}") {
			// A one-line func the file does not have yet: the text asks to add it.
			text = strings.TrimRight(text, "\n") + "\n\n" + line + "\n"
			continue
		}
		if i < 0 {
			t.Fatalf("the tutorial edits %q in %s, which has no such line", sig, name)
		}
		end := strings.Index(text[i+1:], "\n")
		text = text[:i+1] + line + text[i+1+end:]
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// isGoFile says whether a ```go block is a file to write or edit (its first
// line is a path comment), not an example.
func isGoFile(block string) bool {
	first, _, _ := strings.Cut(block, "\n")
	name, ok := strings.CutPrefix(first, "// ")
	return ok && strings.HasSuffix(name, ".go") && !strings.Contains(name, " ")
}

// runTutorial runs every command of docs/tutorial.md, in order, in dir (a
// copy of the repository): the blocks before `go run . runserver` as one
// shell script, then the server (on a free port instead of 8000), then the
// blocks after it against that server, and checks what the text says they
// answer. It reports false when curl or jq, which the tutorial uses, are
// missing.
func runTutorial(ctx context.Context, t *testing.T, root, dir string) bool {
	t.Helper()
	for _, tool := range []string{"sh", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv(testenv.Strict) == "1" {
				t.Fatalf("the tutorial's commands need %s, which is not installed (%s=1)", tool, testenv.Strict)
			}
			t.Logf("the tutorial's commands are not run: they need %s, which is not installed", tool)
			return false
		}
	}
	doc, err := os.ReadFile(filepath.Join(root, "docs", "tutorial.md"))
	if err != nil {
		t.Fatal(err)
	}
	// before holds the commands before runserver, run in order, with the Go
	// files the text has the reader write in between (as "\x00go" + block).
	var before, after []string
	server := ""
	for _, m := range shBlockRe.FindAllStringSubmatch(string(doc), -1) {
		block := strings.TrimSpace(m[2])
		switch {
		case m[1] == "go":
			if server != "" {
				if isGoFile(block) {
					t.Fatalf("the tutorial has Go code to write after runserver: update this test")
				}
				continue // an example, not an edit
			}
			before = append(before, "\x00go"+block)
		case strings.HasPrefix(block, "go run . runserver"):
			server = block
		case server == "":
			before = append(before, block)
		default:
			after = append(after, block)
		}
	}
	if server != "go run . runserver" || len(before) < 3 || len(after) < 5 || !strings.HasPrefix(before[0], "go run . startapp blog ") {
		t.Fatalf("the tutorial's shape changed (first block %q, runserver block %q, %d blocks before, %d after): update this test", before[0], server, len(before), len(after))
	}
	port := freePort(t)
	// The tutorial runs on the development defaults: drop what the
	// environment could override them with (the TEST_* variables stay).
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "SETTINGS", "DATABASE_URL", "REDIS_URL", "PORT", "MEDIA_ROOT", "SITE_DOMAIN", "SITE_SCHEME":
			continue
		}
		env = append(env, kv)
	}
	script := func(blocks []string) string {
		s := "set -eu\n" + strings.Join(blocks, "\n")
		return strings.ReplaceAll(s, "127.0.0.1:8000", fmt.Sprintf("127.0.0.1:%d", port))
	}

	out := ""
	var blocks []string
	for i, block := range before {
		code, isGo := strings.CutPrefix(block, "\x00go")
		if !isGo {
			blocks = append(blocks, block)
		}
		if len(blocks) > 0 && (isGo || i == len(before)-1) {
			out += shell(ctx, t, dir, env, script(blocks))
			blocks = nil
		}
		if isGo {
			goFile(t, dir, code)
		}
	}
	if !strings.Contains(out, "No changes detected in app 'blog'") {
		t.Errorf("makemigrations blog did not say there were no changes:\n%s", out)
	}
	// The hand-written Comment: its migration, with both foreign keys.
	if !strings.Contains(out, "Create table blog_comments") || !strings.Contains(out, "Applying blog.") {
		t.Errorf("makemigrations and migrate did not create blog_comments:\n%s", out)
	}
	migs, _ := filepath.Glob(filepath.Join(dir, "apps", "blog", "migrations", "*_blog_comments.up.postgres.sql"))
	if len(migs) != 1 {
		t.Fatalf("no Postgres migration for blog_comments: %v", migs)
	}
	if up, _ := os.ReadFile(migs[0]); !strings.Contains(string(up), `REFERENCES "blog_posts" ("id") ON DELETE CASCADE`) || !strings.Contains(string(up), `REFERENCES "users" ("id") ON DELETE CASCADE`) {
		t.Errorf("the blog_comments migration lacks its foreign keys:\n%s", up)
	}

	// addmodel's Review: its files, its place in app.go and its migration,
	// with the foreign keys to blog_posts and to its owner.
	if !strings.Contains(out, "apps/blog/reviews.go") || !strings.Contains(out, "Listed it in apps/blog/app.go") {
		t.Errorf("addmodel blog Review did not say what it wrote:\n%s", out)
	}
	migs, _ = filepath.Glob(filepath.Join(dir, "apps", "blog", "migrations", "*_create_blog_reviews.up.sqlite.sql"))
	if len(migs) != 1 {
		t.Fatalf("no SQLite migration for blog_reviews: %v", migs)
	}
	if up, _ := os.ReadFile(migs[0]); !strings.Contains(string(up), `REFERENCES "blog_posts" ("id") ON DELETE CASCADE`) || !strings.Contains(string(up), `REFERENCES "users" ("id") ON DELETE CASCADE`) {
		t.Errorf("the blog_reviews migration lacks its foreign keys:\n%s", up)
	}
	if app, _ := os.ReadFile(filepath.Join(dir, "apps", "blog", "app.go")); !strings.Contains(string(app), "\tposts,\n\treviews,\n}") || !strings.Contains(string(app), `[]string{"users"}`) {
		t.Errorf("app.go after addmodel:\n%s", app)
	}

	// go run . runserver, in its own process group so that stopping it stops
	// the binary go run started too.
	srv := exec.CommandContext(ctx, "go", "run", ".", "runserver", fmt.Sprintf("127.0.0.1:%d", port))
	srv.Dir, srv.Env = dir, env
	srv.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	logPath := filepath.Join(t.TempDir(), "server.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	srv.Stdout, srv.Stderr = logFile, logFile
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = syscall.Kill(-srv.Process.Pid, syscall.SIGTERM)
		_ = srv.Wait()
	}()
	waitHealthy(ctx, t, port, logPath)

	out = shell(ctx, t, dir, env, script(after))
	for _, want := range []string{
		"\n1\n",    // the search finds the post
		"\ntrue\n", // PATCH published it
		`{"error_type":"ValidationError","errors":[{"field":"title","message":"This field may not be blank."},{"field":"published_on","message":"Date has wrong format. Use one of these formats instead: YYYY-MM-DD."}]}`,
		"\n204\n",              // DELETE
		"\n5\n",                // another user reads the review
		"\nPermissionDenied\n", // but may not change it
		"Superuser admin@example.com created successfully.",
	} {
		if !strings.Contains("\n"+out, want) {
			t.Errorf("the tutorial's commands did not print %q:\n%s", want, out)
		}
	}
	return true
}

// shell runs a script with sh in dir and returns its output, failing the test
// with it when the script fails.
func shell(ctx context.Context, t *testing.T, dir string, env []string, script string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, "sh", "-c", script)
	cmd.Dir, cmd.Env = dir, env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("tutorial commands failed: %v\n--- script\n%s\n--- output\n%s", err, script, out)
	}
	return string(out)
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// waitHealthy waits for GET /health to answer 200 (go run builds first).
func waitHealthy(ctx context.Context, t *testing.T, port int, logPath string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	url := fmt.Sprintf("http://127.0.0.1:%d/health", port)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		res, err := http.Get(url)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	log, _ := os.ReadFile(logPath)
	t.Fatalf("runserver did not answer /health:\n%s", log)
}
