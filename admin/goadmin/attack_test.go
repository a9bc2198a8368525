package goadmin_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"manouche/admin/goadmin"
)

// rawHTTP writes one request exactly as given (an attacker's bytes, which neither a browser
// nor Go's client would send) on a fresh TCP connection and reads the response.
func rawHTTP(t *testing.T, base, request string) (int, http.Header, string) {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(conn, request); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("read the response to %q: %v", request, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, string(b)
}

// rawGet builds a GET of target (sent byte for byte) with the given cookies.
func rawGet(base, target, cookies string) string {
	u, _ := url.Parse(base)
	req := "GET " + target + " HTTP/1.1\r\nHost: " + u.Host + "\r\nAccept: text/html\r\n"
	if cookies != "" {
		req += "Cookie: " + cookies + "\r\n"
	}
	return req + "Connection: close\r\n\r\n"
}

// rawPost builds a same-origin POST with a CSRF token header, a content type and a body.
func rawPost(base, target, cookies, csrf, contentType, body string) string {
	u, _ := url.Parse(base)
	return "POST " + target + " HTTP/1.1\r\nHost: " + u.Host + "\r\nOrigin: " + base + "\r\nCookie: " + cookies +
		"\r\nX-CSRF-Token: " + csrf + "\r\nContent-Type: " + contentType +
		fmt.Sprintf("\r\nContent-Length: %d\r\nConnection: close\r\n\r\n", len(body)) + body
}

// guardAttacks attacks the guard with raw requests as a staff member who is not a superuser
// (issue 10, item 1): whatever the request, GoAdmin must see only what the guard approved,
// the staff member stays a non-superuser, and users, the operation log and GoAdmin's own
// manager pages stay out of reach.
func guardAttacks(t *testing.T, s *site, staffEmail, staffPassword, staffID string) {
	c := newClient(t, s.base)
	if code, body := c.login(staffEmail, staffPassword); code != http.StatusOK {
		t.Fatalf("staff login: %d %s", code, body)
	}
	sid, csrf := c.cookie("go_admin_session"), c.cookie("manouche_admin_csrf")
	if code, _, _ := c.get("/admin/info/notes"); code != http.StatusOK || csrf == "" {
		code, _, _ = c.get("/admin/info/notes")
		csrf = c.cookie("manouche_admin_csrf")
		if code != http.StatusOK || csrf == "" {
			t.Fatalf("notes list: %d, CSRF cookie %q", code, csrf)
		}
	}
	cookies := "go_admin_session=" + sid + "; manouche_admin_csrf=" + csrf
	// The injected statement of the issue, adapted to this site's staff member.
	promote := url.QueryEscape("desc; UPDATE users SET is_superuser = " + s.boolParam(true) + " WHERE email = '" + staffEmail + "' --")
	escalated := func() bool {
		var super bool
		if err := s.db.QueryRow(s.rebind("SELECT is_superuser FROM users WHERE id = ?"), staffID).Scan(&super); err != nil {
			t.Fatal(err)
		}
		return super
	}
	leaks := func(page string) bool {
		p := strings.ToLower(page)
		return strings.Contains(p, "root@example.com") || strings.Contains(p, "$argon2id$") || strings.Contains(p, "goadmin_operation_log") ||
			strings.Contains(p, "/admin/info/manager") && strings.Contains(p, "username")
	}

	gets := []struct {
		name, target string
		want         int // 0: any status but a page that leaks (the parameter is dropped)
	}{
		{"the issue's exploit: '#' before the parameters", "/admin/info/notes?#&__prefix=users&__sort_type=" + promote, http.StatusBadRequest},
		{"'#' alone", "/admin/info/notes#&__prefix=users", http.StatusBadRequest},
		{"'#' with the sort injection only", "/admin/info/notes?__page=1#&__sort_type=" + promote, http.StatusBadRequest},
		{"encoded '#' as a key", "/admin/info/notes?%23&__prefix=users&__sort_type=" + promote, http.StatusBadRequest},
		{"encoded '#' inside a value", "/admin/info/notes?q=%23%26__prefix%3Dusers%26__sort_type%3D" + url.QueryEscape(promote), 0},
		{"__prefix", "/admin/info/notes?__prefix=users", http.StatusBadRequest},
		{"__prefix, other case", "/admin/info/notes?__PREFIX=users", http.StatusBadRequest},
		{"__prefix, encoded name", "/admin/info/notes?%5F%5Fprefix=users", http.StatusBadRequest},
		{"__prefix, double-encoded name", "/admin/info/notes?%255F%255Fprefix=users", 0},
		{"__prefix after ';'", "/admin/info/notes?__page=1;__prefix=users", http.StatusBadRequest},
		{"sort order after ';'", "/admin/info/notes?__page=1;__sort_type=" + promote, http.StatusBadRequest},
		{"sort order injection", "/admin/info/notes?__sort_type=" + promote, http.StatusBadRequest},
		{"sort order, other case", "/admin/info/notes?__SORT_TYPE=" + promote, 0},
		{"sort order, encoded name", "/admin/info/notes?%5F%5Fsort_type=" + promote, http.StatusBadRequest},
		{"sort order, double-encoded name", "/admin/info/notes?%255F%255Fsort_type=" + promote, 0},
		{"sort order given twice", "/admin/info/notes?__sort_type=asc&__sort_type=" + promote, http.StatusBadRequest},
		{"sort column given twice", "/admin/info/notes?__sort=id&__sort=title", http.StatusBadRequest},
		{"sort on an undeclared column", "/admin/info/notes?__sort=" + url.QueryEscape("(SELECT password FROM users)"), http.StatusBadRequest},
		{"columns", "/admin/info/notes?__columns=id,password", http.StatusBadRequest},
		{"columns, double-encoded comma", "/admin/info/notes?__columns=id%252Cpassword", http.StatusBadRequest},
		{"join filter", "/admin/info/notes?users_goadmin_join_password=x", http.StatusBadRequest},
		{"join filter, other case", "/admin/info/notes?users_GOADMIN_JOIN_password=x", http.StatusBadRequest},
		{"page size", "/admin/info/notes?__pageSize=100000", http.StatusBadRequest},
		{"filter on an undeclared column", "/admin/info/notes?body__goadmin_operator__=like&body=hello", 0},
		{"range filter on an undeclared column", "/admin/info/notes?id_start__goadmin=0&id_end__goadmin=99", 0},
		{"indexed filter", "/admin/info/notes?title__goadmin_index__1=x", 0},
		{"action id in the query", "/admin/info/notes?__goadmin_op_id=x", http.StatusBadRequest},
		{"path: '..' into users", "/admin/info/notes/../users", http.StatusBadRequest},
		{"path: the issue's '..'", "/admin/info/users/../notes", http.StatusBadRequest},
		{"path: encoded '..'", "/admin/info/notes/%2e%2e/users", http.StatusBadRequest},
		{"path: encoded slash", "/admin/info/notes%2F..%2Fusers", http.StatusBadRequest},
		{"path: '//' (not an admin path)", "//admin/info/users", http.StatusNotFound},
		{"path: '//' inside", "/admin//info/users", http.StatusBadRequest},
		{"path: trailing dot", "/admin/info/users.", http.StatusBadRequest},
		{"path: '.' segment", "/admin/./info/users", http.StatusBadRequest},
		{"path: ';' parameter", "/admin/info/notes;__prefix=users", http.StatusBadRequest},
		{"path: encoded letter", "/admin/info/%75sers", http.StatusBadRequest},
		{"absolute-form URI", s.base + "/admin/info/users", http.StatusBadRequest},
		{"users", "/admin/info/users", http.StatusForbidden},
		{"users, other case", "/admin/info/USERS", http.StatusForbidden},
		{"operation log", "/admin/info/op", http.StatusForbidden},
		{"GoAdmin's managers", "/admin/info/manager", http.StatusNotFound},
		{"GoAdmin's roles", "/admin/info/roles", http.StatusNotFound},
		{"GoAdmin's manager edit", "/admin/info/manager/edit?__goadmin_edit_pk=1", http.StatusNotFound},
	}
	for _, tc := range gets {
		t.Run("GET "+tc.name, func(t *testing.T) {
			code, _, page := rawHTTP(t, s.base, rawGet(s.base, tc.target, cookies))
			if tc.want != 0 && code != tc.want {
				t.Errorf("GET %s: %d, want %d", tc.target, code, tc.want)
			}
			if code == http.StatusOK && leaks(page) {
				t.Errorf("GET %s: %d, and the page shows users, the operation log or managers", tc.target, code)
			}
			if code >= 500 {
				t.Errorf("GET %s: %d", tc.target, code)
			}
			if escalated() {
				s.exec(t, "UPDATE users SET is_superuser = ? WHERE id = ?", s.b(false), staffID)
				t.Fatalf("GET %s made the staff member a superuser", tc.target)
			}
		})
	}

	// The declared parameters still work through the same path.
	for _, target := range []string{"/admin/info/notes?__sort=title&__sort_type=asc&__page=1&__pageSize=10", "/admin/info/notes?q=first"} {
		if code, _, page := rawHTTP(t, s.base, rawGet(s.base, target, cookies)); code != http.StatusOK || !strings.Contains(page, "first note") {
			t.Errorf("GET %s: %d, lists the note: %v", target, code, strings.Contains(page, "first note"))
		}
	}

	var noteID int
	if err := s.db.QueryRow("SELECT id FROM notes WHERE title = 'first note'").Scan(&noteID); err != nil {
		t.Fatal(err)
	}
	code, _, page := c.get(fmt.Sprintf("/admin/info/notes/edit?__goadmin_edit_pk=%d", noteID))
	if code != http.StatusOK {
		t.Fatalf("notes edit form: %d", code)
	}
	formToken := tokenIn(page)
	posts := []struct {
		name, target, contentType, body string
		want                            int // 0: accepted or refused, but nothing escalates
	}{
		{"__prefix in the body", "/admin/delete/notes", "application/x-www-form-urlencoded", "id=" + fmt.Sprint(noteID) + "&__prefix=users", http.StatusBadRequest},
		{"__prefix in the body, content type in capitals", "/admin/delete/notes", "APPLICATION/X-WWW-FORM-URLENCODED", "__prefix=users&id=" + staffID, 0},
		{"__prefix in the query of a POST", "/admin/delete/notes?__prefix=users", "application/x-www-form-urlencoded", "id=" + staffID, http.StatusBadRequest},
		{"'#' in a POST's URI", "/admin/delete/notes?#&__prefix=users", "application/x-www-form-urlencoded", "id=" + staffID, http.StatusBadRequest},
		{"path trick on a POST", "/admin/delete/notes/../users", "application/x-www-form-urlencoded", "id=" + staffID, http.StatusBadRequest},
		{"action id in the body", "/admin/operation/notes-shout", "application/x-www-form-urlencoded", "id=" + fmt.Sprint(noteID) + "&__goadmin_op_id=x", http.StatusBadRequest},
		{"id given twice", "/admin/operation/notes-shout", "application/x-www-form-urlencoded", "id=1&id=2", http.StatusBadRequest},
		{"sort injection through the form's return address", "/admin/edit/notes", "application/x-www-form-urlencoded",
			"id=" + fmt.Sprint(noteID) + "&title=first+note&body=hello&__go_admin_t_=" + url.QueryEscape(formToken) +
				"&__go_admin_previous_=" + url.QueryEscape("/admin/info/notes?__sort_type="+promote+"&__prefix=users"), 0},
		{"edit without the row", "/admin/edit/notes", "application/x-www-form-urlencoded", "title=x", http.StatusBadRequest},
		{"staff editing users", "/admin/edit/users", "application/x-www-form-urlencoded", "id=" + staffID + "&is_superuser=" + s.boolParam(true), http.StatusForbidden},
	}
	for _, tc := range posts {
		t.Run("POST "+tc.name, func(t *testing.T) {
			code, _, page := rawHTTP(t, s.base, rawPost(s.base, tc.target, cookies, csrf, tc.contentType, tc.body))
			if tc.want != 0 && code != tc.want {
				t.Errorf("POST %s: %d, want %d", tc.target, code, tc.want)
			}
			if code >= 500 || code == http.StatusOK && leaks(page) {
				t.Errorf("POST %s: %d, leaks: %v", tc.target, code, leaks(page))
			}
			if escalated() {
				s.exec(t, "UPDATE users SET is_superuser = ? WHERE id = ?", s.b(false), staffID)
				t.Fatalf("POST %s made the staff member a superuser", tc.target)
			}
		})
	}
	var users int
	if err := s.db.QueryRow(s.rebind("SELECT count(*) FROM users WHERE id = ?"), staffID).Scan(&users); err != nil || users != 1 {
		t.Errorf("the staff member's row: %d, %v", users, err)
	}
	s.exec(t, "UPDATE notes SET title = 'first note', body = 'hello' WHERE id = ?", noteID)
}

// sessionFixation logs in with a session id the client chose, over raw HTTP (issue 10,
// item 2): the login must issue a fresh id and the chosen one must not be a session.
func sessionFixation(t *testing.T, s *site, cookieName, email, password string) {
	u, _ := url.Parse(s.base)
	signin := func(cookies string) (int, http.Header) {
		body := url.Values{"username": {email}, "password": {password}}.Encode()
		req := "POST /admin/signin HTTP/1.1\r\nHost: " + u.Host + "\r\nOrigin: " + s.base + "\r\nReferer: " + s.base + "/admin/login\r\n"
		if cookies != "" {
			req += "Cookie: " + cookies + "\r\n"
		}
		req += fmt.Sprintf("Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)
		code, h, _ := rawHTTP(t, s.base, req)
		return code, h
	}
	issued := func(h http.Header) string {
		for _, v := range h.Values("Set-Cookie") {
			if name, rest, ok := strings.Cut(v, "="); ok && name == cookieName {
				val, _, _ := strings.Cut(rest, ";")
				return val
			}
		}
		return ""
	}
	status := func(sid string) int {
		code, _, _ := rawHTTP(t, s.base, rawGet(s.base, "/admin/info/notes", cookieName+"="+sid))
		return code
	}
	chosen := []string{"11111111-2222-3333-4444-555555555555", "attacker-chosen"}
	for _, sid := range chosen {
		// Both spellings of the cookie, in case one side reads the other.
		code, h := signin(cookieName + "=" + sid + "; go_admin_session=" + sid)
		fresh := issued(h)
		if code != http.StatusOK || fresh == "" || fresh == sid {
			t.Fatalf("login with the chosen id %q: %d, issued %q", sid, code, fresh)
		}
		if got := status(sid); got == http.StatusOK {
			t.Errorf("the chosen id %q is a session after the login (%d)", sid, got)
		}
		if got := status(fresh); got != http.StatusOK {
			t.Errorf("the issued id does not work: %d", got)
		}
	}
	// A second login with a valid session ends that session server-side.
	_, h := signin("")
	first := issued(h)
	if status(first) != http.StatusOK {
		t.Fatal("first login does not work")
	}
	_, h = signin(cookieName + "=" + first)
	second := issued(h)
	if second == "" || second == first {
		t.Fatalf("second login issued %q (first %q)", second, first)
	}
	var n int
	if err := s.db.QueryRow(s.rebind("SELECT count(*) FROM goadmin_session WHERE sid = ?"), first).Scan(&n); err != nil || n != 0 {
		t.Errorf("the old session's row is still there: %d, %v", n, err)
	}
	if got := status(first); got == http.StatusOK {
		t.Errorf("the old session still works: %d", got)
	}
	// A session row GoAdmin would accept, written for an id the client chose, is not a session
	// either: only a sign-in binds one.
	s.exec(t, `INSERT INTO goadmin_session (sid, "values") SELECT ?, "values" FROM goadmin_session WHERE sid = ?`, "planted-id", second)
	if got := status("planted-id"); got == http.StatusOK {
		t.Errorf("a copied session row is accepted: %d", got)
	}
}

// TestAdminSecureCookies runs TestAdminSiteSecure in a process of its own, with the admin
// mounted as in production (SecureCookies).
func TestAdminSecureCookies(t *testing.T) {
	if os.Getenv(childEnv) != "" {
		t.Skip("parent test")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestAdminSiteSecure$", "-test.v")
	cmd.Env = append(os.Environ(), childEnv+"="+string(goadmin.SQLite), secureEnv+"=1")
	out, err := cmd.CombinedOutput()
	t.Logf("child process output:\n%s", out)
	if err != nil || !strings.Contains(string(out), "--- PASS: TestAdminSiteSecure") {
		t.Fatalf("secure-cookie tests failed or did not run: %v", err)
	}
}

// TestAdminSiteSecure: with SecureCookies the session cookie is __Host- (Secure, Path=/, no
// Domain), GoAdmin's own name is neither set nor accepted, and a login still issues a fresh id.
func TestAdminSiteSecure(t *testing.T) {
	if os.Getenv(secureEnv) == "" {
		t.Skip("run through TestAdminSecureCookies")
	}
	s := newSite(t, goadmin.SQLite)
	s.addUser(t, "staff@example.com", "staff password 1", true, true, false, "Sam", "Staff")
	s.exec(t, "INSERT INTO notes (title, body) VALUES (?, ?)", "first note", "hello")
	u, _ := url.Parse(s.base)
	body := url.Values{"username": {"staff@example.com"}, "password": {"staff password 1"}}.Encode()
	code, h, _ := rawHTTP(t, s.base, "POST /admin/signin HTTP/1.1\r\nHost: "+u.Host+"\r\nOrigin: "+s.base+"\r\nReferer: "+s.base+"/admin/login\r\n"+
		fmt.Sprintf("Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body))
	var set string
	for _, v := range h.Values("Set-Cookie") {
		if strings.HasPrefix(v, "go_admin_session=") {
			t.Errorf("GoAdmin's cookie name is set: %q", v)
		}
		if strings.HasPrefix(v, "__Host-go_admin_session=") {
			set = v
		}
	}
	attrs := strings.ToLower(set)
	if code != http.StatusOK || !strings.Contains(attrs, "; secure") || !strings.Contains(attrs, "; path=/;") && !strings.HasSuffix(attrs, "; path=/") ||
		strings.Contains(attrs, "domain=") || !strings.Contains(attrs, "httponly") {
		t.Fatalf("sign-in: %d, session cookie %q", code, set)
	}
	sid, _, _ := strings.Cut(strings.TrimPrefix(set, "__Host-go_admin_session="), ";")
	if code, _, _ := rawHTTP(t, s.base, rawGet(s.base, "/admin/info/notes", "__Host-go_admin_session="+sid)); code != http.StatusOK {
		t.Errorf("with the __Host- cookie: %d", code)
	}
	if code, _, _ := rawHTTP(t, s.base, rawGet(s.base, "/admin/info/notes", "go_admin_session="+sid)); code == http.StatusOK {
		t.Errorf("GoAdmin's cookie name is accepted: %d", code)
	}
	code, h, _ = rawHTTP(t, s.base, rawGet(s.base, "/admin/logout", "__Host-go_admin_session="+sid))
	cleared := false
	for _, v := range h.Values("Set-Cookie") {
		l := strings.ToLower(v)
		if strings.HasPrefix(v, "__Host-go_admin_session=") && strings.Contains(l, "; secure") && strings.Contains(l, "path=/") {
			cleared = true
		}
	}
	if code != http.StatusFound || !cleared {
		t.Errorf("logout: %d, clears the __Host- cookie: %v (%q)", code, cleared, h.Values("Set-Cookie"))
	}
	t.Run("session fixation", func(t *testing.T) {
		sessionFixation(t, s, "__Host-go_admin_session", "staff@example.com", "staff password 1")
	})
}
