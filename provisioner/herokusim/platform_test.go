package herokusim

// The platform: certificates, Postgres with TLS, Redis behind rediss://,
// mailpit as Mailgun (behind a proxy that can slow it down), the Go
// buildpack's build, the Procfile and app.json, dynos, and a router.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the monitor's connection to the simulated Heroku Postgres
	"github.com/redis/go-redis/v9"
)

// freePort returns a TCP port on 127.0.0.1 that nothing listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// waitFor polls ok every 50 ms until it returns true or timeout passes.
func waitFor(timeout time.Duration, ok func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if ok() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ---------------------------------------------------------------- certificates

// pki holds a private CA, a server certificate it signed (for 127.0.0.1,
// localhost and the app's domain), and a self-signed certificate that no CA
// vouches for, like Heroku Redis's.
type pki struct {
	dir                string
	caFile             string // the CA certificate: the dynos' trust store (SSL_CERT_FILE)
	certPEM, keyPEM    []byte // signed by the CA
	certFile, keyFile  string
	selfCert, selfKey  string // self-signed (Redis)
	pool               *x509.CertPool
	serverCertificates tls.Certificate
}

func newPKI(t *testing.T, dir, domain string) *pki {
	t.Helper()
	p := &pki{dir: dir, pool: x509.NewCertPool()}
	caKey := mustKey(t)
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "herokusim CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	p.pool.AddCert(caCert)
	p.caFile = writePEM(t, dir, "ca.pem", "CERTIFICATE", caDER)

	leaf := func(signer *x509.Certificate, signerKey *ecdsa.PrivateKey, serial int64) ([]byte, []byte) {
		key := mustKey(t)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: "localhost"},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(24 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			DNSNames:     []string{"localhost", domain},
			IPAddresses:  []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")},
		}
		if signer == nil {
			signer, signerKey = tmpl, key
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
		if err != nil {
			t.Fatal(err)
		}
		keyDER, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
			pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	}
	p.certPEM, p.keyPEM = leaf(caCert, caKey, 2)
	p.certFile = writeFile(t, dir, "server.crt", p.certPEM, 0o644)
	p.keyFile = writeFile(t, dir, "server.key", p.keyPEM, 0o600)
	selfCert, selfKey := leaf(nil, nil, 3)
	p.selfCert = writeFile(t, dir, "self.crt", selfCert, 0o644)
	p.selfKey = writeFile(t, dir, "self.key", selfKey, 0o600)
	if p.serverCertificates, err = tls.X509KeyPair(p.certPEM, p.keyPEM); err != nil {
		t.Fatal(err)
	}
	return p
}

func mustKey(t *testing.T) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func writePEM(t *testing.T, dir, name, typ string, der []byte) string {
	return writeFile(t, dir, name, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o644)
}

func writeFile(t *testing.T, dir, name string, b []byte, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, b, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

// ---------------------------------------------------------------- processes

// syncBuffer collects a process's output.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// service is a long-running child process of the test.
type service struct {
	name string
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
	err  error
}

// startService starts cmd in its own process group, collecting its output.
func startService(t *testing.T, name string, cmd *exec.Cmd) *service {
	t.Helper()
	s := &service{name: name, cmd: cmd, out: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = s.out, s.out
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		s.err = cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		s.stop(syscall.SIGTERM, 15*time.Second)
		if t.Failed() {
			t.Logf("--- %s (last lines)\n%s", name, tail(s.out.String(), 40))
		}
	})
	return s
}

// signal sends sig to the process group, as Heroku signals every process of
// a dyno.
func (s *service) signal(sig syscall.Signal) {
	_ = syscall.Kill(-s.cmd.Process.Pid, sig)
}

func (s *service) exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// wait waits up to timeout for the process to exit and reports whether it did.
func (s *service) wait(timeout time.Duration) bool {
	select {
	case <-s.done:
		return true
	case <-time.After(timeout):
		return false
	}
}

// stop signals sig and, after grace, kills the group (Heroku's SIGKILL).
func (s *service) stop(sig syscall.Signal, grace time.Duration) {
	if s.exited() {
		return
	}
	s.signal(sig)
	if !s.wait(grace) {
		s.signal(syscall.SIGKILL)
		s.wait(5 * time.Second)
	}
}

// ---------------------------------------------------------------- Postgres

// postgresServer is a Postgres cluster of the test's own: TLS on with the
// CA-signed certificate, plain TCP refused (Heroku Postgres requires TLS),
// max_connections 20 as on Heroku's smallest plan.
type postgresServer struct {
	port     int
	superURL string // the superuser, on the app's database, over TLS
	db       *sql.DB
	// database, user and password are the app's, as an add-on provisions them.
	database, user, password string
}

// MaxConnections is the cluster's max_connections: Heroku's essential-0.
const MaxConnections = 20

func postgresBinDir(t *testing.T) string {
	t.Helper()
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "postgres")); err == nil {
			return d
		}
	}
	if p, err := exec.LookPath("postgres"); err == nil {
		return filepath.Dir(p)
	}
	t.Fatal("no Postgres server binaries (initdb, postgres): apt-get install postgresql")
	return ""
}

func versionOf(dir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return n
}

func startPostgres(t *testing.T, p *pki) *postgresServer {
	t.Helper()
	bin := postgresBinDir(t)
	dir, err := os.MkdirTemp("", "herokusim-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	// initdb and postgres refuse to run as root: as root, run them as the
	// postgres user that Debian's package creates.
	var cred *syscall.Credential
	chown := func(string) {}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root needs the postgres user: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		chown = func(path string) {
			if err := os.Chown(path, uid, gid); err != nil {
				t.Fatal(err)
			}
		}
	}
	chown(dir)
	superPassword := randomHex(12)
	pw := writeFile(t, dir, "pwfile", []byte(superPassword+"\n"), 0o600)
	chown(pw)
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "--pwfile="+pw,
		"--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	initdb.Dir = dir // the postgres user may not enter the test's working directory
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	for name, b := range map[string][]byte{"server.crt": p.certPEM, "server.key": p.keyPEM} {
		chown(writeFile(t, data, name, b, 0o600))
	}
	hba := "local all all trust\nhostssl all all 127.0.0.1/32 scram-sha-256\nhostnossl all all 127.0.0.1/32 reject\n"
	chown(writeFile(t, data, "pg_hba.conf", []byte(hba), 0o600))

	s := &postgresServer{port: freePort(t)}
	cmd := exec.Command(filepath.Join(bin, "postgres"), "-D", data, "-p", strconv.Itoa(s.port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="+dir,
		"-c", "ssl=on", "-c", "ssl_cert_file=server.crt", "-c", "ssl_key_file=server.key",
		"-c", "max_connections="+strconv.Itoa(MaxConnections),
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	cmd.Dir = dir
	srv := startService(t, "postgres", cmd)
	t.Cleanup(func() { srv.stop(syscall.SIGINT, 15*time.Second) }) // fast shutdown, before the generic SIGTERM

	admin := fmt.Sprintf("postgres://postgres:%s@127.0.0.1:%d/postgres?sslmode=require", superPassword, s.port)
	adminDB, err := sql.Open("pgx", admin)
	if err != nil {
		t.Fatal(err)
	}
	defer adminDB.Close()
	if !waitFor(20*time.Second, func() bool { return adminDB.Ping() == nil }) {
		t.Fatalf("postgres did not start: %v\n%s", adminDB.Ping(), srv.out.String())
	}
	// An add-on's database: an owner that is not a superuser, random names.
	s.user, s.password, s.database = "u"+randomHex(6), randomHex(16), "d"+randomHex(6)
	for _, q := range []string{
		fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s'", s.user, s.password),
		fmt.Sprintf("CREATE DATABASE %s OWNER %s", s.database, s.user),
	} {
		if _, err := adminDB.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	s.superURL = fmt.Sprintf("postgres://postgres:%s@127.0.0.1:%d/%s?sslmode=require", superPassword, s.port, s.database)
	if s.db, err = sql.Open("pgx", s.superURL); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.db.Close() })
	return s
}

// URL is DATABASE_URL as the heroku-postgresql add-on sets it: no sslmode.
func (s *postgresServer) URL() string {
	return fmt.Sprintf("postgres://%s:%s@127.0.0.1:%d/%s", s.user, s.password, s.port, s.database)
}

// backend is one row of pg_stat_activity for the app's user.
type backend struct {
	pid       int
	port      int
	state     string
	waitEvent string
	ssl       bool
}

// backends lists the app user's client connections.
func (s *postgresServer) backends(ctx context.Context) ([]backend, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT a.pid, coalesce(a.client_port, -1), coalesce(a.state, ''),
		coalesce(a.wait_event_type, ''), coalesce(ssl.ssl, false)
		FROM pg_stat_activity a LEFT JOIN pg_stat_ssl ssl ON ssl.pid = a.pid
		WHERE a.usename = $1 AND a.backend_type = 'client backend'`, s.user)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []backend
	for rows.Next() {
		var b backend
		if err := rows.Scan(&b.pid, &b.port, &b.state, &b.waitEvent, &b.ssl); err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// lockUsers takes an ACCESS EXCLUSIVE lock on the users table in a
// transaction of the test's own, so that every request that touches the
// table waits: a slow request without test-only code in the app. The
// returned function releases it.
func (s *postgresServer) lockUsers(t *testing.T) (release func()) {
	t.Helper()
	ctx := context.Background()
	conn, err := s.db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("LOCK TABLE users IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			_ = tx.Rollback()
			_ = conn.Close()
		})
	}
	t.Cleanup(release)
	return release
}

// ---------------------------------------------------------------- Redis

// redisServer is redis-server with only a TLS port, a password and a
// self-signed certificate, as Heroku Redis serves it.
type redisServer struct {
	t        *testing.T
	port     int
	password string
	p        *pki
	srv      *service
}

func startRedis(t *testing.T, p *pki) *redisServer {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatal("redis-server is not installed: apt-get install redis-server")
	}
	r := &redisServer{t: t, port: freePort(t), password: randomHex(16), p: p}
	r.start()
	return r
}

func (r *redisServer) start() {
	r.t.Helper()
	cmd := exec.Command("redis-server", "--port", "0", "--tls-port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--tls-cert-file", r.p.selfCert, "--tls-key-file", r.p.selfKey, "--tls-auth-clients", "no",
		"--requirepass", r.password, "--save", "", "--appendonly", "no")
	r.srv = startService(r.t, "redis-server", cmd)
	c := r.client()
	defer c.Close()
	if !waitFor(10*time.Second, func() bool { return c.Ping(context.Background()).Err() == nil }) {
		r.t.Fatalf("redis-server with TLS did not start (is it built with TLS?): %v\n%s", c.Ping(context.Background()).Err(), r.srv.out.String())
	}
}

func (r *redisServer) stop() { r.srv.stop(syscall.SIGTERM, 10*time.Second) }

// URL is REDIS_URL as the heroku-redis add-on sets it.
func (r *redisServer) URL() string {
	return fmt.Sprintf("rediss://:%s@127.0.0.1:%d", r.password, r.port)
}

func (r *redisServer) client() *redis.Client {
	return redis.NewClient(&redis.Options{
		Addr: fmt.Sprintf("127.0.0.1:%d", r.port), Password: r.password,
		TLSConfig:  &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // the test's own self-signed server
		MaxRetries: -1,
	})
}

// clientPorts is the local port of every client connected to Redis.
func (r *redisServer) clientPorts(ctx context.Context) ([]int, error) {
	c := r.client()
	defer c.Close()
	list, err := c.ClientList(ctx).Result()
	if err != nil {
		return nil, err
	}
	self, err := c.ClientID(ctx).Result()
	if err != nil {
		return nil, err
	}
	var ports []int
	for _, line := range strings.Split(strings.TrimSpace(list), "\n") {
		fields := map[string]string{}
		for _, f := range strings.Fields(line) {
			if k, v, ok := strings.Cut(f, "="); ok {
				fields[k] = v
			}
		}
		if fields["id"] == strconv.FormatInt(self, 10) {
			continue
		}
		if _, port, err := net.SplitHostPort(fields["addr"]); err == nil {
			n, _ := strconv.Atoi(port)
			ports = append(ports, n)
		}
	}
	return ports, nil
}

// ---------------------------------------------------------------- mailpit as Mailgun

// mailServer is mailpit offering STARTTLS (required) with the CA-signed
// certificate and SMTP AUTH against a password file, as Mailgun does, behind
// a proxy that can slow every reply down.
type mailServer struct {
	api      string
	login    string
	password string
	proxy    *slowProxy
}

func mailpitBinary(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("mailpit"); err == nil {
		return p
	}
	out, err := exec.Command("go", "env", "GOPATH").Output()
	if err == nil {
		p := filepath.Join(strings.TrimSpace(string(out)), "bin", "mailpit")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Fatal("mailpit is not installed: go install github.com/axllent/mailpit@v1.33.1")
	return ""
}

func startMailpit(t *testing.T, p *pki, dir string) *mailServer {
	t.Helper()
	m := &mailServer{login: "postmaster@herokusim.mailgun.org", password: randomHex(16)}
	auth := writeFile(t, dir, "smtp-auth", []byte(m.login+":"+m.password+"\n"), 0o600)
	uiPort, smtpPort := freePort(t), freePort(t)
	m.api = fmt.Sprintf("http://127.0.0.1:%d", uiPort)
	cmd := exec.Command(mailpitBinary(t), "--listen", fmt.Sprintf("127.0.0.1:%d", uiPort),
		"--smtp", fmt.Sprintf("127.0.0.1:%d", smtpPort), "--database", filepath.Join(dir, "mailpit.db"),
		"--disable-version-check", "--smtp-tls-cert", p.certFile, "--smtp-tls-key", p.keyFile,
		"--smtp-require-starttls", "--smtp-auth-file", auth, "--smtp-disable-rdns")
	srv := startService(t, "mailpit", cmd)
	if !waitFor(20*time.Second, func() bool {
		resp, err := http.Get(m.api + "/api/v1/info")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	}) {
		t.Fatalf("mailpit did not start\n%s", srv.out.String())
	}
	m.proxy = newSlowProxy(t, fmt.Sprintf("127.0.0.1:%d", smtpPort))
	return m
}

// mailMessage is a message as mailpit's API lists it.
type mailMessage struct {
	ID      string
	Subject string
	To      []struct{ Address string }
}

// search lists the messages mailpit received for to.
func (m *mailServer) search(t *testing.T, to string) []mailMessage {
	t.Helper()
	resp, err := http.Get(m.api + "/api/v1/search?limit=1000&query=" + url.QueryEscape("to:"+to))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct{ Messages []mailMessage }
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	return r.Messages
}

// text is a message's plain-text body.
func (m *mailServer) text(t *testing.T, id string) string {
	t.Helper()
	resp, err := http.Get(m.api + "/api/v1/message/" + id)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct{ Text string }
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	return r.Text
}

// slowProxy forwards TCP connections to target and holds every chunk the
// server sends back for delay (0 by default): SMTP deliveries that take
// long enough for a SIGTERM to land in the middle of them.
type slowProxy struct {
	addr   string
	target string
	delay  atomic.Int64
}

func newSlowProxy(t *testing.T, target string) *slowProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &slowProxy{addr: ln.Addr().String(), target: target}
	var conns sync.WaitGroup
	t.Cleanup(func() { ln.Close(); conns.Wait() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() {
				defer conns.Done()
				p.serve(c)
			}()
		}
	}()
	return p
}

func (p *slowProxy) serve(c net.Conn) {
	defer c.Close()
	s, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		return
	}
	defer s.Close()
	go func() {
		_, _ = io.Copy(s, c)
		_ = s.(*net.TCPConn).CloseWrite()
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := s.Read(buf)
		if n > 0 {
			time.Sleep(time.Duration(p.delay.Load()))
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *slowProxy) port() string {
	_, port, _ := net.SplitHostPort(p.addr)
	return port
}

// ---------------------------------------------------------------- the buildpack

// moduleRoot is the directory of the go.mod this package belongs to.
func moduleRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(out)) == "" {
		t.Fatalf("go env GOMOD: %v", err)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}

// herokuDirective returns the values of go.mod's `// +heroku NAME ...` line.
func herokuDirective(gomod []byte, name string) []string {
	re := regexp.MustCompile(`(?m)^//\s*\+heroku\s+` + regexp.QuoteMeta(name) + `\s+(.+)$`)
	m := re.FindSubmatch(gomod)
	if m == nil {
		return nil
	}
	return strings.Fields(string(m[1]))
}

// buildpack builds like the Go buildpack: `go install -tags heroku` of the
// packages go.mod's `// +heroku install` names into the app's bin/, with
// SOURCE_VERSION linked into GO_LINKER_SYMBOL when that config var is set.
func buildpack(t *testing.T, root, app, linkerSymbol, sourceVersion string) {
	t.Helper()
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	pkgs := herokuDirective(gomod, "install")
	if len(pkgs) == 0 {
		t.Fatal("go.mod has no `// +heroku install` directive: the buildpack would install every main package (bench/ too)")
	}
	if v := herokuDirective(gomod, "goVersion"); len(v) != 1 || !regexp.MustCompile(`^go1\.\d+$`).MatchString(v[0]) {
		t.Errorf("go.mod's `// +heroku goVersion` is %q: want a minor release such as go1.26 (the latest patch)", v)
	}
	args := []string{"install", "-tags", "heroku"}
	if linkerSymbol != "" {
		args = append(args, "-ldflags", "-X "+linkerSymbol+"="+sourceVersion)
	}
	args = append(args, pkgs...)
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOBIN="+filepath.Join(app, "bin"), "SOURCE_VERSION="+sourceVersion)
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	t.Logf("buildpack: go %s (%s)", strings.Join(args, " "), time.Since(start).Round(time.Second))
}

// procfile parses a Procfile: process type → command.
func procfile(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	re := regexp.MustCompile(`^([A-Za-z0-9_-]+):\s*(.+)$`)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		m := re.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("Procfile: %q is not NAME: COMMAND", line)
		}
		out[m[1]] = m[2]
	}
	return out
}

// appJSON is the part of app.json the platform reads.
type appJSON struct {
	Addons []struct {
		Plan string `json:"plan"`
	} `json:"addons"`
	Formation map[string]struct {
		Quantity int `json:"quantity"`
	} `json:"formation"`
	Scripts struct {
		Postdeploy string `json:"postdeploy"`
	} `json:"scripts"`
	Env map[string]struct {
		Value     string `json:"value"`
		Generator string `json:"generator"`
		Required  *bool  `json:"required"`
	} `json:"env"`
}

func readAppJSON(t *testing.T, path string) appJSON {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var a appJSON
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatalf("app.json: %v", err)
	}
	return a
}

// ---------------------------------------------------------------- dynos

// platform is the simulated Heroku app: its slug (app dir) and config vars.
type platform struct {
	t      *testing.T
	app    string            // the slug: bin/manouche, the Procfile, app.json
	config map[string]string // config vars, the add-ons' included
	procs  map[string]string // the Procfile
}

// env is the whole environment of a dyno: the config vars, PORT, DYNO and
// what the dyno manager sets itself; nothing from the test's environment.
func (p *platform) env(dyno string, port int, extra map[string]string) []string {
	vars := map[string]string{
		"PATH": filepath.Join(p.app, "bin") + ":/usr/local/bin:/usr/bin:/bin",
		"HOME": p.app,
		"DYNO": dyno,
		"PORT": strconv.Itoa(port),
	}
	for k, v := range p.config {
		vars[k] = v
	}
	for k, v := range extra {
		if v == "" {
			delete(vars, k)
		} else {
			vars[k] = v
		}
	}
	env := make([]string, 0, len(vars))
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	slices.Sort(env)
	return env
}

// dyno is a running process of a process type.
type dyno struct {
	*service
	port int
}

// start runs command as dyno name (web.1, worker.1), as the dyno manager
// runs a Procfile line: `bash -c COMMAND` in the slug's directory.
func (p *platform) start(name, command string, extra map[string]string) *dyno {
	p.t.Helper()
	port := freePort(p.t)
	cmd := exec.Command("bash", "-c", command)
	cmd.Dir = p.app
	cmd.Env = p.env(name, port, extra)
	return &dyno{service: startService(p.t, name, cmd), port: port}
}

// run runs a one-off dyno (`heroku run`, the release phase) to its end.
func (p *platform) run(name, command string, extra map[string]string) (string, error) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", command)
	cmd.Dir = p.app
	cmd.Env = p.env(name, freePort(p.t), extra)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// pid is the manouche process of the dyno (bash execs a lone command; if it
// did not, the child that runs bin/manouche).
func (d *dyno) pid() int {
	var find func(pid int) int
	find = func(pid int) int {
		if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); err == nil && filepath.Base(exe) == "manouche" {
			return pid
		}
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
		for _, c := range strings.Fields(string(b)) {
			n, _ := strconv.Atoi(c)
			if got := find(n); got != 0 {
				return got
			}
		}
		return 0
	}
	return find(d.cmd.Process.Pid)
}

// localPorts is the local port of every TCP socket the process holds open:
// matched against pg_stat_activity.client_port (or Redis's CLIENT LIST) it
// tells which server connections are this dyno's.
func localPorts(pid int) (map[int]bool, error) {
	inodes := map[string]bool{}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return nil, err
	}
	for _, fd := range fds {
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && strings.HasPrefix(link, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] = true
		}
	}
	ports := map[int]bool{}
	for _, table := range []string{"tcp", "tcp6"} {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, table))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 10 || !inodes[f[9]] {
				continue
			}
			_, hexPort, ok := strings.Cut(f[1], ":")
			if !ok {
				continue
			}
			if n, err := strconv.ParseInt(hexPort, 16, 32); err == nil {
				ports[int(n)] = true
			}
		}
	}
	return ports, nil
}

// ---------------------------------------------------------------- the router

// router plays Heroku's router: it terminates TLS (and serves plain HTTP),
// appends the client's address to X-Forwarded-For, sets X-Forwarded-Proto,
// X-Forwarded-Port, X-Request-Id (unless the client sent a valid one),
// X-Request-Start and Via, and gives up after 30 s with a 503 (H12).
type router struct {
	domain    string
	httpsAddr string
	httpAddr  string
	backend   atomic.Pointer[url.URL]
	pool      *x509.CertPool
	// requestIDs counts responses whose X-Request-Id is not the one the
	// router sent (the app must echo it).
	badRequestIDs atomic.Int64
}

// RouterTimeout is the router's limit (H12 after it).
const RouterTimeout = 30 * time.Second

// herokuKill is how long the dyno manager waits after SIGTERM before SIGKILL.
const herokuKill = 30 * time.Second

// routerError marks the responses the router makes itself.
const routerError = "X-Herokusim-Router-Error"

func newRouter(t *testing.T, p *pki, domain string) *router {
	t.Helper()
	r := &router{domain: domain, pool: p.pool}
	transport := &http.Transport{
		ResponseHeaderTimeout: RouterTimeout,
		MaxIdleConnsPerHost:   100,
		IdleConnTimeout:       90 * time.Second,
	}
	t.Cleanup(transport.CloseIdleConnections)
	proxy := func(proto, port string) http.Handler {
		return &httputil.ReverseProxy{
			Transport: transport,
			Rewrite: func(pr *httputil.ProxyRequest) {
				pr.SetURL(r.backend.Load())
				pr.Out.Host = pr.In.Host
				client, _, _ := net.SplitHostPort(pr.In.RemoteAddr)
				xff := client
				if prior := pr.In.Header.Values("X-Forwarded-For"); len(prior) > 0 {
					xff = strings.Join(prior, ", ") + ", " + client
				}
				pr.Out.Header.Set("X-Forwarded-For", xff)
				pr.Out.Header.Set("X-Forwarded-Proto", proto)
				pr.Out.Header.Set("X-Forwarded-Port", port)
				id := pr.In.Header.Get("X-Request-Id")
				if len(id) < 20 || len(id) > 200 {
					id = randomHex(16)
				}
				pr.Out.Header.Set("X-Request-Id", id)
				pr.Out.Header.Set("X-Request-Start", strconv.FormatInt(time.Now().UnixMilli(), 10))
				pr.Out.Header.Set("Via", "1.1 vegur")
			},
			ModifyResponse: func(resp *http.Response) error {
				if resp.Header.Get("X-Request-Id") != resp.Request.Header.Get("X-Request-Id") {
					r.badRequestIDs.Add(1)
				}
				return nil
			},
			ErrorHandler: func(w http.ResponseWriter, req *http.Request, err error) {
				code := "H13 Connection closed without response"
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					code = "H12 Request timeout"
				} else if errors.Is(err, syscall.ECONNREFUSED) {
					code = "H20 App boot timeout"
				}
				w.Header().Set(routerError, code[:3])
				http.Error(w, code, http.StatusServiceUnavailable)
			},
		}
	}
	tlsLn, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{p.serverCertificates}, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	plainLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.httpsAddr, r.httpAddr = tlsLn.Addr().String(), plainLn.Addr().String()
	for _, s := range []struct {
		ln net.Listener
		h  http.Handler
	}{{tlsLn, proxy("https", "443")}, {plainLn, proxy("http", "80")}} {
		srv := &http.Server{Handler: s.h, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = srv.Serve(s.ln) }()
		t.Cleanup(func() { _ = srv.Close() })
	}
	return r
}

// route sends the router's traffic to a web dyno.
func (r *router) route(d *dyno) {
	r.backend.Store(&url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", d.port)})
}

// client is a browser-like client of https://DOMAIN and http://DOMAIN: its
// connections go to the router, it trusts the router's certificate, keeps
// cookies and does not follow redirects.
func (r *router) client() *http.Client { return r.clientFrom("") }

// clientFrom is client with its connections from the loopback address ip
// (127.0.0.N), a client of its own for the router and the rate limits.
func (r *router) clientFrom(ip string) *http.Client {
	jar, _ := cookiejar.New(nil)
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	if ip != "" {
		dialer.LocalAddr = &net.TCPAddr{IP: net.ParseIP(ip)}
	}
	return &http.Client{
		Jar:     jar,
		Timeout: RouterTimeout + 10*time.Second,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				host, port, _ := net.SplitHostPort(addr)
				if host != r.domain {
					return nil, fmt.Errorf("herokusim: the client only talks to %s, not %s", r.domain, addr)
				}
				if port == "443" {
					return dialer.DialContext(ctx, network, r.httpsAddr)
				}
				return dialer.DialContext(ctx, network, r.httpAddr)
			},
			TLSClientConfig:     &tls.Config{RootCAs: r.pool, MinVersion: tls.VersionTLS12},
			MaxIdleConnsPerHost: 100,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// runProgram runs a program to its end with the test's environment.
func runProgram(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	return string(out), err
}
