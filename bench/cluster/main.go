// Command cluster runs the real binary as several web and worker processes
// on one Postgres, one Redis and mailpit, behind a round-robin router, under
// a workload of many clients, while it injects faults: SIGKILL of a worker
// in the middle of deliveries and of a web process, Redis stopped and
// started, Postgres restarted, SMTP refusing connections. At the end it
// checks what must hold (no email lost, no acknowledged write lost, revoked
// tokens refused everywhere, no 5xx outside the fault windows and only 503s
// in the error shape inside them, recovery within 5 s) and prints a table.
// It exits 1 when an invariant fails.
//
//	DATABASE_URL=postgres://app:app@127.0.0.1:5432/app?sslmode=disable \
//	PG_RESTART="pg_ctlcluster 15 main restart" go run ./bench/cluster -duration 100s
//
// It creates its own database in that server (and drops it), and runs its
// own redis-server and mailpit (both must be on PATH). Without PG_RESTART the
// Postgres fault is skipped and the report says so. Each process's output
// goes to NAME.log in the run's folder, kept when an invariant failed (or
// with -keep); every request carries an X-Request-ID, and under each
// unexpected 5xx the report prints the lines its web process logged about it
// (the error a 500 failed with).
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
)

var (
	duration  = flag.Duration("duration", 100*time.Second, "how long the workload runs (the faults are spread over it)")
	webs      = flag.Int("web", 3, "web processes")
	workers   = flag.Int("workers", 2, "worker processes")
	clients   = flag.Int("clients", 24, "concurrent clients")
	binPath   = flag.String("bin", "", "the manouche binary (default: go build the project)")
	keep      = flag.Bool("keep", false, "keep the run's folder (logs) and database")
	reqTO     = flag.Duration("request-timeout", 10*time.Second, "REQUEST_TIMEOUT given to the web processes")
	recoverBy = flag.Duration("recover-within", 5*time.Second, "the longest a recovery may take")
)

func main() {
	flag.Parse()
	code, err := run()
	if err != nil {
		fmt.Fprintln(os.Stderr, "cluster:", err)
		os.Exit(2)
	}
	os.Exit(code)
}

// env holds the harness's services and processes.
type env struct {
	dir       string
	dbURL     string // the run's own database
	admin     *sql.DB
	redis     *proc
	redisAddr string
	mailpit   *proc
	mailHTTP  string
	smtpPort  int
	webs      []*proc
	webAddrs  []string
	workers   []*proc
	appEnv    []string
	bin       string
	// failed keeps the run's folder (each process's log) when an invariant failed.
	failed bool
}

func run() (int, error) {
	base := os.Getenv("DATABASE_URL")
	if !strings.HasPrefix(base, "postgres") {
		return 0, fmt.Errorf("set DATABASE_URL to a Postgres server URL (the harness creates its own database there)")
	}
	for _, b := range []string{"redis-server", "mailpit"} {
		if _, err := exec.LookPath(b); err != nil {
			return 0, fmt.Errorf("%s is not on PATH", b)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	dir, err := os.MkdirTemp("", "manouche-cluster-")
	if err != nil {
		return 0, err
	}
	e := &env{dir: dir}
	defer e.close()
	if err := e.setup(ctx, base); err != nil {
		return 0, err
	}
	fmt.Printf("cluster: %d web, %d worker processes, %d clients, %s; logs in %s\n", *webs, *workers, *clients, *duration, dir)

	rt := newRouter(e.webAddrs)
	probeStop := make(chan struct{})
	go rt.probe(probeStop, 200*time.Millisecond)
	defer close(probeStop)
	srv := &http.Server{Addr: fmt.Sprintf("127.0.0.1:%d", freePort()), Handler: rt}
	go func() { _ = srv.ListenAndServe() }()
	defer srv.Close()
	if err := waitTCP(srv.Addr, 5*time.Second); err != nil {
		return 0, err
	}
	w := &workload{
		base:     "http://" + srv.Addr,
		webAddrs: e.webAddrs,
		client: &http.Client{
			Timeout:   *reqTO + 20*time.Second,
			Transport: &http.Transport{MaxIdleConnsPerHost: *clients * 2},
			// A redirect is an answer to check, never one to follow.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}

	runCtx, cancel := context.WithTimeout(ctx, *duration)
	defer cancel()
	var wg sync.WaitGroup
	for i := range *clients {
		wg.Add(1)
		go func() { defer wg.Done(); w.runClient(runCtx, i) }()
	}
	f := &faults{e: e, start: time.Now()}
	// Per-request costs, measured before the first fault (at 5 s).
	measured := make(chan string, 1)
	go func() {
		time.Sleep(time.Second)
		a := e.snapshot(runCtx, w)
		time.Sleep(3500 * time.Millisecond)
		measured <- costs(a, e.snapshot(runCtx, w))
	}()
	f.run(runCtx, *duration)
	wg.Wait()
	if ctx.Err() != nil {
		return 0, ctx.Err()
	}
	fmt.Println("cluster: workload done; waiting for the email queue to drain")
	// A message a killed worker held stays "being sent" until the queue's
	// rescuer takes it back: RescueAfter (JobTimeout + 1 min: 2 min by
	// default) after its attempt began, at the rescuer's next pass. A kill
	// near the end of the workload needs nearly all of that; the wait ends
	// as soon as the queue is empty.
	drained := e.waitQueue(ctx, 4*time.Minute)
	fmt.Println("costs before any fault:", <-measured)
	code := report(ctx, e, w, f, rt, drained)
	if code != 0 {
		e.failed = true
		fmt.Println("\nthe processes' logs are kept in", dir)
	}
	return code, nil
}

// setup creates the database, starts Redis and mailpit, builds the binary,
// runs the release phase (migrate) and the web and worker processes.
func (e *env) setup(ctx context.Context, base string) error {
	admin, err := sql.Open("pgx", base)
	if err != nil {
		return err
	}
	e.admin = admin
	name := fmt.Sprintf("cluster_%d", rand.IntN(1e9))
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		return fmt.Errorf("create the run's database: %w", err)
	}
	u, _ := url.Parse(base)
	u.Path = "/" + name
	e.dbURL = u.String()

	e.redisAddr = fmt.Sprintf("127.0.0.1:%d", freePort())
	_, rport, _ := strings.Cut(e.redisAddr, ":")
	e.redis = &proc{name: "redis", dir: e.dir, bin: "redis-server", args: []string{"--port", rport, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"}, env: os.Environ()}
	if err := e.redis.start(); err != nil {
		return err
	}
	if err := waitTCP(e.redisAddr, 10*time.Second); err != nil {
		return err
	}
	e.smtpPort = freePort()
	e.mailHTTP = fmt.Sprintf("127.0.0.1:%d", freePort())
	e.mailpit = &proc{name: "mailpit", dir: e.dir, bin: "mailpit", env: os.Environ(), args: []string{
		"--listen", e.mailHTTP, "--smtp", fmt.Sprintf("127.0.0.1:%d", e.smtpPort),
		"--database", filepath.Join(e.dir, "mailpit.db"), "--max", "0", "--quiet",
	}}
	if err := e.mailpit.start(); err != nil {
		return err
	}
	if err := waitHTTP(ctx, "http://"+e.mailHTTP+"/readyz", 20*time.Second); err != nil {
		return err
	}

	e.bin = *binPath
	if e.bin == "" {
		bin, err := buildWithResource(ctx, e.dir)
		if err != nil {
			return err
		}
		e.bin = bin
	}
	e.appEnv = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"SETTINGS=production", "DATABASE_URL=" + e.dbURL, "DATABASE_REQUIRE_TLS=false",
		"REDIS_URL=redis://" + e.redisAddr + "/0",
		"SECRET_KEY=cluster-" + fmt.Sprint(rand.Int64()) + "-harness-key-not-for-production-use",
		"ALLOWED_HOSTS=*", "SITE_DOMAIN=cluster.test", "NUM_PROXIES=1",
		"EMAIL_BACKEND=smtp", "EMAIL_HOST=127.0.0.1", fmt.Sprintf("EMAIL_PORT=%d", e.smtpPort), "EMAIL_USE_TLS=false",
		"EMAIL_TIMEOUT=5s", "EMAIL_RETRY_BACKOFF=1s", "EMAIL_POLL_INTERVAL=200ms", "EMAIL_MAX_ATTEMPTS=25",
		"AUTH_THROTTLE_RATE=100000000/min", "API_THROTTLE_RATE=100000000/day",
		"REQUEST_TIMEOUT=" + reqTO.String(), "SHUTDOWN_TIMEOUT=5s", "DB_MAX_CONNS=6",
		"MEDIA_ROOT=" + filepath.Join(e.dir, "media"), "LOG_LEVEL=warn", "LOG_FORMAT=json",
	}
	release := exec.CommandContext(ctx, e.bin, "migrate")
	release.Dir, release.Env = e.dir, e.appEnv
	if out, err := release.CombinedOutput(); err != nil {
		return fmt.Errorf("release (migrate): %v\n%s", err, out)
	}
	for i := range *webs {
		addr := fmt.Sprintf("127.0.0.1:%d", freePort())
		p := &proc{name: fmt.Sprintf("web.%d", i+1), dir: e.dir, bin: e.bin, args: []string{"runserver", addr},
			env: append(append([]string{}, e.appEnv...), fmt.Sprintf("DYNO=web.%d", i+1))}
		if err := p.start(); err != nil {
			return err
		}
		e.webs, e.webAddrs = append(e.webs, p), append(e.webAddrs, addr)
	}
	for i := range *workers {
		p := &proc{name: fmt.Sprintf("worker.%d", i+1), dir: e.dir, bin: e.bin, args: []string{"worker"},
			env: append(append([]string{}, e.appEnv...), fmt.Sprintf("DYNO=worker.%d", i+1))}
		if err := p.start(); err != nil {
			return err
		}
		e.workers = append(e.workers, p)
	}
	for _, a := range e.webAddrs {
		if err := waitHTTP(ctx, "http://"+a+"/health", 30*time.Second); err != nil {
			return err
		}
	}
	return nil
}

// buildWithResource copies the project (its tracked and untracked, not
// ignored files) into dir/src, generates a resource there as a user would
// (startapp notes --model Note), and builds the binary.
func buildWithResource(ctx context.Context, dir string) (string, error) {
	root, src := projectRoot(), filepath.Join(dir, "src")
	list := exec.CommandContext(ctx, "git", "ls-files", "-co", "--exclude-standard", "-z")
	list.Dir = root
	out, err := list.Output()
	if err != nil {
		return "", fmt.Errorf("git ls-files: %w", err)
	}
	for _, f := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		data, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			continue // deleted in the work tree
		}
		dst := filepath.Join(src, f)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			return "", err
		}
	}
	for _, args := range [][]string{
		{"go", "run", ".", "startapp", "notes", "--model", "Note", "--fields", "title:string:200 body:text"},
		{"go", "build", "-o", filepath.Join(dir, "manouche"), "."},
	} {
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		cmd.Dir = src
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return filepath.Join(dir, "manouche"), nil
}

func projectRoot() string {
	dir, _ := os.Getwd()
	for d := dir; d != "/"; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
	}
	return dir
}

// waitQueue waits until no email job is waiting, running or to be retried.
func (e *env) waitQueue(ctx context.Context, timeout time.Duration) bool {
	db, err := sql.Open("pgx", e.dbURL)
	if err != nil {
		return false
	}
	defer db.Close()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		var n int
		err := db.QueryRowContext(ctx, `SELECT count(*) FROM river_job WHERE state IN ('available', 'running', 'retryable', 'scheduled', 'pending')`).Scan(&n)
		if err == nil && n == 0 {
			return true
		}
		time.Sleep(500 * time.Millisecond)
	}
	return false
}

func (e *env) close() {
	for _, p := range append(append([]*proc{}, e.webs...), e.workers...) {
		p.signal(syscall.SIGTERM, 10*time.Second)
	}
	if e.redis != nil {
		e.redis.kill()
	}
	if e.mailpit != nil {
		e.mailpit.kill()
	}
	if e.admin != nil && e.dbURL != "" && !*keep {
		u, _ := url.Parse(e.dbURL)
		_, _ = e.admin.Exec("DROP DATABASE IF EXISTS " + strings.TrimPrefix(u.Path, "/") + " WITH (FORCE)")
		e.admin.Close()
	}
	if !*keep && !e.failed {
		_ = os.RemoveAll(e.dir)
	}
}
