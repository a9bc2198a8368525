package mail_test

import (
	"errors"
	"os"
	"strings"
	"testing"
	"testing/fstest"

	"manouche/core/mail"
)

func TestRenderer(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{
		"email/layout.txt":    {Data: []byte("{{template \"content\" .}}\n-- \nThe Site")},
		"email/layout.html":   {Data: []byte("<html><head><title>{{template \"subject\" .}}</title></head><body>{{template \"content\" .}}</body></html>")},
		"users/welcome.txt":   {Data: []byte("{{define \"subject\"}}\n  Welcome, {{.Name}} & co\n{{end}}Hello {{.Name}}!")},
		"users/welcome.html":  {Data: []byte("<p>Hello {{.Name}}!</p>")},
		"users/textonly.txt":  {Data: []byte("{{define \"subject\"}}Text only{{end}}Plain.")},
		"users/htmlonly.html": {Data: []byte("{{define \"subject\"}}Tom & Jerry{{end}}<b>bold</b>")},
		"users/nosubject.txt": {Data: []byte("Hello")},
		"users/empty.txt":     {Data: []byte("{{define \"subject\"}}  {{end}}Hello")},
		"users/broken.txt":    {Data: []byte("{{define \"subject\"}}x{{end}}{{.Name")},
		"users/badfield.txt":  {Data: []byte("{{define \"subject\"}}x{{end}}{{.Nope.Deeper}}")},
	}
	r := mail.NewRenderer(fsys)
	data := struct{ Name string }{Name: "<Ann>"}

	m, err := r.Message("users/welcome", data)
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != "Welcome, <Ann> & co" {
		t.Errorf("subject = %q", m.Subject)
	}
	if m.Text != "Hello <Ann>!\n-- \nThe Site" {
		t.Errorf("text = %q", m.Text)
	}
	wantHTML := "<html><head><title>Welcome, &lt;Ann&gt; &amp; co</title></head><body><p>Hello &lt;Ann&gt;!</p></body></html>"
	if m.HTML != wantHTML {
		t.Errorf("html = %q\nwant %q", m.HTML, wantHTML)
	}

	m, err = r.Message("users/textonly", nil)
	if err != nil || m.HTML != "" || m.Subject != "Text only" || !strings.HasPrefix(m.Text, "Plain.") {
		t.Errorf("text only: %+v, %v", m, err)
	}
	m, err = r.Message("users/htmlonly", nil)
	if err != nil || m.Text != "" || m.Subject != "Tom & Jerry" || !strings.Contains(m.HTML, "<title>Tom &amp; Jerry</title><body><b>bold</b>") && !strings.Contains(m.HTML, "<b>bold</b>") {
		t.Errorf("html only: %+v, %v", m, err)
	}

	errs := []struct {
		name, want string
		is         error
	}{
		{"users/missing", "neither users/missing.txt nor users/missing.html exists", mail.ErrTemplateNotFound},
		{"users/nosubject", `add {{define "subject"}}`, nil},
		{"users/empty", "renders empty", nil},
		{"users/broken", "parse users/broken.txt", nil},
		{"users/badfield", "render users/badfield.txt", nil},
		{"../etc/passwd", "invalid template name", nil},
	}
	for _, e := range errs {
		_, err := r.Message(e.name, data)
		if err == nil || !strings.Contains(err.Error(), e.want) || (e.is != nil && !errors.Is(err, e.is)) {
			t.Errorf("Message(%q) = %v, want error containing %q", e.name, err, e.want)
		}
	}
	if _, err := mail.NewRenderer(nil).Message("x", nil); err == nil {
		t.Error("renderer without templates: no error")
	}
}

func TestRendererWithoutLayout(t *testing.T) {
	t.Parallel()
	r := mail.NewRenderer(fstest.MapFS{
		"a.txt":  {Data: []byte(`{{define "subject"}}S{{end}}text`)},
		"a.html": {Data: []byte(`<p>html</p>`)},
	})
	m, err := r.Message("a", nil)
	if err != nil || m.Text != "text" || m.HTML != "<p>html</p>" {
		t.Fatalf("%+v, %v", m, err)
	}
}

// The project's shared layout parses and wraps content.
func TestProjectLayout(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{"email/x.txt": {Data: []byte(`{{define "subject"}}Project layout{{end}}BODY-TEXT`)},
		"email/x.html": {Data: []byte(`<p>BODY-HTML</p>`)}}
	for _, f := range []string{mail.LayoutText, mail.LayoutHTML} {
		b, err := os.ReadFile("../../templates/" + f)
		if err != nil {
			t.Fatal(err)
		}
		fsys[f] = &fstest.MapFile{Data: b}
	}
	m, err := mail.NewRenderer(fsys).Message("email/x", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(m.Text, "BODY-TEXT") || !strings.Contains(m.HTML, "<p>BODY-HTML</p>") || !strings.Contains(m.HTML, "<title>Project layout</title>") {
		t.Fatalf("layout output:\n%s\n%s", m.Text, m.HTML)
	}
}
