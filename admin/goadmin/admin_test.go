package goadmin_test

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"

	"manouche/admin/goadmin"
	"manouche/core/testenv"
)

// TestAdmin runs the admin's end-to-end tests once per dialect, each in a process of its own
// (GoAdmin's configuration is process-global and cannot be built twice).
func TestAdmin(t *testing.T) {
	if os.Getenv(childEnv) != "" {
		t.Skip("parent test")
	}
	for _, d := range []goadmin.Dialect{goadmin.SQLite, goadmin.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			if d == goadmin.Postgres {
				testenv.Lookup(t, testenv.DatabaseURL)
			}
			args := []string{"-test.run=^TestAdminSite$", "-test.v"}
			if testing.Short() {
				args = append(args, "-test.short")
			}
			cmd := exec.Command(os.Args[0], args...)
			cmd.Env = append(os.Environ(), childEnv+"="+string(d))
			out, err := cmd.CombinedOutput()
			t.Logf("child process output (%s):\n%s", d, out)
			if err != nil {
				t.Fatalf("admin tests on %s failed: %v", d, err)
			}
			if !strings.Contains(string(out), "--- PASS: TestAdminSite") {
				t.Fatalf("admin tests on %s did not run", d)
			}
		})
	}
}

// client is a browser-like HTTP client: cookie jar, same-origin headers, no redirects followed.
type client struct {
	t    *testing.T
	base string
	http *http.Client
}

func newClient(t *testing.T, base string) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, base: base, http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

func (c *client) do(method, path string, form url.Values, hdr map[string]string) (int, http.Header, string) {
	c.t.Helper()
	var body io.Reader
	contentType := ""
	if form != nil {
		// GoAdmin's forms are multipart (its edit handler reads nothing else).
		var buf bytes.Buffer
		w := multipart.NewWriter(&buf)
		for k, vs := range form {
			for _, v := range vs {
				_ = w.WriteField(k, v)
			}
		}
		_ = w.Close()
		body, contentType = &buf, w.FormDataContentType()
		if path == "/admin/signin" {
			body, contentType = strings.NewReader(form.Encode()), "application/x-www-form-urlencoded"
		}
	}
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if method == http.MethodPost {
		req.Header.Set("Origin", c.base)
	}
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func (c *client) get(path string) (int, http.Header, string) {
	c.t.Helper()
	return c.do(http.MethodGet, path, nil, nil)
}

// login signs in through GoAdmin's sign-in endpoint, as the login page's script does.
func (c *client) login(email, password string) (int, string) {
	c.t.Helper()
	code, _, body := c.do(http.MethodPost, "/admin/signin", url.Values{"username": {email}, "password": {password}},
		map[string]string{"Referer": c.base + "/admin/login"})
	return code, body
}

func (c *client) cookie(name string) string {
	u, _ := url.Parse(c.base + "/admin/")
	for _, ck := range c.http.Jar.Cookies(u) {
		if ck.Name == name {
			return ck.Value
		}
	}
	return ""
}

// post sends a form with the CSRF token, as the admin's pages do.
func (c *client) post(path string, form url.Values) (int, http.Header, string) {
	c.t.Helper()
	return c.do(http.MethodPost, path, form, map[string]string{"X-CSRF-Token": c.cookie("manouche_admin_csrf"), "Referer": c.base + "/admin/"})
}

func signinURL(t *testing.T, body string) string {
	t.Helper()
	var r struct {
		Data struct {
			URL string `json:"url"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("sign-in answer %q: %v", body, err)
	}
	return r.Data.URL
}
