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
	"os/exec"
	"path"
	"path/filepath"
	"strings"
)

// AddModel adds a model to an existing app, generated or written by hand:
// its file (the struct, its indexes and its rest.ModelViewSet), its tests,
// the app's shared test helpers if the app has none yet, the model's entry in
// the app's resources list in app.go and, when its foreign keys point to apps
// the app does not depend on yet, their names in its DependsOn list; then its
// migration, through opts.MakeMigration (makemigrations' autodetector).
// opts.App names the app; opts.Model, opts.Fields and opts.Owner are as for
// Generate, and a foreign key may point to a model of the app itself. Any
// refusal comes before the first write; a failure afterwards (the migration
// included) removes what this call created and restores app.go.
func AddModel(opts Options) (_ *Result, err error) {
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
	m, err := newModel(opts, module, parsed, true)
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
	if newAppGo, err = addDependsOn(newAppGo, m.DependsOn()); err != nil {
		return nil, err
	}
	g := &generation{project: project{root: root, module: module, appsFile: appsFile}}
	d := &data{Module: module, App: opts.App, Prefix: "/api/" + opts.App, Model: m,
		Command: fmt.Sprintf("%s --model %s --fields %q", opts.App, m.Name, opts.Fields)}
	if p, ok := appPrefix(appGo); ok {
		d.Prefix = p
	}
	_, statErr := os.Stat(filepath.Join(appDir, "helpers_test.go"))
	if err := g.renderModel(d, opts.Now, errors.Is(statErr, os.ErrNotExist), false); err != nil {
		return nil, err
	}
	out := &Result{Module: module, Routes: g.routes}
	written := false
	defer func() {
		if err == nil {
			return
		}
		for _, f := range out.Created {
			_ = os.Remove(filepath.Join(root, filepath.FromSlash(f)))
		}
		if written {
			_ = replaceFile(appGoPath, newAppGo, appGo)
		}
	}()
	if err = g.writeFiles(out); err != nil {
		return nil, err
	}
	if err = replaceFile(appGoPath, appGo, newAppGo); err != nil {
		return nil, err
	}
	written = true
	out.Modified = []string{path.Join("apps", opts.App, "app.go")}
	mk := opts.MakeMigration
	if mk == nil {
		mk = goRunMakeMigrations
	}
	migs, err := mk(root, opts.App, "create_"+m.Table)
	if err != nil {
		return nil, fmt.Errorf("addmodel: the migration of %s: %w (nothing was added)", m.Name, err)
	}
	for _, f := range migs {
		out.Created = append(out.Created, filepath.ToSlash(f))
	}
	return out, nil
}

// goRunMakeMigrations runs `go run . makemigrations APP NAME` in root, which
// compiles the project with the new model in it, and returns the files it
// wrote (relative to root).
func goRunMakeMigrations(root, app, name string) ([]string, error) {
	cmd := exec.Command("go", "run", ".", "makemigrations", app, name)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("go run . makemigrations %s %s: %w\n%s", app, name, err, out)
	}
	var files []string
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.TrimSpace(line); strings.HasSuffix(f, ".sql") {
			files = append(files, f)
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("go run . makemigrations %s %s wrote no migration:\n%s", app, name, out)
	}
	return files, nil
}

// addDependsOn adds deps that the `DependsOn` method of an app.go does not
// list yet to its []string literal, or adds the method when the app has none.
func addDependsOn(src []byte, deps []string) ([]byte, error) {
	if len(deps) == 0 {
		return src, nil
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "app.go", src, parser.ParseComments|parser.SkipObjectResolution)
	if err != nil {
		return nil, fmt.Errorf("addmodel: app.go does not parse: %w", err)
	}
	var recv string
	for _, decl := range f.Decls {
		fd, ok := decl.(*ast.FuncDecl)
		if !ok || fd.Recv == nil || len(fd.Recv.List) != 1 {
			continue
		}
		if fd.Name.Name == "Name" {
			recv = exprString(fd.Recv.List[0].Type)
		}
		if fd.Name.Name != "DependsOn" {
			continue
		}
		var lit *ast.CompositeLit
		if fd.Body != nil && len(fd.Body.List) == 1 {
			if ret, ok := fd.Body.List[0].(*ast.ReturnStmt); ok && len(ret.Results) == 1 {
				lit, _ = ret.Results[0].(*ast.CompositeLit)
			}
		}
		if lit == nil {
			return nil, fmt.Errorf("addmodel: the app's DependsOn is not `return []string{...}`: add %s to it by hand", strings.Join(deps, ", "))
		}
		have := map[string]bool{}
		for _, e := range lit.Elts {
			if bl, ok := e.(*ast.BasicLit); ok {
				have[strings.Trim(bl.Value, "`\"")] = true
			}
		}
		var add []string
		for _, d := range deps {
			if !have[d] {
				add = append(add, fmt.Sprintf("%q", d))
			}
		}
		if len(add) == 0 {
			return src, nil
		}
		at := fset.Position(lit.Rbrace).Offset
		sep := ", "
		if len(lit.Elts) == 0 {
			sep = ""
		}
		out := string(src[:at]) + sep + strings.Join(add, ", ") + string(src[at:])
		return formatGo(out)
	}
	if recv == "" {
		return nil, errors.New("addmodel: app.go declares no Name method: cannot tell the app's type to add DependsOn to")
	}
	quoted := make([]string, len(deps))
	for i, d := range deps {
		quoted[i] = fmt.Sprintf("%q", d)
	}
	out := strings.TrimRight(string(src), "\n") + "\n\n// DependsOn lists the apps this app's foreign keys point to: apps.Installed\n// must list them before it.\nfunc (" + recv + ") DependsOn() []string { return []string{" + strings.Join(quoted, ", ") + "} }\n"
	return formatGo(out)
}

func formatGo(src string) ([]byte, error) {
	b, err := format.Source([]byte(src))
	if err != nil {
		return nil, fmt.Errorf("addmodel: app.go does not parse once edited: %w", err)
	}
	return b, nil
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
