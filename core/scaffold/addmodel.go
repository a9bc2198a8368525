package scaffold

import (
	"bytes"
	"errors"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// AddModel adds a model to an existing app: its file (the struct, its
// indexes and its rest.ModelViewSet), its tests, its first migration, the
// app's shared test helpers if the app has none yet, and the model's entry in
// the app's resources list in app.go. opts.App names the app; opts.Model and
// opts.Fields are as for Generate. Any refusal comes before the first write;
// a failed write removes what this call created.
func AddModel(opts Options) (*Result, error) {
	root := opts.Root
	if root == "" {
		root = "."
	}
	if opts.Model == "" {
		return nil, errors.New("addmodel: name the model: --model Comment")
	}
	module, err := readModule(filepath.Join(root, "go.mod"))
	if err != nil {
		return nil, err
	}
	appsFile, err := os.ReadFile(filepath.Join(root, "apps", "apps.go"))
	if err != nil {
		return nil, fmt.Errorf("addmodel: %w (run it from the project's root folder)", err)
	}
	appDir := filepath.Join(root, "apps", opts.App)
	parsed, err := parseAppsGo(appsFile)
	if err != nil {
		return nil, fmt.Errorf("addmodel: %w", err)
	}
	if opts.App == "" || !parsed.installedPaths()[module+"/apps/"+opts.App] {
		return nil, fmt.Errorf("addmodel: no installed app named %q (apps.Installed in apps/apps.go does not list %s.App{})", opts.App, opts.App)
	}
	appGoPath := filepath.Join(appDir, "app.go")
	appGo, err := os.ReadFile(appGoPath)
	if err != nil {
		return nil, fmt.Errorf("addmodel: %w", err)
	}
	m, err := newModel(opts, module, parsed)
	if err != nil {
		return nil, fmt.Errorf("addmodel: %w", err)
	}
	declared, err := packageNames(appDir)
	if err != nil {
		return nil, err
	}
	for _, name := range []string{m.Name, m.Resource()} {
		if declared[name] {
			return nil, fmt.Errorf("addmodel: package %s already declares %s: choose another model name", opts.App, name)
		}
	}
	for _, name := range []string{m.Plural + ".go", m.Plural + "_test.go"} {
		if _, err := os.Stat(filepath.Join(appDir, name)); err == nil {
			return nil, fmt.Errorf("addmodel: apps/%s/%s already exists", opts.App, name)
		}
	}
	newAppGo, err := addResource(appGo, m.Resource())
	if err != nil {
		return nil, err
	}
	g := &generation{project: project{root: root, module: module, appsFile: appsFile}}
	d := &data{Module: module, App: opts.App, Prefix: "/api/" + opts.App, Model: m,
		Command: fmt.Sprintf("%s --model %s --fields %q", opts.App, m.Name, opts.Fields)}
	if p, ok := appPrefix(appGo); ok {
		d.Prefix = p
	}
	_, statErr := os.Stat(filepath.Join(appDir, "helpers_test.go"))
	if err := g.renderModel(d, opts.Now, errors.Is(statErr, os.ErrNotExist)); err != nil {
		return nil, err
	}
	res := &Result{Module: module, Routes: g.routes}
	defer func() {
		if err != nil {
			for _, f := range res.Created {
				_ = os.Remove(filepath.Join(root, filepath.FromSlash(f)))
			}
		}
	}()
	if err = g.writeFiles(res); err != nil {
		return nil, err
	}
	if err = replaceFile(appGoPath, appGo, newAppGo); err != nil {
		return nil, err
	}
	res.Modified = []string{path.Join("apps", opts.App, "app.go")}
	return res, nil
}

// packageNames are the top-level names the package in dir declares.
func packageNames(dir string) (map[string]bool, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("addmodel: %w", err)
	}
	names := map[string]bool{}
	fset := token.NewFileSet()
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, fmt.Errorf("addmodel: %w", err)
		}
		for _, decl := range f.Decls {
			switch d := decl.(type) {
			case *ast.FuncDecl:
				if d.Recv == nil {
					names[d.Name.Name] = true
				}
			case *ast.GenDecl:
				for _, spec := range d.Specs {
					switch s := spec.(type) {
					case *ast.TypeSpec:
						names[s.Name.Name] = true
					case *ast.ValueSpec:
						for _, n := range s.Names {
							names[n.Name] = true
						}
					}
				}
			}
		}
	}
	return names, nil
}

// addResource appends name to the `var resources = []rest.Resource{...}`
// literal of an app.go and formats the file.
func addResource(src []byte, name string) ([]byte, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "app.go", src, parser.ParseComments|parser.SkipObjectResolution)
	if err != nil {
		return nil, fmt.Errorf("addmodel: app.go does not parse: %w", err)
	}
	var lit *ast.CompositeLit
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.VAR {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, n := range vs.Names {
				if n.Name == "resources" && i < len(vs.Values) {
					lit, _ = vs.Values[i].(*ast.CompositeLit)
				}
			}
		}
	}
	if lit == nil {
		return nil, fmt.Errorf("addmodel: app.go has no `var resources = []rest.Resource{...}` list: add %s to the app's resources by hand", name)
	}
	for _, elt := range lit.Elts {
		if id, ok := elt.(*ast.Ident); ok && id.Name == name {
			return nil, fmt.Errorf("addmodel: app.go already lists %s", name)
		}
	}
	at := fset.Position(lit.Rbrace).Offset
	var out bytes.Buffer
	before := bytes.TrimRight(src[:at], " \t")
	out.Write(before)
	if !bytes.HasSuffix(before, []byte("\n")) {
		out.WriteByte('\n')
	}
	out.WriteString("\t" + name + ",\n")
	out.Write(src[at:])
	formatted, err := format.Source(out.Bytes())
	if err != nil {
		return nil, fmt.Errorf("addmodel: app.go does not parse once %s is added: %w", name, err)
	}
	return formatted, nil
}

// appPrefix reads the app's Prefix method when it returns a string literal.
func appPrefix(src []byte) (string, bool) {
	f, err := parser.ParseFile(token.NewFileSet(), "app.go", src, parser.SkipObjectResolution)
	if err != nil {
		return "", false
	}
	for _, decl := range f.Decls {
		fd, ok := decl.(*ast.FuncDecl)
		if !ok || fd.Name.Name != "Prefix" || fd.Recv == nil || fd.Body == nil || len(fd.Body.List) != 1 {
			continue
		}
		ret, ok := fd.Body.List[0].(*ast.ReturnStmt)
		if !ok || len(ret.Results) != 1 {
			continue
		}
		if bl, ok := ret.Results[0].(*ast.BasicLit); ok && bl.Kind == token.STRING {
			return strings.Trim(bl.Value, "`\""), true
		}
	}
	return "", false
}
