package migrations_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/uptrace/bun"

	"manouche/core/db"
	"manouche/core/testkit/testdb"
	"manouche/migrations"
)

func files(kv ...string) fstest.MapFS {
	m := fstest.MapFS{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = &fstest.MapFile{Data: []byte(kv[i+1])}
	}
	return m
}

func tableExists(t *testing.T, bdb *bun.DB, table string) bool {
	t.Helper()
	var n int
	var err error
	if db.IsPostgres(bdb) {
		err = bdb.QueryRowContext(context.Background(),
			"SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = ?", table).Scan(&n)
	} else {
		err = bdb.QueryRowContext(context.Background(), "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?", table).Scan(&n)
	}
	if err != nil {
		t.Fatalf("look for table %s: %v", table, err)
	}
	return n > 0
}

func count(t *testing.T, bdb *bun.DB, query string) int {
	t.Helper()
	var n int
	if err := bdb.QueryRowContext(context.Background(), query).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func dialectName(bdb *bun.DB) string {
	if db.IsPostgres(bdb) {
		return "postgres"
	}
	return "sqlite"
}

// threeSteps is an app whose migrations create t1, t2, t3 (prefixed), each with a down.
func threeSteps(prefix string) fstest.MapFS {
	m := fstest.MapFS{}
	for i, ts := range []string{"20260101000001", "20260101000002", "20260101000003"} {
		name := fmt.Sprintf("%s_step%d", ts, i+1)
		table := fmt.Sprintf("%s_t%d", prefix, i+1)
		m[name+".up.sql"] = &fstest.MapFile{Data: []byte("CREATE TABLE " + table + " (id INTEGER PRIMARY KEY);\n")}
		m[name+".down.sql"] = &fstest.MapFile{Data: []byte("DROP TABLE " + table + ";\n")}
	}
	return m
}

func TestStatementSplitting(t *testing.T) {
	t.Parallel()
	common := `CREATE TABLE notes (id ID_TYPE PRIMARY KEY, body TEXT NOT NULL);
-- a comment; with a semicolon, and an apostrophe's in it
INSERT INTO notes (body) VALUES ('a;b');
/* a block comment; with 'quotes' and a ; */
INSERT INTO notes (body) VALUES ('it''s; fine -- not a comment');
INSERT INTO notes (body) VALUES ('/* not a comment; */');
CREATE TABLE log (msg TEXT NOT NULL);
`
	sqliteFile := strings.Replace(common, "ID_TYPE", "INTEGER", 1) + `CREATE TRIGGER notes_ai AFTER INSERT ON notes
BEGIN
  INSERT INTO log (msg) VALUES ('new; ' || NEW.body);
  INSERT INTO log (msg) VALUES (CASE WHEN NEW.body = 'x' THEN 'case; x' ELSE 'case; other' END);
END;
INSERT INTO notes (body) VALUES ('after trigger');
-- a trailing comment with no statement;
`
	pgFile := strings.Replace(common, "ID_TYPE", "SERIAL", 1) + `CREATE FUNCTION notes_log() RETURNS trigger AS $$
BEGIN
  INSERT INTO log (msg) VALUES ('new; ' || NEW.body);
  INSERT INTO log (msg) VALUES (CASE WHEN NEW.body = 'x' THEN 'case; x' ELSE 'case; other' END);
  RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER notes_ai AFTER INSERT ON notes FOR EACH ROW EXECUTE FUNCTION notes_log();
DO $body$ BEGIN PERFORM 1; END; $body$;
INSERT INTO notes (body) VALUES ('after trigger');
-- a trailing comment with no statement;
`
	testdb.Each(t, func(t *testing.T, _ testdb.Dialect, url string) {
		bdb := testdb.Open(t, url)
		src := migrations.Source{App: "split", FS: files(
			"20260101000001_tricky.up.sqlite.sql", sqliteFile,
			"20260101000001_tricky.up.postgres.sql", pgFile,
		)}
		if _, err := migrations.New(bdb, src).Migrate(context.Background()); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
		var bodies []string
		if err := bdb.NewRaw("SELECT body FROM notes ORDER BY id").Scan(context.Background(), &bodies); err != nil {
			t.Fatal(err)
		}
		want := []string{"a;b", "it's; fine -- not a comment", "/* not a comment; */", "after trigger"}
		if !slices.Equal(bodies, want) {
			t.Errorf("notes = %q, want %q", bodies, want)
		}
		var logs []string
		if err := bdb.NewRaw("SELECT msg FROM log ORDER BY msg").Scan(context.Background(), &logs); err != nil {
			t.Fatal(err)
		}
		if want := []string{"case; other", "new; after trigger"}; !slices.Equal(logs, want) {
			t.Errorf("log = %q, want %q (the trigger's body was cut)", logs, want)
		}
	})
}

// TestDollarQuotedStatementStaysWhole checks $$ bodies through the error a
// failing statement gives: the statement named must be the whole $$ body.
func TestDollarQuotedStatementStaysWhole(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, _ testdb.Dialect, url string) {
		bdb := testdb.Open(t, url)
		src := migrations.Source{App: "dollar", FS: files("20260101000001_d.up.sql",
			"CREATE TABLE dollar_ok (x INTEGER);\nSELECT $$ one; two $$ FROM no_such_table_zz;\nCREATE TABLE dollar_never (x INTEGER);\n")}
		_, err := migrations.New(bdb, src).Migrate(context.Background())
		if err == nil {
			t.Fatal("Migrate: no error")
		}
		for _, want := range []string{"statement 2", "SELECT $$ one; two $$ FROM no_such_table_zz"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error does not contain %q:\n%v", want, err)
			}
		}
		if tableExists(t, bdb, "dollar_ok") || tableExists(t, bdb, "dollar_never") {
			t.Error("a table of the failed migration exists")
		}
	})
}

func TestMigrateOrderAndIdempotence(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, _ testdb.Dialect, url string) {
		bdb := testdb.Open(t, url)
		ctx := context.Background()
		// App "zeta" comes first in the given order though its timestamps are later.
		zeta := migrations.Source{App: "zeta", FS: files(
			"20270101000002_second.up.sql", "CREATE TABLE zeta_b (id INTEGER);",
			"20270101000001_first.up.sql", "CREATE TABLE zeta_a (id INTEGER);",
		)}
		alpha := migrations.Source{App: "alpha", FS: files(
			"20200101000001_only.up.sql", "CREATE TABLE alpha_a (id INTEGER);",
			"20200101000001_only.down.sql", "DROP TABLE alpha_a;",
		)}
		var progress []string
		r := migrations.New(bdb, migrations.Framework(), zeta, alpha)
		var mu sync.Mutex
		r.Progress = func(action, app, name string, _ time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			progress = append(progress, action+" "+app+" "+name)
		}
		rep, err := r.Migrate(ctx)
		if err != nil {
			t.Fatalf("Migrate: %v", err)
		}
		var apps []string
		for _, a := range rep.Applied {
			app, _, _ := strings.Cut(a, " ")
			if len(apps) == 0 || apps[len(apps)-1] != app {
				apps = append(apps, app)
			}
		}
		if want := []string{migrations.FrameworkApp, "zeta", "alpha"}; !slices.Equal(apps, want) {
			t.Fatalf("applied in app order %q, want %q (all: %q)", apps, want, rep.Applied)
		}
		i := slices.Index(rep.Applied, "zeta 20270101000001_first")
		if i < 0 || i+1 >= len(rep.Applied) || rep.Applied[i+1] != "zeta 20270101000002_second" {
			t.Errorf("zeta's migrations not in name order: %q", rep.Applied)
		}
		if len(progress) != len(rep.Applied) {
			t.Errorf("Progress called %d times for %d migrations", len(progress), len(rep.Applied))
		}
		for _, table := range []string{"zeta_a", "zeta_b", "alpha_a", "river_job"} {
			if !tableExists(t, bdb, table) {
				t.Errorf("table %s missing after migrate", table)
			}
		}
		// A second run applies nothing.
		rep2, err := r.Migrate(ctx)
		if err != nil {
			t.Fatalf("second Migrate: %v", err)
		}
		if len(rep2.Applied) != 0 || len(rep2.Missing) != 0 {
			t.Errorf("second Migrate applied %q, missing %q", rep2.Applied, rep2.Missing)
		}
		pending, err := r.Pending(ctx)
		if err != nil || len(pending) != 0 {
			t.Errorf("Pending = %d, %v", len(pending), err)
		}
		if n := count(t, bdb, "SELECT count(*) FROM "+migrations.Table); n != len(rep.Applied) {
			t.Errorf("%d recorded migrations, want %d", n, len(rep.Applied))
		}
	})
}

func TestDialectFileWins(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, _ testdb.Dialect, url string) {
		bdb := testdb.Open(t, url)
		src := migrations.Source{App: "dia", FS: files(
			"20260101000001_x.up.sql", "CREATE TABLE dia_plain (id INTEGER);",
			"20260101000001_x.up.sqlite.sql", "CREATE TABLE dia_sqlite (id INTEGER);",
			"20260101000001_x.up.postgres.sql", "CREATE TABLE dia_postgres (id INTEGER);",
			"20260101000001_x.down.sql", "DROP TABLE dia_plain;",
			"20260101000001_x.down.sqlite.sql", "DROP TABLE dia_sqlite;",
			"20260101000001_x.down.postgres.sql", "DROP TABLE dia_postgres;",
			// only the other dialect's file: still one migration, plain up used
			"20260101000002_y.up.sql", "CREATE TABLE dia_y_plain (id INTEGER);",
		)}
		ctx := context.Background()
		r := migrations.New(bdb, src)
		if _, err := r.Migrate(ctx); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
		mine := "dia_" + dialectName(bdb)
		for _, table := range []string{"dia_plain", "dia_sqlite", "dia_postgres"} {
			if got := tableExists(t, bdb, table); got != (table == mine) {
				t.Errorf("table %s exists: %v (dialect %s)", table, got, dialectName(bdb))
			}
		}
		if _, err := r.MigrateApp(ctx, "dia", "zero"); err == nil {
			t.Error("unapplying y, which has no down file: no error")
		} else if !strings.Contains(err.Error(), "no down migration") {
			t.Errorf("error %q does not say there is no down migration", err)
		}
		if _, err := r.MigrateApp(ctx, "dia", "20260101000001"); err == nil {
			t.Error("moving back over y (no down): no error")
		}
	})
}

func TestDialectOnlyFileForOtherDialect(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, _ testdb.Dialect, url string) {
		bdb := testdb.Open(t, url)
		other := "postgres"
		if db.IsPostgres(bdb) {
			other = "sqlite"
		}
		src := migrations.Source{App: "only", FS: files("20260101000001_x.up."+other+".sql", "CREATE TABLE x (id INTEGER);")}
		_, err := migrations.New(bdb, src).Migrate(context.Background())
		if err == nil || !strings.Contains(err.Error(), "no up migration") {
			t.Fatalf("a migration with only the other dialect's file: err = %v", err)
		}
	})
}

func TestStatusAndMigrateApp(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, _ testdb.Dialect, url string) {
		bdb := testdb.Open(t, url)
		ctx := context.Background()
		r := migrations.New(bdb, migrations.Source{App: "steps", FS: threeSteps("steps")})
		applied := func() []bool {
			t.Helper()
			st, err := r.Status(ctx)
			if err != nil {
				t.Fatalf("Status: %v", err)
			}
			if len(st) != 1 || st[0].App != "steps" || len(st[0].Migrations) != 3 {
				t.Fatalf("Status = %+v", st)
			}
			var out []bool
			for _, m := range st[0].Migrations {
				if m.Missing {
					t.Errorf("%s reported missing", m.Name)
				}
				if m.Applied == m.AppliedAt.IsZero() {
					t.Errorf("%s: Applied %v but AppliedAt %v", m.Name, m.Applied, m.AppliedAt)
				}
				out = append(out, m.Applied)
			}
			return out
		}
		tables := func() []bool {
			return []bool{tableExists(t, bdb, "steps_t1"), tableExists(t, bdb, "steps_t2"), tableExists(t, bdb, "steps_t3")}
		}
		steps := []struct {
			target        string
			wantApplied   []bool
			wantUnapplied []string
			wantNew       []string
		}{
			{"20260101000002", []bool{true, true, false}, nil, []string{"steps 20260101000001_step1", "steps 20260101000002_step2"}},
			{"20260101000003_step3", []bool{true, true, true}, nil, []string{"steps 20260101000003_step3"}},
			{"20260101000001_step1", []bool{true, false, false}, []string{"steps 20260101000003_step3", "steps 20260101000002_step2"}, nil},
			{"zero", []bool{false, false, false}, []string{"steps 20260101000001_step1"}, nil},
			{"zero", []bool{false, false, false}, nil, nil},
			{"20260101000003", []bool{true, true, true}, nil, []string{"steps 20260101000001_step1", "steps 20260101000002_step2", "steps 20260101000003_step3"}},
		}
		if got := applied(); !slices.Equal(got, []bool{false, false, false}) {
			t.Fatalf("fresh Status = %v", got)
		}
		for _, s := range steps {
			rep, err := r.MigrateApp(ctx, "steps", s.target)
			if err != nil {
				t.Fatalf("MigrateApp(%s): %v", s.target, err)
			}
			if !slices.Equal(rep.Applied, s.wantNew) || !slices.Equal(rep.Unapplied, s.wantUnapplied) {
				t.Errorf("MigrateApp(%s): applied %q unapplied %q, want %q %q", s.target, rep.Applied, rep.Unapplied, s.wantNew, s.wantUnapplied)
			}
			if got := applied(); !slices.Equal(got, s.wantApplied) {
				t.Errorf("after MigrateApp(%s): Status %v, want %v", s.target, got, s.wantApplied)
			}
			if got := tables(); !slices.Equal(got, s.wantApplied) {
				t.Errorf("after MigrateApp(%s): tables %v, want %v", s.target, got, s.wantApplied)
			}
		}
	})
}

func TestMigrateAppErrors(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, _ testdb.Dialect, url string) {
		bdb := testdb.Open(t, url)
		ctx := context.Background()
		src := threeSteps("errs")
		src["20260102000001_other.up.sql"] = &fstest.MapFile{Data: []byte("SELECT 1;")}
		r := migrations.New(bdb, migrations.Source{App: "errs", FS: src})
		tests := []struct {
			app, target string
			want        []string
		}{
			{"nosuchapp", "zero", []string{`"nosuchapp"`, "errs"}},
			{"errs", "20990101000000_nope", []string{"no migration", "20990101000000_nope", "showmigrations"}},
			{"errs", "2026", []string{"matches several"}},
			{"errs", "", []string{"matches several"}},
		}
		for _, tt := range tests {
			rep, err := r.MigrateApp(ctx, tt.app, tt.target)
			if err == nil {
				t.Errorf("MigrateApp(%q, %q) = %+v, want an error", tt.app, tt.target, rep)
				continue
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("MigrateApp(%q, %q): error %q does not contain %q", tt.app, tt.target, err, w)
				}
			}
		}
		if tableExists(t, bdb, "errs_t1") {
			t.Error("a failed MigrateApp applied something")
		}
	})
}

func TestBrokenMigrationLeavesSchemaAsItWas(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, _ testdb.Dialect, url string) {
		bdb := testdb.Open(t, url)
		ctx := context.Background()
		src := migrations.Source{App: "broken", FS: files(
			"20260101000001_good.up.sql", "CREATE TABLE broken_good (id INTEGER);",
			"20260101000002_bad.up.sql", "CREATE TABLE broken_first (id INTEGER);\nINSERT INTO broken_no_such_table (id) VALUES (1);\nCREATE TABLE broken_third (id INTEGER);",
			"20260101000003_after.up.sql", "CREATE TABLE broken_after (id INTEGER);",
		)}
		r := migrations.New(bdb, src)
		rep, err := r.Migrate(ctx)
		if err == nil {
			t.Fatal("Migrate: no error")
		}
		for _, want := range []string{"broken/20260101000002_bad.up.sql", "statement 2", "INSERT INTO broken_no_such_table (id) VALUES (1)"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error does not contain %q:\n%v", want, err)
			}
		}
		if !slices.Equal(rep.Applied, []string{"broken 20260101000001_good"}) {
			t.Errorf("Applied = %q, want only the good one", rep.Applied)
		}
		for table, want := range map[string]bool{"broken_good": true, "broken_first": false, "broken_third": false, "broken_after": false} {
			if got := tableExists(t, bdb, table); got != want {
				t.Errorf("table %s exists: %v, want %v", table, got, want)
			}
		}
		if n := count(t, bdb, "SELECT count(*) FROM "+migrations.Table+" WHERE app = 'broken'"); n != 1 {
			t.Errorf("%d migrations recorded, want 1", n)
		}
		// Running again fails the same way: nothing half-applied was recorded.
		if _, err := r.Migrate(ctx); err == nil || !strings.Contains(err.Error(), "20260101000002_bad") {
			t.Errorf("second Migrate: %v", err)
		}
	})
}

func TestGoMigrationRollsBack(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, _ testdb.Dialect, url string) {
		bdb := testdb.Open(t, url)
		ctx := context.Background()
		boom := errors.New("boom")
		src := migrations.Source{App: "gomig", Go: []migrations.GoMigration{{
			Name: "20260101000001_go",
			Up: func(ctx context.Context, tx bun.Tx) error {
				if _, err := tx.ExecContext(ctx, "CREATE TABLE gomig_t (id INTEGER)"); err != nil {
					return err
				}
				return boom
			},
		}}}
		_, err := migrations.New(bdb, src).Migrate(ctx)
		if !errors.Is(err, boom) {
			t.Fatalf("err = %v, want it to wrap the Go migration's error", err)
		}
		if !strings.Contains(err.Error(), "gomig 20260101000001_go") {
			t.Errorf("error %q does not name the migration", err)
		}
		if tableExists(t, bdb, "gomig_t") {
			t.Error("the failed Go migration's table exists")
		}
	})
}

func TestMissingMigrationReported(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, _ testdb.Dialect, url string) {
		bdb := testdb.Open(t, url)
		ctx := context.Background()
		full := threeSteps("miss")
		if _, err := migrations.New(bdb, migrations.Source{App: "miss", FS: full}).Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		gone := fstest.MapFS{}
		for name, f := range full {
			if !strings.HasPrefix(name, "20260101000003") {
				gone[name] = f
			}
		}
		r := migrations.New(bdb, migrations.Source{App: "miss", FS: gone})
		rep, err := r.Migrate(ctx)
		if err != nil {
			t.Fatalf("Migrate: %v", err)
		}
		if !slices.Equal(rep.Missing, []string{"miss 20260101000003_step3"}) {
			t.Errorf("Missing = %q", rep.Missing)
		}
		st, err := r.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var found bool
		for _, as := range st {
			for _, m := range as.Migrations {
				if m.Name == "20260101000003_step3" {
					found = true
					if !m.Missing || !m.Applied || as.App != "miss" {
						t.Errorf("status of the gone migration = %+v in %s", m, as.App)
					}
				} else if m.Missing {
					t.Errorf("%s reported missing", m.Name)
				}
			}
		}
		if !found {
			t.Errorf("Status does not list the gone migration: %+v", st)
		}
		// Unapplying past it is refused: its down SQL is gone too.
		if _, err := r.MigrateApp(ctx, "miss", "zero"); err == nil || !strings.Contains(err.Error(), "files are gone") {
			t.Errorf("MigrateApp zero over a gone migration: %v", err)
		}
		// An uninstalled app's records are reported too.
		rep, err = migrations.New(bdb).Migrate(ctx)
		if err != nil || len(rep.Missing) != 3 {
			t.Errorf("with no sources: Missing = %q, err %v", rep.Missing, err)
		}
	})
}

func TestConcurrentMigrate(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, _ testdb.Dialect, url string) {
		db1, db2 := testdb.Open(t, url), testdb.Open(t, url)
		slow := "INSERT INTO conc_hits (n) SELECT count(*) FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 30000) SELECT x FROM c) AS busy;"
		if db.IsPostgres(db1) {
			slow = "SELECT pg_sleep(0.2);\nINSERT INTO conc_hits (n) VALUES (1);"
		}
		src := func() migrations.Source {
			return migrations.Source{App: "conc", FS: files(
				"20260101000001_table.up.sql", "CREATE TABLE conc_hits (n INTEGER NOT NULL);",
				"20260101000002_slow.up.sql", slow,
				"20260101000003_again.up.sql", "INSERT INTO conc_hits (n) VALUES (2);",
			)}
		}
		start := make(chan struct{})
		var wg sync.WaitGroup
		reps := make([]*migrations.Report, 2)
		errs := make([]error, 2)
		for i, d := range []*bun.DB{db1, db2} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				reps[i], errs[i] = migrations.New(d, src()).Migrate(context.Background())
			}()
		}
		close(start)
		wg.Wait()
		total := 0
		for i := range 2 {
			if errs[i] != nil {
				t.Fatalf("runner %d: %v", i, errs[i])
			}
			total += len(reps[i].Applied)
		}
		recorded := count(t, db1, "SELECT count(*) FROM "+migrations.Table)
		if total != recorded {
			t.Errorf("the two runners applied %d migrations in all, %d are recorded", total, recorded)
		}
		if n := count(t, db1, "SELECT count(*) FROM conc_hits"); n != 2 {
			t.Errorf("conc_hits has %d rows, want 2: a migration ran twice or not at all", n)
		}
		if n := count(t, db1, "SELECT count(*) FROM "+migrations.Table+" WHERE app = 'conc'"); n != 3 {
			t.Errorf("%d conc migrations recorded, want 3", n)
		}
	})
}
