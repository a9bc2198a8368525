package main_test

import (
	"encoding/json"
	"io"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestFirstLineNamesTheVersion: the first line every process writes (stdout
// and stderr together, as Heroku's log stream has them) is the startup log
// line naming the build's version, the command and the settings layer: JSON
// in production (web, worker, release), text in development.
func TestFirstLineNamesTheVersion(t *testing.T) {
	bin := buildBinary(t)
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	v := strings.TrimPrefix(strings.TrimSpace(string(out)), "manouche ")
	if v == "" {
		t.Fatalf("version printed %q", out)
	}
	dir := t.TempDir()
	prod := baseEnv("SETTINGS=production", "SECRET_KEY=first-line-test-secret-key-0123456789-abcdefghijklmnop",
		"DATABASE_URL=sqlite://"+filepath.Join(dir, "db.sqlite3"), "EMAIL_BACKEND=console", "MEDIA_ROOT="+filepath.Join(dir, "media"), "DYNO=web.1")

	checkJSON := func(t *testing.T, first, command string) {
		t.Helper()
		var rec map[string]any
		if err := json.Unmarshal([]byte(first), &rec); err != nil {
			t.Fatalf("first line %q is not a JSON log line: %v", first, err)
		}
		msg, _ := rec["msg"].(string)
		if rec["version"] != v || !strings.Contains(msg, v) || rec["command"] != command || rec["settings"] != "production" || rec["dyno"] != "web.1" {
			t.Errorf("first line %s: want version %q, command %q, settings production, dyno web.1", first, v, command)
		}
	}

	t.Run("migrate (release)", func(t *testing.T) {
		cmd := exec.Command(bin, "migrate")
		cmd.Dir, cmd.Env = dir, prod
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("migrate: %v\n%s", err, b)
		}
		first, _, _ := strings.Cut(string(b), "\n")
		checkJSON(t, first, "migrate")
	})

	t.Run("runserver (web)", func(t *testing.T) {
		cmd, out, _ := startServer(t, bin, dir, prod)
		stopServer(t, cmd, out)
		checkJSON(t, out.all()[0], "runserver")
	})

	t.Run("worker", func(t *testing.T) {
		cmd := exec.Command(bin, "worker")
		cmd.Dir, cmd.Env = dir, prod
		r, w := io.Pipe()
		cmd.Stdout, cmd.Stderr = w, w
		out := newLines()
		go out.read(r)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); _ = w.Close() })
		out.waitFor(t, regexp.MustCompile(`^Worker .* started`), 60*time.Second)
		stopServer(t, cmd, out)
		checkJSON(t, out.all()[0], "worker")
	})

	t.Run("development", func(t *testing.T) {
		cmd := exec.Command(bin, "showmigrations")
		cmd.Dir, cmd.Env = t.TempDir(), baseEnv("SETTINGS=development")
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("showmigrations: %v\n%s", err, b)
		}
		first, _, _ := strings.Cut(string(b), "\n")
		if !strings.Contains(first, "level=INFO") || !strings.Contains(first, "version="+v) || !strings.Contains(first, "command=showmigrations") {
			t.Errorf("first line %q: want the startup log line with version=%s", first, v)
		}
	})
}
