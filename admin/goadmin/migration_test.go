package goadmin_test

import (
	"testing"

	"manouche/admin/goadmin"
	"manouche/core/testenv"
)

// TestGoAdminMigration applies the framework's GoAdmin migration to an empty database, checks
// what it seeds (no account at all, the two roles, the menu), and checks that the down
// migration leaves nothing behind.
func TestGoAdminMigration(t *testing.T) {
	t.Parallel()
	for _, d := range []goadmin.Dialect{goadmin.SQLite, goadmin.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			if d == goadmin.Postgres {
				testenv.Lookup(t, testenv.DatabaseURL)
			}
			db, _ := scratchDB(t, d)
			applyInTx(t, db, migrationFile(t, "up", d))
			counts := []struct {
				query string
				want  int
			}{
				{"SELECT count(*) FROM goadmin_users", 0},
				{"SELECT count(*) FROM goadmin_role_users", 0},
				{"SELECT count(*) FROM goadmin_user_permissions", 0},
				{"SELECT count(*) FROM goadmin_roles", 2},
				{"SELECT count(*) FROM goadmin_permissions WHERE slug = '*'", 1},
				{"SELECT count(*) FROM goadmin_menu", 3},
				{"SELECT count(*) FROM goadmin_session", 0},
				{"SELECT count(*) FROM goadmin_site", 0},
			}
			for _, c := range counts {
				var n int
				if err := db.QueryRow(c.query).Scan(&n); err != nil {
					t.Fatalf("%s: %v", c.query, err)
				}
				if n != c.want {
					t.Errorf("%s = %d, want %d", c.query, n, c.want)
				}
			}
			// New rows get fresh ids after the seeded ones.
			var id int
			if err := db.QueryRow("INSERT INTO goadmin_menu (parent_id, type, \"order\", title, icon, uri, plugin_name) VALUES (0, 1, 9, 'x', 'fa-x', '/x', '') RETURNING id").Scan(&id); err != nil {
				t.Fatal(err)
			}
			if id != 4 {
				t.Errorf("next menu id = %d, want 4", id)
			}
			applyInTx(t, db, migrationFile(t, "down", d))
			q := "SELECT count(*) FROM sqlite_master WHERE name LIKE 'goadmin%'"
			if d == goadmin.Postgres {
				q = "SELECT count(*) FROM pg_class WHERE relname LIKE 'goadmin%'"
			}
			var left int
			if err := db.QueryRow(q).Scan(&left); err != nil {
				t.Fatal(err)
			}
			if left != 0 {
				t.Errorf("%d GoAdmin relations left after the down migration", left)
			}
			// And up again: the pair is repeatable.
			applyInTx(t, db, migrationFile(t, "up", d))
		})
	}
}
