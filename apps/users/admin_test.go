package users_test

import (
	"slices"
	"testing"

	"manouche/admin"
	"manouche/apps/users"
	"manouche/core/testkit"
)

// TestAdminPageDerived checks that the Users page derived from the User model
// (admin.FromModel plus the app's differences) is the page the app declared
// by hand before: same columns, labels, kinds, lists and behaviour.
func TestAdminPageDerived(t *testing.T) {
	t.Parallel()
	app := testkit.New(t)
	pages := users.App{}.AdminPages(app.Project)
	var tables []string
	for _, p := range pages {
		if err := p.Validate(); err != nil {
			t.Error(err)
		}
		if !p.SuperuserOnly {
			t.Errorf("%s: staff who are not superusers could grant themselves anything", p.Table)
		}
		tables = append(tables, p.Table)
	}
	// Users, then where permissions are granted: groups, their permissions, memberships, users' own.
	if !slices.Equal(tables, []string{"users", "users_groups", "users_group_permissions", "users_user_groups", "users_user_permissions"}) {
		t.Fatalf("pages of %v", tables)
	}
	m := pages[0]
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	want := []admin.Field{
		{Name: "id", Label: "ID", Kind: admin.KindUUID},
		{Name: "email", Label: "email", Kind: admin.KindString},
		{Name: "first_name", Label: "First name", Kind: admin.KindString},
		{Name: "last_name", Label: "Last name", Kind: admin.KindString},
		{Name: "password", Label: "password", Kind: admin.KindPassword},
		{Name: "is_active", Label: "Active", Kind: admin.KindBool},
		{Name: "is_staff", Label: "Staff", Kind: admin.KindBool},
		{Name: "is_superuser", Label: "Superuser", Kind: admin.KindBool},
		{Name: "date_joined", Label: "Date joined", Kind: admin.KindDateTime},
		{Name: "last_login", Label: "Last login", Kind: admin.KindDateTime, Null: true},
		{Name: "avatar", Label: "Avatar", Kind: admin.KindImage},
	}
	if len(m.Fields) != len(want) {
		t.Fatalf("fields %+v, want %d", m.Fields, len(want))
	}
	for i, w := range want {
		f := m.Fields[i]
		if f.Name != w.Name || f.Label != w.Label || f.Kind != w.Kind || f.Null != w.Null || f.Ref != "" {
			t.Errorf("field %d: %s %q %v null=%v, want %s %q %v null=%v", i, f.Name, f.Label, f.Kind, f.Null, w.Name, w.Label, w.Kind, w.Null)
		}
		if (f.Kind == admin.KindPassword) != (f.Hash != nil) || (f.Kind == admin.KindImage) != (f.URL != nil) {
			t.Errorf("field %s: Hash or URL missing", f.Name)
		}
	}
	lists := []struct {
		name      string
		got, want []string
	}{
		{"List", m.List, []string{"email", "first_name", "last_name", "is_active", "is_staff", "date_joined"}},
		{"Search", m.Search, []string{"email", "first_name", "last_name"}},
		{"Filters", m.Filters, []string{"is_active", "is_staff", "is_superuser"}},
		{"Form", m.Form, []string{"email", "first_name", "last_name", "password", "is_active", "is_staff", "is_superuser", "avatar", "date_joined", "last_login"}},
		{"ReadOnly", m.ReadOnly, []string{"avatar", "date_joined", "last_login"}},
	}
	for _, l := range lists {
		if !slices.Equal(l.got, l.want) {
			t.Errorf("%s: %q, want %q", l.name, l.got, l.want)
		}
	}
	if m.Table != "users" || m.Title != "Users" || m.Icon != "fa-users" || m.Ordering != "-date_joined" ||
		!m.NoDelete || !m.SuperuserOnly || m.NoCreate || m.AfterSave == nil {
		t.Errorf("page options: %+v", m)
	}
}
