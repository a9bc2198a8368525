package main_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
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

	"manouche/core/server"
)

// lines collects what a process writes, line by line, as it writes it.
type lines struct {
	mu    sync.Mutex
	lines []string
	added chan struct{}
}

func newLines() *lines { return &lines{added: make(chan struct{}, 1)} }

func (l *lines) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		l.mu.Lock()
		l.lines = append(l.lines, sc.Text())
		l.mu.Unlock()
		select {
		case l.added <- struct{}{}:
		default:
		}
	}
}

func (l *lines) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

func (l *lines) String() string { return strings.Join(l.all(), "\n") }

// waitFor waits until a line matches re and returns its submatches.
func (l *lines) waitFor(t *testing.T, re *regexp.Regexp, timeout time.Duration) []string {
	t.Helper()
	deadline := time.After(timeout)
	for {
		for _, line := range l.all() {
			if m := re.FindStringSubmatch(line); m != nil {
				return m
			}
		}
		select {
		case <-l.added:
		case <-deadline:
			t.Fatalf("no line matches %s after %s; output:\n%s", re, timeout, l)
		}
	}
}

var (
	servingRe = regexp.MustCompile(`serving on http://([0-9.]+:[0-9]+)/`)
	startupRe = regexp.MustCompile(`level=INFO msg="manouche \S+ starting runserver \(SETTINGS=development\)" version=`)
)

// startServer starts bin runserver on a free port in dir and returns its
// output so far (stdout and stderr together) once it serves, and its address.
func startServer(t *testing.T, bin, dir string, env []string) (*exec.Cmd, *lines, string) {
	t.Helper()
	cmd := exec.Command(bin, "runserver", "127.0.0.1:0")
	cmd.Dir, cmd.Env = dir, env
	r, w := io.Pipe()
	cmd.Stdout, cmd.Stderr = w, w
	out := newLines()
	go out.read(r)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		_ = w.Close()
	})
	addr := out.waitFor(t, servingRe, 60*time.Second)[1]
	return cmd, out, addr
}

func stopServer(t *testing.T, cmd *exec.Cmd, out *lines) {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitc := make(chan error, 1)
	go func() { waitc <- cmd.Wait() }()
	select {
	case err := <-waitc:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v; output:\n%s", err, out)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("still running 15s after SIGTERM; output:\n%s", out)
	}
}

// TestRunserverOutput runs the development server the way the README does and
// counts what it prints: the startup log line first (the version), one line
// per migration applied, the "serving on" lines, one line per request, and
// nothing while idle.
func TestRunserverOutput(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	env := baseEnv("SETTINGS=development")
	applyingRe := regexp.MustCompile(`^  Applying [a-z_]+\.[0-9]{14}_[a-z0-9_]+\.\.\. OK`)

	for _, run := range []struct {
		name        string
		wantApplied bool
	}{{"first run migrates", true}, {"second run", false}} {
		t.Run(run.name, func(t *testing.T) {
			cmd, out, addr := startServer(t, bin, dir, env)
			startup := out.all()
			applied := 0
			if len(startup) == 0 || !startupRe.MatchString(startup[0]) {
				t.Errorf("the first line is not the startup log line: %q", startup)
			}
			for i, line := range startup {
				switch {
				case i == 0 && startupRe.MatchString(line):
				case applyingRe.MatchString(line):
					applied++
				case servingRe.MatchString(line), line == "Quit with CONTROL-C.":
				default:
					t.Errorf("runserver printed an unexpected line at start: %q", line)
				}
			}
			if run.wantApplied && applied < 4 {
				t.Errorf("%d migrations applied, want one line for each of at least 4; output:\n%s", applied, out)
			}
			if !run.wantApplied && applied != 0 {
				t.Errorf("the second run applied %d migrations; output:\n%s", applied, out)
			}
			before := len(out.all())
			res, err := http.Get("http://" + addr + "/health")
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			// One request, one line; then nothing while idle.
			time.Sleep(3 * time.Second)
			got := out.all()[before:]
			if len(got) != 1 || !strings.Contains(got[0], "/health") {
				t.Errorf("one request and 3 s idle printed %d lines, want the request's line only:\n%s", len(got), strings.Join(got, "\n"))
			}
			stopServer(t, cmd, out)
		})
	}

	t.Run("LOG_SQL", func(t *testing.T) {
		for _, tt := range []struct {
			logSQL  string
			wantSQL bool
		}{{"false", false}, {"true", true}} {
			cmd := exec.Command(bin, "migrate")
			cmd.Dir, cmd.Env = t.TempDir(), baseEnv("SETTINGS=development", "LOG_SQL="+tt.logSQL)
			b, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("migrate: %v\n%s", err, b)
			}
			if got := strings.Contains(string(b), "CREATE TABLE"); got != tt.wantSQL {
				t.Errorf("LOG_SQL=%s: SQL printed = %v, want %v:\n%s", tt.logSQL, got, tt.wantSQL, b)
			}
		}
	})
}

// TestRunserverPortInUse: a taken port is one line naming the process that
// holds it (this test), before anything else happens.
func TestRunserverPortInUse(t *testing.T) {
	bin := buildBinary(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cmd := exec.Command(bin, "runserver", ln.Addr().String())
	cmd.Dir, cmd.Env = t.TempDir(), baseEnv("SETTINGS=development")
	b, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errorsAs(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("err %v, want exit 1\n%s", err, b)
	}
	out := strings.TrimSpace(string(b))
	if strings.Count(out, "\n") != 0 {
		t.Errorf("%d lines, want one:\n%s", strings.Count(out, "\n")+1, out)
	}
	for _, want := range []string{ln.Addr().String() + " is already in use", fmt.Sprintf("process %d (", os.Getpid())} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestRunserverDiesWithGoRun kills `go run . runserver` with SIGKILL, as a
// closed terminal or an IDE's stop button does, and checks that the program
// go run started stops too and frees its port.
func TestRunserverDiesWithGoRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary with go run: skipped with -short")
	}
	if _, err := os.Stat("/proc/self"); err != nil {
		t.Skip("needs Linux's /proc")
	}
	root, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "SETTINGS", "DATABASE_URL", "REDIS_URL", "PORT", "MEDIA_ROOT", "LOG_LEVEL", "LOG_SQL":
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "SETTINGS=development", "DATABASE_URL=sqlite://"+filepath.Join(tmp, "db.sqlite3"), "MEDIA_ROOT="+filepath.Join(tmp, "media"))
	cmd := exec.Command("go", "run", ".", "runserver", "127.0.0.1:0")
	cmd.Dir, cmd.Env = root, env
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	out := newLines()
	go out.read(stdout)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := out.waitFor(t, servingRe, 5*time.Minute)[1]
	_, portText, _ := net.SplitHostPort(addr)
	var port int
	fmt.Sscan(portText, &port)
	pid, _, ok := server.PortHolder(port)
	if !ok {
		t.Fatalf("cannot find the process serving %s", addr)
	}
	t.Cleanup(func() {
		if p, err := os.FindProcess(pid); err == nil {
			_ = p.Kill()
		}
	})
	if pid == cmd.Process.Pid {
		t.Fatalf("go run (pid %d) serves %s itself: expected its child to", pid, addr)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return // the port is free
		}
		c.Close()
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("10 s after go run was killed, process %d still serves %s", pid, addr)
}
