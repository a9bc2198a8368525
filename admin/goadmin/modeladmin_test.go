package goadmin_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"manouche/admin"
	"manouche/admin/goadmin"

	"github.com/gofiber/fiber/v2"
)

func TestModelAdminValidate(t *testing.T) {
	t.Parallel()
	good := usersAdmin()
	cases := []struct {
		name string
		edit func(*admin.ModelAdmin)
		want string // "" means valid
	}{
		{"users page", func(*admin.ModelAdmin) {}, ""},
		{"notes page", func(m *admin.ModelAdmin) { *m = notesAdmin(nil) }, ""},
		{"table with SQL in it", func(m *admin.ModelAdmin) { m.Table = "users; DROP TABLE users" }, "not a plain SQL identifier"},
		{"unknown list column", func(m *admin.ModelAdmin) { m.List = append(m.List, "nope") }, `List names "nope"`},
		{"unknown search column", func(m *admin.ModelAdmin) { m.Search = []string{"x"} }, `Search names "x"`},
		{"unknown filter", func(m *admin.ModelAdmin) { m.Filters = []string{"x"} }, `Filters names "x"`},
		{"unknown form field", func(m *admin.ModelAdmin) { m.Form = []string{"x"} }, `Form names "x"`},
		{"unknown ordering", func(m *admin.ModelAdmin) { m.Ordering = "-x" }, `Ordering names "x"`},
		{"password listed", func(m *admin.ModelAdmin) { m.List = append(m.List, "password") }, "password field"},
		{"password searched", func(m *admin.ModelAdmin) { m.Search = append(m.Search, "password") }, "password field"},
		{"password without hash", func(m *admin.ModelAdmin) {
			m.Fields = append([]admin.Field{}, m.Fields...)
			for i := range m.Fields {
				if m.Fields[i].Kind == admin.KindPassword {
					m.Fields[i].Hash = nil
				}
			}
		}, "needs a Hash function"},
		{"duplicate field", func(m *admin.ModelAdmin) { m.Fields = append(m.Fields, admin.Field{Name: "email"}) }, "declared twice"},
		{"unknown kind", func(m *admin.ModelAdmin) { m.Fields = append(m.Fields, admin.Field{Name: "x", Kind: admin.Kind(99)}) }, "unknown kind"},
		{"empty list", func(m *admin.ModelAdmin) { m.List = nil }, "List is empty"},
		{"every field kind", func(m *admin.ModelAdmin) { *m = kindsAdmin() }, ""},
		{"Ref on a field that is not a foreign key", func(m *admin.ModelAdmin) {
			m.Fields = append(m.Fields, admin.Field{Name: "x", Kind: admin.KindString, Ref: "users"})
		}, "needs a foreign key field"},
		{"Ref with SQL in it", func(m *admin.ModelAdmin) {
			m.Fields = append(m.Fields, admin.Field{Name: "x_id", Kind: admin.KindFK, Ref: "users; DROP TABLE users"})
		}, "plain SQL identifier"},
		{"RefLabel without Ref", func(m *admin.ModelAdmin) {
			m.Fields = append(m.Fields, admin.Field{Name: "x_id", Kind: admin.KindFK, RefLabel: "email"})
		}, "RefLabel"},
		{"unknown label column", func(m *admin.ModelAdmin) { m.Label = "nope" }, `Label names "nope"`},
		{"reserved name", func(m *admin.ModelAdmin) { m.Name = "op" }, "taken by the operation log"},
		{"action without Run", func(m *admin.ModelAdmin) { m.Actions = []admin.Action{{Name: "retry"}} }, "has no Run function"},
		{"action with a bad name", func(m *admin.ModelAdmin) {
			m.Actions = []admin.Action{{Name: "re try", Run: func(context.Context, string) error { return nil }}}
		}, "not a plain identifier"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := good
			tc.edit(&m)
			err := m.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestMountRefusesBadConfig(t *testing.T) {
	t.Parallel()
	ok := func(context.Context, string, string) (admin.User, error) { return admin.User{}, nil }
	load := func(context.Context, string) (admin.User, error) { return admin.User{}, nil }
	db := &sql.DB{}
	valid := goadmin.Config{DB: db, Dialect: goadmin.SQLite, DSN: "file:x", SecretKey: "0123456789abcdef", Authenticate: ok, LoadUser: load}
	cases := []struct {
		name string
		edit func(*goadmin.Config)
		want []string
	}{
		{"everything missing", func(c *goadmin.Config) { *c = goadmin.Config{} }, []string{"DB is nil", "dialect", "DSN is empty", "SecretKey", "Authenticate is nil", "LoadUser is nil"}},
		{"short secret", func(c *goadmin.Config) { c.SecretKey = "short" }, []string{"SecretKey"}},
		{"unknown dialect", func(c *goadmin.Config) { c.Dialect = "mysql" }, []string{`dialect "mysql"`}},
		{"bad model", func(c *goadmin.Config) { c.Models = []admin.ModelAdmin{{Table: "x"}} }, []string{"List is empty"}},
		{"two models with one name", func(c *goadmin.Config) { c.Models = []admin.ModelAdmin{notesAdmin(nil), notesAdmin(nil)} }, []string{`two models are named "notes"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := valid
			tc.edit(&cfg)
			_, err := goadmin.Mount(fiber.New(), cfg)
			if err == nil {
				t.Fatal("Mount accepted a bad config")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
	if _, err := goadmin.Mount(nil, valid); err == nil {
		t.Error("Mount accepted a nil app")
	}
	if _, err := goadmin.Mount(fiber.New().Group("/x"), valid); err == nil || !strings.Contains(err.Error(), "*fiber.App") {
		t.Errorf("Mount on a group: %v, want an error asking for the *fiber.App", err)
	}
}
