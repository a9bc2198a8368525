package mail

import (
	"bytes"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"strconv"
	"strings"
	texttemplate "text/template"
)

// The layout files a Renderer wraps every message in, relative to its file
// system (the project's templates/ folder holds them).
const (
	LayoutText = "email/layout.txt"
	LayoutHTML = "email/layout.html"
)

// Renderer builds messages from template pairs. For a name such as
// "users/email/welcome" it reads NAME.txt (text/template) and NAME.html
// (html/template, auto-escaped); at least one must exist. Each is parsed as
// the template "content" and executed inside the matching layout
// (LayoutText, LayoutHTML), which places it with {{template "content" .}};
// when a layout file is missing the content stands alone. Layouts get the
// same data as the content.
//
// The subject comes from a {{define "subject"}}...{{end}} block in NAME.txt
// (or in NAME.html when there is no text part); it is rendered as text,
// and its whitespace collapsed to one line. A missing or empty subject is an
// error. The HTML layout may use {{template "subject" .}} (for <title>): it
// yields the rendered subject, escaped.
//
// The file system is the overlay the core builds, in which the project's
// templates shadow the apps'.
type Renderer struct {
	fsys fs.FS
}

// NewRenderer returns a Renderer reading templates from fsys.
func NewRenderer(fsys fs.FS) *Renderer { return &Renderer{fsys: fsys} }

// ErrTemplateNotFound is wrapped by Message when neither NAME.txt nor
// NAME.html exists.
var ErrTemplateNotFound = errors.New("email template not found")

// Message renders the template pair name with data and returns a message
// with Subject, Text and HTML set; the caller fills in the recipients.
func (r *Renderer) Message(name string, data any) (*Message, error) {
	if r == nil || r.fsys == nil {
		return nil, fmt.Errorf("mail: render %q: renderer has no templates", name)
	}
	name = strings.TrimSuffix(strings.TrimSuffix(name, ".txt"), ".html")
	if !fs.ValidPath(name + ".txt") {
		return nil, fmt.Errorf("mail: render %q: invalid template name", name)
	}
	txtSrc, txtOK, err := r.read(name + ".txt")
	if err != nil {
		return nil, err
	}
	htmlSrc, htmlOK, err := r.read(name + ".html")
	if err != nil {
		return nil, err
	}
	if !txtOK && !htmlOK {
		return nil, fmt.Errorf("mail: render %q: %w: neither %s.txt nor %s.html exists", name, ErrTemplateNotFound, name, name)
	}
	msg := &Message{}
	subjectFrom, subjectSrc := name+".txt", txtSrc
	if !txtOK {
		subjectFrom, subjectSrc = name+".html", htmlSrc
	}
	// The subject is a header, not HTML: always render it with text/template
	// so "&" stays "&".
	st, err := texttemplate.New("page").Parse(subjectSrc)
	if err != nil {
		return nil, fmt.Errorf("mail: parse %s: %w", subjectFrom, err)
	}
	if st.Lookup("subject") == nil {
		return nil, fmt.Errorf("mail: render %q: no subject: add {{define \"subject\"}}...{{end}} to %s", name, subjectFrom)
	}
	s, err := execText(st, "subject", data)
	if err != nil {
		return nil, fmt.Errorf("mail: render %s subject: %w", subjectFrom, err)
	}
	msg.Subject = strings.Join(strings.Fields(s), " ")
	if msg.Subject == "" {
		return nil, fmt.Errorf("mail: render %q: the subject block in %s renders empty", name, subjectFrom)
	}
	if txtOK {
		t, err := r.parseText(name+".txt", txtSrc)
		if err != nil {
			return nil, err
		}
		if msg.Text, err = execText(t, "layout", data); err != nil {
			return nil, fmt.Errorf("mail: render %s.txt: %w", name, err)
		}
	}
	if htmlOK {
		t, err := r.parseHTML(name+".html", htmlSrc, msg.Subject)
		if err != nil {
			return nil, err
		}
		var b bytes.Buffer
		if err := t.ExecuteTemplate(&b, "layout", data); err != nil {
			return nil, fmt.Errorf("mail: render %s.html: %w", name, err)
		}
		msg.HTML = b.String()
	}
	return msg, nil
}

func (r *Renderer) read(path string) (string, bool, error) {
	b, err := fs.ReadFile(r.fsys, path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("mail: read template %s: %w", path, err)
	}
	return string(b), true, nil
}

const bareLayout = `{{template "content" .}}`

func (r *Renderer) parseText(file, src string) (*texttemplate.Template, error) {
	layout, ok, err := r.read(LayoutText)
	if err != nil {
		return nil, err
	}
	if !ok {
		layout = bareLayout
	}
	t, err := texttemplate.New("layout").Parse(layout)
	if err != nil {
		return nil, fmt.Errorf("mail: parse %s: %w", LayoutText, err)
	}
	if _, err := t.New("content").Parse(src); err != nil {
		return nil, fmt.Errorf("mail: parse %s: %w", file, err)
	}
	return t, nil
}

func (r *Renderer) parseHTML(file, src, subject string) (*htmltemplate.Template, error) {
	layout, ok, err := r.read(LayoutHTML)
	if err != nil {
		return nil, err
	}
	if !ok {
		layout = bareLayout
	}
	t, err := htmltemplate.New("layout").Parse(layout)
	if err != nil {
		return nil, fmt.Errorf("mail: parse %s: %w", LayoutHTML, err)
	}
	// The rendered subject, as an escaped string constant, for the layout's
	// <title>; a subject block in the HTML file replaces it.
	if _, err := t.New("subject").Parse("{{" + strconv.Quote(subject) + "}}"); err != nil {
		return nil, fmt.Errorf("mail: subject: %w", err)
	}
	if _, err := t.New("content").Parse(src); err != nil {
		return nil, fmt.Errorf("mail: parse %s: %w", file, err)
	}
	return t, nil
}

func execText(t *texttemplate.Template, name string, data any) (string, error) {
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, name, data); err != nil {
		return "", err
	}
	return b.String(), nil
}
