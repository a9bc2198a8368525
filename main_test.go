package main_test

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
	binDir  string
)

// TestMain removes the binary buildBinary built.
func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// buildBinary builds the project's binary once per test binary run.
func buildBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary: skipped with -short")
	}
	binOnce.Do(func() {
		out, err := exec.Command("go", "env", "GOMOD").Output()
		if err != nil {
			binErr = fmt.Errorf("go env GOMOD: %v", err)
			return
		}
		root := filepath.Dir(strings.TrimSpace(string(out)))
		if binDir, binErr = os.MkdirTemp("", "manouche-bin-"); binErr != nil {
			return
		}
		bin := filepath.Join(binDir, "manouche")
		cmd := exec.Command("go", "build", "-o", bin, ".")
		cmd.Dir = root
		if b, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, b)
			return
		}
		binPath = bin
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// baseEnv is a minimal environment: no SETTINGS, DATABASE_URL or secrets
// leak in from the test's own.
func baseEnv(extra ...string) []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	return append(env, extra...)
}

func TestBinary(t *testing.T) {
	bin := buildBinary(t)

	t.Run("production without variables", func(t *testing.T) {
		t.Parallel()
		for _, command := range []string{"runserver", "migrate", "settings"} {
			cmd := exec.Command(bin, command)
			cmd.Dir = t.TempDir()
			cmd.Env = baseEnv("SETTINGS=production")
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if err == nil || !errorsAs(err, &exit) || exit.ExitCode() == 0 {
				t.Fatalf("%s: err %v, want a non-zero exit\n%s", command, err, out)
			}
			for _, name := range []string{"SECRET_KEY", "DATABASE_URL"} {
				if !strings.Contains(string(out), name) {
					t.Errorf("%s: output does not name %s:\n%s", command, name, out)
				}
			}
		}
	})

	t.Run("unknown command", func(t *testing.T) {
		t.Parallel()
		cmd := exec.Command(bin, "runsever")
		cmd.Dir = t.TempDir()
		cmd.Env = baseEnv()
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if !errorsAs(err, &exit) || exit.ExitCode() != 2 {
			t.Fatalf("err %v, want exit 2\n%s", err, out)
		}
		if !strings.Contains(string(out), "Did you mean") || !strings.Contains(string(out), "runserver") {
			t.Errorf("no suggestion:\n%s", out)
		}
	})

	t.Run("runserver and SIGTERM", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		cmd := exec.Command(bin, "runserver", "127.0.0.1:0")
		cmd.Dir = dir
		cmd.Env = baseEnv("SETTINGS=development", "LOG_LEVEL=warn")
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = &limitedBuffer{max: 1 << 20}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = cmd.Process.Kill() }()
		addrc := make(chan string, 1)
		go func() {
			re := regexp.MustCompile(`serving on (http://[0-9.:]+)/`)
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				if m := re.FindStringSubmatch(sc.Text()); m != nil {
					addrc <- m[1]
				}
			}
			_, _ = io.Copy(io.Discard, stdout)
		}()
		var base string
		select {
		case base = <-addrc:
		case <-time.After(60 * time.Second):
			t.Fatalf("runserver did not print its address; stderr:\n%s", cmd.Stderr)
		}
		res, err := http.Get(base + "/health")
		if err != nil {
			t.Fatalf("GET /health: %v", err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !strings.Contains(string(b), `"ok"`) {
			t.Fatalf("/health = %d %s", res.StatusCode, b)
		}
		if _, err := os.Stat(filepath.Join(dir, "db.sqlite3")); err != nil {
			t.Errorf("the development SQLite file is not in the working directory: %v", err)
		}
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		waitc := make(chan error, 1)
		go func() { waitc <- cmd.Wait() }()
		select {
		case err := <-waitc:
			if err != nil {
				t.Fatalf("exit after SIGTERM: %v; stderr:\n%s", err, cmd.Stderr)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("still running 10s after SIGTERM; stderr:\n%s", cmd.Stderr)
		}
	})
}

func errorsAs(err error, target **exec.ExitError) bool {
	e, ok := err.(*exec.ExitError)
	if ok {
		*target = e
	}
	return ok
}

// limitedBuffer keeps the first max bytes written to it.
type limitedBuffer struct {
	max int
	b   []byte
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.max - len(l.b); room > 0 {
		l.b = append(l.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (l *limitedBuffer) String() string { return string(l.b) }
