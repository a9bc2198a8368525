package herokusim

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"

	"manouche/core/storage/storagetest"
)

// The app's domain, as Heroku gives it; the client's connections go to the
// router whatever the name resolves to (nothing resolves it).
const domain = "manouche-herokusim.herokuapp.com"

// Config vars the simulation sets on top of app.json's, each as short as
// the checks allow.
const (
	requestTimeout  = 4 * time.Second
	shutdownTimeout = 6 * time.Second // under EMAIL_TIMEOUT (10 s): a stuck delivery must not be what ends the worker
	dbMaxConns      = 3               // DB_MAX_CONNS's default: the budget under test
	redisMaxConns   = 2               // REDIS_MAX_CONNS's default
	emailWorkers    = 4               // EMAIL_WORKERS: deliveries at once
)

// TestHeroku plays Heroku on this machine; see the package comment.
func TestHeroku(t *testing.T) {
	if os.Getenv("MANOUCHE_TEST_HEROKU") == "" {
		t.Skip("the Heroku simulation is slow: MANOUCHE_TEST_HEROKU=1 runs it (.ci/run does)")
	}
	if runtime.GOOS != "linux" {
		t.Skip("the Heroku simulation reads /proc: Linux only")
	}
	started := time.Now()
	root := moduleRoot(t)
	work := t.TempDir()
	app := filepath.Join(work, "app")
	if err := os.MkdirAll(filepath.Join(app, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"Procfile", "app.json"} {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, app, f, b, 0o644)
	}
	manifest := readAppJSON(t, filepath.Join(app, "app.json"))
	procs := procfile(t, filepath.Join(app, "Procfile"))

	// ------------------------------------------------------------ build
	sourceVersion := randomHex(20) // a commit id, as SOURCE_VERSION is
	linkerSymbol := manifest.Env["GO_LINKER_SYMBOL"].Value
	if !t.Run("build as the Go buildpack does", func(t *testing.T) {
		buildpack(t, root, app, linkerSymbol, sourceVersion)
		entries, err := os.ReadDir(filepath.Join(app, "bin"))
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		if !slices.Equal(names, []string{"manouche"}) {
			t.Fatalf("bin/ holds %v: want manouche alone", names)
		}
		out, err := runProgram(t, filepath.Join(app, "bin", "manouche"), "version")
		if err != nil || !strings.Contains(out, sourceVersion) {
			t.Fatalf("bin/manouche version = %q (%v): want SOURCE_VERSION %s (GO_LINKER_SYMBOL=%s)", out, err, sourceVersion, linkerSymbol)
		}
	}) {
		t.FailNow()
	}

	// ------------------------------------------------------------ add-ons
	pk := newPKI(t, work, domain)
	pg := startPostgres(t, pk)
	rd := startRedis(t, pk)
	mail := startMailpit(t, pk, work)
	s3 := storagetest.NewS3Server(t, "herokusim-media")
	rt := newRouter(t, pk, domain)
	t.Logf("platform up in %s: postgres :%d, redis :%d (TLS), mailpit %s, S3 %s",
		time.Since(started).Round(time.Second), pg.port, rd.port, mail.api, s3.URL)

	config := map[string]string{}
	for name, v := range manifest.Env {
		switch {
		case v.Generator == "secret":
			config[name] = randomHex(32) // Heroku's generator: 64 hex characters
		case v.Value != "":
			config[name] = v.Value
		}
	}
	config["SITE_DOMAIN"] = domain // required by app.json, asked for by the Heroku Button
	wantAddons := map[string]bool{"heroku-postgresql": false, "heroku-redis": false, "mailgun": false}
	for _, a := range manifest.Addons {
		name, _, _ := strings.Cut(a.Plan, ":")
		if _, ok := wantAddons[name]; ok {
			wantAddons[name] = true
		}
	}
	for name, ok := range wantAddons {
		if !ok {
			t.Errorf("app.json does not provision %s", name)
		}
	}
	for k, v := range map[string]string{
		// heroku-postgresql, heroku-redis, mailgun
		"DATABASE_URL":          pg.URL(),
		"REDIS_URL":             rd.URL(),
		"MAILGUN_SMTP_SERVER":   "127.0.0.1",
		"MAILGUN_SMTP_PORT":     mail.proxy.port(),
		"MAILGUN_SMTP_LOGIN":    mail.login,
		"MAILGUN_SMTP_PASSWORD": mail.password,
		"MAILGUN_DOMAIN":        "herokusim.mailgun.org",
		"MAILGUN_API_KEY":       "key-" + randomHex(16),
		"MAILGUN_PUBLIC_KEY":    "pubkey-" + randomHex(16),
		// S3, set by hand (an S3-compatible endpoint: gofakes3)
		"ENABLE_MEDIA_UPLOAD_TO_S3": "true",
		"AWS_ACCESS_KEY_ID":         "herokusim-key",
		"AWS_SECRET_ACCESS_KEY":     "herokusim-secret",
		"AWS_STORAGE_BUCKET_NAME":   s3.Bucket,
		"AWS_S3_REGION":             "us-east-1",
		"AWS_S3_ENDPOINT_URL":       s3.URL,
		// The simulation's own: short timeouts, few deliveries at once.
		"REQUEST_TIMEOUT":  requestTimeout.String(),
		"SHUTDOWN_TIMEOUT": shutdownTimeout.String(),
		"EMAIL_WORKERS":    fmt.Sprint(emailWorkers),
		// A delivery handed back at a restart is retried this soon.
		"EMAIL_RETRY_BACKOFF": "2s",
		// Mailgun's certificate is a public one; mailpit's is signed by the
		// test's CA, which stands in for the dyno's trust store.
		"SSL_CERT_FILE": pk.caFile,
	} {
		config[k] = v
	}
	for _, name := range []string{"SETTINGS", "SECRET_KEY"} {
		if config[name] == "" {
			t.Errorf("app.json sets no %s", name)
		}
	}
	for _, name := range []string{"release", "web", "worker"} {
		if procs[name] == "" {
			t.Fatalf("the Procfile has no %s line: %v", name, procs)
		}
	}
	for name := range manifest.Formation {
		if procs[name] == "" {
			t.Errorf("app.json's formation scales %s, which the Procfile does not define", name)
		}
	}
	hp := &platform{t: t, app: app, config: config, procs: procs}

	if !t.Run("Postgres refuses plaintext, as Heroku Postgres does", func(t *testing.T) {
		out, err := hp.run("run.0", procs["release"], map[string]string{"DATABASE_URL": pg.URL() + "?sslmode=disable"})
		if err == nil {
			t.Fatalf("migrate over plaintext succeeded: the simulated Postgres must require TLS\n%s", out)
		}
		if strings.Contains(out, "goroutine ") || strings.Contains(out, "panic:") {
			t.Errorf("an unreachable database prints a stack trace:\n%s", out)
		}
	}) {
		t.FailNow()
	}

	// ------------------------------------------------------------ release
	if !t.Run("release phase", func(t *testing.T) {
		for i := 1; i <= 2; i++ { // a rollback runs it again: nothing to do then
			out, err := hp.run(fmt.Sprintf("release.%d", i), procs["release"], nil)
			if err != nil {
				t.Fatalf("release (run %d): %v\n%s", i, err, out)
			}
		}
		var n int
		if err := pg.db.QueryRow("SELECT count(*) FROM users").Scan(&n); err != nil {
			t.Fatalf("after release, the users table: %v", err)
		}
	}) {
		t.FailNow()
	}

	superEmail, superPassword := "admin@herokusim.test", "super-"+randomHex(8)
	t.Run("postdeploy creates the first superuser only when asked", func(t *testing.T) {
		out, err := hp.run("postdeploy.1", manifest.Scripts.Postdeploy, nil)
		if err != nil {
			t.Fatalf("postdeploy without SUPERUSER_*: %v\n%s", err, out)
		}
		out, err = hp.run("postdeploy.2", manifest.Scripts.Postdeploy, map[string]string{
			"SUPERUSER_EMAIL": superEmail, "SUPERUSER_PASSWORD": superPassword})
		if err != nil {
			t.Fatalf("postdeploy: %v\n%s", err, out)
		}
		var n int
		if err := pg.db.QueryRow("SELECT count(*) FROM users").Scan(&n); err != nil || n != 1 {
			t.Fatalf("users after postdeploy: %d (%v): want the superuser alone", n, err)
		}
	})

	// ------------------------------------------------------------ dynos
	web := hp.start("web.1", procs["web"], nil)
	worker := hp.start("worker.1", procs["worker"], nil)
	rt.route(web)
	c := rt.client()
	base := "https://" + domain
	if !waitFor(30*time.Second, func() bool {
		code, _, _ := call(c, "GET", base+"/health", nil, "")
		return code == 200
	}) {
		t.Fatalf("web.1 does not answer /health through the router\n%s", tail(web.out.String(), 30))
	}
	t.Run("the first log line of each process names the version", func(t *testing.T) {
		for _, d := range []*dyno{web, worker} {
			var first string
			waitFor(10*time.Second, func() bool {
				first, _, _ = strings.Cut(d.out.String(), "\n")
				return strings.Contains(d.out.String(), "\n")
			})
			if !strings.Contains(first, sourceVersion) {
				t.Errorf("%s's first log line %q does not name the version %s", d.name, first, sourceVersion)
			}
		}
	})

	t.Run("check --deploy passes", func(t *testing.T) {
		out, err := hp.run("run.1", "./bin/manouche check --deploy", nil)
		if err != nil || regexp.MustCompile(`(?m)^ERROR`).MatchString(out) {
			t.Fatalf("check --deploy on a complete Heroku configuration: %v\n%s", err, out)
		}
		// Each add-on was probed, over TLS where Heroku's is.
		for _, want := range []string{`(?m)^INFO database\..*TLS`, `(?m)^INFO cache\..*TLS`, `(?mi)^INFO mail\..*TLS.*AUTH`, `(?mi)^INFO storage\..*` + s3.Bucket} {
			if !regexp.MustCompile(want).MatchString(out) {
				t.Errorf("check --deploy does not report a probe matching %s:\n%s", want, out)
			}
		}
		t.Logf("check --deploy:\n%s", out)
	})

	// ------------------------------------------------------------ the API
	email, password := "ada@herokusim.test", "correct horse battery"
	var token string
	t.Run("register, login", func(t *testing.T) {
		code, h, body := call(c, "POST", base+"/api/auth/register", map[string]any{"email": email, "password": password}, "")
		if code != 201 {
			t.Fatalf("register: %d %s", code, body)
		}
		if got := h.Get("Strict-Transport-Security"); !strings.Contains(got, "max-age=31536000") || !strings.Contains(got, "includeSubDomains") {
			t.Errorf("an https response's Strict-Transport-Security is %q: want production's max-age=31536000; includeSubDomains", got)
		}
		code, _, body = call(c, "POST", base+"/api/auth/login", map[string]any{"email": email, "password": password}, "")
		if code != 200 {
			t.Fatalf("login: %d %s", code, body)
		}
		token = field(t, body, "auth_token")
		if code, _, body := call(c, "GET", base+"/api/me", nil, token); code != 200 || field(t, body, "email") != email {
			t.Fatalf("GET /api/me: %d %s", code, body)
		}
	})

	t.Run("password reset delivered by the worker through Mailgun", func(t *testing.T) {
		code, _, body := call(c, "POST", base+"/api/auth/password_reset", map[string]any{"email": email}, "")
		if code != 200 {
			t.Fatalf("password_reset: %d %s", code, body)
		}
		var msgs []mailMessage
		if !waitFor(30*time.Second, func() bool { msgs = mail.search(t, email); return len(msgs) > 0 }) {
			t.Fatalf("no reset email reached mailpit in 30 s\n%s", tail(worker.out.String(), 20))
		}
		text := mail.text(t, msgs[0].ID)
		m := regexp.MustCompile(regexp.QuoteMeta("https://"+domain+"/reset-password/") + `([^/\s]+)/`).FindStringSubmatch(text)
		if m == nil {
			t.Fatalf("the reset email has no https://%s/reset-password/TOKEN/ link:\n%s", domain, text)
		}
		password = "a new password " + randomHex(4)
		if code, _, body := call(c, "POST", base+"/api/auth/password_reset_confirm", map[string]any{"token": m[1], "new_password": password}, ""); code != 204 {
			t.Fatalf("password_reset_confirm: %d %s", code, body)
		}
		code, _, body = call(c, "POST", base+"/api/auth/login", map[string]any{"email": email, "password": password}, "")
		if code != 200 {
			t.Fatalf("login with the new password: %d %s", code, body)
		}
		token = field(t, body, "auth_token")
	})

	t.Run("avatar to S3", func(t *testing.T) {
		code, _, body := upload(c, base+"/api/me/avatar", token, pngImage(t))
		if code != 200 {
			t.Fatalf("PUT /api/me/avatar: %d %s", code, body)
		}
		avatar := field(t, body, "avatar_url")
		list, err := s3.Backend.ListBucket(s3.Bucket, nil, gofakes3.ListBucketPage{})
		if err != nil {
			t.Fatal(err)
		}
		if len(list.Contents) != 1 {
			t.Fatalf("the bucket holds %d objects after an avatar upload: want 1", len(list.Contents))
		}
		if !strings.Contains(avatar, list.Contents[0].Key) {
			t.Errorf("avatar_url %q does not name the stored object %q", avatar, list.Contents[0].Key)
		}
		resp, err := http.Get(avatar)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("GET avatar_url: %d", resp.StatusCode)
		}
	})

	t.Run("plain HTTP is redirected or refused", func(t *testing.T) {
		code, h, _ := call(c, "GET", "http://"+domain+"/api/me", nil, token)
		if code != http.StatusMovedPermanently || h.Get("Location") != base+"/api/me" {
			t.Errorf("GET http://%s/api/me: %d Location %q: want 301 to %s/api/me", domain, code, h.Get("Location"), base)
		}
		if h.Get("Strict-Transport-Security") != "" {
			t.Errorf("a plain-HTTP response carries Strict-Transport-Security")
		}
		code, _, body := call(c, "POST", "http://"+domain+"/api/auth/login", map[string]any{"email": email, "password": password}, "")
		if code < 400 || code > 499 || !strings.Contains(string(body), `"error_type"`) {
			t.Errorf("POST over plain HTTP: %d %s: want a 4xx in the error shape", code, body)
		}
	})

	t.Run("admin login over https", func(t *testing.T) {
		ac := rt.client()
		if code, _, body := call(ac, "GET", base+"/admin/login", nil, ""); code != 200 {
			t.Fatalf("GET /admin/login: %d %s", code, clip(body))
		}
		form := url.Values{"username": {superEmail}, "password": {superPassword}}
		req, _ := http.NewRequest("POST", base+"/admin/signin", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", base)
		req.Header.Set("Referer", base+"/admin/login")
		resp, err := ac.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("POST /admin/signin over https: %d %s", resp.StatusCode, clip(body))
		}
		cookies := resp.Cookies()
		if len(cookies) == 0 {
			t.Fatalf("the sign-in set no cookie")
		}
		for _, ck := range cookies {
			if !ck.Secure {
				t.Errorf("cookie %s is not Secure", ck.Name)
			}
		}
		if code, h, body := call(ac, "GET", base+"/admin/", nil, ""); code != 200 {
			t.Fatalf("GET /admin/ signed in: %d (Location %q) %s", code, h.Get("Location"), clip(body))
		}
	})

	t.Run("the rate limit sees the client's address past the router", func(t *testing.T) {
		// 10 logins a minute per client: X-Forwarded-For values the client
		// makes up do not give it more, since the app reads the entry the
		// router appended (NUM_PROXIES=1).
		spoofer, other := rt.clientFrom("127.0.0.99"), rt.clientFrom("127.0.0.98")
		wrong := map[string]any{"email": email, "password": "not the password"}
		for i := range 10 {
			hdr := map[string]string{"X-Forwarded-For": fmt.Sprintf("203.0.113.%d", i)}
			if code, _, body := callWith(spoofer, "POST", base+"/api/auth/login", wrong, "", hdr); code != 400 {
				t.Fatalf("wrong login %d: %d %s: want 400", i+1, code, body)
			}
		}
		code, h, body := callWith(spoofer, "POST", base+"/api/auth/login", wrong, "", map[string]string{"X-Forwarded-For": "203.0.113.200"})
		if code != http.StatusTooManyRequests || h.Get("Retry-After") == "" {
			t.Errorf("11th login in a minute with a made-up X-Forwarded-For: %d %s (Retry-After %q): want 429", code, body, h.Get("Retry-After"))
		}
		if code, _, body := call(other, "POST", base+"/api/auth/login", wrong, ""); code != 400 {
			t.Errorf("a login from another client: %d %s: want 400, not throttled", code, body)
		}
	})

	// ------------------------------------------------------------ budgets and timeouts
	t.Run("64 concurrent clients stay inside the pools", func(t *testing.T) {
		if code, _, body := call(c, "GET", base+"/api/me", nil, token); code != 200 { // the token is cached from here on
			t.Fatalf("GET /api/me: %d %s", code, body)
		}
		release := pg.lockUsers(t)
		pid := web.pid()
		if pid == 0 {
			t.Fatal("no manouche process in web.1")
		}
		var (
			mu                             sync.Mutex
			maxDB, maxRedis, maxAll, noTLS int
			samples                        int
			stopSampling                   = make(chan struct{})
			sampled                        = make(chan struct{})
		)
		go func() {
			defer close(sampled)
			for {
				select {
				case <-stopSampling:
					return
				case <-time.After(20 * time.Millisecond):
				}
				ports, err := localPorts(pid)
				if err != nil {
					continue
				}
				bs, err := pg.backends(context.Background())
				if err != nil {
					continue
				}
				redisPorts, _ := rd.clientPorts(context.Background())
				nDB, nRedis := 0, 0
				mu.Lock()
				for _, b := range bs {
					if ports[b.port] {
						nDB++
					}
					if !b.ssl {
						noTLS++
					}
				}
				for _, p := range redisPorts {
					if ports[p] {
						nRedis++
					}
				}
				maxDB, maxRedis, maxAll = max(maxDB, nDB), max(maxRedis, nRedis), max(maxAll, len(bs))
				samples++
				mu.Unlock()
			}
		}()
		const clients = 64
		codes := make([]int, clients)
		var wg sync.WaitGroup
		for i := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				codes[i], _, _ = call(c, "PATCH", base+"/api/me", map[string]any{"first_name": fmt.Sprintf("burst-%d", i)}, token)
			}()
		}
		// Every request now waits on the lock or for a connection: hold it
		// long enough to be sampled, well under REQUEST_TIMEOUT.
		waitFor(2*time.Second, func() bool { return waiting(t, pg, pid) >= dbMaxConns })
		time.Sleep(500 * time.Millisecond)
		release()
		wg.Wait()
		close(stopSampling)
		<-sampled
		for i, code := range codes {
			if code != 200 {
				t.Errorf("client %d: %d", i, code)
			}
		}
		t.Logf("%d samples: web.1 held at most %d Postgres and %d Redis connections; the app's user at most %d in all", samples, maxDB, maxRedis, maxAll)
		if maxDB == 0 {
			t.Fatal("the sampler never saw web.1's connections")
		}
		if maxDB > dbMaxConns {
			t.Errorf("web.1 opened %d Postgres connections under 64 clients: DB_MAX_CONNS is %d", maxDB, dbMaxConns)
		}
		if maxRedis > redisMaxConns+1 {
			t.Errorf("web.1 opened %d Redis connections: REDIS_MAX_CONNS is %d (+1 Pub/Sub)", maxRedis, redisMaxConns)
		}
		if maxAll > MaxConnections-3 {
			t.Errorf("the app's processes held %d Postgres connections: the plan allows %d", maxAll, MaxConnections-3)
		}
		if noTLS > 0 {
			t.Errorf("%d samples saw an app connection to Postgres without TLS", noTLS)
		}
	})

	t.Run("a request over REQUEST_TIMEOUT answers 503", func(t *testing.T) {
		release := pg.lockUsers(t)
		start := time.Now()
		code, h, body := call(c, "PATCH", base+"/api/me", map[string]any{"first_name": "timed-out"}, token)
		took := time.Since(start)
		if code != http.StatusServiceUnavailable || h.Get(routerError) != "" || !strings.Contains(string(body), `"ServiceUnavailable"`) {
			t.Errorf("a request held past REQUEST_TIMEOUT=%s: %d %s (router error %q) after %s: want the app's 503 ServiceUnavailable",
				requestTimeout, code, clip(body), h.Get(routerError), took.Round(time.Millisecond))
		} else if took > requestTimeout+2*time.Second {
			t.Errorf("the 503 came after %s: REQUEST_TIMEOUT is %s", took.Round(time.Millisecond), requestTimeout)
		}
		// Its query was cancelled with it: nothing of web.1 waits on the lock.
		if !waitFor(3*time.Second, func() bool { return waiting(t, pg, web.pid()) == 0 }) {
			t.Errorf("web.1 still waits on the lock after the 503: the request's query was not cancelled")
		}
		release()
		time.Sleep(200 * time.Millisecond)
		if code, _, body := call(c, "GET", base+"/api/me", nil, token); code != 200 || field(t, body, "first_name") == "timed-out" {
			t.Errorf("after the timeout, /api/me: %d %s: the cancelled update must not apply", code, body)
		}
	})

	t.Run("SIGTERM during a slow request loses nothing", func(t *testing.T) {
		release := pg.lockUsers(t)
		type result struct {
			code int
			body []byte
		}
		done := make(chan result, 1)
		go func() {
			code, _, body := call(c, "PATCH", base+"/api/me", map[string]any{"first_name": "drained"}, token)
			done <- result{code, body}
		}()
		if !waitFor(3*time.Second, func() bool { return waiting(t, pg, web.pid()) > 0 }) {
			t.Fatal("the request never reached the database")
		}
		idle := keepAlive(t, web.port) // a router connection between two requests
		defer idle.Close()
		idleClosed := make(chan time.Time, 1)
		go func() {
			_ = idle.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := idle.Read(make([]byte, 1)); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
				idleClosed <- time.Now()
			}
			close(idleClosed)
		}()
		sigterm := time.Now()
		web.signal(syscall.SIGTERM)
		if !waitFor(2*time.Second, func() bool {
			conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", web.port), 200*time.Millisecond)
			if err == nil {
				conn.Close()
			}
			return err != nil
		}) {
			t.Errorf("web.1 still accepts connections 2 s after SIGTERM")
		}
		time.Sleep(time.Until(sigterm.Add(time.Second)))
		releasedAt := time.Now()
		release()
		if at, ok := <-idleClosed; !ok || at.After(releasedAt) {
			t.Errorf("web.1 did not close an idle keep-alive connection while draining (closed: %v)", ok)
		}
		r := <-done
		if r.code != 200 || field(t, r.body, "first_name") != "drained" {
			t.Errorf("the in-flight request: %d %s: want 200, finished after SIGTERM", r.code, r.body)
		}
		if !web.wait(shutdownTimeout + 2*time.Second) {
			t.Fatalf("web.1 still runs %s after SIGTERM (SHUTDOWN_TIMEOUT=%s)", time.Since(sigterm).Round(time.Millisecond), shutdownTimeout)
		}
		if took := time.Since(sigterm); took > shutdownTimeout {
			t.Errorf("web.1 exited %s after SIGTERM: SHUTDOWN_TIMEOUT is %s", took.Round(time.Millisecond), shutdownTimeout)
		}
		if web.err != nil {
			t.Errorf("web.1 exited with %v after SIGTERM: want 0", web.err)
		}
	})
	web = hp.start("web.2", procs["web"], nil)
	rt.route(web)
	if !waitFor(30*time.Second, func() bool { code, _, _ := call(c, "GET", base+"/health", nil, ""); return code == 200 }) {
		t.Fatalf("web.2 does not answer\n%s", tail(web.out.String(), 30))
	}

	t.Run("SIGTERM during queued deliveries loses nothing and sends nothing twice", func(t *testing.T) {
		// One reset email to each of n new users: each address must receive
		// exactly one, across the restart.
		const n = 20
		const inbox = "drain.herokusim.test"
		// Each user from an address of its own: the rate limits allow
		// AUTH_THROTTLE_RATE (10/min) per client.
		users := make([]*http.Client, n)
		for i := range n {
			users[i] = rt.clientFrom(fmt.Sprintf("127.0.0.%d", 10+i))
			to := fmt.Sprintf("user%02d@%s", i, inbox)
			if code, _, body := call(users[i], "POST", base+"/api/auth/register", map[string]any{"email": to, "password": password}, ""); code != 201 {
				t.Fatalf("register %s: %d %s", to, code, body)
			}
		}
		mail.proxy.delay.Store(int64(150 * time.Millisecond)) // every SMTP reply: about a second a message
		for i := range n {
			to := fmt.Sprintf("user%02d@%s", i, inbox)
			if code, _, body := call(users[i], "POST", base+"/api/auth/password_reset", map[string]any{"email": to}, ""); code != 200 {
				t.Fatalf("password_reset %s: %d %s", to, code, body)
			}
		}
		if !waitFor(30*time.Second, func() bool { return len(mail.search(t, inbox)) > 0 }) {
			t.Fatalf("no delivery started in 30 s\n%s", tail(worker.out.String(), 20))
		}
		sigterm := time.Now()
		worker.signal(syscall.SIGTERM)
		atSigterm := len(mail.search(t, inbox))
		if !worker.wait(shutdownTimeout + 2*time.Second) {
			t.Fatalf("worker.1 still runs %s after SIGTERM (SHUTDOWN_TIMEOUT=%s)", time.Since(sigterm).Round(time.Millisecond), shutdownTimeout)
		}
		if took := time.Since(sigterm); took > shutdownTimeout {
			t.Errorf("worker.1 exited %s after SIGTERM: SHUTDOWN_TIMEOUT is %s", took.Round(time.Millisecond), shutdownTimeout)
		}
		if worker.err != nil {
			t.Errorf("worker.1 exited with %v after SIGTERM: want 0", worker.err)
		}
		before := len(mail.search(t, inbox))
		t.Logf("%d of %d delivered at SIGTERM, %d when worker.1 had stopped (EMAIL_WORKERS=%d)", atSigterm, n, before, emailWorkers)
		if before >= n {
			t.Errorf("all %d emails went out before the worker stopped: the test did not catch deliveries in flight", n)
		}
		if before-atSigterm > emailWorkers {
			t.Errorf("worker.1 delivered %d emails after SIGTERM with %d at a time: it kept taking new ones", before-atSigterm, emailWorkers)
		}
		mail.proxy.delay.Store(0)
		worker = hp.start("worker.2", procs["worker"], nil)
		if !waitFor(90*time.Second, func() bool { return len(mail.search(t, inbox)) >= n }) {
			t.Fatalf("%d of %d emails delivered 90 s after the restart (%d before it)\n%s", len(mail.search(t, inbox)), n, before, tail(worker.out.String(), 20))
		}
		time.Sleep(2 * time.Second) // a duplicate would arrive now
		got := map[string]int{}
		for _, m := range mail.search(t, inbox) {
			for _, to := range m.To {
				got[to.Address]++
			}
		}
		for i := range n {
			if to := fmt.Sprintf("user%02d@%s", i, inbox); got[to] != 1 {
				t.Errorf("%s received %d reset emails across the restart: want 1", to, got[to])
			}
		}
	})

	t.Run("SIGTERM with deliveries stuck past SHUTDOWN_TIMEOUT: the worker exits in time and hands them back", func(t *testing.T) {
		// Mailgun stops answering (every reply held 20 s): the deliveries in
		// hand cannot finish, so the worker must give them back and exit
		// before Heroku's SIGKILL; the next worker sends each exactly once.
		const n = 6
		const inbox = "stuck.herokusim.test"
		users := make([]*http.Client, n)
		for i := range n {
			users[i] = rt.clientFrom(fmt.Sprintf("127.0.0.%d", 40+i))
			to := fmt.Sprintf("user%02d@%s", i, inbox)
			if code, _, body := call(users[i], "POST", base+"/api/auth/register", map[string]any{"email": to, "password": password}, ""); code != 201 {
				t.Fatalf("register %s: %d %s", to, code, body)
			}
		}
		mail.proxy.delay.Store(int64(20 * time.Second))
		defer mail.proxy.delay.Store(0)
		for i := range n {
			to := fmt.Sprintf("user%02d@%s", i, inbox)
			if code, _, body := call(users[i], "POST", base+"/api/auth/password_reset", map[string]any{"email": to}, ""); code != 200 {
				t.Fatalf("password_reset %s: %d %s", to, code, body)
			}
		}
		if !waitFor(10*time.Second, func() bool {
			var running int
			_ = pg.db.QueryRow("SELECT count(*) FROM river_job WHERE state = 'running'").Scan(&running)
			return running > 0
		}) {
			t.Fatalf("%s took no email in 10 s\n%s", worker.name, tail(worker.out.String(), 20))
		}
		sigterm := time.Now()
		worker.signal(syscall.SIGTERM)
		// Heroku sends SIGKILL 30 s after SIGTERM.
		if !worker.wait(herokuKill) {
			t.Errorf("%s still runs %s after SIGTERM: Heroku kills it now", worker.name, herokuKill)
			worker.stop(syscall.SIGKILL, 5*time.Second)
		}
		took := time.Since(sigterm)
		if took > shutdownTimeout {
			t.Errorf("%s exited %s after SIGTERM with deliveries stuck: SHUTDOWN_TIMEOUT is %s", worker.name, took.Round(time.Millisecond), shutdownTimeout)
		}
		t.Logf("%s exited %s after SIGTERM (%v):\n%s", worker.name, took.Round(time.Millisecond), worker.err, tail(worker.out.String(), 4))
		mail.proxy.delay.Store(0)
		worker = hp.start("worker.3", procs["worker"], nil)
		if !waitFor(30*time.Second, func() bool { return len(mail.search(t, inbox)) >= n }) {
			var states string
			_ = pg.db.QueryRow("SELECT coalesce(string_agg(state::text || ' attempt ' || attempt, ', '), '') FROM river_job WHERE args::text LIKE '%" + inbox + "%'").Scan(&states)
			t.Fatalf("%d of %d handed-back emails delivered 30 s after the restart (jobs: %s)\n%s", len(mail.search(t, inbox)), n, states, tail(worker.out.String(), 20))
		}
		time.Sleep(2 * time.Second) // a duplicate would arrive now
		got := map[string]int{}
		for _, m := range mail.search(t, inbox) {
			for _, to := range m.To {
				got[to.Address]++
			}
		}
		for i := range n {
			if to := fmt.Sprintf("user%02d@%s", i, inbox); got[to] != 1 {
				t.Errorf("%s received %d reset emails across the restart: want 1", to, got[to])
			}
		}
	})

	// ------------------------------------------------------------ check --deploy finds each broken service
	for _, tc := range []struct {
		name  string
		extra map[string]string
		setup func() (undo func())
		want  *regexp.Regexp
	}{
		{name: "a wrong SMTP password", extra: map[string]string{"MAILGUN_SMTP_PASSWORD": "wrong-" + randomHex(4)},
			want: regexp.MustCompile(`(?mi)^ERROR.*smtp.*(auth|password|credential|535)`)},
		{name: "a missing bucket", extra: map[string]string{"AWS_STORAGE_BUCKET_NAME": "herokusim-missing"},
			want: regexp.MustCompile(`(?m)^ERROR.*herokusim-missing`)},
		{name: "Redis down", setup: func() func() {
			rd.stop()
			// A web dyno starts without Redis and serves, on the
			// in-process cache, while check --deploy reports it.
			web3 := hp.start("web.3", procs["web"], nil)
			rt.route(web3)
			if !waitFor(30*time.Second, func() bool { code, _, _ := call(c, "GET", base+"/health", nil, ""); return code == 200 }) {
				t.Errorf("web.3 does not start with Redis down\n%s", tail(web3.out.String(), 30))
			} else if code, _, body := call(c, "POST", base+"/api/auth/login", map[string]any{"email": email, "password": password}, ""); code != 200 {
				t.Errorf("login on web.3 with Redis down: %d %s", code, body)
			}
			return func() {
				rt.route(web)
				web3.stop(syscall.SIGTERM, shutdownTimeout)
				rd.start()
			}
		}, want: regexp.MustCompile(`(?mi)^ERROR.*redis`)},
	} {
		t.Run("check --deploy names "+tc.name, func(t *testing.T) {
			if tc.setup != nil {
				defer tc.setup()()
			}
			start := time.Now()
			out, err := hp.run("run.2", "./bin/manouche check --deploy", tc.extra)
			if err == nil {
				t.Errorf("check --deploy exits 0 with %s:\n%s", tc.name, out)
			}
			if !tc.want.MatchString(out) {
				t.Errorf("check --deploy with %s does not say so (want a line matching %s):\n%s", tc.name, tc.want, out)
			}
			if strings.Contains(out, "goroutine ") {
				t.Errorf("check --deploy printed a stack trace:\n%s", out)
			}
			if took := time.Since(start); took > 30*time.Second {
				t.Errorf("check --deploy took %s", took.Round(time.Second))
			}
			t.Logf("check --deploy with %s:\n%s", tc.name, out)
		})
	}

	if n := rt.badRequestIDs.Load(); n > 0 {
		t.Errorf("%d responses did not echo the router's X-Request-Id", n)
	}
	t.Logf("the simulation took %s", time.Since(started).Round(time.Second))
}

// keepAlive opens a connection to a web dyno as the router does, sends one
// request on it and leaves it open, idle.
func keepAlive(t *testing.T, port int) net.Conn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "GET /health HTTP/1.1\r\nHost: %s\r\nX-Forwarded-For: 127.0.0.1\r\nX-Forwarded-Proto: https\r\n\r\n", domain)
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("GET /health on a kept-alive connection: %v", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Close {
		t.Fatalf("GET /health on a kept-alive connection: %d (close %v)", resp.StatusCode, resp.Close)
	}
	_ = conn.SetReadDeadline(time.Time{})
	return conn
}

// waiting counts the Postgres backends of process pid that wait on a lock.
func waiting(t *testing.T, pg *postgresServer, pid int) int {
	ports, err := localPorts(pid)
	if err != nil {
		return 0
	}
	bs, err := pg.backends(context.Background())
	if err != nil {
		t.Logf("pg_stat_activity: %v", err)
		return 0
	}
	n := 0
	for _, b := range bs {
		if ports[b.port] && b.waitEvent == "Lock" {
			n++
		}
	}
	return n
}

// call sends a JSON request (body nil: none) with an optional bearer token.
func call(c *http.Client, method, u string, body any, token string) (int, http.Header, []byte) {
	return callWith(c, method, u, body, token, nil)
}

// callWith is call with extra request headers.
func callWith(c *http.Client, method, u string, body any, token string, hdr map[string]string) (int, http.Header, []byte) {
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, u, r)
	if err != nil {
		return 0, nil, []byte(err.Error())
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, []byte(err.Error())
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

// upload PUTs a multipart form with the image as field "file".
func upload(c *http.Client, u, token string, img []byte) (int, http.Header, []byte) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	part, _ := w.CreateFormFile("file", "avatar.png")
	_, _ = part.Write(img)
	_ = w.Close()
	req, _ := http.NewRequest("PUT", u, &buf)
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, []byte(err.Error())
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

// field is a string field of a JSON object.
func field(t *testing.T, body []byte, name string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("%s is not a JSON object: %v", clip(body), err)
	}
	s, _ := m[name].(string)
	return s
}

func clip(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "..."
	}
	return string(b)
}

func pngImage(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 64, 64))
	for x := range 64 {
		for y := range 64 {
			img.Set(x, y, color.RGBA{uint8(x * 4), uint8(y * 4), 128, 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
