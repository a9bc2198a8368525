package migrations_test

import (
	"context"
	"slices"
	"testing"

	"github.com/uptrace/bun"

	"manouche/admin/site"
	"manouche/migrations"
)

// oldLayout is how the framework recorded GoAdmin's tables and the email queue's view
// before they became the admin app's migrations: all three under "manouche".
func oldLayout(bdb *bun.DB) *migrations.Runner {
	fw := migrations.Framework()
	return migrations.New(bdb, migrations.Source{App: migrations.FrameworkApp, FS: site.App{}.Migrations(), Go: fw.Go})
}

// newLayout is today's: the framework's River migration, then the admin app's, which
// adopts the two it took over.
func newLayout(bdb *bun.DB) *migrations.Runner {
	a := site.App{}
	return migrations.New(bdb, migrations.Framework(),
		migrations.Source{App: a.Name(), FS: a.Migrations(), Adopts: a.AdoptsMigrations()})
}

func recorded(t *testing.T, bdb *bun.DB) []string {
	t.Helper()
	var rows []struct{ App, Name string }
	if err := bdb.NewRaw("SELECT app, name FROM "+migrations.Table+" ORDER BY name, app").Scan(context.Background(), &rows); err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.App + " " + r.Name
	}
	return out
}

// TestAdoptedMigrationsDoNotRunAgain migrates a database with the old layout, then with the
// new one: nothing runs again (GoAdmin's CREATE TABLEs would fail), the records move to the
// admin app, and `migrate admin zero` then drops GoAdmin's tables like any app's.
func TestAdoptedMigrationsDoNotRunAgain(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, bdb *bun.DB, _ string) {
		ctx := context.Background()
		rep, err := oldLayout(bdb).Migrate(ctx)
		if err != nil {
			t.Fatalf("old layout: %v", err)
		}
		if len(rep.Applied) != 3 {
			t.Fatalf("old layout applied %q, want the 3 framework migrations", rep.Applied)
		}
		// Staff data GoAdmin keeps must survive the move.
		if _, err := bdb.ExecContext(ctx, `INSERT INTO goadmin_menu (parent_id, type, "order", title, icon, uri, plugin_name) VALUES (0, 1, 9, 'kept', 'fa-x', '/x', '')`); err != nil {
			t.Fatal(err)
		}

		r := newLayout(bdb)
		// Before the first migrate of the new layout, status already shows them as the admin's.
		st, err := r.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, as := range st {
			for _, m := range as.Migrations {
				if !m.Applied || m.Missing {
					t.Errorf("status before migrate: %s %s applied=%v missing=%v", as.App, m.Name, m.Applied, m.Missing)
				}
			}
		}
		if pending, err := r.Pending(ctx); err != nil || len(pending) != 0 {
			t.Errorf("pending before migrate: %v, %v", pending, err)
		}

		rep, err = r.Migrate(ctx)
		if err != nil {
			t.Fatalf("new layout: %v", err)
		}
		if len(rep.Applied) != 0 || len(rep.Missing) != 0 {
			t.Errorf("new layout applied %q, missing %q: want nothing", rep.Applied, rep.Missing)
		}
		want := []string{"admin 20261126000001_goadmin", "manouche 20261126000002_river", "admin 20261126000003_email_queue_view"}
		if got := recorded(t, bdb); !slices.Equal(got, want) {
			t.Errorf("recorded %q, want %q", got, want)
		}
		if n := count(t, bdb, "SELECT count(*) FROM goadmin_menu WHERE title = 'kept'"); n != 1 {
			t.Errorf("goadmin_menu lost its rows: %d", n)
		}
		// A second run, and a run of the old layout's records already adopted, do nothing.
		if rep, err := r.Migrate(ctx); err != nil || len(rep.Applied) != 0 {
			t.Errorf("second migrate: %v, %v", rep, err)
		}

		// The adopted migrations are the admin app's: unapplying it drops GoAdmin's tables.
		rep, err = r.MigrateApp(ctx, "admin", "zero")
		if err != nil {
			t.Fatalf("migrate admin zero: %v", err)
		}
		if len(rep.Unapplied) != 2 {
			t.Errorf("migrate admin zero unapplied %q", rep.Unapplied)
		}
		for _, table := range []string{"goadmin_users", "goadmin_menu", "goadmin_session"} {
			if tableExists(t, bdb, table) {
				t.Errorf("%s left after migrate admin zero", table)
			}
		}
		if !tableExists(t, bdb, "river_job") {
			t.Error("migrate admin zero dropped River's tables")
		}
		if got := recorded(t, bdb); !slices.Equal(got, []string{"manouche 20261126000002_river"}) {
			t.Errorf("recorded after admin zero: %q", got)
		}
		// And forward again, as on a fresh database.
		if rep, err := r.Migrate(ctx); err != nil || len(rep.Applied) != 2 {
			t.Errorf("migrate after admin zero: %v, %v", rep, err)
		}
	})
}

// TestAdoptKeepsExistingRecord leaves a former record alone when the adopting app has its
// own already (both layouts ran on one database): it is reported missing, not moved.
func TestAdoptKeepsExistingRecord(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, bdb *bun.DB, _ string) {
		ctx := context.Background()
		src := migrations.Source{App: "newapp", FS: files("20270101000001_a.up.sql", "CREATE TABLE adopt_a (id INTEGER);\n")}
		if _, err := migrations.New(bdb, src).Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := bdb.ExecContext(ctx, "INSERT INTO "+migrations.Table+" (app, name, applied_at) VALUES ('oldapp', '20270101000001_a', CURRENT_TIMESTAMP)"); err != nil {
			t.Fatal(err)
		}
		src.Adopts = map[string]string{"20270101000001_a": "oldapp"}
		rep, err := migrations.New(bdb, src).Migrate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Applied) != 0 || !slices.Equal(rep.Missing, []string{"oldapp 20270101000001_a"}) {
			t.Errorf("applied %q, missing %q", rep.Applied, rep.Missing)
		}
		if got := recorded(t, bdb); !slices.Equal(got, []string{"newapp 20270101000001_a", "oldapp 20270101000001_a"}) {
			t.Errorf("recorded %q", got)
		}
	})
}
