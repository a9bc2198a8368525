package site_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	_ "manouche/admin/site"
	"manouche/core/testenv"
	"manouche/core/testkit"
	"manouche/core/testkit/browser"
)

// TestAdminSite drives the installed admin with the project's real users app,
// on the database this run uses (SQLite, or Postgres with TEST_DATABASE_URL):
// a superuser made with `createsuperuser --noinput` logs in, opens Users,
// searches, edits a name, saves, sees the change and the operation log entry,
// opens the email queue, and logs out; a user who is not staff is refused; the
// API sees the admin's edit at once.
//
// GoAdmin can be set up once per process, so this is one test.
func TestAdminSite(t *testing.T) {
	testenv.Lookup(t, testenv.Chromium) // skip before building a project when there is no browser
	app := testkit.New(t, testkit.Settings{"AUTH_THROTTLE_RATE": "1000/min"})
	t.Setenv("SUPERUSER_EMAIL", "Boss@Example.com")
	t.Setenv("SUPERUSER_PASSWORD", "correct-horse-battery-9")
	if out, errOut, code := app.Command("", "createsuperuser", "--noinput"); code != 0 {
		t.Fatalf("createsuperuser: %d %s %s", code, out, errOut)
	}
	plain := app.Client.Post("/api/auth/register", map[string]any{"email": "plain@example.com", "password": "plain-user-pass-7", "first_name": "Pat", "last_name": "Plain"})
	plain.AssertStatus(http.StatusCreated)
	plainToken := plain.Map()["auth_token"].(string)
	// Something in the email queue for its page.
	app.Client.Post("/api/auth/password_reset", map[string]any{"email": "plain@example.com"}).AssertStatus(200)
	base := app.Serve()

	t.Run("plain users get nothing under /admin", func(t *testing.T) {
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		for _, path := range []string{"/admin", "/admin/info/users", "/admin/info/email_queue", "/admin/info/op", "/admin/info/users/edit?__goadmin_edit_pk=x"} {
			res, err := c.Get(base + path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			_ = res.Body.Close()
			if res.StatusCode == http.StatusOK || strings.Contains(string(body), "plain@example.com") {
				t.Fatalf("%s without a session: %d", path, res.StatusCode)
			}
		}
		// The login refuses a non-staff account.
		form := url.Values{"username": {"plain@example.com"}, "password": {"plain-user-pass-7"}}
		req, _ := http.NewRequest(http.MethodPost, base+"/admin/signin", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", base)
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = res.Body.Close()
		res, err = c.Get(base + "/admin/info/users")
		if err != nil {
			t.Fatal(err)
		}
		_ = res.Body.Close()
		if res.StatusCode == http.StatusOK {
			t.Fatal("a plain user reached the users page")
		}
	})

	ctx := browser.New(t, 120*time.Second)
	alerts := browser.Dialogs(ctx)
	run := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := chromedp.Do(sctx, steps...); err != nil {
			var loc string
			_ = chromedp.Do(ctx, browser.Into(&loc, chromedp.Location()))
			t.Fatalf("%s: %v (browser at %s)", what, err, loc)
		}
	}
	login := func(email, password string) chromedp.Action[chromedp.Void] {
		return chromedp.Steps(
			chromedp.Navigate(base+"/admin"),
			chromedp.WaitVisible(chromedp.ID("username")),
			chromedp.SendKeys(chromedp.ID("username"), email),
			chromedp.SendKeys(chromedp.ID("password"), password),
			chromedp.Click(chromedp.CSS("#sign-up-form button")),
		)
	}

	run("non-staff login", login("plain@example.com", "plain-user-pass-7"))
	select {
	case <-alerts:
	case <-time.After(20 * time.Second):
		t.Fatal("no refusal shown for a non-staff login")
	}

	var shot []byte
	var listHTML, loc, opLog, queueHTML string
	run("log in as the superuser", login("boss@example.com", "correct-horse-battery-9"), chromedp.WaitVisible(chromedp.CSS(".stat-value")))
	run("open Users",
		chromedp.Click(chromedp.CSS(`a[href="/admin/info/users"]`)),
		chromedp.WaitVisible(chromedp.Search(`//td[contains(., "plain@example.com")]`)),
		browser.Into(&shot, chromedp.FullScreenshot(100)),
	)
	// The list's last header ("Operation") lies after "Date joined", not over it.
	var overlap string
	run("read the headers", browser.Into(&overlap, chromedp.Evaluate[string](`(() => {
		const ths = [...document.querySelectorAll("#pjax-container table.table tr:first-child th")];
		const dj = ths.find(th => th.textContent.includes("Date joined"));
		const op = ths[ths.length - 1];
		if (!dj || !op || dj === op) { return "headers not found: " + ths.map(th => th.textContent.trim()).join("|"); }
		const a = dj.getBoundingClientRect(), b = op.getBoundingClientRect();
		return (a.right > b.left + 1 && a.left < b.right - 1) ? "overlap: " + JSON.stringify([a.left, a.right, b.left, b.right]) : "";
	})()`)))
	if overlap != "" {
		t.Errorf("the users list's Operation header covers Date joined: %s", overlap)
	}
	dir := os.Getenv("TEST_ARTIFACTS_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	dialectName := app.DB.Dialect().Name().String()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	shotPath := filepath.Join(dir, "admin-site-users-"+dialectName+".png")
	if err := os.WriteFile(shotPath, shot, 0o644); err != nil {
		t.Errorf("keep the screenshot: %v", err)
	}
	t.Logf("users list screenshot: %s", shotPath)

	run("search", chromedp.WaitVisible(chromedp.CSS(`input[name="q"]`)), chromedp.SendKeys(chromedp.CSS(`input[name="q"]`), "PAT"))
	sctx, scancel := context.WithTimeout(ctx, 30*time.Second)
	if _, err := chromedp.RunResponse(sctx, chromedp.Submit(chromedp.CSS(`input[name="q"]`))); err != nil {
		t.Fatalf("submit the search: %v", err)
	}
	scancel()
	run("read the results",
		chromedp.WaitVisible(chromedp.Search(`//td[contains(., "plain@example.com")]`)),
		browser.Into(&listHTML, chromedp.OuterHTML(chromedp.ID("pjax-container"))),
	)
	if strings.Contains(listHTML, ">Boss@Example.com") {
		t.Error("the search for PAT still lists the superuser")
	}

	var id string
	if err := app.DB.NewRaw("SELECT id FROM users WHERE email = 'plain@example.com'").Scan(context.Background(), &id); err != nil {
		t.Fatal(err)
	}
	// Opening the user in the admin and saving it unchanged leaves every column as it was,
	// byte for byte: timestamps with microseconds, the avatar's name, the flags, the hash.
	if _, err := app.DB.NewRaw("UPDATE users SET avatar = 'avatars/pat & co.png', last_login = ?, first_name = ? WHERE id = ?",
		time.Date(2026, 11, 30, 8, 9, 10, 654321000, time.UTC), `Pat "<b>" & co`, id).Exec(context.Background()); err != nil {
		t.Fatal(err)
	}
	before := rawUser(t, app, id)
	run("save a user unchanged",
		chromedp.Navigate(base+"/admin/info/users/edit?__goadmin_edit_pk="+id),
		chromedp.WaitVisible(chromedp.CSS(`input[name="first_name"]`)),
		chromedp.Click(chromedp.CSS(`#pjax-container form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.Search(`//td[contains(., "plain@example.com")]`)),
	)
	for col, v := range rawUser(t, app, id) {
		if before[col] != v {
			t.Errorf("users.%s: %s before, %s after an unchanged save", col, before[col], v)
		}
	}

	run("edit a name and save",
		chromedp.Navigate(base+"/admin/info/users/edit?__goadmin_edit_pk="+id),
		chromedp.WaitVisible(chromedp.CSS(`input[name="first_name"]`)),
		chromedp.SetValue(chromedp.CSS(`input[name="first_name"]`), "Patricia"),
		chromedp.Click(chromedp.CSS(`#pjax-container form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.Search(`//td[contains(., "Patricia")]`)),
		browser.Into(&loc, chromedp.Location()),
	)
	var first string
	if err := app.DB.NewRaw("SELECT first_name FROM users WHERE id = ?", id).Scan(context.Background(), &first); err != nil || first != "Patricia" {
		t.Fatalf("first name in the database: %q, %v", first, err)
	}
	var active, staff bool
	if err := app.DB.NewRaw("SELECT is_active, is_staff FROM users WHERE id = ?", id).Scan(context.Background(), &active, &staff); err != nil || !active || staff {
		t.Fatalf("the edit changed the flags: active %v staff %v (%v)", active, staff, err)
	}
	// The API sees the change at once (the admin dropped the cached copy).
	if got := app.Client.WithToken(plainToken).Get("/api/me").AssertStatus(200).Map()["first_name"]; got != "Patricia" {
		t.Fatalf("/api/me after the admin edit: first_name %v", got)
	}

	run("operation log",
		chromedp.Navigate(base+"/admin/info/op"),
		chromedp.WaitVisible(chromedp.Search(`//td[contains(., "/admin/edit/users")]`)),
		browser.Into(&opLog, chromedp.Text(chromedp.ID("pjax-container"))),
	)
	if !strings.Contains(strings.ToLower(opLog), "boss@example.com") || !strings.Contains(opLog, "Patricia") {
		t.Errorf("the operation log does not show the edit by boss@example.com:\n%s", opLog)
	}

	run("email queue",
		chromedp.Navigate(base+"/admin/info/email_queue"),
		chromedp.WaitVisible(chromedp.Search(`//td[contains(., "Password reset")]`)),
		browser.Into(&queueHTML, chromedp.Text(chromedp.ID("pjax-container"))),
	)
	if !strings.Contains(queueHTML, "plain@example.com") {
		t.Errorf("the email queue page does not show the reset email's recipient:\n%s", queueHTML)
	}

	run("log out",
		chromedp.Navigate(base+"/admin/logout"),
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.Navigate(base+"/admin/info/users"),
		chromedp.WaitVisible(chromedp.ID("username")),
	)

}

// rawUser returns every column of a user as the database stores it, byte for byte.
func rawUser(t *testing.T, app *testkit.App, id string) map[string]string {
	t.Helper()
	rows, err := app.DB.QueryContext(context.Background(), "SELECT * FROM users WHERE id = ?", id)
	if err != nil {
		t.Fatal(err)
	}
	cols, _ := rows.Columns()
	_ = rows.Close()
	exprs := make([]string, len(cols))
	for i, c := range cols {
		exprs[i] = "quote(" + c + ")"
		if app.DB.Dialect().Name().String() == "pg" {
			exprs[i] = "coalesce(" + c + "::text, 'NULL')"
		}
	}
	vals := make([]string, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := app.DB.QueryRowContext(context.Background(), "SELECT "+strings.Join(exprs, ", ")+" FROM users WHERE id = ?", id).Scan(ptrs...); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for i, c := range cols {
		out[c] = vals[i]
	}
	if len(out) < 10 {
		t.Fatalf("users has only %d columns", len(out))
	}
	return out
}
