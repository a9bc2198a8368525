// Package scaffold writes new apps: `go run . startapp NAME` creates
// apps/NAME/ with the files every app has (registration, routes, model,
// admin, migrations and templates folders, a test) and installs it in
// apps/apps.go. With a model and its fields it also writes the model, its
// first migration for Postgres and SQLite, the CRUD JSON API of API.md, its
// admin pages and black-box tests of every route.
//
// The code is generated from the templates in templates/ (embedded, edit
// them to change what every new app looks like) and formatted with go/format.
// Names are checked before anything is written, and nothing existing is
// ever overwritten: a refused command leaves the project as it was.
package scaffold

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"go/format"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"text/template"
	"time"

	"manouche/migrations"
)

//go:embed templates/*.tmpl
var templateFiles embed.FS

var tmpl = template.Must(template.New("").Funcs(template.FuncMap{
	"goStrings": goStrings,
	"contains":  strings.Contains,
}).ParseFS(templateFiles, "templates/*.tmpl"))

// Options describe the app to write.
type Options struct {
	// Root is the project's folder: the one holding go.mod and apps/.
	Root string
	// App is the new app's name (a Go package name).
	App string
	// Model is the model's name in CamelCase; empty for an app without one.
	Model string
	// Fields declares the model's fields: "title:string:120 body:text".
	Fields string
	// Owner gives the model's rows owners (an owner foreign key to
	// users.User): "public" (anyone signed in reads, only the owner changes),
	// "private" (only the owner even reads), or "" for rows without owners.
	Owner string
	// Installed are the names of the installed apps.
	Installed []string
	// MakeMigration writes the migration of the model AddModel adds, once
	// its files are written, and returns the files it wrote; nil runs
	// `go run . makemigrations APP NAME` in Root (the autodetector, on the
	// project compiled with the new model).
	MakeMigration func(root, app, name string) ([]string, error)
	// Now stamps the first migration; the zero value means time.Now().
	Now time.Time
}

// Result is what Generate wrote.
type Result struct {
	// Module is the project's Go module path, from go.mod.
	Module string
	// Created are the files written, relative to the root, slash-separated.
	Created []string
	// Modified are the existing files changed: apps/apps.go.
	Modified []string
	// Routes are the routes of the generated API ("GET /api/blog/posts").
	Routes []string
}

// Generate checks opts and writes the app. Any refusal comes before the
// first write; a failed write removes what this call created.
func Generate(opts Options) (*Result, error) {
	p, err := plan(opts)
	if err != nil {
		return nil, err
	}
	return p.write()
}

// project is what Generate reads of the project before writing.
type project struct {
	root     string
	module   string
	appsFile []byte // apps/apps.go
}

// data is what the templates see.
type data struct {
	Module  string
	App     string
	Prefix  string
	Command string
	Model   *Model
	Dialect string // for the migration templates: postgres or sqlite
}

// file is one file to write.
type file struct {
	path    string // relative to the root, slash-separated
	content []byte
}

type generation struct {
	project
	files  []file
	apps   []byte // apps/apps.go with the new app installed
	routes []string
}

func plan(opts Options) (*generation, error) {
	root := opts.Root
	if root == "" {
		root = "."
	}
	module, err := readModule(filepath.Join(root, "go.mod"))
	if err != nil {
		return nil, err
	}
	appsPath := filepath.Join(root, "apps", "apps.go")
	appsFile, err := os.ReadFile(appsPath)
	if err != nil {
		return nil, fmt.Errorf("startapp: %w (run startapp from the project's root folder)", err)
	}
	taken, err := takenNames(root, opts.Installed)
	if err != nil {
		return nil, err
	}
	parsed, err := parseAppsGo(appsFile)
	if err != nil {
		return nil, fmt.Errorf("startapp: %w", err)
	}
	for name, p := range parsed.imports {
		if _, ok := taken[name]; !ok {
			taken[name] = fmt.Sprintf("apps/apps.go imports %s under that name", p)
		}
	}
	if err := checkAppName(opts.App, taken); err != nil {
		return nil, err
	}
	g := &generation{project: project{root: root, module: module, appsFile: appsFile}}
	d := &data{Module: module, App: opts.App, Prefix: "/api/" + opts.App, Command: opts.App}
	switch {
	case opts.Model == "" && strings.TrimSpace(opts.Fields) != "":
		return nil, errors.New("--fields needs --model: name the model the fields belong to")
	case opts.Model != "":
		m, err := newModel(opts, module, parsed, false)
		if err != nil {
			return nil, err
		}
		d.Model = m
		d.Command += fmt.Sprintf(" --model %s --fields %q", m.Name, opts.Fields)
	}
	if err := g.render(d, opts.Now); err != nil {
		return nil, err
	}
	g.apps, err = addInstalled(appsFile, module, opts.App)
	if err != nil {
		return nil, err
	}
	return g, nil
}

// readModule returns the module path of go.mod.
func readModule(goMod string) (string, error) {
	b, err := os.ReadFile(goMod)
	if err != nil {
		return "", fmt.Errorf("startapp: %w (run startapp from the project's root folder)", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "module"); ok && rest != "" && (rest[0] == ' ' || rest[0] == '\t') {
			m := strings.Trim(strings.TrimSpace(rest), `"`)
			if i := strings.Index(m, "//"); i >= 0 {
				m = strings.TrimSpace(m[:i])
			}
			if m != "" {
				return m, nil
			}
		}
	}
	return "", fmt.Errorf("startapp: %s has no module line", goMod)
}

// takenNames maps every name an app cannot take to the reason.
func takenNames(root string, installed []string) (map[string]string, error) {
	taken := map[string]string{}
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("startapp: %w", err)
	}
	for _, e := range entries {
		name := strings.TrimSuffix(e.Name(), filepath.Ext(e.Name()))
		taken[strings.ToLower(name)] = fmt.Sprintf("the project has a top-level %s named %s", kindOf(e), e.Name())
	}
	entries, err = os.ReadDir(filepath.Join(root, "apps"))
	if err != nil {
		return nil, fmt.Errorf("startapp: %w", err)
	}
	for _, e := range entries {
		taken[strings.ToLower(e.Name())] = fmt.Sprintf("apps/%s already exists", e.Name())
	}
	for _, name := range installed {
		taken[name] = "an installed app has that name"
	}
	return taken, nil
}

func kindOf(e fs.DirEntry) string {
	if e.IsDir() {
		return "folder"
	}
	return "file"
}

// add renders a template into g.files, as apps/APP/name; Go files are gofmt'ed.
func (g *generation) add(name, tmplName string, d *data) error {
	var buf bytes.Buffer
	if err := tmpl.ExecuteTemplate(&buf, tmplName, d); err != nil {
		return fmt.Errorf("startapp: template %s: %w", tmplName, err)
	}
	content := buf.Bytes()
	if strings.HasSuffix(name, ".go") {
		formatted, err := format.Source(content)
		if err != nil {
			return fmt.Errorf("startapp: generated %s does not parse (a template bug): %w\n%s", name, err, content)
		}
		content = formatted
	}
	g.files = append(g.files, file{path: path.Join("apps", d.App, name), content: content})
	return nil
}

// render executes the templates of a new app, and of its model if it has one, into g.files.
func (g *generation) render(d *data, now time.Time) error {
	steps := []struct{ name, tmpl string }{
		{"app.go", "app.go.tmpl"},
		{"main_test.go", "main_test.go.tmpl"},
		{"app_test.go", "app_test.go.tmpl"},
		{"templates/" + d.App + "/README.md", "templates_README.md.tmpl"},
	}
	if d.Model == nil {
		steps = append(steps, struct{ name, tmpl string }{"migrations/README.md", "migrations_README.md.tmpl"})
	}
	for _, s := range steps {
		if err := g.add(s.name, s.tmpl, d); err != nil {
			return err
		}
	}
	if d.Model == nil {
		return nil
	}
	return g.renderModel(d, now, true, true)
}

// renderModel executes the templates of one model into g.files: the model and
// its API and admin declaration (posts.go), its tests (posts_test.go), its
// first migration, and the app's shared test helpers when first is set.
func (g *generation) renderModel(d *data, now time.Time, first, migration bool) error {
	m := d.Model
	steps := []struct{ name, tmpl string }{
		{m.Plural + ".go", "resource.go.tmpl"},
		{m.Plural + "_test.go", "resource_test.go.tmpl"},
	}
	if first {
		steps = append(steps, struct{ name, tmpl string }{"helpers_test.go", "helpers_test.go.tmpl"})
	}
	for _, s := range steps {
		if err := g.add(s.name, s.tmpl, d); err != nil {
			return err
		}
	}
	if now.IsZero() {
		now = time.Now()
	}
	if !migration {
		return g.setRoutes(d)
	}
	// The first migration's files are named as makemigrations names its own.
	for _, f := range migrations.Generated(now.UTC().Format("20060102150405") + "_create_" + m.Table) {
		dd := *d
		dd.Dialect = f.Dialect
		if err := g.add("migrations/"+f.Name, f.Direction+".sql.tmpl", &dd); err != nil {
			return err
		}
	}
	return g.setRoutes(d)
}

// setRoutes records the routes of d's model.
func (g *generation) setRoutes(d *data) error {
	m := d.Model
	p := d.Prefix + "/" + m.Plural
	g.routes = []string{"GET " + p, "POST " + p, "GET " + p + "/{id}", "PATCH " + p + "/{id}", "DELETE " + p + "/{id}"}
	for _, f := range m.Files() {
		g.routes = append(g.routes, "PUT "+p+"/{id}/"+f.Name)
	}
	return nil
}

// write creates the files, then installs the app in apps/apps.go. On any
// failure it removes the app's folder, which did not exist before.
func (g *generation) write() (res *Result, err error) {
	appDir := filepath.Join(g.root, filepath.FromSlash(path.Dir(g.files[0].path)))
	if err := os.Mkdir(appDir, 0o755); err != nil {
		return nil, fmt.Errorf("startapp: %w", err)
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(appDir)
		}
	}()
	res = &Result{Module: g.module, Routes: g.routes}
	if err := g.writeFiles(res); err != nil {
		return nil, err
	}
	if err := replaceFile(filepath.Join(g.root, "apps", "apps.go"), g.appsFile, g.apps); err != nil {
		return nil, err
	}
	res.Modified = []string{"apps/apps.go"}
	return res, nil
}

// writeFiles creates g.files, never overwriting one, and records them in res.Created.
func (g *generation) writeFiles(res *Result) error {
	for _, f := range g.files {
		p := filepath.Join(g.root, filepath.FromSlash(f.path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("startapp: %w", err)
		}
		// O_EXCL: never overwrite, even a file that appeared meanwhile.
		w, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return fmt.Errorf("startapp: %w", err)
		}
		_, err = w.Write(f.content)
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		res.Created = append(res.Created, f.path)
		if err != nil {
			return fmt.Errorf("startapp: write %s: %w", f.path, err)
		}
	}
	return nil
}

// replaceFile atomically replaces name's content, provided it still is old.
func replaceFile(name string, old, content []byte) error {
	current, err := os.ReadFile(name)
	if err != nil {
		return fmt.Errorf("startapp: %w", err)
	}
	if !bytes.Equal(current, old) {
		return fmt.Errorf("startapp: %s changed while the app was generated; run startapp again", name)
	}
	info, err := os.Stat(name)
	if err != nil {
		return fmt.Errorf("startapp: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(name), ".apps-*.go.tmp")
	if err != nil {
		return fmt.Errorf("startapp: %w", err)
	}
	defer func() { _ = os.Remove(tmp.Name()) }()
	if _, err := tmp.Write(content); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("startapp: write %s: %w", name, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("startapp: write %s: %w", name, err)
	}
	if err := os.Chmod(tmp.Name(), info.Mode().Perm()); err != nil {
		return fmt.Errorf("startapp: %w", err)
	}
	if err := os.Rename(tmp.Name(), name); err != nil {
		return fmt.Errorf("startapp: %w", err)
	}
	return nil
}

// goStrings renders a Go []string literal.
func goStrings(s []string) string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = fmt.Sprintf("%q", v)
	}
	return "[]string{" + strings.Join(q, ", ") + "}"
}
