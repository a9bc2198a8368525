// Command startup measures how soon a freshly started binary answers its
// first GET /health with 200, on SQLite with its migrations already applied:
// it builds the binary, runs `migrate` once in a temporary folder, then starts
// `runserver` N times, polling /health every 2 ms from the moment the process
// is started, and prints the median and the maximum. Target: under 200 ms.
//
//	go run ./bench/startup [-n 10] [-settings development]
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	n := flag.Int("n", 10, "number of starts")
	layer := flag.String("settings", "development", "SETTINGS layer to start with (development or production)")
	flag.Parse()
	if err := run(*n, *layer); err != nil {
		fmt.Fprintln(os.Stderr, "startup:", err)
		os.Exit(1)
	}
}

func run(n int, layer string) error {
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return fmt.Errorf("go env GOMOD: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(gomod)))
	dir, err := os.MkdirTemp("", "manouche-startup-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "manouche")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %w\n%s", err, out)
	}
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "SETTINGS=" + layer,
		"DATABASE_URL=sqlite://" + filepath.Join(dir, "db.sqlite3"),
		"MEDIA_ROOT=" + filepath.Join(dir, "media"),
		"SECRET_KEY=startup-benchmark-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
		"ALLOWED_HOSTS=127.0.0.1", "LOG_LEVEL=warn",
	}
	migrate := exec.Command(bin, "migrate")
	migrate.Dir, migrate.Env = dir, env
	if out, err := migrate.CombinedOutput(); err != nil {
		return fmt.Errorf("migrate: %w\n%s", err, out)
	}
	var times []time.Duration
	for i := range n {
		d, err := startOnce(bin, dir, env)
		if err != nil {
			return fmt.Errorf("start %d: %w", i+1, err)
		}
		times = append(times, d)
		fmt.Printf("start %2d: first 200 after %v\n", i+1, d.Round(100*time.Microsecond))
	}
	slices.Sort(times)
	median := times[len(times)/2]
	if len(times)%2 == 0 {
		median = (times[len(times)/2-1] + times[len(times)/2]) / 2
	}
	fmt.Printf("SETTINGS=%s, %d starts: median %v, min %v, max %v (target < 200ms)\n",
		layer, n, median.Round(100*time.Microsecond), times[0].Round(100*time.Microsecond), times[len(times)-1].Round(100*time.Microsecond))
	return nil
}

// startOnce starts runserver on a free port and returns how long it took to
// answer GET /health with 200; it then stops the process with SIGTERM.
func startOnce(bin, dir string, env []string) (time.Duration, error) {
	port, err := freePort()
	if err != nil {
		return 0, err
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/health", port)
	cmd := exec.Command(bin, "runserver", fmt.Sprintf("127.0.0.1:%d", port))
	cmd.Dir, cmd.Env = dir, env
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if res, err := client.Do(req); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return time.Since(start), nil
			}
		}
		select {
		case err := <-exited:
			exited <- err
			return 0, fmt.Errorf("the server exited before answering: %v", err)
		case <-ctx.Done():
			return 0, fmt.Errorf("no 200 from %s within 20s", url)
		case <-tick.C:
		}
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
