package pages_test

import (
	"strings"
	"testing"
	"testing/fstest"

	_ "manouche/apps/pages"
	"manouche/core/testkit"
)

func TestHomePage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		options   []any
		want      []string
		notWanted []string
	}{
		{"default template", []any{testkit.Settings{"SITE_NAME": "Gypsy Jazz <Club>"}},
			[]string{"<title>Gypsy Jazz &lt;Club&gt;</title>", "<h1>Gypsy Jazz &lt;Club&gt;</h1>", "/health"},
			[]string{"<Club>", "DEBUG</code> is on"}},
		{"debug note", []any{testkit.Settings{"DEBUG": true}}, []string{"DEBUG</code> is on"}, nil},
		{"project template overrides the app's", []any{
			testkit.Settings{"SITE_NAME": "Overridden"},
			testkit.Templates{FS: fstest.MapFS{"pages/index.html": {Data: []byte("<p>project page for {{.SiteName}}</p>")}}},
		}, []string{"<p>project page for Overridden</p>"}, []string{"The backend is running."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			app := testkit.New(t, tt.options...)
			res := app.Client.Get("/").AssertStatus(200)
			if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
				t.Errorf("Content-Type = %q, want text/html", ct)
			}
			body := string(res.Body)
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("body lacks %q:\n%s", w, body)
				}
			}
			for _, nw := range tt.notWanted {
				if strings.Contains(body, nw) {
					t.Errorf("body contains %q:\n%s", nw, body)
				}
			}
		})
	}
}

func TestTextFiles(t *testing.T) {
	t.Parallel()
	app := testkit.New(t)
	tests := []struct{ path, want string }{
		{"/robots.txt", "User-agent: *"},
		{"/humans.txt", "Manouche"},
	}
	for _, tt := range tests {
		res := app.Client.Get(tt.path).AssertStatus(200)
		if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
			t.Errorf("%s: Content-Type = %q, want text/plain", tt.path, ct)
		}
		if !strings.Contains(string(res.Body), tt.want) {
			t.Errorf("%s: body %q lacks %q", tt.path, res.Body, tt.want)
		}
	}
	// A project file overrides robots.txt too.
	app = testkit.New(t, testkit.Templates{FS: fstest.MapFS{"pages/robots.txt": {Data: []byte("User-agent: *\nDisallow: /\n")}}})
	if res := app.Client.Get("/robots.txt").AssertStatus(200); string(res.Body) != "User-agent: *\nDisallow: /\n" {
		t.Errorf("overridden robots.txt = %q", res.Body)
	}
	// Other methods are refused in the API's error shape.
	app.Client.Post("/robots.txt", map[string]any{}).AssertError(405, "MethodNotAllowed")
}
