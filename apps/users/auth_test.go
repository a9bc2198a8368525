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
	"manouche/apps/users/userstest"
	"manouche/core/testenv"
	"manouche/core/testkit"
)

const goodPassword = userstest.Password

// register makes a user and returns its id and token.
var register = userstest.Register

// A 10 MB body is refused before it is parsed.
func TestRegisterBodyTooLarge(t *testing.T) {
	t.Parallel()
	app := testkit.New(t)
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
	accounts := users.NewAccounts(app.Project)
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
