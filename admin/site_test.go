package admin_test

import (
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"manouche/admin"

	"github.com/alexedwards/argon2id"
)

// TestAdminSite is the admin's end-to-end suite on one database; TestAdmin runs it in a child
// process per dialect.
func TestAdminSite(t *testing.T) {
	d := admin.Dialect(os.Getenv(childEnv))
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

	t.Run("anonymous is sent to the login page", func(t *testing.T) {
		c := newClient(t, s.base)
		for _, p := range []string{"/admin", "/admin/", "/admin/info/users", "/admin/info/notes/edit?__goadmin_edit_pk=1", "/admin/info/op"} {
			code, h, _ := c.get(p)
			if code != http.StatusFound || !strings.HasPrefix(h.Get("Location"), "/admin/login") {
				t.Errorf("GET %s: %d %q, want a redirect to the login page", p, code, h.Get("Location"))
			}
		}
		code, _, body := c.get("/admin/login")
		if code != http.StatusOK || !strings.Contains(body, "Manouche test") {
			t.Errorf("login page: %d", code)
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

	t.Run("superuser sees, searches and edits users", func(t *testing.T) {
		c := newClient(t, s.base)
		code, body := c.login("ROOT@example.com", "correct horse battery")
		if code != http.StatusOK {
			t.Fatalf("login: %d %s", code, body)
		}
		code, _, page := c.get("/admin")
		if code != http.StatusOK || !strings.Contains(page, "stat-value") {
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
}

// boolParam is how a boolean filter or form value is written in the dialect.
func (s *site) boolParam(v bool) string {
	if s.dialect == admin.Postgres {
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
