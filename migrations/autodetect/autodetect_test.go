package autodetect_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"manouche/apps/users"
	"manouche/core/testkit/testdb"
	"manouche/migrations"
	"manouche/migrations/autodetect"
)

// The schema the base migration below creates, as models.
type author struct {
	bun.BaseModel `bun:"table:authors"`
	ID            int64  `bun:"id,pk,autoincrement"`
	Name          string `bun:"name,notnull"`
	Age           int32  `bun:"age"`
	Bio           string `bun:"bio"`
}

var baseMigration = fstest.MapFS{
	"20260101000000_init.up.sqlite.sql": {Data: []byte(`CREATE TABLE authors (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name VARCHAR(100) NOT NULL,
    age INTEGER,
    bio TEXT
);
CREATE INDEX authors_bio_idx ON authors (bio);
`)},
	"20260101000000_init.up.postgres.sql": {Data: []byte(`CREATE TABLE authors (
    id BIGSERIAL PRIMARY KEY,
    name VARCHAR(100) NOT NULL,
    age INTEGER,
    bio TEXT
);
CREATE INDEX authors_bio_idx ON authors (bio);
`)},
	"20260101000000_init.down.sql": {Data: []byte("DROP TABLE authors;\n")},
}

// A new model, with a foreign key, a unique column and a declared index.
type book struct {
	bun.BaseModel `bun:"table:books"`
	ID            int64     `bun:"id,pk,autoincrement"`
	AuthorID      int64     `bun:"author_id,notnull"`
	Title         string    `bun:"title,type:varchar(200),notnull"`
	ISBN          string    `bun:"isbn,notnull,unique"`
	Published     time.Time `bun:"published,notnull,default:current_timestamp"`
	Author        *author   `bun:"rel:belongs-to,join:author_id=id,on_delete:CASCADE"`
}

func (*book) Indexes() []migrations.Index {
	return []migrations.Index{{Columns: []string{"author_id", "published"}}}
}

type authorNewField struct {
	bun.BaseModel `bun:"table:authors"`
	ID            int64  `bun:"id,pk,autoincrement"`
	Name          string `bun:"name,notnull"`
	Age           int32  `bun:"age"`
	Bio           string `bun:"bio"`
	Email         string `bun:"email,notnull"`
	Score         *int64 `bun:"score"`
}

type authorArray struct {
	bun.BaseModel `bun:"table:authors"`
	ID            int64    `bun:"id,pk,autoincrement"`
	Name          string   `bun:"name,notnull"`
	Age           int32    `bun:"age"`
	Bio           string   `bun:"bio"`
	Tags          []string `bun:"tags,array"`
	Rating        float64  `bun:"rating,type:numeric(4,2)"`
}

type authorDroppedField struct {
	bun.BaseModel `bun:"table:authors"`
	ID            int64  `bun:"id,pk,autoincrement"`
	Name          string `bun:"name,notnull"`
	Age           int32  `bun:"age"`
}

type authorBigAge struct {
	bun.BaseModel `bun:"table:authors"`
	ID            int64  `bun:"id,pk,autoincrement"`
	Name          string `bun:"name,notnull"`
	Age           int64  `bun:"age"`
	Bio           string `bun:"bio"`
}

type authorTextAge struct {
	bun.BaseModel `bun:"table:authors"`
	ID            int64  `bun:"id,pk,autoincrement"`
	Name          string `bun:"name,notnull"`
	Age           string `bun:"age"`
	Bio           string `bun:"bio"`
}

type authorLongName struct {
	bun.BaseModel `bun:"table:authors"`
	ID            int64  `bun:"id,pk,autoincrement"`
	Name          string `bun:"name,type:varchar(250),notnull"`
	Age           int32  `bun:"age"`
	Bio           string `bun:"bio,notnull"`
}

type authorUniqueName struct {
	bun.BaseModel `bun:"table:authors"`
	ID            int64  `bun:"id,pk,autoincrement"`
	Name          string `bun:"name,notnull,unique"`
	Age           int32  `bun:"age"`
	Bio           string `bun:"bio"`
}

// authorManaged declares its indexes: the base migration's index on bio is
// not among them, so it is dropped, and one on age is added.
type authorManaged struct {
	bun.BaseModel `bun:"table:authors"`
	ID            int64  `bun:"id,pk,autoincrement"`
	Name          string `bun:"name,notnull"`
	Age           int32  `bun:"age"`
	Bio           string `bun:"bio"`
}

func (*authorManaged) Indexes() []migrations.Index {
	return []migrations.Index{{Columns: []string{"age"}}}
}

type noTable struct {
	ID int64 `bun:"id,pk"`
}

func source(fsys fstest.MapFS) []migrations.Source {
	return []migrations.Source{{App: "blog", FS: fsys}}
}

func TestDetectNoChanges(t *testing.T) {
	t.Parallel()
	ch, err := autodetect.Detect(context.Background(), "blog", []any{(*author)(nil)}, source(baseMigration))
	if err != nil {
		t.Fatal(err)
	}
	if !ch.Empty() {
		t.Fatalf("changes for models that match their migrations: %v", ch.Operations())
	}
}

func TestDetectChanges(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		models []any
		ops    []string            // each a substring of one operation, in order
		sql    map[string][]string // dialect -> substrings of the up SQL
	}{
		{
			name:   "new model",
			models: []any{(*author)(nil), (*book)(nil)},
			ops:    []string{"Create table books"},
			sql: map[string][]string{
				"pg": {`CREATE TABLE "books"`, `"id" BIGSERIAL PRIMARY KEY`, `"title" VARCHAR(200) NOT NULL`, `FOREIGN KEY ("author_id") REFERENCES "authors" ("id") ON DELETE CASCADE`,
					`CREATE UNIQUE INDEX "books_isbn_key" ON "books" ("isbn")`, `CREATE INDEX "books_author_id_published_idx"`, `TIMESTAMPTZ NOT NULL DEFAULT current_timestamp`},
				"sqlite": {`CREATE TABLE "books"`, `"id" INTEGER PRIMARY KEY AUTOINCREMENT`, `"title" VARCHAR(200) NOT NULL`, `REFERENCES "authors" ("id") ON DELETE CASCADE`, `CREATE UNIQUE INDEX "books_isbn_key"`},
			},
		},
		{
			name:   "new field",
			models: []any{(*authorNewField)(nil)},
			ops:    []string{"Alter table authors: add column email, add column score"},
			sql: map[string][]string{
				"pg":     {`ALTER TABLE "authors" ADD COLUMN "email" VARCHAR NOT NULL DEFAULT ''`, `ADD COLUMN "score" BIGINT`},
				"sqlite": {`ALTER TABLE "authors" ADD COLUMN "email" VARCHAR NOT NULL DEFAULT ''`, `ADD COLUMN "score" BIGINT`},
			},
		},
		{
			name:   "new array and numeric fields",
			models: []any{(*authorArray)(nil)},
			ops:    []string{"Alter table authors: add column tags, add column rating"},
			sql: map[string][]string{
				"pg":     {`ADD COLUMN "tags" VARCHAR[]`, `ADD COLUMN "rating" NUMERIC(4,2)`},
				"sqlite": {`ADD COLUMN "tags" TEXT`, `ADD COLUMN "rating" NUMERIC(4,2)`},
			},
		},
		{
			name:   "dropped field",
			models: []any{(*authorDroppedField)(nil)},
			ops:    []string{"Drop index authors_bio_idx", "Alter table authors: drop column bio"},
			sql: map[string][]string{
				"pg":     {`DROP INDEX "authors_bio_idx"`, `ALTER TABLE "authors" DROP COLUMN "bio"`},
				"sqlite": {`DROP INDEX "authors_bio_idx"`, `ALTER TABLE "authors" DROP COLUMN "bio"`},
			},
		},
		{
			name:   "int to bigint",
			models: []any{(*authorBigAge)(nil)},
			ops:    []string{"alter column age (integer null -> bigint null)"},
			sql: map[string][]string{
				"pg":     {`ALTER TABLE "authors" ALTER COLUMN "age" TYPE BIGINT USING "age"::BIGINT`},
				"sqlite": {`CREATE TABLE "_manouche_new_authors"`, `"age" BIGINT`, `INSERT INTO "_manouche_new_authors"`, `ALTER TABLE "_manouche_new_authors" RENAME TO "authors"`, `CREATE INDEX authors_bio_idx`},
			},
		},
		{
			name:   "int to text",
			models: []any{(*authorTextAge)(nil)},
			ops:    []string{"alter column age (integer null -> varchar null)"},
			sql:    map[string][]string{"pg": {`ALTER COLUMN "age" TYPE VARCHAR USING "age"::VARCHAR`}, "sqlite": {`"age" VARCHAR,`}},
		},
		{
			name:   "string length and nullability",
			models: []any{(*authorLongName)(nil)},
			ops:    []string{"alter column name (varchar(100) not null -> varchar(250) not null), alter column bio (text null -> text not null)"},
			sql: map[string][]string{
				"pg":     {`ALTER COLUMN "name" TYPE VARCHAR(250)`, `UPDATE "authors" SET "bio" = '' WHERE "bio" IS NULL`, `ALTER COLUMN "bio" SET NOT NULL`},
				"sqlite": {`"name" VARCHAR(250) NOT NULL`, `COALESCE("bio", '')`},
			},
		},
		{
			name:   "new unique index",
			models: []any{(*authorUniqueName)(nil)},
			ops:    []string{"Create unique index authors_name_key on authors (name)"},
			sql:    map[string][]string{"pg": {`CREATE UNIQUE INDEX "authors_name_key" ON "authors" ("name")`}, "sqlite": {`CREATE UNIQUE INDEX "authors_name_key"`}},
		},
		{
			name:   "managed indexes",
			models: []any{(*authorManaged)(nil)},
			ops:    []string{"Drop index authors_bio_idx", "Create index authors_age_idx on authors (age)"},
			sql:    map[string][]string{"pg": {`DROP INDEX "authors_bio_idx"`, `CREATE INDEX "authors_age_idx"`}, "sqlite": {`CREATE INDEX "authors_age_idx"`}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			ch, err := autodetect.Detect(ctx, "blog", tc.models, source(baseMigration))
			if err != nil {
				t.Fatal(err)
			}
			ops := ch.Operations()
			if len(ops) != len(tc.ops) {
				t.Fatalf("operations = %q, want %d like %q", ops, len(tc.ops), tc.ops)
			}
			for i, want := range tc.ops {
				if !strings.Contains(ops[i], want) {
					t.Errorf("operation %d = %q, want it to contain %q", i+1, ops[i], want)
				}
			}
			for d, wants := range tc.sql {
				name := map[string]dialect.Name{"pg": dialect.PG, "sqlite": dialect.SQLite}[d]
				up, down, err := ch.SQL(name)
				if err != nil {
					t.Fatalf("%s SQL: %v", d, err)
				}
				for _, w := range wants {
					if !strings.Contains(up, w) {
						t.Errorf("%s up SQL lacks %q:\n%s", d, w, up)
					}
				}
				if !strings.HasPrefix(up, "-- Generated by `makemigrations blog`") || !strings.Contains(down, "Undoes the .up file") {
					t.Errorf("%s: no header:\n%s\n%s", d, up, down)
				}
			}

			// Round trip: written beside the base migration, the new files
			// leave nothing to detect.
			dir := t.TempDir()
			for name, f := range baseMigration {
				if err := os.WriteFile(filepath.Join(dir, name), f.Data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			paths, err := autodetect.WriteChanges(dir, ch.SuggestName(), time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), ch)
			if err != nil {
				t.Fatal(err)
			}
			if len(paths) != 4 {
				t.Fatalf("wrote %v, want four files", paths)
			}
			src := []migrations.Source{{App: "blog", FS: os.DirFS(dir)}}
			again, err := autodetect.Detect(ctx, "blog", tc.models, src)
			if err != nil {
				t.Fatal(err)
			}
			if !again.Empty() {
				t.Fatalf("after applying the generated migration, still: %q", again.Operations())
			}

			// The generated files apply, unapply and apply again on each
			// database, with a row in the table.
			testdb.Each(t, func(t *testing.T, _ testdb.Dialect, url string) {
				bdb := testdb.Open(t, url)
				r := migrations.New(bdb, src...)
				if _, err := r.MigrateApp(ctx, "blog", "20260101000000"); err != nil {
					t.Fatal(err)
				}
				if _, err := bdb.ExecContext(ctx, "INSERT INTO authors (name, age, bio) VALUES ('Ann', 42, NULL)"); err != nil {
					t.Fatal(err)
				}
				if _, err := r.Migrate(ctx); err != nil {
					t.Fatalf("apply: %v", err)
				}
				var n int
				if err := bdb.QueryRowContext(ctx, "SELECT count(*) FROM authors WHERE name = 'Ann'").Scan(&n); err != nil || n != 1 {
					t.Fatalf("the row after the migration: n=%d err=%v", n, err)
				}
				if _, err := r.MigrateApp(ctx, "blog", "20260101000000"); err != nil {
					t.Fatalf("unapply: %v", err)
				}
				if _, err := r.Migrate(ctx); err != nil {
					t.Fatalf("apply again: %v", err)
				}
			})
		})
	}
}

func TestDetectUsersApp(t *testing.T) {
	t.Parallel()
	app := users.App{}
	srcs := []migrations.Source{migrations.Framework(), {App: app.Name(), FS: app.Migrations()}}
	ch, err := autodetect.Detect(context.Background(), app.Name(), app.Models(), srcs)
	if err != nil {
		t.Fatal(err)
	}
	if !ch.Empty() {
		t.Fatalf("the users app's models and migrations disagree: %q", ch.Operations())
	}
}

func TestDetectBadInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		app    string
		models []any
		want   string
	}{
		{"unknown app", "shop", []any{(*author)(nil)}, `no migrations source for app "shop"`},
		{"no models", "blog", nil, "lists no models"},
		{"no table name", "blog", []any{(*noTable)(nil)}, "has no table name"},
		{"not a pointer", "blog", []any{author{}}, "is not a pointer to a struct"},
		{"nil model", "blog", []any{nil}, "a model is nil"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := autodetect.Detect(context.Background(), tc.app, tc.models, source(baseMigration))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestDetectBrokenMigration(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{"20260101000000_init.up.sql": {Data: []byte("CREATE TABLE (;")}}
	_, err := autodetect.Detect(context.Background(), "blog", []any{(*author)(nil)}, source(fsys))
	if err == nil || !strings.Contains(err.Error(), "scratch SQLite database") {
		t.Fatalf("err = %v, want the migration's failure", err)
	}
}

func TestWriteChangesRefusesEmpty(t *testing.T) {
	t.Parallel()
	ch, err := autodetect.Detect(context.Background(), "blog", []any{(*author)(nil)}, source(baseMigration))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := autodetect.WriteChanges(t.TempDir(), "x", time.Now(), ch); err == nil {
		t.Fatal("WriteChanges with no changes: no error")
	}
}

// A second app's table: reviews of authors, with a foreign key to authors.
var withReviews = fstest.MapFS{
	"20260101000000_init.up.sqlite.sql":   baseMigration["20260101000000_init.up.sqlite.sql"],
	"20260101000000_init.up.postgres.sql": baseMigration["20260101000000_init.up.postgres.sql"],
	"20260101000000_init.down.sql":        {Data: []byte("DROP TABLE reviews;\nDROP TABLE authors;\n")},
	"20260101000001_reviews.up.sql": {Data: []byte(`CREATE TABLE reviews (
    id INTEGER PRIMARY KEY,
    author_id BIGINT NOT NULL,
    body TEXT NOT NULL
);
`)},
	"20260101000001_reviews.down.sql": {Data: []byte("DROP TABLE reviews;\n")},
}

type review struct {
	bun.BaseModel `bun:"table:reviews"`
	ID            int32   `bun:"id,pk"`
	AuthorID      int64   `bun:"author_id,notnull"`
	Body          string  `bun:"body,notnull"`
	Author        *author `bun:"rel:belongs-to,join:author_id=id,on_delete:CASCADE"`
}

type reviewPlain struct {
	bun.BaseModel `bun:"table:reviews"`
	ID            int32  `bun:"id,pk"`
	AuthorID      int64  `bun:"author_id,notnull"`
	Body          string `bun:"body,notnull"`
}

// roundTrip writes ch beside fsys in a temporary folder and returns the
// folder's source.
func roundTrip(t *testing.T, fsys fstest.MapFS, ch *autodetect.Changes) []migrations.Source {
	t.Helper()
	dir := t.TempDir()
	for name, f := range fsys {
		if err := os.WriteFile(filepath.Join(dir, name), f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := autodetect.WriteChanges(dir, ch.SuggestName(), time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), ch); err != nil {
		t.Fatal(err)
	}
	return []migrations.Source{{App: "blog", FS: os.DirFS(dir)}}
}

func TestDetectForeignKeyOnExistingTable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	models := []any{(*author)(nil), (*review)(nil)}
	ch, err := autodetect.Detect(ctx, "blog", models, source(withReviews))
	if err != nil {
		t.Fatal(err)
	}
	if ops := ch.Operations(); len(ops) != 1 || !strings.Contains(ops[0], "add foreign key (author_id) to authors") {
		t.Fatalf("operations = %q", ops)
	}
	pg, _, _ := ch.SQL(dialect.PG)
	if !strings.Contains(pg, `ALTER TABLE "reviews" ADD CONSTRAINT "reviews_author_id_fkey" FOREIGN KEY ("author_id") REFERENCES "authors" ("id") ON DELETE CASCADE`) {
		t.Errorf("Postgres SQL:\n%s", pg)
	}
	// SQLite rebuilds the table; its rowid key keeps its spelling (no AUTOINCREMENT added).
	lite, _, _ := ch.SQL(dialect.SQLite)
	for _, want := range []string{`"id" INTEGER PRIMARY KEY NOT NULL,`, `CONSTRAINT "reviews_author_id_fkey" FOREIGN KEY ("author_id") REFERENCES "authors" ("id") ON DELETE CASCADE`, `ALTER TABLE "_manouche_new_reviews" RENAME TO "reviews"`} {
		if !strings.Contains(lite, want) {
			t.Errorf("SQLite SQL lacks %q:\n%s", want, lite)
		}
	}
	src := roundTrip(t, withReviews, ch)
	again, err := autodetect.Detect(ctx, "blog", models, src)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Empty() {
		t.Fatalf("after the migration: %q", again.Operations())
	}
	testdb.Each(t, func(t *testing.T, _ testdb.Dialect, url string) {
		bdb := testdb.Open(t, url)
		r := migrations.New(bdb, src...)
		if _, err := r.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := r.MigrateApp(ctx, "blog", "20260101000001"); err != nil {
			t.Fatalf("unapply: %v", err)
		}
	})
}

// Rebuilding a table that another table references would, on SQLite with
// foreign keys on, delete or orphan the other table's rows: the generated
// SQLite migration refuses with a clear message, and Detect warns.
func TestDetectRebuildOfReferencedTableRefusedOnSQLite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	base := fstest.MapFS{}
	for k, v := range withReviews {
		base[k] = v
	}
	base["20260101000002_fk.up.sqlite.sql"] = &fstest.MapFile{Data: []byte("DROP TABLE reviews;\nCREATE TABLE reviews (id INTEGER PRIMARY KEY, author_id BIGINT NOT NULL REFERENCES authors (id) ON DELETE CASCADE, body TEXT NOT NULL);\n")}
	base["20260101000002_fk.up.postgres.sql"] = &fstest.MapFile{Data: []byte("ALTER TABLE reviews ADD CONSTRAINT reviews_author_id_fkey FOREIGN KEY (author_id) REFERENCES authors (id) ON DELETE CASCADE;\n")}
	models := []any{(*authorBigAge)(nil), (*review)(nil)}
	ch, err := autodetect.Detect(ctx, "blog", models, source(base))
	if err != nil {
		t.Fatal(err)
	}
	if w := strings.Join(ch.Warnings(), "\n"); !strings.Contains(w, "rebuild table authors, which reviews reference") {
		t.Errorf("warnings = %q", w)
	}
	_, err = autodetect.Detect(ctx, "blog", models, roundTrip(t, base, ch))
	if err == nil || !strings.Contains(err.Error(), "SQLite cannot rebuild authors while other tables have foreign keys to it") {
		t.Fatalf("err = %v, want the guard's message", err)
	}
}

type authorRenamed struct {
	bun.BaseModel `bun:"table:authors"`
	ID            int64  `bun:"id,pk,autoincrement"`
	FullName      string `bun:"full_name,notnull"`
	Age           int32  `bun:"age"`
	Bio           string `bun:"bio"`
}

func TestDetectRenameIsDropAndAddWithWarning(t *testing.T) {
	t.Parallel()
	ch, err := autodetect.Detect(context.Background(), "blog", []any{(*authorRenamed)(nil)}, source(baseMigration))
	if err != nil {
		t.Fatal(err)
	}
	if ops := ch.Operations(); len(ops) != 1 || ops[0] != "Alter table authors: add column full_name, drop column name" {
		t.Fatalf("operations = %q", ops)
	}
	if w := strings.Join(ch.Warnings(), "\n"); !strings.Contains(w, "loses column(s) name and gains full_name: if that is a rename") {
		t.Errorf("warnings = %q", w)
	}
}

func TestDetectDroppedModel(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ch, err := autodetect.Detect(ctx, "blog", []any{(*author)(nil)}, source(withReviews))
	if err != nil {
		t.Fatal(err)
	}
	if ops := ch.Operations(); len(ops) != 1 || ops[0] != "Drop table reviews" {
		t.Fatalf("operations = %q", ops)
	}
	src := roundTrip(t, withReviews, ch)
	if again, err := autodetect.Detect(ctx, "blog", []any{(*author)(nil)}, src); err != nil || !again.Empty() {
		t.Fatalf("after the migration: %v %v", again.Operations(), err)
	}
	// Its down migration brings the table back as it was.
	if again, err := autodetect.Detect(ctx, "blog", []any{(*author)(nil), (*reviewPlain)(nil)}, source(withReviews)); err != nil || !again.Empty() {
		t.Fatalf("the original schema: %v %v", again.Operations(), err)
	}
	testdb.Each(t, func(t *testing.T, _ testdb.Dialect, url string) {
		bdb := testdb.Open(t, url)
		r := migrations.New(bdb, src...)
		if _, err := r.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := r.MigrateApp(ctx, "blog", "20260101000001"); err != nil {
			t.Fatalf("unapply: %v", err)
		}
		if _, err := bdb.ExecContext(ctx, "INSERT INTO reviews (id, author_id, body) VALUES (1, 1, 'x')"); err != nil {
			t.Fatalf("the table came back unusable: %v", err)
		}
	})
}

func TestDetectTableOfAnotherApp(t *testing.T) {
	t.Parallel()
	srcs := []migrations.Source{{App: "library", FS: baseMigration}, {App: "blog", FS: fstest.MapFS{}}}
	_, err := autodetect.Detect(context.Background(), "blog", []any{(*author)(nil)}, srcs)
	if err == nil || !strings.Contains(err.Error(), "table authors of a model is created by the migrations of another app") {
		t.Fatalf("err = %v", err)
	}
	// With its own model list empty of it, the other app's table is left alone.
	ch, err := autodetect.Detect(context.Background(), "blog", []any{(*book)(nil)}, srcs)
	if err != nil {
		t.Fatal(err)
	}
	if ops := ch.Operations(); len(ops) != 1 || ops[0] != "Create table books" {
		t.Fatalf("operations = %q", ops)
	}
}

// BenchmarkDetectUsers measures makemigrations on the users app: the
// framework's migrations (GoAdmin, River) and the app's applied to a scratch
// SQLite file, inspected and compared.
func BenchmarkDetectUsers(b *testing.B) {
	app := users.App{}
	srcs := []migrations.Source{migrations.Framework(), {App: app.Name(), FS: app.Migrations()}}
	for b.Loop() {
		ch, err := autodetect.Detect(context.Background(), app.Name(), app.Models(), srcs)
		if err != nil || !ch.Empty() {
			b.Fatal(err, ch.Operations())
		}
	}
}
