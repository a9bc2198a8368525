package users_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"manouche/apps/users"
	"manouche/core/testenv"
	"manouche/core/testkit"
)

const goodPassword = "correct-horse-battery-9"

// register creates a user through the API and returns its token.
func register(t *testing.T, app *testkit.App, email string) (id, token string) {
	t.Helper()
	res := app.Client.Post("/api/auth/register", map[string]any{"email": email, "password": goodPassword, "first_name": "Ada", "last_name": "Lovelace"})
	res.AssertStatus(http.StatusCreated)
	body := res.Map()
	return body["id"].(string), body["auth_token"].(string)
}

func TestRegisterAndMe(t *testing.T) {
	t.Parallel()
	app := testkit.New(t)
	res := app.Client.Post("/api/auth/register", map[string]any{"email": "Ada@Example.com", "password": goodPassword, "first_name": "Ada"})
	res.AssertStatus(http.StatusCreated)
	body := res.Map()
	for _, k := range []string{"id", "email", "first_name", "last_name", "auth_token"} {
		if _, ok := body[k]; !ok {
			t.Fatalf("register: no %q in %s", k, res.Body)
		}
	}
	if body["email"] != "Ada@Example.com" {
		t.Fatalf("email stored as given: got %v", body["email"])
	}
	if _, ok := body["password"]; ok {
		t.Fatal("the password hash must never be returned")
	}
	token := body["auth_token"].(string)
	if len(token) < 43 {
		t.Fatalf("token %q is shorter than 32 bytes of entropy", token)
	}
	me := app.Client.WithToken(token).Get("/api/me").AssertStatus(http.StatusOK).Map()
	if me["id"] != body["id"] || me["email"] != "Ada@Example.com" || me["avatar_url"] != nil {
		t.Fatalf("me: %v", me)
	}
	if _, ok := me["avatar_url"]; !ok {
		t.Fatal("me: avatar_url missing")
	}
	// The token is stored only as a hash.
	var stored string
	if err := app.DB.NewRaw("SELECT key_hash FROM users_tokens").Scan(context.Background(), &stored); err != nil {
		t.Fatal(err)
	}
	if stored == token || stored != users.HashToken(token) {
		t.Fatalf("stored %q, want the SHA-256 of the token", stored)
	}
}

func TestRegisterBadInput(t *testing.T) {
	t.Parallel()
	app := testkit.New(t, testkit.Settings{"AUTH_THROTTLE_RATE": "1000/min"})
	register(t, app, "taken@example.com")
	long := strings.Repeat("a", 990) + "@example.com"
	cases := []struct {
		name   string
		body   any
		status int
		typ    string
		field  string
	}{
		{"taken, other case", map[string]any{"email": "TAKEN@example.com", "password": goodPassword}, 400, "ValidationError", "email"},
		{"missing email", map[string]any{"password": goodPassword}, 400, "ValidationError", "email"},
		{"null email", map[string]any{"email": nil, "password": goodPassword}, 400, "ValidationError", "email"},
		{"bad email", map[string]any{"email": "not-an-email", "password": goodPassword}, 400, "ValidationError", "email"},
		{"1000-char email", map[string]any{"email": long, "password": goodPassword}, 400, "ValidationError", "email"},
		{"missing password", map[string]any{"email": "a@example.com"}, 400, "ValidationError", "password"},
		{"short password", map[string]any{"email": "a@example.com", "password": "x7!a"}, 400, "ValidationError", "password"},
		{"numeric password", map[string]any{"email": "a@example.com", "password": "9384756301"}, 400, "ValidationError", "password"},
		{"common password", map[string]any{"email": "a@example.com", "password": "password123"}, 400, "ValidationError", "password"},
		{"similar password", map[string]any{"email": "margaret.hamilton@example.com", "password": "margaret.hamilton"}, 400, "ValidationError", "password"},
		{"long first name", map[string]any{"email": "a@example.com", "password": goodPassword, "first_name": strings.Repeat("x", 121)}, 400, "ValidationError", "first_name"},
		{"number for email", map[string]any{"email": 42, "password": goodPassword}, 400, "ParseError", ""},
		{"list body", []any{1, 2}, 400, "ParseError", ""},
		{"malformed JSON", `{"email": "a@example.com",`, 400, "ParseError", ""},
		{"invalid UTF-8", "{\"email\": \"\xff\xfe@example.com\", \"password\": \"x\"}", 400, "ParseError", ""},
		{"SQL in email", map[string]any{"email": "x'); DROP TABLE users;--@example.com", "password": goodPassword}, 400, "ValidationError", "email"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := app.Client.Post("/api/auth/register", tc.body)
			if tc.field != "" {
				res.AssertError(tc.status, tc.typ, tc.field)
			} else {
				res.AssertError(tc.status, tc.typ)
			}
		})
	}
	// HTML and SQL in names are stored and returned as data, not interpreted.
	res := app.Client.Post("/api/auth/register", map[string]any{"email": "html@example.com", "password": goodPassword, "first_name": "<script>alert(1)</script>", "last_name": "'; DROP TABLE users;--"})
	res.AssertStatus(http.StatusCreated)
	if got := res.Map()["first_name"]; got != "<script>alert(1)</script>" {
		t.Fatalf("first_name round trip: %v", got)
	}
	// A 10 MB body is refused before it is parsed.
	// The server answers from the Content-Length header, before reading the body.
	base := app.Serve()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /api/auth/register HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n{\"email\": \"", 10<<20)
	hres, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("10 MB body: %v", err)
	}
	hbody, _ := io.ReadAll(hres.Body)
	if hres.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(hbody), `"PayloadTooLarge"`) {
		t.Fatalf("10 MB body: %d %s", hres.StatusCode, hbody)
	}
	// Not JSON at all.
	req, _ := http.NewRequest(http.MethodPost, "/api/auth/register", strings.NewReader("email=a@example.com"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	app.Client.Send(req).AssertError(http.StatusUnsupportedMediaType, "UnsupportedMediaType")
}

func TestConcurrentRegistrationsOneAccount(t *testing.T) {
	t.Parallel()
	app := testkit.New(t, testkit.Settings{"AUTH_THROTTLE_RATE": "1000/min"})
	const n = 8
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = app.Client.Post("/api/auth/register", map[string]any{"email": "race@example.com", "password": goodPassword}).Status
		}()
	}
	wg.Wait()
	created := 0
	for _, s := range statuses {
		switch s {
		case http.StatusCreated:
			created++
		case http.StatusBadRequest:
		default:
			t.Fatalf("status %d in %v: want only 201 and 400", s, statuses)
		}
	}
	if created != 1 {
		t.Fatalf("%d accounts created, want 1 (%v)", created, statuses)
	}
	var count int
	if err := app.DB.NewRaw("SELECT count(*) FROM users WHERE lower(email) = 'race@example.com'").Scan(context.Background(), &count); err != nil || count != 1 {
		t.Fatalf("rows: %d, %v", count, err)
	}
}

func TestLogin(t *testing.T) {
	t.Parallel()
	app := testkit.New(t)
	register(t, app, "Grace@Example.com")
	res := app.Client.Post("/api/auth/login", map[string]any{"email": "grace@example.COM", "password": goodPassword})
	res.AssertStatus(http.StatusOK)
	if res.Map()["auth_token"] == "" {
		t.Fatal("no token")
	}
	wrong := app.Client.Post("/api/auth/login", map[string]any{"email": "grace@example.com", "password": "wrong-password-1"}).AssertError(400, "ValidationError", "non_field_errors")
	unknown := app.Client.Post("/api/auth/login", map[string]any{"email": "nobody@example.com", "password": goodPassword}).AssertError(400, "ValidationError", "non_field_errors")
	if wrong.Errors[0].Message != unknown.Errors[0].Message {
		t.Fatalf("wrong password and unknown email must read the same: %q vs %q", wrong.Errors[0].Message, unknown.Errors[0].Message)
	}
	if _, err := app.DB.NewRaw("UPDATE users SET is_active = ? WHERE lower(email) = 'grace@example.com'", false).Exec(context.Background()); err != nil {
		t.Fatal(err)
	}
	inactive := app.Client.Post("/api/auth/login", map[string]any{"email": "grace@example.com", "password": goodPassword}).AssertError(400, "ValidationError", "non_field_errors")
	if inactive.Errors[0].Message != wrong.Errors[0].Message {
		t.Fatalf("inactive reads differently: %q", inactive.Errors[0].Message)
	}
	app.Client.Post("/api/auth/login", map[string]any{"email": "grace@example.com"}).AssertError(400, "ValidationError", "password")
}

func TestAuthErrors(t *testing.T) {
	t.Parallel()
	app := testkit.New(t)
	res := app.Client.Get("/api/me")
	res.AssertError(http.StatusUnauthorized, "NotAuthenticated")
	if !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Fatalf("WWW-Authenticate: %q", res.Header.Get("WWW-Authenticate"))
	}
	for _, h := range []string{"Bearer nonsense", "Bearer " + strings.Repeat("x", 5000), "Token abc", "Bearer", "Basic dXNlcjpwYXNz"} {
		app.Client.WithHeader("Authorization", h).Get("/api/me").AssertError(http.StatusUnauthorized, "AuthenticationFailed")
	}
}

func TestLogoutRevokesThatToken(t *testing.T) {
	t.Parallel()
	app := testkit.New(t)
	_, first := register(t, app, "logout@example.com")
	second := app.Client.Post("/api/auth/login", map[string]any{"email": "logout@example.com", "password": goodPassword}).AssertStatus(200).Map()["auth_token"].(string)
	c := app.Client.WithToken(first)
	c.Get("/api/me").AssertStatus(200) // warm the cache
	c.Post("/api/auth/logout", nil).AssertStatus(http.StatusNoContent)
	c.Get("/api/me").AssertError(http.StatusUnauthorized, "AuthenticationFailed")
	app.Client.WithToken(second).Get("/api/me").AssertStatus(200)
}

func TestPasswordChange(t *testing.T) {
	t.Parallel()
	app := testkit.New(t)
	_, current := register(t, app, "change@example.com")
	other := app.Client.Post("/api/auth/login", map[string]any{"email": "change@example.com", "password": goodPassword}).AssertStatus(200).Map()["auth_token"].(string)
	app.Client.WithToken(other).Get("/api/me").AssertStatus(200)
	c := app.Client.WithToken(current)
	c.Post("/api/auth/password_change", map[string]any{"current_password": "nope-nope-nope", "new_password": "another-fine-pass-7"}).AssertError(400, "ValidationError", "current_password")
	c.Post("/api/auth/password_change", map[string]any{"current_password": goodPassword, "new_password": "123"}).AssertError(400, "ValidationError", "new_password")
	c.Post("/api/auth/password_change", map[string]any{"current_password": goodPassword}).AssertError(400, "ValidationError", "new_password")
	c.Post("/api/auth/password_change", map[string]any{"current_password": goodPassword, "new_password": "another-fine-pass-7"}).AssertStatus(http.StatusNoContent)
	c.Get("/api/me").AssertStatus(200)
	app.Client.WithToken(other).Get("/api/me").AssertError(401, "AuthenticationFailed")
	app.Client.Post("/api/auth/login", map[string]any{"email": "change@example.com", "password": goodPassword}).AssertStatus(400)
	app.Client.Post("/api/auth/login", map[string]any{"email": "change@example.com", "password": "another-fine-pass-7"}).AssertStatus(200)
	app.Client.Post("/api/auth/password_change", map[string]any{"current_password": "x", "new_password": "y"}).AssertError(401, "NotAuthenticated")
}

var resetLink = regexp.MustCompile(`https?://[^\s"<]+/reset-password/([A-Za-z0-9-]+)/`)

func TestPasswordReset(t *testing.T) {
	t.Parallel()
	app := testkit.New(t, testkit.Settings{"FRONTEND_URL": "https://app.example.com"})
	outbox := app.Outbox()
	_, token := register(t, app, "reset@example.com")
	want := map[string]any{"message": "Further instructions will be sent to the email if it exists"}
	for _, email := range []string{"reset@example.com", "unknown@example.com"} {
		start := time.Now()
		got := app.Client.Post("/api/auth/password_reset", map[string]any{"email": email}).AssertStatus(200).Map()
		if got["message"] != want["message"] {
			t.Fatalf("password_reset(%s): %v", email, got)
		}
		// Known and unknown emails both take at least the same floor, so
		// response times do not reveal which emails have accounts.
		if took := time.Since(start); took < 150*time.Millisecond {
			t.Fatalf("password_reset(%s) answered in %s, under the timing floor", email, took)
		}
	}
	app.Client.Post("/api/auth/password_reset", map[string]any{"email": "bad"}).AssertError(400, "ValidationError", "email")
	app.Client.Post("/api/auth/password_reset", map[string]any{}).AssertError(400, "ValidationError", "email")

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := outbox.Wait(ctx, 1); err != nil {
		t.Fatalf("no reset email: %v", err)
	}
	time.Sleep(200 * time.Millisecond) // an email for the unknown address would have arrived by now
	msgs := outbox.Outbox()
	if len(msgs) != 1 {
		t.Fatalf("%d emails, want exactly 1 (none for the unknown address)", len(msgs))
	}
	msg := msgs[0]
	if msg.To[0] != "reset@example.com" || msg.Text == "" || msg.HTML == "" {
		t.Fatalf("email: to %v, text %d bytes, html %d bytes", msg.To, len(msg.Text), len(msg.HTML))
	}
	m := resetLink.FindStringSubmatch(msg.Text)
	if m == nil || !strings.HasPrefix(m[0], "https://app.example.com/reset-password/") {
		t.Fatalf("no reset link in %q", msg.Text)
	}
	resetToken := m[1]
	app.Client.Post("/api/auth/password_reset_confirm", map[string]any{"token": resetToken, "new_password": "1234"}).AssertError(400, "ValidationError", "new_password")
	app.Client.Post("/api/auth/password_reset_confirm", map[string]any{"token": "garbage", "new_password": "brand-new-secret-8"}).AssertError(400, "ValidationError", "token")
	app.Client.Post("/api/auth/password_reset_confirm", map[string]any{"token": resetToken, "new_password": "brand-new-secret-8"}).AssertStatus(http.StatusNoContent)
	// Single use, and every auth token is revoked.
	app.Client.Post("/api/auth/password_reset_confirm", map[string]any{"token": resetToken, "new_password": "brand-new-secret-9"}).AssertError(400, "ValidationError", "token")
	app.Client.WithToken(token).Get("/api/me").AssertError(401, "AuthenticationFailed")
	app.Client.Post("/api/auth/login", map[string]any{"email": "reset@example.com", "password": "brand-new-secret-8"}).AssertStatus(200)
}

func TestPasswordResetTokenExpiresAndDiesWithPassword(t *testing.T) {
	t.Parallel()
	app := testkit.New(t, testkit.Settings{"PASSWORD_RESET_TIMEOUT": "1h"})
	register(t, app, "expire@example.com")
	accounts := users.AccountsOf(app.Project)
	ctx := context.Background()
	u, err := accounts.ByEmail(ctx, "expire@example.com")
	if err != nil || u == nil {
		t.Fatal(u, err)
	}
	old := accounts.ResetToken(u, time.Now().Add(-2*time.Hour))
	app.Client.Post("/api/auth/password_reset_confirm", map[string]any{"token": old, "new_password": "brand-new-secret-8"}).AssertError(400, "ValidationError", "token")
	fresh := accounts.ResetToken(u, time.Now())
	if err := accounts.SetPassword(ctx, u, "changed-elsewhere-5", ""); err != nil {
		t.Fatal(err)
	}
	app.Client.Post("/api/auth/password_reset_confirm", map[string]any{"token": fresh, "new_password": "brand-new-secret-8"}).AssertError(400, "ValidationError", "token")
}

func TestPatchMe(t *testing.T) {
	t.Parallel()
	app := testkit.New(t)
	register(t, app, "other@example.com")
	id, token := register(t, app, "me@example.com")
	c := app.Client.WithToken(token)
	got := c.Patch("/api/me", map[string]any{"first_name": "Katherine", "id": "00000000-0000-0000-0000-000000000000", "is_staff": true, "unknown": 1}).AssertStatus(200).Map()
	if got["first_name"] != "Katherine" || got["id"] != id || got["last_name"] != "Lovelace" {
		t.Fatalf("patch: %v", got)
	}
	if again := c.Get("/api/me").AssertStatus(200).Map(); again["first_name"] != "Katherine" {
		t.Fatalf("the cached /me was not updated: %v", again)
	}
	var staff bool
	if err := app.DB.NewRaw("SELECT is_staff FROM users WHERE id = ?", id).Scan(context.Background(), &staff); err != nil || staff {
		t.Fatalf("is_staff must be read-only: %v %v", staff, err)
	}
	c.Patch("/api/me", map[string]any{"email": "OTHER@example.com"}).AssertError(400, "ValidationError", "email")
	c.Patch("/api/me", map[string]any{"email": "nope"}).AssertError(400, "ValidationError", "email")
	c.Patch("/api/me", map[string]any{"first_name": 7}).AssertError(400, "ParseError")
	c.Patch("/api/me", map[string]any{"last_name": strings.Repeat("y", 121)}).AssertError(400, "ValidationError", "last_name")
	c.Patch("/api/me", map[string]any{"email": "new@example.com"}).AssertStatus(200)
	app.Client.Post("/api/auth/login", map[string]any{"email": "new@example.com", "password": goodPassword}).AssertStatus(200)
}

func TestThrottles(t *testing.T) {
	t.Parallel()
	app := testkit.New(t, testkit.Settings{"AUTH_THROTTLE_RATE": "3/min", "API_THROTTLE_RATE": "1000/day"})
	for i := range 3 {
		app.Client.Post("/api/auth/login", map[string]any{"email": "x@example.com", "password": "whatever-1"}).AssertStatus(400)
		_ = i
	}
	res := app.Client.Post("/api/auth/login", map[string]any{"email": "x@example.com", "password": "whatever-1"})
	res.AssertError(http.StatusTooManyRequests, "Throttled")
	if res.Header.Get("Retry-After") == "" {
		t.Fatal("no Retry-After")
	}
	// Each endpoint has its own bucket.
	app.Client.Post("/api/auth/password_reset", map[string]any{"email": "x@example.com"}).AssertStatus(200)

	anon := testkit.New(t, testkit.Settings{"API_THROTTLE_RATE": "2/min"})
	anon.Client.Get("/api/me").AssertStatus(401)
	anon.Client.Get("/api/me").AssertStatus(401)
	anon.Client.Get("/api/me").AssertError(http.StatusTooManyRequests, "Throttled")
}

func TestVersioning(t *testing.T) {
	t.Parallel()
	app := testkit.New(t)
	_, token := register(t, app, "v@example.com")
	c := app.Client.WithToken(token)
	for _, accept := range []string{"", "*/*", "application/json", "application/vnd.manouche+json; version=1.0"} {
		c.WithHeader("Accept", accept).Get("/api/me").AssertStatus(200)
	}
	c.WithHeader("Accept", "application/vnd.manouche+json; version=2.0").Get("/api/me").AssertError(http.StatusNotAcceptable, "NotAcceptable")
}

// Two web processes sharing one Redis: a token revoked on one stops working
// on the other at once.
func TestRevocationAcrossProcesses(t *testing.T) {
	testenv.Lookup(t, testenv.RedisURL)
	a := testkit.New(t)
	shared := testkit.Settings{"DATABASE_URL": a.DatabaseURL, "CACHE_KEY_PREFIX": a.Settings.CacheKeyPrefix}
	b := testkit.New(t, shared, testkit.NoMigrate{})
	_, token := register(t, a, "shared@example.com")
	a.Client.WithToken(token).Get("/api/me").AssertStatus(200)
	b.Client.WithToken(token).Get("/api/me").AssertStatus(200) // cached on b's side too (in Redis)
	a.Client.WithToken(token).Post("/api/auth/logout", nil).AssertStatus(204)
	b.Client.WithToken(token).Get("/api/me").AssertError(401, "AuthenticationFailed")
}

// With Redis unreachable, requests fall back to the database and keep answering.
func TestRedisDownFallsBackToDatabase(t *testing.T) {
	t.Parallel()
	app := testkit.New(t, testkit.Settings{"REDIS_URL": "redis://127.0.0.1:1/0"})
	_, token := register(t, app, "down@example.com")
	app.Client.WithToken(token).Get("/api/me").AssertStatus(200)
	app.Client.WithToken(token).Post("/api/auth/logout", nil).AssertStatus(204)
	app.Client.WithToken(token).Get("/api/me").AssertError(401, "AuthenticationFailed")
	app.Client.Get("/health/ready").AssertError(http.StatusServiceUnavailable, "ServiceUnavailable", "cache")
}

// TestAccountsOnce: the users app is the project's authenticator, and the
// routes, commands, admin and authenticator share one accounts service.
func TestAccountsOnce(t *testing.T) {
	t.Parallel()
	app := testkit.New(t)
	accounts := users.AccountsOf(app.Project)
	if users.AccountsOf(app.Project) != accounts {
		t.Error("AccountsOf built a second accounts service for the project")
	}
	if auth, ok := app.Auth().(*users.Accounts); !ok || auth != accounts {
		t.Errorf("the project's authenticator is %T %p, want the accounts service %p", app.Auth(), app.Auth(), accounts)
	}
	if other := testkit.New(t); users.AccountsOf(other.Project) == accounts {
		t.Error("two projects share an accounts service")
	}
}
