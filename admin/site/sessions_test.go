package site_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"manouche/apps/users"
	"manouche/core/testkit"
)

// sessionsChild marks the process that runs TestPasswordChangesEndAdminSessions: GoAdmin is
// set up once per process, and TestAdminSite's project already holds it in the parent.
const sessionsChild = "MANOUCHE_ADMIN_SITE_SESSIONS_CHILD"

// TestPasswordChangesEndAdminSessions: a password change through the API, a password reset
// and the changepassword command each end every admin session of the account (issue 10,
// item 4), like deactivation and loss of staff status do.
func TestPasswordChangesEndAdminSessions(t *testing.T) {
	if os.Getenv(sessionsChild) == "" {
		args := []string{"-test.run=^TestPasswordChangesEndAdminSessions$", "-test.v"}
		cmd := exec.Command(os.Args[0], args...)
		cmd.Env = append(os.Environ(), sessionsChild+"=1")
		out, err := cmd.CombinedOutput()
		t.Logf("child process output:\n%s", out)
		if err != nil || !strings.Contains(string(out), "--- PASS: TestPasswordChangesEndAdminSessions") {
			t.Fatalf("the child process failed or skipped: %v", err)
		}
		return
	}
	app := testkit.New(t, testkit.Settings{"AUTH_THROTTLE_RATE": "1000/min"})
	const email = "boss@example.com"
	password := "correct-horse-battery-9"
	t.Setenv("SUPERUSER_EMAIL", email)
	t.Setenv("SUPERUSER_PASSWORD", password)
	if out, errOut, code := app.Command("", "createsuperuser", "--noinput"); code != 0 {
		t.Fatalf("createsuperuser: %d %s %s", code, out, errOut)
	}
	base := app.Serve()
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	// adminLogin signs in to the admin and returns the session id.
	adminLogin := func(t *testing.T, password string) string {
		t.Helper()
		form := url.Values{"username": {email}, "password": {password}}
		req, _ := http.NewRequest(http.MethodPost, base+"/admin/signin", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", base)
		req.Header.Set("Referer", base+"/admin/login")
		res, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		_ = res.Body.Close()
		for _, ck := range res.Cookies() {
			if strings.HasSuffix(ck.Name, "go_admin_session") && ck.Value != "" {
				return ck.Name + "=" + ck.Value
			}
		}
		t.Fatalf("admin login: %d, no session cookie", res.StatusCode)
		return ""
	}
	usersPage := func(t *testing.T, cookie string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, base+"/admin/info/users", nil)
		req.Header.Set("Cookie", cookie)
		res, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = res.Body.Close()
		return res.StatusCode
	}
	accounts := users.AccountsOf(app.Project)

	cases := []struct {
		name   string
		change func(t *testing.T, newPassword string)
	}{
		{"password_change", func(t *testing.T, newPassword string) {
			token := app.Client.Post("/api/auth/login", map[string]any{"email": email, "password": password}).AssertStatus(200).Map()["auth_token"].(string)
			app.Client.WithToken(token).Post("/api/auth/password_change", map[string]any{"current_password": password, "new_password": newPassword}).
				AssertStatus(http.StatusNoContent)
		}},
		{"password_reset_confirm", func(t *testing.T, newPassword string) {
			u, err := accounts.ByEmail(context.Background(), email)
			if err != nil || u == nil {
				t.Fatal(u, err)
			}
			app.Client.Post("/api/auth/password_reset_confirm", map[string]any{"token": accounts.ResetToken(u, time.Now()), "new_password": newPassword}).
				AssertStatus(http.StatusNoContent)
		}},
		{"changepassword", func(t *testing.T, newPassword string) {
			if out, errOut, code := app.Command(newPassword+"\n"+newPassword+"\n", "changepassword", email); code != 0 {
				t.Fatalf("changepassword: %d %s %s", code, out, errOut)
			}
		}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sessions := []string{adminLogin(t, password), adminLogin(t, password)}
			for _, ck := range sessions {
				if code := usersPage(t, ck); code != http.StatusOK {
					t.Fatalf("before the change: %d", code)
				}
			}
			newPassword := fmt.Sprintf("quartz-lantern-meadow-%d", i)
			tc.change(t, newPassword)
			password = newPassword
			for _, ck := range sessions {
				if code := usersPage(t, ck); code != http.StatusFound {
					t.Errorf("after the change: %d, want a redirect to the login page", code)
				}
			}
			if code := usersPage(t, adminLogin(t, password)); code != http.StatusOK {
				t.Errorf("a login with the new password: %d", code)
			}
		})
	}
}
