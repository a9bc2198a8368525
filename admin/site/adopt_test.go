package site_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"manouche/admin/goadmin"
	"manouche/core"
	"manouche/core/testkit"
	"manouche/migrations"
	"manouche/settings"
)

// TestProjectAdoptsFrameworkRecords: a database migrated before GoAdmin's tables became the
// admin app's (recorded under "manouche") is migrated by the project as deployed: the admin
// app's migrations are not run again, only what is really new runs (here the users app's).
// The project is built without its HTTP routes, so GoAdmin is not mounted.
func TestProjectAdoptsFrameworkRecords(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := core.LoadSettings(settings.Options{Layer: "testing", Environ: []string{}, DotEnv: "-", SkipAbsentApps: true,
		Overrides: map[string]any{"DATABASE_URL": testkit.Database(t), "MEDIA_ROOT": filepath.Join(t.TempDir(), "media")}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := core.New(ctx, st, core.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })

	// The old layout: GoAdmin's tables, River and the queue view, all the framework's.
	old := migrations.New(p.DB, migrations.Source{App: migrations.FrameworkApp, FS: goadmin.Migrations(), Go: migrations.Framework().Go})
	if rep, err := old.Migrate(ctx); err != nil || len(rep.Applied) != 3 {
		t.Fatalf("old layout: %v, %v", rep, err)
	}

	rep, err := p.Migrations().Migrate(ctx)
	if err != nil {
		t.Fatalf("the project's migrate ran an adopted migration again: %v", err)
	}
	for _, a := range rep.Applied {
		if a == "admin "+goadmin.TablesMigration || a == "admin "+goadmin.QueueViewMigration {
			t.Errorf("applied %s again", a)
		}
	}
	if !slices.Contains(rep.Applied, "users 20261126100000_create_users") || len(rep.Missing) != 0 {
		t.Errorf("applied %q, missing %q", rep.Applied, rep.Missing)
	}
	status, err := p.Migrations().Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(status, func(a migrations.AppStatus) bool { return a.App == "admin" })
	if i < 0 || len(status[i].Migrations) != 2 || !status[i].Migrations[0].Applied || !status[i].Migrations[1].Applied {
		t.Errorf("showmigrations: %+v", status)
	}
}
