package goadmin_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"manouche/core/testkit/browser"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

// browserKinds edits one row holding every field type through the real edit form in headless
// Chromium: number inputs, the date and date-time inputs, the boolean and foreign key selects,
// text and textarea; the files, which the form only shows, keep their stored names. Then a
// cleared number is refused with the form's message and nothing is written.
func browserKinds(t *testing.T, s *site, userID string) {
	ctx := browser.New(t, 90*time.Second)
	id := s.addKind(t, kindsRows(userID)[0])
	other := s.addUser(t, "browser-author@example.com", "browser author 1", true, false, false, "Bob", "Author")
	before := s.rawRow(t, "kinds", id)

	run := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 25*time.Second)
		defer cancel()
		if err := chromedp.Do(sctx, steps...); err != nil {
			var loc, body string
			_ = chromedp.Do(ctx, browser.Into(&loc, chromedp.Location()), browser.Into(&body, chromedp.Text(chromedp.CSS("body"))))
			t.Fatalf("%s: %v (browser at %s)\n%s", what, err, loc, body)
		}
	}
	field := func(tag, name string) chromedp.CSS {
		return chromedp.CSS(`#pjax-container form ` + tag + `[name="` + name + `"]`)
	}
	run("log in",
		chromedp.Navigate(s.base+"/admin"),
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), "root@example.com"),
		chromedp.SendKeys(chromedp.ID("password"), "correct horse battery"),
		chromedp.Click(chromedp.CSS("#sign-up-form button")),
		chromedp.WaitVisible(chromedp.CSS(".stat-value")),
	)
	var widgets map[string]string
	run("edit every field",
		chromedp.Navigate(s.base+"/admin/info/kinds/edit?__goadmin_edit_pk="+id),
		chromedp.WaitVisible(field("input", "f_int")),
		browser.Into(&widgets, chromedp.Evaluate[map[string]string](`Object.fromEntries(
			["f_int","f_float","f_date","f_datetime"].map(n => [n, document.querySelector('#pjax-container form input[name="'+n+'"]').type]))`)),
		chromedp.SetValue(field("input", "f_string"), "Edited in a browser"),
		chromedp.SetValue(field("textarea", "f_text"), "first line\nsecond line"),
		chromedp.SetValue(field("input", "f_int"), "-12"),
		chromedp.SetValue(field("input", "f_float"), "3.75"),
		chromedp.SetValue(field("select", "f_bool"), s.boolParam(false)),
		chromedp.SetValue(field("input", "f_date"), "2031-05-06"),
		chromedp.SetValue(field("input", "f_datetime"), "2031-05-06T07:08:09"),
		chromedp.SetValue(field("input", "f_uuid"), "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
		chromedp.SetValue(field("select", "author_id"), other),
		chromedp.Click(chromedp.CSS(`#pjax-container form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.Search(`//td[contains(., "Edited in a browser")]`)),
	)
	for name, typ := range map[string]string{"f_int": "number", "f_float": "number", "f_date": "date", "f_datetime": "datetime-local"} {
		if widgets[name] != typ {
			t.Errorf("%s is edited with an input of type %q, want %q", name, widgets[name], typ)
		}
	}
	var k struct {
		bun.BaseModel `bun:"table:kinds"`
		ID            string    `bun:"id,pk"`
		String        string    `bun:"f_string"`
		Text          string    `bun:"f_text"`
		Int           int64     `bun:"f_int"`
		Float         float64   `bun:"f_float"`
		Bool          bool      `bun:"f_bool"`
		Date          time.Time `bun:"f_date"`
		DateTime      time.Time `bun:"f_datetime"`
		UUID          uuid.UUID `bun:"f_uuid"`
		Author        string    `bun:"author_id"`
	}
	if err := s.bunDB().NewSelect().Model(&k).Where("id = ?", id).Scan(context.Background()); err != nil {
		t.Fatalf("the model cannot read the row the browser saved: %v", err)
	}
	if k.String != "Edited in a browser" || k.Text != "first line\nsecond line" || k.Int != -12 || k.Float != 3.75 || k.Bool ||
		k.Date.Format("2006-01-02") != "2031-05-06" || !k.DateTime.Equal(time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)) ||
		k.UUID.String() != "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11" || !strings.EqualFold(k.Author, other) {
		t.Errorf("the row after the browser's edit: %+v", k)
	}
	after := s.rawRow(t, "kinds", id)
	for _, col := range []string{"f_image", "f_file", "created_at", "updated_at"} {
		if after[col] != before[col] {
			t.Errorf("%s: %s before, %s after the browser's edit", col, before[col], after[col])
		}
	}

	var alert string
	run("a cleared number is refused",
		chromedp.Navigate(s.base+"/admin/info/kinds/edit?__goadmin_edit_pk="+id),
		chromedp.WaitVisible(field("input", "f_float")),
		chromedp.SetValue(field("input", "f_float"), ""),
		chromedp.SetValue(field("input", "f_string"), "not saved"),
		chromedp.Click(chromedp.CSS(`#pjax-container form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(".alert-warning")),
		browser.Into(&alert, chromedp.Text(chromedp.CSS(".alert-warning"))),
	)
	if !strings.Contains(alert, "required") {
		t.Errorf("the refusal says %q", alert)
	}
	if again := s.rawRow(t, "kinds", id); again["f_string"] != after["f_string"] || again["f_float"] != after["f_float"] {
		t.Errorf("a refused save wrote: %v", again)
	}
}
