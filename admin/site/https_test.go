package site_test

import (
	"context"
	"database/sql"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun/dialect"

	"manouche/core/api"
	"manouche/core/testkit"
)

// TestAdminBehindHTTPSRouter runs the admin as production does behind
// Heroku's router (SITE_SCHEME=https, NUM_PROXIES=1, SECURE_SSL_REDIRECT,
// HSTS), over raw HTTP with the router's X-Forwarded-Proto: the session and
// CSRF cookies are Secure (the session one __Host-), https pages carry HSTS,
// plain HTTP is redirected (GET) or refused (POST), and a page that runs
// past REQUEST_TIMEOUT answers 503. GoAdmin is set up once per process: the
// test runs in a child process of its own.
func TestAdminBehindHTTPSRouter(t *testing.T) {
	if !testkit.InChild(t) {
		return
	}
	app := testkit.New(t, testkit.Settings{
		"SITE_SCHEME": "https", "NUM_PROXIES": 1, "SECURE_SSL_REDIRECT": true, "SECURE_HSTS_SECONDS": 3600,
		"ALLOWED_HOSTS": "127.0.0.1", "AUTH_THROTTLE_RATE": "1000/min", "REQUEST_TIMEOUT": "1500ms",
	})
	const email, password = "boss@example.com", "correct-horse-battery-9"
	t.Setenv("SUPERUSER_EMAIL", email)
	t.Setenv("SUPERUSER_PASSWORD", password)
	if out, errOut, code := app.Command("", "createsuperuser", "--noinput"); code != 0 {
		t.Fatalf("createsuperuser: %d %s %s", code, out, errOut)
	}
	const https = "X-Forwarded-Proto: https\r\n"
	form := url.Values{"username": {email}, "password": {password}}.Encode()
	signin := "POST /admin/signin HTTP/1.1\r\nHost: {addr}\r\nOrigin: https://{addr}\r\nReferer: https://{addr}/admin/login\r\n" +
		"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: " + strconv.Itoa(len(form)) + "\r\nConnection: close\r\n"

	// Over https (as the router reports it): a Secure __Host- session cookie.
	res := app.Raw(signin + https + "\r\n" + form)
	session := cookie(t, res, "__Host-go_admin_session")
	if res.Status != http.StatusOK || session == nil || !session.Secure || !session.HttpOnly || session.Path != "/" || session.Domain != "" {
		t.Fatalf("sign-in over https: %d, session cookie %+v; Set-Cookie %q", res.Status, session, res.Header.Values("Set-Cookie"))
	}
	page := func(extra string) *testkit.Response {
		return app.Raw("GET /admin/info/users HTTP/1.1\r\nHost: {addr}\r\nCookie: __Host-go_admin_session=" + session.Value + "\r\n" + extra + "Connection: close\r\n\r\n")
	}
	res = page(https)
	csrf := cookie(t, res, "manouche_admin_csrf")
	if res.Status != http.StatusOK || csrf == nil || !csrf.Secure {
		t.Fatalf("a page over https: %d, CSRF cookie %+v; Set-Cookie %q", res.Status, csrf, res.Header.Values("Set-Cookie"))
	}
	if got := res.Header.Get("Strict-Transport-Security"); got != "max-age=3600" {
		t.Errorf("a page over https: Strict-Transport-Security %q", got)
	}

	// Over plain HTTP (the router's own entry says http, whatever the client wrote).
	res = page("X-Forwarded-Proto: https, http\r\n")
	if res.Status != http.StatusMovedPermanently || !strings.HasPrefix(res.Header.Get("Location"), "https://127.0.0.1:") ||
		!strings.HasSuffix(res.Header.Get("Location"), "/admin/info/users") || len(res.Header.Values("Set-Cookie")) != 0 {
		t.Errorf("a page over plain HTTP: %d, Location %q, Set-Cookie %q", res.Status, res.Header.Get("Location"), res.Header.Values("Set-Cookie"))
	}
	res = app.Raw(signin + "X-Forwarded-Proto: http\r\n\r\n" + form)
	res.AssertError(http.StatusForbidden, api.TypePermissionDenied)
	if len(res.Header.Values("Set-Cookie")) != 0 {
		t.Errorf("a sign-in over plain HTTP set cookies: %q", res.Header.Values("Set-Cookie"))
	}

	// A page held up by the database past REQUEST_TIMEOUT answers 503.
	release := lockSessions(t, app)
	start := time.Now()
	res = page(https)
	took := time.Since(start)
	release()
	if res.Status != http.StatusServiceUnavailable || !strings.Contains(string(res.Body), api.TypeServiceUnavailable) {
		t.Errorf("a page blocked on the database: %d %s, want 503", res.Status, res.Body)
	}
	if took > 5*time.Second {
		t.Errorf("a page blocked on the database answered after %v, want soon after REQUEST_TIMEOUT", took)
	}
	t.Logf("the blocked page answered after %v", took)
	if res = page(https); res.Status != http.StatusOK {
		t.Errorf("the admin after the timeout: %d %s", res.Status, res.Body)
	}
}

// cookie returns the Set-Cookie of res named name, or nil.
func cookie(t *testing.T, res *testkit.Response, name string) *http.Cookie {
	t.Helper()
	for _, c := range (&http.Response{Header: res.Header}).Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// lockSessions keeps every other connection from reading the admin's
// session table until release: Postgres with LOCK TABLE in an open
// transaction, SQLite by holding every connection of the project's pool.
func lockSessions(t *testing.T, app *testkit.App) (release func()) {
	t.Helper()
	ctx := context.Background()
	if app.DB.Dialect().Name() == dialect.PG {
		tx, err := app.DB.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.ExecContext(ctx, "LOCK TABLE goadmin_session IN ACCESS EXCLUSIVE MODE"); err != nil {
			t.Fatal(err)
		}
		return func() { _ = tx.Rollback() }
	}
	// SQLite readers cannot be locked out in WAL mode: take every
	// connection of the project's pool instead, so the page's query waits
	// for one (with its request's context).
	var conns []*sql.Conn
	for range 8 {
		c, err := app.DB.DB.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	return func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}
}
