package migrations_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"manouche/core/testkit/testdb"
	"manouche/migrations"
)

func TestMakeEmpty(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "apps", "blog", "migrations")
	now := time.Date(2026, 11, 26, 19, 30, 5, 0, time.FixedZone("CET", 3600))
	up, down, err := migrations.MakeEmpty(dir, "add_index", now)
	if err != nil {
		t.Fatalf("MakeEmpty: %v", err)
	}
	// The timestamp is UTC.
	if want := filepath.Join(dir, "20261126183005_add_index.up.sql"); up != want {
		t.Errorf("up = %q, want %q", up, want)
	}
	if want := filepath.Join(dir, "20261126183005_add_index.down.sql"); down != want {
		t.Errorf("down = %q, want %q", down, want)
	}
	for _, p := range []string{up, down} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("read %s: %v", p, err)
		}
		if !strings.HasPrefix(string(b), "--") {
			t.Errorf("%s = %q, want a comment to fill in", p, b)
		}
	}

	// Never overwrites: a second call with the same name and time fails and
	// leaves the files as they are.
	if err := os.WriteFile(up, []byte("CREATE TABLE kept (id INTEGER);\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := migrations.MakeEmpty(dir, "add_index", now); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("second MakeEmpty: err = %v, want already exists", err)
	}
	if b, _ := os.ReadFile(up); string(b) != "CREATE TABLE kept (id INTEGER);\n" {
		t.Errorf("the up file was overwritten: %q", b)
	}

	// When only the down file exists, neither is written.
	other := now.Add(time.Second)
	downOnly := filepath.Join(dir, "20261126183006_partial.down.sql")
	if err := os.WriteFile(downOnly, []byte("-- mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := migrations.MakeEmpty(dir, "partial", other); err == nil {
		t.Fatal("MakeEmpty over an existing down file: no error")
	}
	if _, err := os.Stat(filepath.Join(dir, "20261126183006_partial.up.sql")); !os.IsNotExist(err) {
		t.Errorf("the up file was written beside an existing down file (stat err %v)", err)
	}
	if b, _ := os.ReadFile(downOnly); string(b) != "-- mine\n" {
		t.Errorf("the down file was overwritten: %q", b)
	}
}

func TestMakeEmptyRefusesBadNames(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"", "Add_Index", "1st", "_x", "add-index", "add index", "../escape", "a/b", "naïve", "x.up"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			_, _, err := migrations.MakeEmpty(dir, name, time.Now())
			if err == nil {
				t.Fatalf("MakeEmpty(%q): no error", name)
			}
			if !strings.Contains(err.Error(), "not a migration name") {
				t.Errorf("error %q does not say what a name is", err)
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != 0 {
				t.Errorf("files written for a refused name: %v", entries)
			}
		})
	}
}

func TestWrittenMigrationLoads(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if _, _, err := migrations.Write(dir, "create_things", time.Now(), "CREATE TABLE things (id INTEGER);", "DROP TABLE things;"); err != nil {
		t.Fatal(err)
	}
	bdb := testdb.Open(t, testdb.URL(t, testdb.SQLite))
	rep, err := migrations.New(bdb, migrations.Source{App: "made", FS: os.DirFS(dir)}).Migrate(t.Context())
	if err != nil || len(rep.Applied) != 1 {
		t.Fatalf("Migrate of a written pair: %+v, %v", rep, err)
	}
	if !tableExists(t, bdb, "things") {
		t.Error("table things missing")
	}
}

func TestBadFileNamesRefused(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"create.up.sql", "2026_create.up.sql", "20260101000001_Create.up.sql", "20260101000001_x.sideways.sql", "20260101000001_x.up.mysql.sql"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			bdb := testdb.Open(t, testdb.URL(t, testdb.SQLite))
			_, err := migrations.New(bdb, migrations.Source{App: "bad", FS: files(name, "SELECT 1;")}).Migrate(t.Context())
			if err == nil || !strings.Contains(err.Error(), name) {
				t.Errorf("a file named %s: err = %v, want it named", name, err)
			}
		})
	}
}
