package users_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"manouche/core/api"
	"manouche/core/testkit"
)

// Attacks on the auth API over a real TCP connection (testkit's Raw): the
// bytes are what an attacker's client sends, not what net/http would.

// A NUL character anywhere in a JSON string is a ValidationError on that
// field, never a 500 (Postgres refuses NUL in text) nor a lookup that leaks
// SQL, for every route that binds a body.
func TestNULCharacters(t *testing.T) {
	t.Parallel()
	app := testkit.New(t, testkit.Settings{"AUTH_THROTTLE_RATE": "1000/min", "DEBUG": "true"})
	id, token := register(t, app, "nul@example.com")
	auth := "Authorization: Bearer " + token
	tests := []struct {
		method, path, body string
		header             []string
		field              string
	}{
		{"POST", "/api/auth/login", `{"email":"a\u0000@x.com","password":"x"}`, nil, "email"},
		{"POST", "/api/auth/login", `{"email":"nul@example.com\u0000","password":"` + goodPassword + `"}`, nil, "email"},
		{"POST", "/api/auth/login", `{"email":"nul@example.com","password":"x\u0000"}`, nil, "password"},
		{"POST", "/api/auth/register", `{"email":"a\u0000@x.com","password":"` + goodPassword + `"}`, nil, "email"},
		{"POST", "/api/auth/register", `{"email":"b@x.com","password":"` + goodPassword + `","first_name":"\u0000"}`, nil, "first_name"},
		{"POST", "/api/auth/register", `{"email":"b@x.com","password":"` + goodPassword + `","last_name":"x\u0000y"}`, nil, "last_name"},
		{"PATCH", "/api/me", `{"email":"a\u0000@x.com"}`, []string{auth}, "email"},
		{"PATCH", "/api/me", `{"first_name":"Ada\u0000"}`, []string{auth}, "first_name"},
		{"PATCH", "/api/me", `{"last_name":"\u0000"}`, []string{auth}, "last_name"},
		{"POST", "/api/auth/password_change", `{"current_password":"\u0000","new_password":"brand-new-secret-8"}`, []string{auth}, "current_password"},
		{"POST", "/api/auth/password_reset", `{"email":"nul@example.com\u0000"}`, nil, "email"},
		{"POST", "/api/auth/password_reset_confirm", `{"token":"x\u0000","new_password":"brand-new-secret-8"}`, nil, "token"},
	}
	for _, tt := range tests {
		res := app.RawJSON(tt.method, tt.path, tt.body, tt.header...)
		e := res.AssertError(http.StatusBadRequest, api.TypeValidation, tt.field)
		for _, fe := range e.Errors {
			if fe.Field == tt.field && fe.Message != api.MsgNullCharacters {
				t.Errorf("%s %s %s: message %q", tt.method, tt.path, tt.body, fe.Message)
			}
		}
		if strings.Contains(strings.ToLower(string(res.Body)), "sql") {
			t.Errorf("%s %s: body leaks SQL: %s", tt.method, tt.path, res.Body)
		}
	}
	// Nothing was stored, and the account still works.
	var n int
	if err := app.DB.NewRaw("SELECT count(*) FROM users").Scan(context.Background(), &n); err != nil || n != 1 {
		t.Fatalf("users: %d %v", n, err)
	}
	me := app.RawJSON("GET", "/api/me", "", auth).AssertStatus(http.StatusOK).Map()
	if me["id"] != id || me["first_name"] != "Ada" || me["email"] != "nul@example.com" {
		t.Fatalf("me: %v", me)
	}
	// The admin's login looks accounts up by email too: a NUL is no account.
	u, err := app.Project.Auth.Authenticate(context.Background(), "x\x00y")
	if err == nil || u != nil {
		t.Fatalf("token with NUL: %v %v", u, err)
	}
	// In the URL: a query parameter, its name, the path.
	app.RawJSON("GET", "/api/me?x=%00", "", auth).AssertError(http.StatusBadRequest, api.TypeValidation, "x")
	app.RawJSON("GET", "/api/me?a%00b=1", "", auth).AssertError(http.StatusBadRequest, api.TypeValidation, api.NonFieldErrors)
	app.RawJSON("GET", "/api/me%00", "", auth).AssertError(http.StatusNotFound, api.TypeNotFound)
	// A multipart upload whose field or file name holds NUL: raw, Go's multipart
	// reader refuses the part (ParseError); percent-encoded (RFC 2231), it
	// decodes it and FormFile refuses it.
	upload := func(disposition string) *testkit.Response {
		body := "--b\r\nContent-Disposition: form-data; " + disposition + "\r\nContent-Type: image/png\r\n\r\n" + string(pngBytes(t, 8, 8)) + "\r\n--b--\r\n"
		return app.Raw(fmt.Sprintf("PUT /api/me/avatar HTTP/1.1\r\nHost: {addr}\r\n%s\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: %d\r\n\r\n%s", auth, len(body), body))
	}
	upload("name=\"file\"; filename=\"a\x00.png\"").AssertError(http.StatusBadRequest, api.TypeParse)
	upload("name=\"fi\x00le\"; filename=\"a.png\"").AssertError(http.StatusBadRequest, api.TypeParse)
	upload("name=\"file\"; filename*=UTF-8''a%00.png").AssertError(http.StatusBadRequest, api.TypeValidation, "file")
	upload("name*=UTF-8''file%00; filename=\"a.png\"").AssertError(http.StatusBadRequest, api.TypeValidation, "file")
	upload("name=\"file\"; filename=\"a.png\"").AssertStatus(http.StatusOK)
}

// Only a valid token takes a request out of the anonymous API throttle: an
// Authorization header that is malformed, unknown or revoked counts like no
// header at all.
func TestAnonymousThrottleNeedsAValidToken(t *testing.T) {
	t.Parallel()
	app := testkit.New(t, testkit.Settings{"API_THROTTLE_RATE": "4/min", "AUTH_THROTTLE_RATE": "1000/min"})
	// register goes through the in-memory client, from another address than
	// the raw requests below: the raw bucket starts empty.
	_, token := register(t, app, "valid@example.com")
	_, revoked := register(t, app, "revoked@example.com")
	app.RawJSON("POST", "/api/auth/logout", "", "Authorization: Bearer "+revoked).AssertStatus(http.StatusNoContent)
	bad := []string{"Authorization: Bearer " + revoked, "Authorization: Bearer nonsense", "Authorization: Basic dXNlcjpwYXNz", "Authorization: Bearer",
		"Authorization: Bearer " + token + "x", "Authorization: Bearer " + revoked, "Authorization: bearer  " + strings.Repeat("a", 300)}
	for i, h := range bad {
		res := app.RawJSON("GET", "/api/me", "", h)
		if i < 4 {
			res.AssertStatus(http.StatusUnauthorized)
		} else {
			res.AssertError(http.StatusTooManyRequests, api.TypeThrottled)
		}
	}
	for range 10 {
		app.RawJSON("GET", "/api/me", "", "Authorization: Bearer "+token).AssertStatus(http.StatusOK)
	}
	app.RawJSON("GET", "/api/me", "").AssertError(http.StatusTooManyRequests, api.TypeThrottled)
}

// password_reset_confirm has its own per-IP bucket of AUTH_THROTTLE_RATE,
// like login, register and password_reset: reset tokens cannot be guessed
// at the anonymous API rate.
func TestPasswordResetConfirmThrottle(t *testing.T) {
	t.Parallel()
	app := testkit.New(t, testkit.Settings{"AUTH_THROTTLE_RATE": "3/min", "API_THROTTLE_RATE": "1000/min"})
	confirm := `{"token":"guess","new_password":"brand-new-secret-8"}`
	for i := range 3 {
		app.RawJSON("POST", "/api/auth/password_reset_confirm", confirm).AssertError(http.StatusBadRequest, api.TypeValidation, "token")
		_ = i
	}
	res := app.RawJSON("POST", "/api/auth/password_reset_confirm", confirm).AssertStatus(http.StatusTooManyRequests)
	if res.Header.Get("Retry-After") == "" {
		t.Fatal("no Retry-After")
	}
	// Forged forwarded headers do not open a new bucket.
	app.RawJSON("POST", "/api/auth/password_reset_confirm", confirm, "X-Forwarded-For: 203.0.113.9").AssertStatus(http.StatusTooManyRequests)
	// Its own bucket: the others are untouched.
	app.RawJSON("POST", "/api/auth/password_reset", `{"email":"x@example.com"}`).AssertStatus(http.StatusOK)
	app.RawJSON("POST", "/api/auth/login", `{"email":"x@example.com","password":"x"}`).AssertError(http.StatusBadRequest, api.TypeValidation)
}

// Every JSON response of the users app, success or error, says
// application/json; charset=utf-8.
func TestUsersJSONContentType(t *testing.T) {
	t.Parallel()
	app := testkit.New(t, testkit.Settings{"AUTH_THROTTLE_RATE": "1000/min"})
	_, token := register(t, app, "ct@example.com")
	auth := "Authorization: Bearer " + token
	tests := []struct {
		method, path, body string
		header             []string
		status             int
	}{
		{"POST", "/api/auth/register", `{"email":"ct2@example.com","password":"` + goodPassword + `"}`, nil, 201},
		{"POST", "/api/auth/register", `{"email":"ct2@example.com","password":"` + goodPassword + `"}`, nil, 400},
		{"POST", "/api/auth/login", `{"email":"ct@example.com","password":"` + goodPassword + `"}`, nil, 200},
		{"POST", "/api/auth/login", `{"email":`, nil, 400},
		{"POST", "/api/auth/password_reset", `{"email":"ct@example.com"}`, nil, 200},
		{"POST", "/api/auth/password_reset_confirm", `{"token":"x","new_password":"brand-new-secret-8"}`, nil, 400},
		{"GET", "/api/me", "", []string{auth}, 200},
		{"GET", "/api/me", "", nil, 401},
		{"GET", "/api/me", "", []string{"Authorization: Bearer bad"}, 401},
		{"PATCH", "/api/me", `{"first_name":"Grace"}`, []string{auth}, 200},
		{"DELETE", "/api/me/avatar", "", []string{auth}, 200},
		{"PUT", "/api/me/avatar", "", []string{auth}, 415},
		{"DELETE", "/api/me", "", []string{auth}, 405},
	}
	for _, tt := range tests {
		res := app.RawJSON(tt.method, tt.path, tt.body, tt.header...)
		if res.Status != tt.status {
			t.Errorf("%s %s: status %d, want %d: %s", tt.method, tt.path, res.Status, tt.status, res.Body)
		}
		if ct := res.Header.Get("Content-Type"); ct != api.MIMEJSON {
			t.Errorf("%s %s (%d): Content-Type %q", tt.method, tt.path, res.Status, ct)
		}
	}
}

// What a black-box attack tried and found holding, kept as raw-HTTP tests.
func TestAttacksThatHeld(t *testing.T) {
	t.Parallel()
	t.Run("links never come from the request's host", func(t *testing.T) {
		t.Parallel()
		// ALLOWED_HOSTS is "*" in tests, and one proxy is trusted: the worst case.
		app := testkit.New(t, testkit.Settings{"AUTH_THROTTLE_RATE": "1000/min", "NUM_PROXIES": 1})
		outbox := app.Outbox()
		_, token := register(t, app, "links@example.com")
		forged := []string{"X-Forwarded-Host: evil.example", "X-Forwarded-Proto: https", "Forwarded: host=evil.example"}
		req := func(method, target, body string, header ...string) string {
			s := method + " " + target + " HTTP/1.1\r\nHost: evil.example\r\n"
			for _, h := range append(forged, header...) {
				s += h + "\r\n"
			}
			if body != "" {
				s += "Content-Type: application/json\r\n"
			}
			return s + fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(body), body)
		}
		app.Raw(req("POST", "/api/auth/password_reset", `{"email":"links@example.com"}`)).AssertStatus(http.StatusOK)
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := outbox.Wait(ctx, 1); err != nil {
			t.Fatalf("no reset email: %v", err)
		}
		msg := outbox.Outbox()[0]
		for _, part := range []string{msg.Text, msg.HTML} {
			if !strings.Contains(part, "http://testserver/reset-password/") || strings.Contains(part, "evil.example") {
				t.Fatalf("reset email links elsewhere than SITE_SCHEME://SITE_DOMAIN:\n%s", part)
			}
		}
		body := "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n" + string(pngBytes(t, 8, 8)) + "\r\n--b--\r\n"
		raw := "PUT /api/me/avatar HTTP/1.1\r\nHost: evil.example\r\n" + strings.Join(forged, "\r\n") + "\r\nAuthorization: Bearer " + token +
			fmt.Sprintf("\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
		avatar, _ := app.Raw(raw).AssertStatus(http.StatusOK).Map()["avatar_url"].(string)
		if !strings.HasPrefix(avatar, "http://testserver/") {
			t.Fatalf("avatar_url %q, want it under SITE_SCHEME://SITE_DOMAIN", avatar)
		}
	})
	t.Run("mass assignment", func(t *testing.T) {
		t.Parallel()
		app := testkit.New(t, testkit.Settings{"AUTH_THROTTLE_RATE": "1000/min"})
		body := `{"email":"mass@example.com","password":"` + goodPassword + `","is_staff":true,"is_superuser":true,"is_active":false,` +
			`"id":"00000000-0000-0000-0000-000000000001","date_joined":"2000-01-01T00:00:00Z","password_hash":"x","avatar":"../../etc/passwd"}`
		res := app.RawJSON("POST", "/api/auth/register", body).AssertStatus(http.StatusCreated).Map()
		token, _ := res["auth_token"].(string)
		app.RawJSON("PATCH", "/api/me", `{"is_staff":true,"is_superuser":true,"is_active":false,"avatar":"x.png","password":"new-password-77"}`, "Authorization: Bearer "+token).AssertStatus(http.StatusOK)
		var u struct {
			ID                             string
			IsStaff, IsSuperuser, IsActive bool
			Avatar                         string
		}
		err := app.DB.NewRaw("SELECT id, is_staff, is_superuser, is_active, avatar FROM users WHERE email = ?", "mass@example.com").
			Scan(context.Background(), &u.ID, &u.IsStaff, &u.IsSuperuser, &u.IsActive, &u.Avatar)
		if err != nil || u.ID == "00000000-0000-0000-0000-000000000001" || u.IsStaff || u.IsSuperuser || !u.IsActive || u.Avatar != "" {
			t.Fatalf("read-only fields were assigned: %+v %v", u, err)
		}
		app.RawJSON("POST", "/api/auth/login", `{"email":"mass@example.com","password":"`+goodPassword+`"}`).AssertStatus(http.StatusOK)
	})
	t.Run("JSON edge cases are 4xx", func(t *testing.T) {
		t.Parallel()
		app := testkit.New(t, testkit.Settings{"AUTH_THROTTLE_RATE": "1000/min"})
		tests := []struct {
			name, body string
			status     int
		}{
			{"duplicate keys: the last wins, and is validated", `{"email":"a@example.com","email":"not-an-email","password":"` + goodPassword + `"}`, 400},
			{"deep nesting", `{"email":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`, 400},
			{"byte order mark", "\xef\xbb\xbf" + `{"email":"a@example.com"}`, 400},
			{"huge number for a string", `{"email":1e999999,"password":"x"}`, 400},
			{"lone surrogate", `{"email":"\ud800@example.com","password":"` + goodPassword + `"}`, 400},
			{"overlong UTF-8", "{\"email\":\"\xc0\xaf@example.com\"}", 400},
			{"escaped controls", `{"email":"a\u0001\u001f@example.com","password":"` + goodPassword + `"}`, 400},
			{"empty key", `{"":"x"}`, 400},
			{"a number", `42`, 400},
			{"JSON then more", `{"email":"a@example.com"}{"email":"b@example.com"}`, 400},
		}
		for _, tt := range tests {
			res := app.RawJSON("POST", "/api/auth/register", tt.body)
			if res.Status != tt.status {
				t.Errorf("%s: status %d, want %d: %s", tt.name, res.Status, tt.status, res.Body)
			}
		}
		var n int
		if err := app.DB.NewRaw("SELECT count(*) FROM users").Scan(context.Background(), &n); err != nil || n != 0 {
			t.Fatalf("users created by edge cases: %d %v", n, err)
		}
	})
	t.Run("token handling", func(t *testing.T) {
		t.Parallel()
		app := testkit.New(t, testkit.Settings{"AUTH_THROTTLE_RATE": "1000/min"})
		_, token := register(t, app, "tok@example.com")
		for _, h := range []string{"Authorization: bearer " + token, "Authorization: Bearer   " + token + "  "} {
			app.RawJSON("GET", "/api/me", "", h).AssertStatus(http.StatusOK)
		}
		for _, h := range []string{
			"Authorization: Bearer " + token[:len(token)-1],
			"Authorization: Bearer " + strings.ToUpper(token),
			"Authorization: Token " + token,
			"Authorization: Bearer " + token + " " + token,
			"Authorization: Bearer " + strings.Repeat("A", 8000),
			"Authorization: Bearer " + token + "%00",
		} {
			app.RawJSON("GET", "/api/me", "", h).AssertStatus(http.StatusUnauthorized)
		}
		// A token elsewhere than the header is not one.
		app.RawJSON("GET", "/api/me?token="+token+"&access_token="+token, "", "Cookie: token="+token).AssertError(http.StatusUnauthorized, api.TypeNotAuthenticated)
	})
}
