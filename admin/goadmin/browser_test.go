package goadmin_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"manouche/core/testkit/browser"

	"github.com/chromedp/chromedp"
)

// browserSmoke drives the admin with headless Chromium, the way a staff member would: log in,
// open Users, search, edit a name, save, see it, check the operation log, log out; then a
// non-staff login is refused. It keeps a screenshot of the users list outside the repository.
func browserSmoke(t *testing.T, s *site) {
	ctx := browser.New(t, 90*time.Second)
	// GoAdmin's login page reports a refusal with alert(): accept it and remember it.
	alerts := browser.Dialogs(ctx)

	id := s.addUser(t, "browser@example.com", "browser password", true, false, false, "Bea", "Browser")
	login := func(email, password string) chromedp.Action[chromedp.Void] {
		return chromedp.Steps(
			chromedp.Navigate(s.base+"/admin"),
			chromedp.WaitVisible(chromedp.ID("username")),
			chromedp.SendKeys(chromedp.ID("username"), email),
			chromedp.SendKeys(chromedp.ID("password"), password),
			chromedp.Click(chromedp.CSS("#sign-up-form button")),
		)
	}

	var listHTML, url string
	var shot []byte
	run := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		if err := chromedp.Do(sctx, steps...); err != nil {
			var loc string
			_ = chromedp.Do(ctx, browser.Into(&loc, chromedp.Location()))
			t.Fatalf("%s: %v (browser at %s)", what, err, loc)
		}
	}
	run("log in", login("root@example.com", "correct horse battery"), chromedp.WaitVisible(chromedp.CSS(".stat-value")))
	run("open Users from the menu",
		chromedp.Click(chromedp.CSS(`a[href="/admin/info/users"]`)),
		chromedp.WaitVisible(chromedp.Search(`//td[contains(., "browser@example.com")]`)),
		browser.Into(&shot, chromedp.FullScreenshot(100)),
	)
	dir := os.Getenv("TEST_ARTIFACTS_DIR")
	if dir == "" {
		dir = os.TempDir()
	}
	shotPath := filepath.Join(dir, "admin-users-list-"+string(s.dialect)+".png")
	if err := os.WriteFile(shotPath, shot, 0o644); err != nil {
		t.Errorf("keep the screenshot: %v", err)
	}
	t.Logf("users list screenshot: %s", shotPath)
	run("search",
		// The filter form is open on arrival (its toggle is the "Filter" button).
		chromedp.WaitVisible(chromedp.CSS(`input[name="q"]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name="q"]`), "BEA"),
	)
	// Submitting the filter form loads a new page: wait for it before reading the rows.
	sctx, scancel := context.WithTimeout(ctx, 20*time.Second)
	if _, err := chromedp.RunResponse(sctx, chromedp.Submit(chromedp.CSS(`input[name="q"]`))); err != nil {
		t.Fatalf("submit the search: %v", err)
	}
	scancel()
	run("read the search results",
		chromedp.WaitVisible(chromedp.Search(`//td[contains(., "browser@example.com")]`)),
		browser.Into(&listHTML, chromedp.OuterHTML(chromedp.ID("pjax-container"))),
	)
	if strings.Contains(listHTML, ">staff@example.com") {
		t.Error("the search for BEA still lists staff@example.com")
	}

	err := chromedp.Do(ctx,
		chromedp.Navigate(s.base+"/admin/info/users/edit?__goadmin_edit_pk="+id),
		chromedp.WaitVisible(chromedp.CSS(`input[name="first_name"]`)),
		chromedp.SetValue(chromedp.CSS(`input[name="first_name"]`), "Beatrice"),
		chromedp.Click(chromedp.CSS(`#pjax-container form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.Search(`//td[contains(., "Beatrice")]`)),
		browser.Into(&url, chromedp.Location()),
	)
	if err != nil {
		t.Fatalf("edit and save a name: %v", err)
	}
	if !strings.Contains(url, "/admin/info/users") {
		t.Errorf("after saving the browser is on %s", url)
	}
	var first string
	if err := s.db.QueryRow(s.rebind("SELECT first_name FROM users WHERE id = ?"), id).Scan(&first); err != nil || first != "Beatrice" {
		t.Errorf("first name in the database: %q, %v", first, err)
	}

	var opLog string
	err = chromedp.Do(ctx,
		chromedp.Navigate(s.base+"/admin/info/op"),
		chromedp.WaitVisible(chromedp.Search(`//td[contains(., "/admin/edit/users")]`)),
		browser.Into(&opLog, chromedp.Text(chromedp.ID("pjax-container"))),
		chromedp.Navigate(s.base+"/admin/logout"),
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.Navigate(s.base+"/admin/info/users"),
		chromedp.WaitVisible(chromedp.ID("username")),
	)
	if err != nil {
		t.Fatalf("operation log and logout: %v", err)
	}
	if !strings.Contains(strings.ToLower(opLog), "root@example.com") || !strings.Contains(opLog, "Beatrice") {
		t.Errorf("the operation log does not show the edit by root@example.com:\n%s", opLog)
	}

	// A user who is not staff gets the refusal and stays on the login page.
	err = chromedp.Do(ctx, login("browser@example.com", "browser password"))
	if err != nil {
		t.Fatalf("non-staff login: %v", err)
	}
	select {
	case <-alerts:
	case <-ctx.Done():
		t.Fatal("no refusal shown for a non-staff login")
	}
	err = chromedp.Do(ctx,
		chromedp.Navigate(s.base+"/admin/info/users"),
		chromedp.WaitVisible(chromedp.ID("username")),
		browser.Into(&url, chromedp.Location()),
	)
	if err != nil || !strings.Contains(url, "/admin/login") {
		t.Errorf("after a refused login the users page leads to %s (%v)", url, err)
	}
}
