package cli_test

import (
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

	"manouche/core/testkit"
)

// replaceIn replaces old, which must be there, with new in the file at path.
func replaceIn(t *testing.T, path, old, new string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s does not contain %q", path, old)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// poller requests a URL without pause, through two clients (a new connection
// per request, and kept-alive connections), and records every failure and
// the last answer.
type poller struct {
	url      string
	stop     chan struct{}
	wg       sync.WaitGroup
	mu       sync.Mutex
	last     string // "X-Reload header|body"
	requests int
	failures []string
}

func startPoller(url string) *poller {
	p := &poller{url: url, stop: make(chan struct{})}
	for _, c := range []*http.Client{
		{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 2 * time.Minute},
		{Transport: &http.Transport{}, Timeout: 2 * time.Minute},
	} {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			for {
				select {
				case <-p.stop:
					return
				default:
				}
				res, err := c.Get(p.url)
				var got string
				if err == nil {
					b, _ := io.ReadAll(res.Body)
					res.Body.Close()
					got = res.Header.Get("X-Reload") + "|" + string(b)
					if res.StatusCode != http.StatusOK {
						err = fmt.Errorf("status %d: %s", res.StatusCode, b)
					}
				}
				p.mu.Lock()
				p.requests++
				if err != nil {
					p.failures = append(p.failures, fmt.Sprintf("%s: %v", time.Now().Format("15:04:05.000"), err))
				} else {
					p.last = got
				}
				p.mu.Unlock()
				time.Sleep(10 * time.Millisecond)
			}
		}()
	}
	return p
}

func (p *poller) state() (last string, requests int, failures []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last, p.requests, append([]string(nil), p.failures...)
}

// waitAnswer waits until the answer satisfies ok and returns how long it took.
func (p *poller) waitAnswer(t *testing.T, what string, ok func(string) bool, timeout time.Duration, out *testkit.Output) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < timeout {
		if last, _, _ := p.state(); ok(last) {
			return time.Since(start)
		}
		time.Sleep(5 * time.Millisecond)
	}
	last, _, _ := p.state()
	t.Fatalf("after %s, still no answer with %s (last: %.80q); output:\n%s", timeout, what, last, out)
	return 0
}

// TestRunserverReloads runs `runserver` in development in a copy of the
// project and edits it while a client requests /robots.txt without pause: a
// template edit shows without a rebuild; a Go edit is rebuilt and served; a
// broken Go edit prints the compiler's error while the previous server keeps
// answering; fixing it recovers; and no request fails throughout, from the
// first answer to SIGTERM, which stops every process and frees the port.
func TestRunserverReloads(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a copy of the project several times: skipped with -short")
	}
	dir := t.TempDir()
	testkit.CopyProject(t, testkit.ProjectRoot(t), dir)
	pagesGo := filepath.Join(dir, "apps", "pages", "pages.go")
	robots := filepath.Join(dir, "apps", "pages", "templates", "pages", "robots.txt")
	const contentType = `c.Set(fiber.HeaderContentType, "text/plain; charset=utf-8")`
	replaceIn(t, pagesGo, contentType, contentType+"\n\t\tc.Set(\"X-Reload\", \"v1\")")

	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "GO") || name == "PATH" || name == "HOME" || name == "TMPDIR" {
			env = append(env, kv)
		}
	}
	// -trimpath: the copy's packages share the build cache between runs of this test.
	env = append(env, "GOFLAGS=-trimpath", "SETTINGS=development", "SHUTDOWN_TIMEOUT=5s")
	bin := filepath.Join(t.TempDir(), "manouche")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir, build.Env = dir, env
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}

	cmd := exec.Command(bin, "runserver", "127.0.0.1:0")
	cmd.Dir, cmd.Env = dir, env
	out := testkit.NewOutput()
	cmd.Stdout, cmd.Stderr = out.Writer(), out.Writer()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); _ = out.Close() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	addr := out.WaitFor(t, 0, regexp.MustCompile(`serving on http://([0-9.]+:[0-9]+)/`), 2*time.Minute)[1]
	out.WaitFor(t, 0, regexp.MustCompile(`^Watching for file changes`), 10*time.Second)

	p := startPoller("http://" + addr + "/robots.txt")
	defer func() {
		close(p.stop)
		p.wg.Wait()
	}()
	p.waitAnswer(t, "v1", func(s string) bool { return strings.HasPrefix(s, "v1|") }, 30*time.Second, out)

	// A template: read from disk at the next request, no rebuild.
	t.Run("template", func(t *testing.T) {
		from := len(out.Lines())
		b, err := os.ReadFile(robots)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(robots, append([]byte("# edited template\n"), b...), 0o644); err != nil {
			t.Fatal(err)
		}
		took := p.waitAnswer(t, "the edited template", func(s string) bool { return strings.HasPrefix(s, "v1|# edited template\n") }, 10*time.Second, out)
		out.WaitFor(t, from, regexp.MustCompile(`robots\.txt changed: templates are read from disk, no restart\.`), 10*time.Second)
		for _, line := range out.Lines()[from:] {
			if strings.Contains(line, "rebuilding") || strings.Contains(line, "serving on") {
				t.Errorf("a template edit restarted the server: %q", line)
			}
		}
		t.Logf("template edit to new answer: %s", took.Round(time.Millisecond))
	})

	t.Run("go edit", func(t *testing.T) {
		from := len(out.Lines())
		replaceIn(t, pagesGo, `"X-Reload", "v1"`, `"X-Reload", "v2"`)
		took := p.waitAnswer(t, "v2", func(s string) bool { return strings.HasPrefix(s, "v2|") }, 5*time.Minute, out)
		out.WaitFor(t, from, regexp.MustCompile(`^apps/pages/pages\.go changed, rebuilding\.\.\.$`), 10*time.Second)
		reloaded := out.WaitFor(t, from, regexp.MustCompile(`^Reloaded in .*`), 10*time.Second)[0]
		t.Logf("save to new code answering: %s (%s)", took.Round(time.Millisecond), reloaded)
	})

	t.Run("broken edit keeps the old server", func(t *testing.T) {
		from := len(out.Lines())
		replaceIn(t, pagesGo, `c.Set("X-Reload", "v2")`, `c.Set("X-Reload", "v3"`)
		out.WaitFor(t, from, regexp.MustCompile(`^The build failed: the server keeps running the previous code\.$`), 5*time.Minute)
		out.WaitFor(t, from, regexp.MustCompile(`apps/pages/pages\.go:\d+:\d+: syntax error`), time.Second)
		_, before, _ := p.state()
		p.waitAnswer(t, "more answers from v2", func(s string) bool {
			_, n, _ := p.state()
			return n > before+10 && strings.HasPrefix(s, "v2|")
		}, 10*time.Second, out)
	})

	t.Run("fixed edit recovers, with a new migration", func(t *testing.T) {
		from := len(out.Lines())
		migrations := filepath.Join(dir, "apps", "users", "migrations")
		for name, sql := range map[string]string{
			"20991231000000_reload_probe.up.sql":   "CREATE TABLE reload_probe (id INTEGER);",
			"20991231000000_reload_probe.down.sql": "DROP TABLE reload_probe;",
		} {
			if err := os.WriteFile(filepath.Join(migrations, name), []byte(sql), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		replaceIn(t, pagesGo, `c.Set("X-Reload", "v3"`, `c.Set("X-Reload", "v3")`)
		took := p.waitAnswer(t, "v3", func(s string) bool { return strings.HasPrefix(s, "v3|") }, 5*time.Minute, out)
		t.Logf("fix to new code answering: %s", took.Round(time.Millisecond))
		out.WaitFor(t, from, regexp.MustCompile(`^  Applying users\.20991231000000_reload_probe\.\.\. OK`), time.Second)
	})

	t.Run(".env restarts without a rebuild", func(t *testing.T) {
		from := len(out.Lines())
		if err := os.WriteFile(filepath.Join(dir, ".env"), []byte("SITE_NAME=Reloaded\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		out.WaitFor(t, from, regexp.MustCompile(`^Reloaded \S+ \(SETTINGS=development\) serving on`), time.Minute)
		for _, line := range out.Lines()[from:] {
			if strings.Contains(line, "rebuilding") {
				t.Errorf("a .env edit rebuilt the project: %q", line)
			}
		}
		out.WaitFor(t, from, regexp.MustCompile(`^\.env changed, restarting\.\.\.$`), time.Second)
	})

	_, requests, failures := p.state()
	if len(failures) > 0 {
		t.Errorf("%d of %d requests failed during the reloads:\n%s", len(failures), requests, strings.Join(failures, "\n"))
	}
	t.Logf("%d requests, none failed", requests)

	close(p.stop)
	p.wg.Wait()
	p.stop = make(chan struct{})
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		exited <- err
		if err != nil {
			t.Fatalf("runserver after SIGTERM: %v; output:\n%s", err, out)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("runserver still running 20 s after SIGTERM; output:\n%s", out)
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatalf("%s still accepts connections after runserver exited", addr)
	}
}
