package scaffold_test

import (
	"bytes"
	"go/format"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"manouche/core/scaffold"
)

// module is the fake project's module path: generated code must take it from
// go.mod, never assume "manouche".
const module = "example.com/site"

var installed = []string{"pages", "users"}

// fakeProject writes the parts of a project Generate reads: go.mod,
// apps/apps.go, the users app's model (for foreign keys) and top-level folders.
func fakeProject(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	usersModel, err := os.ReadFile(filepath.Join("..", "..", "apps", "users", "model.go"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"go.mod":  "module " + module + "\n\ngo 1.26.0\n",
		"main.go": "package main\n",
		"apps/apps.go": "// Package apps is INSTALLED_APPS.\npackage apps\n\nimport (\n" +
			"\t\"" + module + "/apps/pages\"\n\t\"" + module + "/apps/users\"\n\t\"" + module + "/core\"\n)\n\n" +
			"// Installed is the installed list.\nvar Installed = []core.App{\n\tpages.App{},\n\tusers.App{},\n}\n",
		"apps/pages/pages.go": "package pages\n",
		"apps/users/model.go": string(usersModel),
		"apps/users/app.go":   "package users\n",
	}
	for _, dir := range []string{"admin", "core", "settings", "migrations", "templates"} {
		files[dir+"/doc.go"] = "package " + dir + "\n"
	}
	for name, content := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// snapshot maps every file under root to its content.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			files[rel+"/"] = ""
			return nil
		}
		b, err := os.ReadFile(p)
		files[rel] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestRefusals(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name         string
		app, model   string
		fields       string
		setup        func(t *testing.T, root string)
		wantInReason string
	}{
		{name: "installed app", app: "users", wantInReason: "already"},
		{name: "installed app without a folder", app: "shop", wantInReason: "installed app",
			setup: func(t *testing.T, root string) {}},
		{name: "Go keyword", app: "func", wantInReason: "keyword"},
		{name: "standard library fmt", app: "fmt", wantInReason: "standard library"},
		{name: "standard library http", app: "http", wantInReason: "standard library"},
		{name: "predeclared", app: "string", wantInReason: "predeclared"},
		{name: "upper case", app: "Blog", wantInReason: "lower-case"},
		{name: "dash", app: "my-app", wantInReason: "no dashes"},
		{name: "leading digit", app: "9lives", wantInReason: "start with a letter"},
		{name: "empty", app: "", wantInReason: "needs a name"},
		{name: "test suffix", app: "blog_test", wantInReason: "_test"},
		{name: "imported package name", app: "api", wantInReason: "imports"},
		{name: "existing folder", app: "legacy", wantInReason: "apps/legacy already exists",
			setup: func(t *testing.T, root string) {
				if err := os.Mkdir(filepath.Join(root, "apps", "legacy"), 0o755); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "top-level folder", app: "settings", wantInReason: "top-level folder"},
		{name: "bad type", app: "blog", model: "Post", fields: "title:strin", wantInReason: `unknown type "strin"`},
		{name: "fk to no app", app: "blog", model: "Post", fields: "x:fk:nope.Model", wantInReason: `no installed app named "nope"`},
		{name: "fk to no model", app: "blog", model: "Post", fields: "x:fk:users.Nope", wantInReason: "declares no type Nope"},
		{name: "fk not APP.Model", app: "blog", model: "Post", fields: "x:fk:users", wantInReason: "not APP.Model"},
		{name: "fk without target", app: "blog", model: "Post", fields: "x:fk", wantInReason: "names its model"},
		{name: "duplicate field", app: "blog", model: "Post", fields: "title:string title:text", wantInReason: "declared twice"},
		{name: "fk column clash", app: "blog", model: "Post", fields: "author:fk:users.User author_id:uuid", wantInReason: "column author_id"},
		{name: "reserved id", app: "blog", model: "Post", fields: "id:uuid", wantInReason: "added to every model"},
		{name: "reserved created_at", app: "blog", model: "Post", fields: "created_at:datetime", wantInReason: "added to every model"},
		{name: "reserved updated_at", app: "blog", model: "Post", fields: "updated_at:datetime", wantInReason: "added to every model"},
		{name: "keyword field", app: "blog", model: "Post", fields: "type:string", wantInReason: "Go keyword"},
		{name: "SQL reserved field", app: "blog", model: "Post", fields: "order:int", wantInReason: "reserved SQL word"},
		{name: "upper-case field", app: "blog", model: "Post", fields: "Title:string", wantInReason: "snake_case"},
		{name: "zero length", app: "blog", model: "Post", fields: "title:string:0", wantInReason: "maximum length"},
		{name: "length not a number", app: "blog", model: "Post", fields: "title:string:long", wantInReason: "maximum length"},
		{name: "argument on int", app: "blog", model: "Post", fields: "views:int:8", wantInReason: "takes no argument"},
		{name: "no kind", app: "blog", model: "Post", fields: "title", wantInReason: "name:kind"},
		{name: "only files", app: "blog", model: "Post", fields: "photo:image", wantInReason: "only files"},
		{name: "no fields", app: "blog", model: "Post", fields: " ", wantInReason: "--fields is empty"},
		{name: "fields without model", app: "blog", fields: "title:string", wantInReason: "--fields needs --model"},
		{name: "lower-case model", app: "blog", model: "post", fields: "title:string", wantInReason: "CamelCase"},
		{name: "model named App", app: "blog", model: "App", fields: "title:string", wantInReason: "App type"},
		{name: "field named like a method", app: "blog", model: "Post", fields: "indexes:int", wantInReason: "Indexes method"},
		{name: "fk to itself", app: "blog", model: "Post", fields: "parent:fk:blog.Post", wantInReason: "not supported"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			root := fakeProject(t)
			inst := installed
			if tc.setup != nil {
				tc.setup(t, root)
				inst = append(slices.Clone(installed), "shop")
			}
			before := snapshot(t, root)
			res, err := scaffold.Generate(scaffold.Options{Root: root, App: tc.app, Model: tc.model, Fields: tc.fields, Installed: inst})
			if err == nil {
				t.Fatalf("generated %v, want a refusal", res.Created)
			}
			if !strings.Contains(err.Error(), tc.wantInReason) {
				t.Errorf("reason %q does not say %q", err, tc.wantInReason)
			}
			after := snapshot(t, root)
			for name := range after {
				if _, ok := before[name]; !ok {
					t.Errorf("%s was written", name)
				}
			}
			for name, content := range before {
				if after[name] != content {
					t.Errorf("%s was changed", name)
				}
			}
		})
	}
}

func TestEmptyApp(t *testing.T) {
	t.Parallel()
	root := fakeProject(t)
	res, err := scaffold.Generate(scaffold.Options{Root: root, App: "wiki", Installed: installed})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"apps/wiki/app.go", "apps/wiki/main_test.go", "apps/wiki/app_test.go", "apps/wiki/templates/wiki/README.md",
		"apps/wiki/migrations/README.md"}
	if !slices.Equal(res.Created, want) {
		t.Errorf("created %v, want %v", res.Created, want)
	}
	if len(res.Routes) != 0 {
		t.Errorf("routes %v, want none", res.Routes)
	}
	apps, err := os.ReadFile(filepath.Join(root, "apps", "apps.go"))
	if err != nil {
		t.Fatal(err)
	}
	wantApps := "// Package apps is INSTALLED_APPS.\npackage apps\n\nimport (\n" +
		"\t\"example.com/site/apps/pages\"\n\t\"example.com/site/apps/users\"\n\t\"example.com/site/apps/wiki\"\n\t\"example.com/site/core\"\n)\n\n" +
		"// Installed is the installed list.\nvar Installed = []core.App{\n\tpages.App{},\n\tusers.App{},\n\twiki.App{},\n}\n"
	if string(apps) != wantApps {
		t.Errorf("apps/apps.go:\n%s\nwant:\n%s", apps, wantApps)
	}
	checkGenerated(t, root, res.Created)
}

func TestModelApp(t *testing.T) {
	t.Parallel()
	root := fakeProject(t)
	now := time.Date(2026, 11, 26, 18, 5, 9, 0, time.FixedZone("CET", 3600))
	res, err := scaffold.Generate(scaffold.Options{
		Root: root, App: "catalog", Model: "ProductCategory", Installed: installed, Now: now,
		Fields: "name:string:80 notes:text rank:int weight:float visible:bool since:date opens_at:datetime ref:uuid owner:fk:users.User logo:image manual:file",
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{
		"apps/catalog/product_categories.go",
		"apps/catalog/product_categories_test.go",
		"apps/catalog/migrations/20261126170509_create_catalog_product_categories.up.postgres.sql",
		"apps/catalog/migrations/20261126170509_create_catalog_product_categories.up.sqlite.sql",
		"apps/catalog/migrations/20261126170509_create_catalog_product_categories.down.postgres.sql",
		"apps/catalog/migrations/20261126170509_create_catalog_product_categories.down.sqlite.sql",
	} {
		if !slices.Contains(res.Created, name) {
			t.Errorf("%s not created (created %v)", name, res.Created)
		}
	}
	wantRoutes := []string{
		"GET /api/catalog/product_categories", "POST /api/catalog/product_categories",
		"GET /api/catalog/product_categories/{id}", "PATCH /api/catalog/product_categories/{id}",
		"DELETE /api/catalog/product_categories/{id}",
		"PUT /api/catalog/product_categories/{id}/logo", "PUT /api/catalog/product_categories/{id}/manual",
	}
	if !slices.Equal(res.Routes, wantRoutes) {
		t.Errorf("routes %v, want %v", res.Routes, wantRoutes)
	}
	checkGenerated(t, root, res.Created)

	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(root, "apps", "catalog", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	pg := read("migrations/20261126170509_create_catalog_product_categories.up.postgres.sql")
	sqlite := read("migrations/20261126170509_create_catalog_product_categories.up.sqlite.sql")
	for _, want := range []string{
		"CREATE TABLE catalog_product_categories (", "id UUID PRIMARY KEY",
		"name VARCHAR(80) NOT NULL DEFAULT ''", "notes TEXT NOT NULL DEFAULT ''",
		"rank BIGINT NOT NULL DEFAULT 0", "weight DOUBLE PRECISION NOT NULL DEFAULT 0",
		"visible BOOLEAN NOT NULL DEFAULT FALSE", "since DATE NOT NULL", "opens_at TIMESTAMPTZ NOT NULL",
		"ref UUID NOT NULL", "owner_id UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE",
		"logo VARCHAR(255) NOT NULL DEFAULT ''",
		"CREATE INDEX catalog_product_categories_owner_id_idx ON catalog_product_categories (owner_id);",
	} {
		if !strings.Contains(pg, want) {
			t.Errorf("Postgres migration lacks %q:\n%s", want, pg)
		}
	}
	for _, want := range []string{"id TEXT PRIMARY KEY", "opens_at TIMESTAMP NOT NULL", "owner_id TEXT NOT NULL REFERENCES users (id)"} {
		if !strings.Contains(sqlite, want) {
			t.Errorf("SQLite migration lacks %q:\n%s", want, sqlite)
		}
	}
	for _, dialect := range []string{"postgres", "sqlite"} {
		if down := read("migrations/20261126170509_create_catalog_product_categories.down." + dialect + ".sql"); !strings.HasSuffix(down, "\nDROP TABLE catalog_product_categories;\n") {
			t.Errorf("down (%s): %q", dialect, down)
		}
	}
	// One file holds the model and its view set; the API and the admin page
	// are derived from the struct (core/rest, admin.FromModel), so media
	// columns carry their kind in their Go type.
	model := read("product_categories.go")
	for _, want := range []string{
		"type ProductCategory struct {", `bun:"table:catalog_product_categories,alias:p"`,
		`OwnerID   uuid.UUID   ` + "`" + `bun:"owner_id,type:uuid,notnull"`,
		`Owner     *users.User ` + "`" + `bun:"rel:belongs-to,join:owner_id=id,on_delete:CASCADE"`,
		`Logo models.Image ` + "`" + `bun:"logo,type:varchar(255),notnull,default:''"`,
		`Manual models.File ` + "`",
		"var productCategories = &rest.ModelViewSet[ProductCategory]{",
		`Path: "/product_categories",`, `Policy: perm.IsAuthenticated,`, `Admin:  admin.Options{Title: "Product categories"},`,
		"line `NoCache: true,` below", // the model cache is on by default, one line turns it off
		`"example.com/site/apps/users"`, `"example.com/site/migrations"`, `"example.com/site/core/rest"`,
	} {
		if !strings.Contains(model, want) {
			t.Errorf("product_categories.go lacks %q:\n%s", want, model)
		}
	}
	if app := read("app.go"); !strings.Contains(app, "var resources = []rest.Resource{\n\tproductCategories,\n}") {
		t.Errorf("app.go does not list the resource:\n%s", app)
	}
}

// checkGenerated checks that the Go files are gofmt-clean, import the
// project's own module and never a hard-coded "manouche".
func checkGenerated(t *testing.T, root string, created []string) {
	t.Helper()
	for _, name := range created {
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(name)))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "manouche") {
			t.Errorf("%s mentions manouche, not the project's module", name)
		}
		if !strings.HasSuffix(name, ".go") {
			continue
		}
		formatted, err := format.Source(b)
		if err != nil {
			t.Fatalf("%s does not parse: %v", name, err)
		}
		if !bytes.Equal(formatted, b) {
			t.Errorf("%s is not gofmt-clean", name)
		}
		if !strings.Contains(string(b), module+"/") && !strings.HasSuffix(name, "app_test.go") {
			t.Errorf("%s does not import from %s", name, module)
		}
	}
}

func TestKindNames(t *testing.T) {
	t.Parallel()
	got := strings.Join(scaffold.KindNames(), " ")
	if got != "string text int float bool date datetime uuid fk image file" {
		t.Errorf("kinds: %s", got)
	}
}
