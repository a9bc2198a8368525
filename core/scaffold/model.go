package scaffold

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// Model is the model an app is generated with, and the names derived from it.
type Model struct {
	// Name is the Go type: Post.
	Name string
	// Var is the unexported name of a value of it, and the prefix of the
	// handlers' types: post, postOut, postHandlers.
	Var string
	// Plural is the URL segment and the tail of the table name: posts.
	Plural string
	// Table is the table: blog_posts.
	Table string
	// Alias is the table's alias in queries.
	Alias string
	// Fields are the declared fields, in order, then the owner's.
	Fields []*Field
	// Owner is "public", "private" or "" (see Options.Owner).
	Owner string
}

// Owner policies of --owner.
const (
	OwnerPublic  = "public"
	OwnerPrivate = "private"
)

// Policy is the perm policy of the model's view set.
func (m *Model) Policy() string {
	switch m.Owner {
	case OwnerPublic:
		return "OwnerOrReadOnly"
	case OwnerPrivate:
		return "OwnerOnly"
	}
	return "IsAuthenticated"
}

// Lower is the model's name in its permissions: post (blog.change_post).
func (m *Model) Lower() string { return strings.ToLower(m.Name) }

// reservedVars are the local names the handlers use, which Var must not be.
var reservedVars = map[string]bool{
	"c": true, "h": true, "q": true, "in": true, "ch": true, "ctx": true, "err": true, "res": true,
	"id": true, "now": true, "out": true, "rows": true, "page": true, "count": true, "cols": true,
	"bg": true, "cancel": true, "f": true, "fh": true, "img": true, "body": true, "name": true,
	"opts": true, "stored": true, "old": true, "dir": true, "column": true, "image": true,
	"field": true, "exists": true, "url": true, "changes": true, "s": true, "pattern": true,
	"api": true, "core": true, "fiber": true, "uuid": true, "bun": true, "time": true, "storage": true,
	"setText": true, "setValue": true, "setDate": true, "setDateTime": true, "setUUID": true,
	"likeEscaper": true, "timeFormat": true, "uploadField": true, "cleanupTimeout": true, "sub": true,
	"msgBlank": true, "msgDateFormat": true, "msgDateTimeFormat": true,
	"msgNoSuchObject": true, "msgInvalidImage": true, "msgStorageUnavailable": true,
	"migrationFiles": true, "templateFiles": true,
}

func newModel(opts Options, module string, appsFile *appsGo, addModel bool) (*Model, error) {
	if err := checkModelName(opts.Model); err != nil {
		return nil, err
	}
	fields, err := parseFields(opts.Fields)
	if err != nil {
		return nil, err
	}
	m := &Model{Name: opts.Model, Fields: fields, Owner: opts.Owner}
	switch opts.Owner {
	case "", OwnerPublic, OwnerPrivate:
	default:
		return nil, fmt.Errorf("--owner is %q: use --owner (anyone signed in reads, only the owner changes) or --owner=private (only the owner reads)", opts.Owner)
	}
	if opts.Owner != "" {
		for _, f := range fields {
			if f.Name == "owner" || f.Column() == "owner_id" {
				return nil, fmt.Errorf("field %q: --owner adds the owner field itself: remove it from --fields", f.Name)
			}
		}
		m.Fields = append(m.Fields, &Field{Name: "owner", Kind: FK, Ref: &Ref{App: "users", Model: "User"}, Owner: true})
	}
	m.Var = lowerCamel(m.Name)
	if token.IsKeyword(m.Var) || predeclared[m.Var] || reservedVars[m.Var] || unicode.IsDigit(rune(m.Var[0])) {
		m.Var = "obj"
	}
	m.Plural = plural(snake(m.Name))
	m.Table = opts.App + "_" + m.Plural
	m.Alias = m.Plural[:1]
	if len(m.Writable()) == 0 {
		return nil, errors.New("--fields declares only files: add at least one other field (files are uploaded after the object is created)")
	}
	for _, f := range m.Fields {
		if f.Kind != FK {
			continue
		}
		if err := resolveRef(opts.Root, module, opts.App, appsFile, f, addModel); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// resolveRef finds the model a foreign key points to: a struct of an installed
// app, with a bun.BaseModel table tag and a UUID primary key named id.
func resolveRef(root, module, self string, appsFile *appsGo, f *Field, addModel bool) error {
	ref := f.Ref
	fail := func(format string, args ...any) error {
		return fmt.Errorf("field %q: %s.%s: %s", f.Name, ref.App, ref.Model, fmt.Sprintf(format, args...))
	}
	if ref.App == self && !addModel {
		return fail("a foreign key to the app being generated is not supported yet: add the model with `addmodel` once the app exists")
	}
	ref.Import = module + "/apps/" + ref.App
	if ref.App == self {
		// A model of the same app (addmodel): its generated tests' fixture
		// makes the rows the new model's tests point to.
		ref.Local = true
		if ok, err := hasFixture(filepath.Join(root, "apps", self), ref.Model); err != nil {
			return fail("%v", err)
		} else if !ok {
			return fail("the tests of apps/%s declare no newFixture%s (what startapp and addmodel generate to make rows in tests): add this field by hand", self, ref.Model)
		}
	}
	if !appsFile.installedPaths()[ref.Import] {
		return fail("no installed app named %q (apps.Installed in apps/apps.go has no %s.App{})", ref.App, ref.App)
	}
	dir := filepath.Join(root, "apps", ref.App)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fail("%v", err)
	}
	fset := token.NewFileSet()
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, parser.SkipObjectResolution)
		if err != nil {
			return fail("%v", err)
		}
		if file.Name.Name != ref.App {
			return fail("package apps/%s is named %s: startapp expects the folder's name", ref.App, file.Name.Name)
		}
		for _, decl := range file.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.TYPE {
				continue
			}
			for _, spec := range gd.Specs {
				ts := spec.(*ast.TypeSpec)
				if ts.Name.Name != ref.Model {
					continue
				}
				st, ok := ts.Type.(*ast.StructType)
				if !ok {
					return fail("not a struct")
				}
				return readModelStruct(st, ref, fail)
			}
		}
	}
	return fail("apps/%s declares no type %s", ref.App, ref.Model)
}

// readModelStruct reads the table and checks the primary key of a bun model.
func readModelStruct(st *ast.StructType, ref *Ref, fail func(string, ...any) error) error {
	pkOK := false
	for _, fld := range st.Fields.List {
		if fld.Tag == nil {
			continue
		}
		tagText, err := strconv.Unquote(fld.Tag.Value)
		if err != nil {
			continue
		}
		opts := strings.Split(reflect.StructTag(tagText).Get("bun"), ",")
		if len(fld.Names) == 0 && exprString(fld.Type) == "bun.BaseModel" {
			for _, o := range opts {
				if t, ok := strings.CutPrefix(o, "table:"); ok {
					ref.Table = t
				}
			}
			continue
		}
		if slices.Contains(opts[1:], "pk") {
			if opts[0] != "id" || exprString(fld.Type) != "uuid.UUID" {
				return fail("its primary key must be a uuid.UUID column named id (found %s %s)", opts[0], exprString(fld.Type))
			}
			pkOK = true
		}
	}
	switch {
	case ref.Table == "":
		return fail("not a bun model: it needs a `bun:\"table:NAME\"` tag on an embedded bun.BaseModel")
	case !pkOK:
		return fail("no primary key: startapp needs a uuid.UUID field tagged `bun:\"id,pk\"`")
	}
	return nil
}

func exprString(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name
	case *ast.SelectorExpr:
		return exprString(e.X) + "." + e.Sel.Name
	case *ast.StarExpr:
		return "*" + exprString(e.X)
	}
	return fmt.Sprintf("%T", e)
}

// LocalRefs are the foreign keys to models of the same app.
func (m *Model) LocalRefs() []*Field {
	var out []*Field
	for _, f := range m.Fields {
		if f.Ref != nil && f.Ref.Local {
			out = append(out, f)
		}
	}
	return out
}

// hasFixture reports whether the tests in dir declare func newFixture<model>.
func hasFixture(dir, model string) (bool, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false, err
	}
	fset := token.NewFileSet()
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, parser.SkipObjectResolution)
		if err != nil {
			return false, err
		}
		for _, decl := range file.Decls {
			if fd, ok := decl.(*ast.FuncDecl); ok && fd.Recv == nil && fd.Name.Name == "newFixture"+model {
				return true, nil
			}
		}
	}
	return false, nil
}

// Human is the model's name in prose: blog post.
func (m *Model) Human() string { return strings.ReplaceAll(snake(m.Name), "_", " ") }

// Title is the plural for headings: Blog posts.
func (m *Model) Title() string {
	s := strings.ReplaceAll(m.Plural, "_", " ")
	return strings.ToUpper(s[:1]) + s[1:]
}

// Writable are the fields a JSON body sets: all but files.
func (m *Model) Writable() []*Field {
	var out []*Field
	for _, f := range m.Fields {
		if !f.IsFile() && !f.Owner {
			out = append(out, f)
		}
	}
	return out
}

// Files are the image and file fields, each with its upload route.
func (m *Model) Files() []*Field {
	var out []*Field
	for _, f := range m.Fields {
		if f.IsFile() {
			out = append(out, f)
		}
	}
	return out
}

// RequiredFields are the fields a create must send.
func (m *Model) RequiredFields() []*Field {
	var out []*Field
	for _, f := range m.Fields {
		if f.Required() && !f.Owner {
			out = append(out, f)
		}
	}
	return out
}

// TextFields are the fields search looks in.
func (m *Model) TextFields() []*Field {
	var out []*Field
	for _, f := range m.Fields {
		if f.IsText() {
			out = append(out, f)
		}
	}
	return out
}

// SearchNames lists the text fields in prose: title or body.
func (m *Model) SearchNames() string {
	var names []string
	for _, f := range m.TextFields() {
		names = append(names, f.Name)
	}
	return strings.Join(names, " or ")
}

// SearchColumns are the columns the admin searches.
func (m *Model) SearchColumns() []string {
	var cols []string
	for _, f := range m.TextFields() {
		cols = append(cols, f.Column())
	}
	return cols
}

// SearchField is the text field the generated search test fills in, or nil.
func (m *Model) SearchField() *Field {
	if t := m.TextFields(); len(t) > 0 {
		return t[0]
	}
	return nil
}

// SearchValues are the search test's values of SearchField, as Go literals:
// two of the three contain SearchQuery whatever the case.
func (m *Model) SearchValues() string {
	f := m.SearchField()
	return strings.Join([]string{strconv.Quote(f.fit("Qz")), strconv.Quote(f.fit("Wx")), strconv.Quote(f.fit("qz"))}, ", ")
}

// SearchQuery is the search test's query, as a Go literal.
func (m *Model) SearchQuery() string { return strconv.Quote(m.SearchField().fit("qZ")) }

// HasKind reports whether any field is of one of the kinds.
func (m *Model) HasKind(kinds ...string) bool {
	for _, f := range m.Fields {
		if slices.Contains(kinds, string(f.Kind)) {
			return true
		}
	}
	return false
}

// DependsOn are the names of the apps foreign keys point to, once each.
func (m *Model) DependsOn() []string {
	var names []string
	for _, r := range m.refs() {
		names = append(names, r.App)
	}
	return names
}

// refs are the apps foreign keys point to, once each.
func (m *Model) refs() []*Ref {
	var out []*Ref
	seen := map[string]bool{}
	for _, f := range m.Fields {
		if f.Ref != nil && !f.Ref.Local && !seen[f.Ref.Import] {
			seen[f.Ref.Import] = true
			out = append(out, f.Ref)
		}
	}
	return out
}

// ModelImports are the imports of the model's file.
func (m *Model) ModelImports(module string) []string {
	own := []string{module + "/admin", module + "/core/perm", module + "/core/rest", module + "/migrations"}
	if len(m.Files()) > 0 {
		own = append(own, module+"/core/models")
	}
	for _, r := range m.refs() {
		own = append(own, r.Import)
	}
	slices.Sort(own)
	return quoteImports(slices.Concat([]string{"time", "", "github.com/google/uuid", "github.com/uptrace/bun", ""}, own))
}

// Resource is the package-level variable of the model's rest.ModelViewSet:
// the plural in lowerCamel (posts, setTexts), unless that name is taken.
func (m *Model) Resource() string {
	name := lowerCamel(camel(m.Plural))
	taken := token.IsKeyword(name) || predeclared[name] || importedNames[name] || stdlibNames[name] ||
		reservedVars[name] || name == "models" || name == "rest" || name == "resources"
	for _, r := range m.refs() {
		taken = taken || r.App == name
	}
	if taken {
		return name + "Resource"
	}
	return name
}

// TestImports are the imports of the model's test.
func (m *Model) TestImports(module, app string) []string {
	std := []string{"context", "net/http", "net/http/httptest", "slices", "strings", "testing"}
	if m.SearchField() != nil || len(m.Files()) > 0 {
		std = append(std, "net/url")
	}
	slices.Sort(std)
	own := []string{module + "/admin", module + "/apps/" + app, module + "/apps/users", module + "/apps/users/userstest", module + "/core/testkit"}
	return quoteImports(slices.Concat(std, []string{"", "github.com/google/uuid", ""}, own))
}

// quoteImports quotes import paths ("" stays a blank line; "_ path" keeps
// its blank name and gains a comment).
func quoteImports(paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		switch {
		case p == "":
		case strings.HasPrefix(p, "_ "):
			out[i] = "_ " + strconv.Quote(strings.TrimPrefix(p, "_ ")) + " // accounts and tokens (/api/auth/register)"
		default:
			out[i] = strconv.Quote(p)
		}
	}
	return out
}
