package core_test

import (
	"context"
	"io/fs"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/gofiber/fiber/v2"

	"manouche/core"
	"manouche/core/testkit"
)

// namedApp is an app with any name and dependencies.
type namedApp struct {
	name string
	deps []string
}

func (a namedApp) Name() string        { return a.name }
func (a namedApp) DependsOn() []string { return a.deps }

type emptyNameApp struct{}

func (emptyNameApp) Name() string { return "" }

func TestCheckApps(t *testing.T) {
	t.Parallel()
	users := namedApp{name: "users"}
	blog := namedApp{name: "blog", deps: []string{"users"}}
	tests := []struct {
		name      string
		installed []core.App
		want      []string // fragments of the error; none: no error
	}{
		{"empty list", nil, nil},
		{"in order", []core.App{users, blog}, nil},
		{"duplicate", []core.App{users, namedApp{name: "users"}}, []string{`"users" is listed twice`, "unique"}},
		{"empty name", []core.App{emptyNameApp{}}, []string{"empty name", "emptyNameApp"}},
		{"upper case", []core.App{namedApp{name: "Blog"}}, []string{`"Blog"`, "lower-case"}},
		{"dash", []core.App{namedApp{name: "my-blog"}}, []string{`"my-blog"`}},
		{"leading digit", []core.App{namedApp{name: "1blog"}}, []string{`"1blog"`}},
		{"space", []core.App{namedApp{name: "my blog"}}, []string{`"my blog"`}},
		{"nil", []core.App{users, nil}, []string{"element 1 is nil"}},
		{"missing dependency", []core.App{blog}, []string{`app "blog" depends on "users", which is not installed`, "apps/apps.go"}},
		{"dependency listed later", []core.App{blog, users}, []string{`app "blog" depends on "users", which is listed after it: move core_test.namedApp{} above core_test.namedApp{}`}},
		{"every problem at once", []core.App{blog, namedApp{name: "Bad"}, namedApp{name: "shop", deps: []string{"cart"}}},
			[]string{`"blog" depends on "users"`, `"Bad"`, `"shop" depends on "cart"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := core.CheckApps(tt.installed)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("CheckApps: %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("CheckApps accepted %v", tt.installed)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if !strings.Contains(err.Error(), "apps.Installed (apps/apps.go)") {
				t.Errorf("error %q does not name apps.Installed (apps/apps.go)", err)
			}
		})
	}
}

func TestLookup(t *testing.T) {
	t.Parallel()
	installed := []core.App{namedApp{name: "users"}, namedApp{name: "blog"}}
	if a, ok := core.Lookup(installed, "blog"); !ok || a.Name() != "blog" {
		t.Errorf("Lookup(blog) = %v, %v", a, ok)
	}
	if _, ok := core.Lookup(installed, "nosuchapp"); ok {
		t.Error("Lookup found an app that is not installed")
	}
}

// orderApp answers GET /order-probe with its name and has one migration.
type orderApp struct{ name string }

func (a orderApp) Name() string   { return a.name }
func (a orderApp) Prefix() string { return "/" }
func (a orderApp) Routes(r fiber.Router, p *core.Project) {
	r.Get("/order-probe", func(c *fiber.Ctx) error { return c.SendString(a.name) })
}
func (a orderApp) Migrations() fs.FS {
	return fstest.MapFS{
		"20260101000001_create.up.sql":   {Data: []byte("CREATE TABLE " + a.name + "_things (id INTEGER);")},
		"20260101000001_create.down.sql": {Data: []byte("DROP TABLE " + a.name + "_things;")},
	}
}

// TestInstalledOrder: the installed list's order is the order routes mount
// (the first app's route answers) and migrations run in; swapping two apps
// swaps both.
func TestInstalledOrder(t *testing.T) {
	t.Parallel()
	first, second := orderApp{"alpha"}, orderApp{"beta"}
	tests := []struct {
		installed testkit.Apps
		want      []string
	}{
		{testkit.Apps{first, second}, []string{"alpha", "beta"}},
		{testkit.Apps{second, first}, []string{"beta", "alpha"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.want, ","), func(t *testing.T) {
			t.Parallel()
			app := testkit.New(t, tt.installed, testkit.NoMigrate{})
			pending, err := app.Migrations().Pending(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			var order []string
			for _, m := range pending {
				if m.App == "alpha" || m.App == "beta" {
					order = append(order, m.App)
				}
			}
			if !slices.Equal(order, tt.want) {
				t.Errorf("migration order %v, want %v", order, tt.want)
			}
			res := app.Client.Get("/order-probe")
			res.AssertStatus(200)
			if got := string(res.Body); got != tt.want[0] {
				t.Errorf("GET /order-probe answered by %q, want %q (mounted first)", got, tt.want[0])
			}
		})
	}
}
