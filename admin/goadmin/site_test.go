package goadmin_test

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"manouche/admin/goadmin"

	"github.com/gofiber/fiber/v2"

	"github.com/alexedwards/argon2id"
	"github.com/google/uuid"
)

// TestAdminSite is the admin's end-to-end suite on one database; TestAdmin runs it in a child
// process per dialect.
func TestAdminSite(t *testing.T) {
	d := goadmin.Dialect(os.Getenv(childEnv))
	if d == "" {
		t.Skip("run through TestAdmin")
	}
	s := newSite(t, d)
	superID := s.addUser(t, "Root@Example.com", "correct horse battery", true, true, true, "Root", "User")
	staffID := s.addUser(t, "staff@example.com", "staff password 1", true, true, false, "Sam", "Staff")
	s.addUser(t, "plain@example.com", "plain password 1", true, false, false, "Pat", "Plain")
	s.addUser(t, "gone@example.com", "gone password 1", false, true, true, "Gil", "Gone")
	xssID := s.addUser(t, "xss@example.com", "xss password 1", true, false, false, `<script>alert("x")</script>`, `"><img src=x onerror=alert(1)>`)
	s.exec(t, "INSERT INTO notes (title, body) VALUES (?, ?)", "first note", "hello")

	t.Run("a second mount is refused", func(t *testing.T) {
		_, err := goadmin.Mount(fiber.New(), goadmin.Config{DB: s.db, Dialect: d, DSN: "x", SecretKey: "0123456789abcdef",
			Authenticate: s.authenticate, LoadUser: s.loadUser})
		if err == nil || !strings.Contains(err.Error(), "already mounted") {
			t.Fatalf("second Mount: %v", err)
		}
	})

	t.Run("anonymous is sent to the login page", func(t *testing.T) {
		c := newClient(t, s.base)
		for _, p := range []string{"/admin", "/admin/", "/admin/info/users", "/admin/info/notes/edit?__goadmin_edit_pk=1", "/admin/info/op"} {
			code, h, _ := c.get(p)
			if code != http.StatusFound || !strings.HasPrefix(h.Get("Location"), "/admin/login") {
				t.Errorf("GET %s: %d %q, want a redirect to the login page", p, code, h.Get("Location"))
			}
		}
		code, _, body := c.get("/admin/login")
		if code != http.StatusOK || !strings.Contains(body, "Manouche test") || !strings.Contains(body, `placeholder="Email"`) {
			t.Errorf("login page: %d, asks for the email: %v", code, strings.Contains(body, `placeholder="Email"`))
		}
		code, _, _ = c.do(http.MethodPost, "/admin/delete/notes", url.Values{"id": {"1"}}, nil)
		if code != http.StatusUnauthorized && code != http.StatusForbidden {
			t.Errorf("anonymous delete: %d", code)
		}
	})

	t.Run("refused logins", func(t *testing.T) {
		cases := []struct{ name, email, password string }{
			{"plain user", "plain@example.com", "plain password 1"},
			{"inactive staff", "gone@example.com", "gone password 1"},
			{"wrong password", "root@example.com", "wrong"},
			{"unknown email", "nobody@example.com", "whatever pass"},
			{"no GoAdmin default account", "admin", "admin"},
			{"empty", "", ""},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				c := newClient(t, s.base)
				code, _ := c.login(tc.email, tc.password)
				if code != http.StatusBadRequest {
					t.Fatalf("login: %d, want 400", code)
				}
				if code, _, _ := c.get("/admin/info/users"); code != http.StatusFound {
					t.Fatalf("after a refused login, the users page answers %d", code)
				}
			})
		}
	})

	t.Run("login goes through the login limiter", func(t *testing.T) {
		c := newClient(t, s.base)
		code, _, _ := c.do(http.MethodPost, "/admin/signin", url.Values{"username": {"root@example.com"}, "password": {"correct horse battery"}},
			map[string]string{"Referer": s.base + "/admin/login", "X-Test-Throttle": "1"})
		if code != http.StatusTooManyRequests || c.cookie("go_admin_session") != "" {
			t.Fatalf("throttled login: %d, session cookie %q", code, c.cookie("go_admin_session"))
		}
	})

	t.Run("session cookie is HttpOnly and SameSite", func(t *testing.T) {
		c := newClient(t, s.base)
		code, h, _ := c.do(http.MethodPost, "/admin/signin", url.Values{"username": {"root@example.com"}, "password": {"correct horse battery"}},
			map[string]string{"Referer": s.base + "/admin/login"})
		ck := ""
		for _, v := range h.Values("Set-Cookie") {
			if strings.HasPrefix(v, "go_admin_session=") {
				ck = strings.ToLower(v)
			}
		}
		if code != http.StatusOK || !strings.Contains(ck, "httponly") || !strings.Contains(ck, "samesite=lax") {
			t.Fatalf("sign-in: %d, cookie %q", code, ck)
		}
	})

	t.Run("superuser sees, searches and edits users", func(t *testing.T) {
		c := newClient(t, s.base)
		code, body := c.login("ROOT@example.com", "correct horse battery")
		if code != http.StatusOK {
			t.Fatalf("login: %d %s", code, body)
		}
		code, _, page := c.get("/admin")
		if code != http.StatusOK || !strings.Contains(page, "stat-value") || !strings.Contains(page, "Emails &lt;pending&gt;") {
			t.Fatalf("dashboard: %d\n%s", code, page)
		}
		code, _, page = c.get("/admin/info/users")
		if code != http.StatusOK {
			t.Fatalf("users list: %d\n%s", code, page)
		}
		for _, want := range []string{"root@example.com", "staff@example.com", "plain@example.com"} {
			if !strings.Contains(strings.ToLower(page), want) {
				t.Errorf("users list lacks %s", want)
			}
		}
		code, _, page = c.get("/admin/info/users?q=SAM")
		if code != http.StatusOK || !strings.Contains(page, "staff@example.com") || strings.Contains(page, "plain@example.com") {
			t.Errorf("search for SAM: %d, has staff: %v, has plain: %v", code, strings.Contains(page, "staff@example.com"), strings.Contains(page, "plain@example.com"))
		}
		code, _, page = c.get("/admin/info/users?is_staff=" + url.QueryEscape(s.boolParam(false)))
		if code != http.StatusOK || !strings.Contains(page, "plain@example.com") || strings.Contains(page, "staff@example.com") {
			t.Errorf("filter is_staff=no: %d", code)
		}
		code, _, page = c.get("/admin/info/users/edit?__goadmin_edit_pk=" + staffID)
		if code != http.StatusOK || !strings.Contains(page, "Sam") {
			t.Fatalf("edit form: %d\n%s", code, page)
		}
		if strings.Contains(page, "$argon2id$") {
			t.Error("the edit form shows the password hash")
		}
		form := url.Values{
			"id": {staffID}, "email": {"staff@example.com"}, "first_name": {"Samantha"}, "last_name": {"Staff"},
			"password": {"new staff password"}, "is_active": {s.boolParam(true)}, "is_staff": {s.boolParam(true)},
			"is_superuser": {s.boolParam(false)}, "__go_admin_previous_": {"/admin/info/users"},
			"__go_admin_t_": {tokenIn(page)},
		}
		code, _, page = c.post("/admin/edit/users", form)
		if code != http.StatusOK && code != http.StatusFound {
			t.Fatalf("save: %d\n%s", code, page)
		}
		var first, hash string
		if err := s.db.QueryRow(s.rebind("SELECT first_name, password FROM users WHERE id = ?"), staffID).Scan(&first, &hash); err != nil {
			t.Fatal(err)
		}
		if first != "Samantha" {
			t.Fatalf("first name after save: %q\n%s", first, page)
		}
		if ok, err := argon2id.ComparePasswordAndHash("new staff password", hash); err != nil || !ok {
			t.Errorf("the new password does not verify against the stored hash %q: %v", hash, err)
		}
		_, _, page = c.get("/admin/info/users")
		if !strings.Contains(page, "Samantha") {
			t.Error("the list does not show the new name")
		}
		// The operation log names who saved, and holds no password.
		var who, input string
		if err := s.db.QueryRow(`SELECT u.name, o.input FROM goadmin_operation_log o JOIN goadmin_users u ON u.id = o.user_id
			WHERE o.path = '/admin/edit/users' ORDER BY o.id DESC LIMIT 1`).Scan(&who, &input); err != nil {
			t.Fatalf("operation log: %v", err)
		}
		if !strings.EqualFold(who, "root@example.com") || !strings.Contains(input, "Samantha") || strings.Contains(input, "new staff password") {
			t.Errorf("operation log: by %q, input %s", who, input)
		}
		code, _, page = c.get("/admin/info/op")
		if code != http.StatusOK || !strings.Contains(strings.ToLower(page), "root@example.com") {
			t.Errorf("operation log page: %d", code)
		}
		_ = superID
	})

	t.Run("GoAdmin pages we do not serve are not found", func(t *testing.T) {
		c := newClient(t, s.base)
		c.login("root@example.com", "correct horse battery")
		for _, p := range []string{
			"/admin/install", "/admin/info/manager", "/admin/info/roles", "/admin/info/permission",
			"/admin/menu", "/admin/info/site", "/admin/info/site/edit", "/admin/plugins", "/admin/application/info",
			"/admin/api/list/users", "/admin/info/normal_manager", "/admin/operation/x", "/admin/info/nope",
			"/admin/info/notes/export", "/admin/info/op/edit",
		} {
			if code, _, _ := c.get(p); code != http.StatusNotFound {
				t.Errorf("GET %s: %d, want 404", p, code)
			}
		}
		for _, p := range []string{"/admin/install/database/check", "/admin/menu/new", "/admin/update/notes", "/admin/export/notes",
			"/admin/delete/users", "/admin/server/login", "/admin/delete/op"} {
			if code, _, _ := c.post(p, url.Values{"id": {"1"}}); code != http.StatusNotFound {
				t.Errorf("POST %s: %d, want 404", p, code)
			}
		}
	})

	t.Run("sort, column and join parameters are checked", func(t *testing.T) {
		c := newClient(t, s.base)
		c.login("root@example.com", "correct horse battery")
		attacks := []string{
			"__sort=email&__sort_type=" + url.QueryEscape("desc, (SELECT 1/0)"),
			"__sort_type=" + url.QueryEscape("asc;DROP TABLE users"),
			"__sort=" + url.QueryEscape("id;DROP TABLE users"),
			"__sort=password",
			"__columns=" + url.QueryEscape("email,(select password from users)"),
			"users_goadmin_join_password=x",
			url.QueryEscape("goadmin_users_goadmin_join_password") + "=x",
			"__pageSize=100000",
			"__page=-1",
		}
		for _, q := range attacks {
			code, _, _ := c.get("/admin/info/users?" + q)
			if code != http.StatusBadRequest {
				t.Errorf("GET /admin/info/users?%s: %d, want 400", q, code)
			}
		}
		for _, q := range []string{"__sort=email&__sort_type=asc", "__sort=date_joined&__sort_type=desc&__page=1&__pageSize=10", "__columns=email,first_name"} {
			if code, _, _ := c.get("/admin/info/users?" + q); code != http.StatusOK {
				t.Errorf("GET /admin/info/users?%s: %d, want 200", q, code)
			}
		}
		for _, p := range []string{"/admin/info/users/edit?__goadmin_edit_pk=x", "/admin/info/users/detail?__goadmin_detail_pk=" + url.QueryEscape("1 OR 1=1"),
			"/admin/info/notes/edit?__goadmin_edit_pk=1x", "/admin/info/op/detail?__goadmin_detail_pk=abc"} {
			if code, _, _ := c.get(p); code != http.StatusBadRequest {
				t.Errorf("GET %s: %d, want 400 for a malformed primary key", p, code)
			}
		}
		for p, form := range map[string]url.Values{
			"/admin/delete/notes":          {"id": {"x"}},
			"/admin/operation/notes-shout": {"id": {"1;x"}},
			"/admin/edit/notes":            {"id": {"abc"}, "title": {"x"}},
		} {
			if code, _, _ := c.post(p, form); code != http.StatusBadRequest {
				t.Errorf("POST %s %v: %d, want 400 for a malformed primary key", p, form, code)
			}
		}
		code, _, _ := c.post("/admin/edit/notes", url.Values{"id": {"1"}, "title_goadmin_join_x": {"1"}})
		if code != http.StatusBadRequest {
			t.Errorf("POST with a join field: %d, want 400", code)
		}
		var n int
		if err := s.db.QueryRow("SELECT count(*) FROM users").Scan(&n); err != nil || n == 0 {
			t.Fatalf("users table after the attacks: %d rows, %v", n, err)
		}
	})

	t.Run("login ref cannot leave the admin", func(t *testing.T) {
		c := newClient(t, s.base)
		for _, ref := range []string{"javascript:alert(1)", "//evil.example/admin", "https://evil.example/admin/", "/admin/\\evil", "JaVaScRiPt:alert(document.cookie)", "/admin/\"><script>"} {
			code, h, _ := c.get("/admin/login?ref=" + url.QueryEscape(ref))
			if code != http.StatusFound || h.Get("Location") != "/admin/login" {
				t.Errorf("login page with ref %q: %d %q, want a redirect to the bare login page", ref, code, h.Get("Location"))
			}
			code, _, body := c.do(http.MethodPost, "/admin/signin", url.Values{"username": {"root@example.com"}, "password": {"correct horse battery"}},
				map[string]string{"Referer": s.base + "/admin/login?ref=" + url.QueryEscape(ref)})
			if code != http.StatusOK {
				t.Fatalf("sign-in: %d %s", code, body)
			}
			if got := signinURL(t, body); got != "/admin" && got != "/" {
				t.Errorf("sign-in with ref %q sends the browser to %q", ref, got)
			}
		}
		code, _, body := c.do(http.MethodPost, "/admin/signin", url.Values{"username": {"root@example.com"}, "password": {"correct horse battery"}},
			map[string]string{"Referer": s.base + "/admin/login?ref=" + url.QueryEscape(s.base+"/admin/info/notes?__page=1")})
		if got := signinURL(t, body); code != http.StatusOK || got != "/admin/info/notes?__page=1" {
			t.Errorf("sign-in with a good ref: %d, sends to %q", code, got)
		}
	})

	t.Run("CSRF", func(t *testing.T) {
		c := newClient(t, s.base)
		c.login("root@example.com", "correct horse battery")
		c.get("/admin/info/notes")
		if c.cookie("manouche_admin_csrf") == "" {
			t.Fatal("no CSRF cookie after a page view")
		}
		_, _, page := c.get("/admin/info/notes/new")
		form := url.Values{"title": {"csrf note"}, "body": {"x"}, "__go_admin_t_": {tokenIn(page)}, "__go_admin_previous_": {"/admin/info/notes"}}
		cases := []struct {
			name string
			hdr  map[string]string
		}{
			{"no token", map[string]string{"Referer": s.base + "/admin/"}},
			{"wrong token", map[string]string{"X-CSRF-Token": "forged", "Referer": s.base + "/admin/"}},
			{"other origin", map[string]string{"X-CSRF-Token": c.cookie("manouche_admin_csrf"), "Origin": "https://evil.example"}},
			{"no origin nor referer", map[string]string{"X-CSRF-Token": c.cookie("manouche_admin_csrf"), "Origin": "", "Referer": ""}},
		}
		for _, tc := range cases {
			for _, p := range []string{"/admin/new/notes", "/admin/delete/notes", "/admin/edit/notes"} {
				if code, _, _ := c.do(http.MethodPost, p, form, tc.hdr); code != http.StatusForbidden {
					t.Errorf("%s: POST %s answered %d, want 403", tc.name, p, code)
				}
			}
		}
		if code, _, _ := c.do(http.MethodPost, "/admin/signin", url.Values{"username": {"root@example.com"}, "password": {"correct horse battery"}},
			map[string]string{"Origin": "https://evil.example"}); code != http.StatusForbidden {
			t.Errorf("cross-site sign-in: %d, want 403", code)
		}
		// A token in the form field works as well as the header.
		form.Set("csrf_token", c.cookie("manouche_admin_csrf"))
		if code, _, body := c.do(http.MethodPost, "/admin/new/notes", form, map[string]string{"Referer": s.base + "/admin/info/notes/new"}); code != http.StatusOK && code != http.StatusFound {
			t.Fatalf("create with the token: %d %s", code, body)
		}
		// What staff type ends up in the operation log, which GoAdmin renders: escaped there too.
		_, _, page = c.get("/admin/info/notes/new")
		xss := url.Values{"title": {`<script>alert("op")</script>`}, "body": {"x"}, "__go_admin_t_": {tokenIn(page)}, "__go_admin_previous_": {"/admin/info/notes"}}
		if code, _, _ := c.post("/admin/new/notes", xss); code != http.StatusOK && code != http.StatusFound {
			t.Fatalf("create a note with a script title: %d", code)
		}
		if code, _, op := c.get("/admin/info/op"); code != http.StatusOK || strings.Contains(op, `<script>alert("op")`) || !strings.Contains(op, "/admin/new/notes") {
			t.Errorf("operation log page: %d, unescaped script: %v", code, strings.Contains(op, `<script>alert("op")`))
		}
		var n int
		if err := s.db.QueryRow("SELECT count(*) FROM notes WHERE title = 'csrf note'").Scan(&n); err != nil || n != 1 {
			t.Errorf("notes created: %d, %v (want exactly the one with a token)", n, err)
		}
	})

	t.Run("row actions", func(t *testing.T) {
		c := newClient(t, s.base)
		c.login("staff@example.com", "new staff password")
		code, _, page := c.get("/admin/info/notes")
		if code != http.StatusOK || !strings.Contains(page, "Shout") {
			t.Fatalf("notes list: %d, has the Shout button: %v", code, strings.Contains(page, "Shout"))
		}
		var id int
		if err := s.db.QueryRow("SELECT id FROM notes WHERE title = 'first note'").Scan(&id); err != nil {
			t.Fatal(err)
		}
		code, _, body := c.post("/admin/operation/notes-shout", url.Values{"id": {fmt.Sprint(id)}})
		if code != http.StatusOK || !strings.Contains(body, "Shout done") {
			t.Fatalf("shout: %d %s", code, body)
		}
		var title string
		if err := s.db.QueryRow(s.rebind("SELECT title FROM notes WHERE id = ?"), id).Scan(&title); err != nil || title != "FIRST NOTE" {
			t.Errorf("title after the action: %q, %v", title, err)
		}
		if code, _, _ := c.do(http.MethodPost, "/admin/operation/notes-shout", url.Values{"id": {fmt.Sprint(id)}}, map[string]string{"Referer": s.base + "/admin/"}); code != http.StatusForbidden {
			t.Errorf("action without CSRF token: %d, want 403", code)
		}
		if code, _, _ := c.post("/admin/operation/notes-nope", url.Values{"id": {"1"}}); code != http.StatusNotFound {
			t.Errorf("unknown action: %d, want 404", code)
		}
		s.exec(t, "UPDATE notes SET title = 'first note' WHERE id = ?", id)
	})

	t.Run("staff who are not superusers", func(t *testing.T) {
		c := newClient(t, s.base)
		if code, body := c.login("staff@example.com", "new staff password"); code != http.StatusOK {
			t.Fatalf("staff login: %d %s", code, body)
		}
		if code, _, page := c.get("/admin/info/notes"); code != http.StatusOK || !strings.Contains(page, "first note") {
			t.Errorf("notes list for staff: %d", code)
		}
		for _, p := range []string{"/admin/info/users", "/admin/info/users/edit?__goadmin_edit_pk=" + superID, "/admin/info/op"} {
			if code, _, _ := c.get(p); code != http.StatusForbidden {
				t.Errorf("staff GET %s: %d, want 403", p, code)
			}
		}
		// GoAdmin reads the table name from the first "__prefix" of the query, and its Fiber
		// adapter appends the route's value after the client's: a notes URL must not show users.
		for _, p := range []string{"/admin/info/notes?__prefix=users", "/admin/info/notes/edit?__prefix=users&__goadmin_edit_pk=" + superID,
			"/admin/info/notes/detail?__prefix=users&__goadmin_detail_pk=" + superID} {
			code, _, page := c.get(p)
			if code != http.StatusBadRequest || strings.Contains(page, "root@example.com") || strings.Contains(page, "Root@Example.com") {
				t.Errorf("staff GET %s: %d, shows a user: %v", p, code, strings.Contains(strings.ToLower(page), "root@example.com"))
			}
		}
		if code, _, _ := c.post("/admin/edit/notes?__prefix=users", url.Values{"id": {superID}, "is_superuser": {s.boolParam(false)}}); code != http.StatusBadRequest {
			t.Errorf("staff POST to notes aimed at users: %d, want 400", code)
		}
		if code, _, _ := c.post("/admin/edit/users", url.Values{"id": {staffID}, "is_superuser": {s.boolParam(true)}}); code != http.StatusForbidden {
			t.Errorf("staff making themselves superuser: %d, want 403", code)
		}
		_, _, page := c.get("/admin")
		if strings.Contains(page, "/admin/info/users") {
			t.Error("the staff dashboard links to the users page")
		}
		// Promoted to superuser: effective at the next request, no new login.
		s.exec(t, "UPDATE users SET is_superuser = ? WHERE id = ?", s.b(true), staffID)
		if code, _, _ := c.get("/admin/info/users"); code != http.StatusOK {
			t.Errorf("after promotion: %d, want 200", code)
		}
		s.exec(t, "UPDATE users SET is_superuser = ? WHERE id = ?", s.b(false), staffID)
		if code, _, _ := c.get("/admin/info/users"); code != http.StatusForbidden {
			t.Errorf("after demotion: %d, want 403", code)
		}
	})

	t.Run("raw HTTP attacks on the guard", func(t *testing.T) { guardAttacks(t, s, "staff@example.com", "new staff password", staffID) })

	t.Run("session fixation", func(t *testing.T) {
		sessionFixation(t, s, "go_admin_session", "staff@example.com", "new staff password")
	})

	t.Run("a password change ends the account's sessions", func(t *testing.T) {
		id := s.addUser(t, "changer@example.com", "first password 1", true, true, false, "C", "C")
		c := newClient(t, s.base)
		other := newClient(t, s.base)
		for _, cl := range []*client{c, other} {
			if code, _ := cl.login("changer@example.com", "first password 1"); code != http.StatusOK {
				t.Fatal("login refused")
			}
			if code, _, _ := cl.get("/admin/info/notes"); code != http.StatusOK {
				t.Fatalf("before: %d", code)
			}
		}
		sid := c.cookie("go_admin_session")
		h, err := hashPassword("second password 2")
		if err != nil {
			t.Fatal(err)
		}
		s.exec(t, "UPDATE users SET password = ? WHERE id = ?", h, id)
		for _, cl := range []*client{c, other} {
			if code, hdr, _ := cl.get("/admin/info/notes"); code != http.StatusFound || !strings.HasPrefix(hdr.Get("Location"), "/admin/login") {
				t.Errorf("after the change: %d %q, want a redirect to login", code, hdr.Get("Location"))
			}
		}
		var n int
		if err := s.db.QueryRow(s.rebind("SELECT count(*) FROM goadmin_session WHERE sid = ?"), sid).Scan(&n); err != nil || n != 0 {
			t.Errorf("session rows left: %d, %v", n, err)
		}
		if code, _ := c.login("changer@example.com", "second password 2"); code != http.StatusOK {
			t.Fatal("login with the new password refused")
		}
		if code, _, _ := c.get("/admin/info/notes"); code != http.StatusOK {
			t.Errorf("a login after the change: %d", code)
		}
	})

	t.Run("losing staff or active status ends the session at the next request", func(t *testing.T) {
		for _, col := range []string{"is_staff", "is_active"} {
			t.Run(col, func(t *testing.T) {
				id := s.addUser(t, col+"@example.com", "temporary pass", true, true, false, "T", "T")
				c := newClient(t, s.base)
				if code, _ := c.login(col+"@example.com", "temporary pass"); code != http.StatusOK {
					t.Fatal("login refused")
				}
				if code, _, _ := c.get("/admin/info/notes"); code != http.StatusOK {
					t.Fatalf("before: %d", code)
				}
				sid := c.cookie("go_admin_session")
				s.exec(t, "UPDATE users SET "+col+" = ? WHERE id = ?", s.b(false), id)
				code, h, _ := c.get("/admin/info/notes")
				if code != http.StatusFound || !strings.HasPrefix(h.Get("Location"), "/admin/login") {
					t.Errorf("after losing %s: %d %q, want a redirect to login", col, code, h.Get("Location"))
				}
				var n int
				if err := s.db.QueryRow(s.rebind("SELECT count(*) FROM goadmin_session WHERE sid = ?"), sid).Scan(&n); err != nil || n != 0 {
					t.Errorf("session rows left: %d, %v", n, err)
				}
				s.exec(t, "UPDATE users SET "+col+" = ? WHERE id = ?", s.b(true), id)
				if code, _, _ := c.get("/admin/info/notes"); code != http.StatusFound {
					t.Errorf("the ended session came back: %d", code)
				}
			})
		}
	})

	t.Run("logout", func(t *testing.T) {
		c := newClient(t, s.base)
		c.login("root@example.com", "correct horse battery")
		sid := c.cookie("go_admin_session")
		if code, h, _ := c.get("/admin/logout"); code != http.StatusFound || !strings.HasPrefix(h.Get("Location"), "/admin/login") {
			t.Errorf("logout: %d %q", code, h.Get("Location"))
		}
		var n int
		if err := s.db.QueryRow(s.rebind("SELECT count(*) FROM goadmin_session WHERE sid = ?"), sid).Scan(&n); err != nil || n != 0 {
			t.Errorf("session rows after logout: %d, %v", n, err)
		}
		if code, _, _ := c.get("/admin/info/notes"); code != http.StatusFound {
			t.Errorf("after logout: %d, want a redirect", code)
		}
	})

	t.Run("GoAdmin's getColumns lines can be silenced", func(t *testing.T) {
		// Capture stdout, filter it, make a list request (GoAdmin prints then), and give
		// everything captured back to the real stdout afterwards.
		real := os.Stdout
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		os.Stdout = w
		restore, err := goadmin.SilenceGoAdminStdout()
		if err != nil {
			os.Stdout = real
			t.Fatal(err)
		}
		c := newClient(t, s.base)
		c.login("root@example.com", "correct horse battery")
		code, _, _ := c.get("/admin/info/notes")
		fmt.Println("marker: this line stays")
		rerr := restore()
		os.Stdout = real
		_ = w.Close()
		captured, _ := io.ReadAll(r)
		_, _ = real.Write(captured)
		if rerr != nil || code != http.StatusOK {
			t.Fatalf("restore: %v, list: %d", rerr, code)
		}
		if strings.Contains(string(captured), "getColumns") || !strings.Contains(string(captured), "marker: this line stays") {
			t.Errorf("filtered stdout:\n%s", captured)
		}
	})

	t.Run("query parameters are not reflected unescaped", func(t *testing.T) {
		c := newClient(t, s.base)
		c.login("root@example.com", "correct horse battery")
		payload := `'"><script>alert(7)</script>`
		for _, p := range []string{"/admin/info/users", "/admin/info/notes", "/admin/info/users/edit", "/admin/info/notes/new", "/admin/info/users/detail", "/admin", "/admin/info/op"} {
			for _, key := range []string{"q", "is_active", "title", "__goadmin_iframe_id", "__goadmin_iframe", "__go_admin_no_animation_", "_pjax", "__goadmin_edit_pk", "__goadmin_detail_pk", "path", "ip"} {
				q := url.Values{key: {payload}}
				if strings.HasSuffix(p, "/edit") && key != "__goadmin_edit_pk" {
					q.Set("__goadmin_edit_pk", staffID)
				}
				if strings.HasSuffix(p, "/detail") && key != "__goadmin_detail_pk" {
					q.Set("__goadmin_detail_pk", staffID)
				}
				code, _, page := c.get(p + "?" + q.Encode())
				if strings.Contains(page, "<script>alert(7)") {
					t.Errorf("GET %s with %s: %d, the payload comes back unescaped", p, key, code)
				}
			}
		}
	})

	t.Run("superuser creates a user with a password", func(t *testing.T) {
		c := newClient(t, s.base)
		c.login("root@example.com", "correct horse battery")
		code, _, page := c.get("/admin/info/users/new")
		if code != http.StatusOK || !strings.Contains(page, `name="password"`) {
			t.Fatalf("create form: %d", code)
		}
		form := url.Values{"email": {"new@example.com"}, "first_name": {"Nia"}, "last_name": {"New"}, "password": {"brand new password"},
			"is_active": {s.boolParam(true)}, "is_staff": {s.boolParam(false)}, "is_superuser": {s.boolParam(false)},
			"__go_admin_t_": {tokenIn(page)}, "__go_admin_previous_": {"/admin/info/users"}}
		if code, _, body := c.post("/admin/new/users", form); code != http.StatusOK && code != http.StatusFound {
			t.Fatalf("create: %d %s", code, body)
		}
		var id, hash string
		if err := s.db.QueryRow("SELECT id, password FROM users WHERE email = 'new@example.com'").Scan(&id, &hash); err != nil {
			t.Fatalf("the new user is not in the table: %v", err)
		}
		if _, err := uuid.Parse(id); err != nil {
			t.Errorf("new user id %q is not a UUID", id)
		}
		if ok, err := argon2id.ComparePasswordAndHash("brand new password", hash); err != nil || !ok {
			t.Errorf("the password was not stored hashed: %q", hash)
		}
		// A too-short password is refused with the hash function's message, and nothing is saved.
		_, _, page = c.get("/admin/info/users/new")
		form.Set("email", "short@example.com")
		form.Set("password", "short")
		form.Set("__go_admin_t_", tokenIn(page))
		_, _, body := c.post("/admin/new/users", form)
		var n int
		if err := s.db.QueryRow("SELECT count(*) FROM users WHERE email = 'short@example.com'").Scan(&n); err != nil || n != 0 {
			t.Errorf("a user with a refused password was saved (%d, %v)", n, err)
		}
		if !strings.Contains(body, "at least 8 characters") {
			t.Errorf("the form does not say why the password was refused")
		}
	})

	t.Run("output is escaped", func(t *testing.T) {
		c := newClient(t, s.base)
		c.login("root@example.com", "correct horse battery")
		for _, p := range []string{"/admin/info/users?q=xss", "/admin/info/users/detail?__goadmin_detail_pk=" + xssID, "/admin/info/users/edit?__goadmin_edit_pk=" + xssID} {
			code, _, page := c.get(p)
			if code != http.StatusOK {
				t.Fatalf("GET %s: %d", p, code)
			}
			if strings.Contains(page, `<script>alert("x")`) || strings.Contains(page, `<img src=x onerror`) {
				t.Errorf("GET %s: a stored script comes out unescaped", p)
			}
		}
	})

	t.Run("filters take declared columns and operators only", func(t *testing.T) {
		c := newClient(t, s.base)
		c.login("root@example.com", "correct horse battery")
		// password is not a filter of the users page: the parameters are dropped, so the list
		// is not narrowed by them (an oracle on the hashes otherwise).
		for _, q := range []string{"password=no-such-hash", "password__goadmin_operator__=like&password=no-such-hash",
			"password_start__goadmin=zzzz", "password__goadmin_index__0=no-such-hash", "password%5B%5D=no-such-hash"} {
			code, _, page := c.get("/admin/info/users?" + q)
			if code != http.StatusOK || !strings.Contains(strings.ToLower(page), "root@example.com") {
				t.Errorf("GET ?%s: %d, the list was filtered on an undeclared column", q, code)
			}
		}
		for _, q := range []string{"is_staff__goadmin_operator__=free&is_staff=1", "is_staff=1&is_staff=0"} {
			if code, _, _ := c.get("/admin/info/users?" + q); code != http.StatusBadRequest {
				t.Errorf("GET ?%s: %d, want 400", q, code)
			}
		}
	})

	t.Run("NUL and invalid UTF-8 in a form or query are refused, nothing stored", func(t *testing.T) {
		staff := newClient(t, s.base)
		if code, _ := staff.login("staff@example.com", "new staff password"); code != http.StatusOK {
			t.Fatal("staff login refused")
		}
		s.exec(t, "INSERT INTO notes (title, body) VALUES (?, ?)", "nul target", "as it was")
		var id int
		if err := s.db.QueryRow(s.rebind("SELECT id FROM notes WHERE title = ?"), "nul target").Scan(&id); err != nil {
			t.Fatal(err)
		}
		defer s.exec(t, "DELETE FROM notes WHERE id = ?", id)
		_, _, page := staff.get(fmt.Sprintf("/admin/info/notes/edit?__goadmin_edit_pk=%d", id))
		for _, bad := range []string{"a\x00b", "a\xffb"} {
			form := url.Values{"id": {fmt.Sprint(id)}, "title": {"nul target"}, "body": {bad}, "__go_admin_t_": {tokenIn(page)}}
			if code, _, _ := staff.post("/admin/edit/notes", form); code != http.StatusBadRequest {
				t.Errorf("body %q: %d, want 400", bad, code)
			}
		}
		var body string
		if err := s.db.QueryRow(s.rebind("SELECT body FROM notes WHERE id = ?"), id).Scan(&body); err != nil || body != "as it was" {
			t.Errorf("the row changed: %q, %v", body, err)
		}
		if code, _, _ := staff.get("/admin/info/notes?__sort_type=desc%00"); code != http.StatusBadRequest {
			t.Errorf("NUL in the query: %d, want 400", code)
		}
	})

	t.Run("stored scripts in a staff page and the operation log are escaped", func(t *testing.T) {
		const script = `<script>alert("stored")</script>`
		const img = `"><img src=x onerror=alert(2)>`
		staff := newClient(t, s.base)
		if code, _ := staff.login("staff@example.com", "new staff password"); code != http.StatusOK {
			t.Fatal("staff login refused")
		}
		s.exec(t, "INSERT INTO notes (title, body) VALUES (?, ?)", script, img)
		var id int
		if err := s.db.QueryRow(s.rebind("SELECT id FROM notes WHERE title = ?"), script).Scan(&id); err != nil {
			t.Fatal(err)
		}
		defer s.exec(t, "DELETE FROM notes WHERE id = ?", id)
		// An edit through the admin puts the same text into the operation log's input.
		code, _, page := staff.get(fmt.Sprintf("/admin/info/notes/edit?__goadmin_edit_pk=%d", id))
		if code != http.StatusOK {
			t.Fatalf("edit form: %d", code)
		}
		if strings.Contains(page, script) || strings.Contains(page, img) {
			t.Error("the edit form shows a stored script unescaped")
		}
		form := url.Values{"id": {fmt.Sprint(id)}, "title": {script}, "body": {img}, "__go_admin_t_": {tokenIn(page)}}
		if code, _, body := staff.post("/admin/edit/notes", form); code != http.StatusOK || strings.Contains(body, script) || strings.Contains(body, img) {
			t.Errorf("save: %d, echoes the script unescaped: %v", code, strings.Contains(body, script) || strings.Contains(body, img))
		}
		for _, p := range []string{"/admin/info/notes", "/admin/info/notes?q=alert", fmt.Sprintf("/admin/info/notes/detail?__goadmin_detail_pk=%d", id)} {
			code, _, page := staff.get(p)
			if code != http.StatusOK || strings.Contains(page, script) || strings.Contains(page, img) {
				t.Errorf("GET %s: %d, a stored script comes out unescaped: %v", p, code, strings.Contains(page, script) || strings.Contains(page, img))
			}
		}
		root := newClient(t, s.base)
		root.login("root@example.com", "correct horse battery")
		code, _, page = root.get("/admin/info/op")
		if code != http.StatusOK || !strings.Contains(page, "/admin/edit/notes") {
			t.Fatalf("operation log: %d, lists the edit: %v", code, strings.Contains(page, "/admin/edit/notes"))
		}
		if strings.Contains(page, "<script>alert") || strings.Contains(page, "<img src=x") {
			t.Error("the operation log shows a stored script unescaped")
		}
	})

	t.Run("field kinds", func(t *testing.T) { testFieldKinds(t, s, superID) })
	t.Run("field kinds in a browser", func(t *testing.T) { browserKinds(t, s, superID) })

	t.Run("browser", func(t *testing.T) { browserSmoke(t, s) })
}

// boolParam is how a boolean filter or form value is written in the dialect.
func (s *site) boolParam(v bool) string {
	if s.dialect == goadmin.Postgres {
		if v {
			return "true"
		}
		return "false"
	}
	if v {
		return "1"
	}
	return "0"
}

// tokenIn returns GoAdmin's form token (__go_admin_t_) from a form page.
func tokenIn(page string) string {
	i := strings.Index(page, `name="__go_admin_t_"`)
	if i < 0 {
		return ""
	}
	rest := page[i:]
	j := strings.Index(rest, `value=`)
	if j < 0 || len(rest) < j+8 {
		return ""
	}
	quote := rest[j+6 : j+7]
	rest = rest[j+7:]
	return rest[:strings.Index(rest, quote)]
}
