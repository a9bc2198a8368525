package scaffold

import (
	"errors"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"path"
	"strconv"
	"strings"
)

// appsGo is apps/apps.go parsed: its imports and its Installed literal.
type appsGo struct {
	src     []byte
	fset    *token.FileSet
	file    *ast.File
	list    *ast.CompositeLit // the value of `var Installed = []core.App{...}`
	imports map[string]string // local name -> import path
}

// errNoInstalled is the refusal when apps/apps.go is not in the shape startapp edits.
var errNoInstalled = errors.New("apps/apps.go has no `var Installed = []core.App{...}` to add the app to")

// parseAppsGo parses apps/apps.go and finds its Installed literal.
func parseAppsGo(src []byte) (*appsGo, error) {
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, "apps/apps.go", src, parser.ParseComments|parser.SkipObjectResolution)
	if err != nil {
		return nil, fmt.Errorf("apps/apps.go does not parse: %w", err)
	}
	a := &appsGo{src: src, fset: fset, file: file, imports: map[string]string{}}
	for _, im := range file.Imports {
		p, err := strconv.Unquote(im.Path.Value)
		if err != nil {
			continue
		}
		name := path.Base(p)
		if im.Name != nil {
			name = im.Name.Name
		}
		a.imports[name] = p
	}
	for _, decl := range file.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.VAR {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, n := range vs.Names {
				if n.Name != "Installed" || i >= len(vs.Values) {
					continue
				}
				if lit, ok := vs.Values[i].(*ast.CompositeLit); ok {
					if _, ok := lit.Type.(*ast.ArrayType); ok {
						a.list = lit
					}
				}
			}
		}
	}
	return a, nil
}

// installedPaths returns the import paths of the packages whose App values
// are elements of Installed (`users.App{}` for "example.com/site/apps/users").
func (a *appsGo) installedPaths() map[string]bool {
	paths := map[string]bool{}
	if a.list == nil {
		return paths
	}
	for _, e := range a.list.Elts {
		if u, ok := e.(*ast.UnaryExpr); ok && u.Op == token.AND {
			e = u.X
		}
		lit, ok := e.(*ast.CompositeLit)
		if !ok {
			continue
		}
		sel, ok := lit.Type.(*ast.SelectorExpr)
		if !ok {
			continue
		}
		if x, ok := sel.X.(*ast.Ident); ok {
			if p, ok := a.imports[x.Name]; ok {
				paths[p] = true
			}
		}
	}
	return paths
}

// addInstalled imports module/apps/app in apps/apps.go and appends app.App{}
// to its Installed list, then formats the file. It refuses, changing nothing,
// when the file has no such list literal or already imports the app.
func addInstalled(src []byte, module, app string) ([]byte, error) {
	importPath := module + "/apps/" + app
	a, err := parseAppsGo(src)
	if err != nil {
		return nil, fmt.Errorf("startapp: %w", err)
	}
	if a.list == nil {
		return nil, fmt.Errorf("startapp: %w: add %s.App{} to it by hand, importing %q", errNoInstalled, app, importPath)
	}
	for name, p := range a.imports {
		if p == importPath {
			return nil, fmt.Errorf("startapp: apps/apps.go already imports %s", importPath)
		}
		if name == app {
			return nil, fmt.Errorf("startapp: apps/apps.go already imports a package named %s (%s): choose another app name", app, p)
		}
	}
	type edit struct {
		at   int
		text string
	}
	var edits []edit
	// The element, before the literal's closing brace.
	rbrace := a.fset.Position(a.list.Rbrace).Offset
	before := strings.TrimRight(string(src[:rbrace]), " \t")
	elem := app + ".App{}"
	switch {
	case strings.HasSuffix(before, "\n"):
		edits = append(edits, edit{len(before), "\t" + elem + ",\n"})
	case len(a.list.Elts) == 0:
		edits = append(edits, edit{rbrace, elem})
	case strings.HasSuffix(before, ","):
		edits = append(edits, edit{len(before), " " + elem})
	default:
		edits = append(edits, edit{len(before), ", " + elem})
	}
	// The import, in the first import block, or as a new declaration.
	quoted := strconv.Quote(importPath)
	var block *ast.GenDecl
	for _, decl := range a.file.Decls {
		if gd, ok := decl.(*ast.GenDecl); ok && gd.Tok == token.IMPORT {
			block = gd
			break
		}
	}
	switch {
	case block != nil && block.Rparen.IsValid():
		edits = append(edits, edit{a.fset.Position(block.Rparen).Offset, "\t" + quoted + "\n"})
	case block != nil:
		edits = append(edits, edit{a.fset.Position(block.End()).Offset, "\nimport " + quoted})
	default:
		edits = append(edits, edit{a.fset.Position(a.file.Name.End()).Offset, "\n\nimport " + quoted})
	}
	out := append([]byte{}, src...)
	// Apply from the end, so earlier offsets stay valid.
	if edits[0].at < edits[1].at {
		edits[0], edits[1] = edits[1], edits[0]
	}
	for _, e := range edits {
		out = append(out[:e.at], append([]byte(e.text), out[e.at:]...)...)
	}
	formatted, err := format.Source(out)
	if err != nil {
		return nil, fmt.Errorf("startapp: apps/apps.go does not parse once the app is added: %w", err)
	}
	check, err := parseAppsGo(formatted)
	if err != nil || !check.installedPaths()[importPath] {
		return nil, fmt.Errorf("startapp: %w: add %s.App{} to it by hand, importing %q", errNoInstalled, app, importPath)
	}
	return formatted, nil
}
