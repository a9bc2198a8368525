package main_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"manouche/apps"
	"manouche/core/openapi"
	"manouche/core/openapi/openapitest"
	"manouche/core/testkit"
)

// document fetches and decodes the served document, and checks that it is
// valid OpenAPI 3.1.
func document(t *testing.T, a *testkit.App) *openapi.Document {
	t.Helper()
	doc := a.OpenAPI()
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi %q", doc.OpenAPI)
	}
	return doc
}

var fiberParam = regexp.MustCompile(`:([A-Za-z0-9_]+)`)

// TestOpenAPIShippedApps: the shipped apps' document is valid OpenAPI 3.1,
// holds every /api and /health route with its methods and nothing else,
// says which need a token, and gives every error status the Error schema.
func TestOpenAPIShippedApps(t *testing.T) {
	a := testkit.New(t, testkit.Apps(apps.Installed))
	doc := document(t, a)
	want := map[string]bool{}
	for _, r := range a.Server.Routes() {
		if !openapi.Documented(r.Path) {
			continue
		}
		key := r.Method + " " + fiberParam.ReplaceAllString(r.Path, "{$1}")
		want[key] = true
	}
	got := map[string]*openapi.Operation{}
	for path, pi := range doc.Paths {
		if !openapi.Documented(path) {
			t.Errorf("%s is in the document: only /api and /health belong there", path)
		}
		for m, op := range pi.Operations() {
			got[m+" "+path] = op
		}
	}
	for key := range want {
		if got[key] == nil {
			t.Errorf("%s is registered but not in the document", key)
		}
	}
	for key, op := range got {
		if !want[key] {
			t.Errorf("%s is in the document but not registered", key)
		}
		if op.Undescribed {
			t.Errorf("%s has no description", key)
		}
		for status, r := range op.Responses {
			if status >= "400" && (r.Content["application/json"] == nil || r.Content["application/json"].Schema.Ref != "#/components/schemas/Error") {
				t.Errorf("%s: %s does not answer #/components/schemas/Error", key, status)
			}
		}
	}
	for _, key := range []string{"POST /api/auth/register", "GET /api/me", "PUT /api/me/avatar", "GET /health", "GET /api/openapi.json"} {
		if got[key] == nil {
			t.Fatalf("%s is missing", key)
		}
	}
	tokens := map[string]bool{
		"POST /api/auth/register": false, "POST /api/auth/login": false, "POST /api/auth/password_reset": false,
		"POST /api/auth/logout": true, "POST /api/auth/password_change": true, "GET /api/me": true,
		"PATCH /api/me": true, "PUT /api/me/avatar": true, "DELETE /api/me/avatar": true, "GET /health": false,
	}
	for key, needs := range tokens {
		op := got[key]
		has := len(op.Security) == 1 && op.Security[0]["bearerAuth"] != nil
		if has != needs || (op.Responses["401"] != nil) != needs {
			t.Errorf("%s: security %v, 401 declared %v; want a token: %v", key, op.Security, op.Responses["401"] != nil, needs)
		}
	}
	if s := doc.Components.SecuritySchemes["bearerAuth"]; s == nil || s.Type != "http" || s.Scheme != "bearer" {
		t.Errorf("bearerAuth = %+v", s)
	}
	// The bodies and answers are the handlers' own types.
	reg := got["POST /api/auth/register"]
	if ref := reg.RequestBody.Content["application/json"].Schema.Ref; ref != "#/components/schemas/RegisterRequest" {
		t.Errorf("register body %s", ref)
	}
	if ref := reg.Responses["201"].Content["application/json"].Schema.Ref; ref != "#/components/schemas/AuthResponse" {
		t.Errorf("register 201 %s", ref)
	}
	if got["POST /api/auth/logout"].Responses["204"] == nil {
		t.Errorf("logout has no 204")
	}
	if mt := got["PUT /api/me/avatar"].RequestBody.Content["multipart/form-data"]; mt == nil || mt.Schema.Properties["file"] == nil {
		t.Errorf("the avatar upload is not a multipart body with a file part")
	}
	me := doc.Components.Schemas["Me"]
	if me.AdditionalProperties != false || len(me.Required) != 5 {
		t.Errorf("Me is not exact: %+v", me)
	}
	if ty, _ := json.Marshal(me.Properties["avatar_url"].Type); string(ty) != `["string","null"]` {
		t.Errorf("avatar_url type %s, want string or null", ty)
	}
	if s := doc.Components.Schemas["RegisterRequest"]; !strings.Contains(strings.Join(s.Required, ","), "email,password") || s.Properties["email"].Format != "email" {
		t.Errorf("RegisterRequest: %+v", s)
	}
}

// TestOpenAPIDocsPage: the docs page and every asset it names are served
// from the binary (no URL outside the site), scripts gzipped to clients that
// accept it and plain to others.
func TestOpenAPIDocsPage(t *testing.T) {
	a := testkit.New(t, testkit.Apps(apps.Installed))
	res := a.Client.WithHeader("Accept", "text/html").Get(openapi.DocsPath).AssertStatus(http.StatusOK)
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("Content-Type %q", ct)
	}
	page := string(res.Body)
	if !strings.Contains(page, openapi.DocumentPath) {
		t.Errorf("the page does not load %s", openapi.DocumentPath)
	}
	refs := regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(page, -1)
	if len(refs) < 3 {
		t.Fatalf("the page names %d assets: %q", len(refs), refs)
	}
	for _, m := range refs {
		u := m[1]
		if strings.Contains(u, "//") {
			t.Errorf("the page loads %s from outside the site", u)
			continue
		}
		r := a.Client.Get(u).AssertStatus(http.StatusOK)
		if len(r.Body) == 0 {
			t.Errorf("%s is empty", u)
		}
	}
	js := openapi.DocsPath + "/swagger-ui-bundle.js"
	plain := a.Client.WithHeader("Accept-Encoding", "identity").Get(js).AssertStatus(http.StatusOK)
	if ct := plain.Header.Get("Content-Type"); !strings.Contains(ct, "javascript") || plain.Header.Get("Content-Encoding") != "" ||
		!strings.Contains(string(plain.Body), "SwaggerUIBundle") {
		t.Errorf("%s: %s, %q, %d bytes", js, ct, plain.Header.Get("Content-Encoding"), len(plain.Body))
	}
	req := a.Client.Request(http.MethodGet, js, nil)
	req.Header.Set("Accept-Encoding", "gzip")
	gz := a.Client.Send(req).AssertStatus(http.StatusOK)
	if gz.Header.Get("Content-Encoding") != "gzip" || len(gz.Body) >= len(plain.Body) {
		t.Errorf("%s gzipped: %q, %d bytes of %d", js, gz.Header.Get("Content-Encoding"), len(gz.Body), len(plain.Body))
	}
}

// TestOpenAPIBadInput: odd requests to the new routes answer 2xx or 4xx in
// the API's error shape, never a 500.
func TestOpenAPIBadInput(t *testing.T) {
	a := testkit.New(t, testkit.Apps(apps.Installed))
	tests := []struct {
		method, path string
		want         int
	}{
		{"HEAD", openapi.DocumentPath, 200},
		{"HEAD", "/health", 200}, // a described GET keeps the HEAD Fiber adds
		{"GET", openapi.DocumentPath + "?format=yaml&x=1", 200},
		{"GET", openapi.DocumentPath + "?x=%00", 400},
		{"GET", openapi.DocumentPath + "/", 200},
		{"POST", openapi.DocumentPath, 405},
		{"DELETE", openapi.DocsPath, 405},
		{"HEAD", openapi.DocsPath, 200},
		{"GET", openapi.DocsPath + "/", 200},
		{"GET", openapi.DocsPath + "?url=https://evil.example/x.json", 200},
		{"GET", openapi.DocsPath + "/nope.js", 404},
		{"GET", openapi.DocsPath + "/.hidden", 404},
		{"GET", openapi.DocsPath + "/..%2f..%2fgo.mod", 404},
		{"GET", openapi.DocsPath + "/swagger-ui.css/", 200},
		{"GET", openapi.DocsPath + "/a/b", 404},
	}
	for _, tt := range tests {
		r := a.Client.Do(tt.method, tt.path, nil)
		if r.Status != tt.want {
			t.Errorf("%s %s: %d, want %d; %.200s", tt.method, tt.path, r.Status, tt.want, r.Body)
		}
		if r.Status >= 400 && tt.method != "HEAD" {
			var e struct {
				ErrorType string `json:"error_type"`
			}
			if json.Unmarshal(r.Body, &e) != nil || e.ErrorType == "" {
				t.Errorf("%s %s: %d is not in the error shape: %.200s", tt.method, tt.path, r.Status, r.Body)
			}
		}
	}
	// The document is the same bytes whatever the request says.
	h := a.Client.WithHeader("Accept", "text/html").Get(openapi.DocumentPath).AssertStatus(http.StatusOK)
	b := a.Client.Get(openapi.DocumentPath + "?q=1").AssertStatus(http.StatusOK)
	if string(h.Body) != string(b.Body) {
		t.Errorf("the document differs between requests")
	}
}

// TestOpenAPIOff: API_DOCS=false serves neither the document nor the page.
func TestOpenAPIOff(t *testing.T) {
	a := testkit.New(t, testkit.Apps(apps.Installed), testkit.Settings{"API_DOCS": false})
	for _, p := range []string{openapi.DocumentPath, openapi.DocsPath, openapi.DocsPath + "/swagger-ui-bundle.js"} {
		a.Client.Get(p).AssertError(http.StatusNotFound, "NotFound")
	}
	// The API itself is untouched.
	a.Client.Get("/health").AssertStatus(http.StatusOK)
}

// TestOpenAPICommand: `openapi -o FILE` writes the document, valid, and
// names on stderr the /api route registered without a description (the
// routes test app's); `check` warns about it (openapi.W001).
func TestOpenAPICommand(t *testing.T) {
	a := testkit.New(t, testkit.Apps(testApps))
	file := filepath.Join(t.TempDir(), "openapi.json")
	_, stderr, code := a.Command("", "openapi", "-o", file)
	if code != 0 {
		t.Fatalf("openapi: exit %d: %s", code, stderr)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := openapitest.Validate(b); err != nil {
		t.Fatal(err)
	}
	undescribed := "GET /api/routestest/things (app routestest) has no description"
	if !strings.Contains(stderr, undescribed) {
		t.Errorf("stderr does not report the undescribed route: %s", stderr)
	}
	if strings.Contains(stderr, "/api/me") {
		t.Errorf("stderr reports a described route: %s", stderr)
	}
	var doc openapi.Document
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	op := doc.Paths["/api/routestest/things"].Get
	if op == nil || !op.Undescribed || len(op.Security) != 1 {
		t.Errorf("the undescribed route: %+v (want x-undescribed, and a token required by the group's RequireAuth)", op)
	}
	stdout, _, _ := a.Command("", "openapi")
	if err := openapitest.Validate([]byte(stdout)); err != nil {
		t.Errorf("openapi to stdout: %v", err)
	}
	stdout, _, _ = a.Command("", "check")
	if !strings.Contains(stdout, "WARNING openapi.W001: GET /api/routestest/things (app routestest) has no OpenAPI description") {
		t.Errorf("check does not warn about the undescribed route:\n%s", stdout)
	}
	if strings.Count(stdout, "openapi.W001") != 1 {
		t.Errorf("check warns about described routes:\n%s", stdout)
	}
}
