package scaffold_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"manouche/core/scaffold"
	"manouche/migrations"
	"manouche/migrations/autodetect"
)

// tutorialPost is the model startapp writes for the tutorial's blog (its
// apps/blog/model.go, here in a test). TestMigrationFilesAgree checks it is
// that model: startapp's migration leaves makemigrations nothing to do.
type tutorialPost struct {
	bun.BaseModel `bun:"table:blog_posts,alias:p"`

	ID          uuid.UUID `bun:"id,pk,type:uuid"`
	CreatedAt   time.Time `bun:"created_at,notnull,default:current_timestamp"`
	UpdatedAt   time.Time `bun:"updated_at,notnull,default:current_timestamp"`
	Title       string    `bun:"title,type:varchar(120),notnull,default:''"`
	Body        string    `bun:"body,type:text,notnull,default:''"`
	Published   bool      `bun:"published,notnull,default:false"`
	Views       int64     `bun:"views,notnull,default:0"`
	Rating      float64   `bun:"rating,notnull,default:0"`
	PublishedOn time.Time `bun:"published_on,type:date,notnull"`
}

func (*tutorialPost) Indexes() []migrations.Index {
	return []migrations.Index{{Columns: []string{"created_at"}}}
}

// TestMigrationFilesAgree writes the same model's first migration twice, with
// startapp and with makemigrations, and wants the same files: one up and one
// down file per dialect, named alike.
func TestMigrationFilesAgree(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Date(2026, 11, 26, 18, 5, 9, 0, time.UTC)
	root := fakeProject(t)
	res, err := scaffold.Generate(scaffold.Options{
		Root: root, App: "blog", Model: "Post", Installed: installed, Now: now,
		Fields: "title:string:120 body:text published:bool views:int rating:float published_on:date",
	})
	if err != nil {
		t.Fatal(err)
	}
	var fromStartapp []string
	for _, f := range res.Created {
		if name, ok := strings.CutPrefix(f, "apps/blog/migrations/"); ok {
			fromStartapp = append(fromStartapp, name)
		}
	}
	slices.Sort(fromStartapp)

	models := []any{(*tutorialPost)(nil)}
	startappDir := filepath.Join(root, "apps", "blog", "migrations")
	changes, err := autodetect.Detect(ctx, "blog", models, []migrations.Source{{App: "blog", FS: os.DirFS(startappDir)}})
	if err != nil {
		t.Fatal(err)
	}
	if !changes.Empty() {
		t.Fatalf("the test's model is not the one startapp wrote: makemigrations finds %q", changes.Operations())
	}

	// makemigrations for the model of an app with no migration yet.
	dir := t.TempDir()
	changes, err = autodetect.Detect(ctx, "blog", models, []migrations.Source{{App: "blog", FS: os.DirFS(dir)}})
	if err != nil {
		t.Fatal(err)
	}
	paths, err := autodetect.WriteChanges(dir, changes.SuggestName(), now, changes)
	if err != nil {
		t.Fatal(err)
	}
	var fromMakemigrations []string
	for _, p := range paths {
		fromMakemigrations = append(fromMakemigrations, filepath.Base(p))
	}
	slices.Sort(fromMakemigrations)

	if !slices.Equal(fromStartapp, fromMakemigrations) {
		t.Errorf("the same model's first migration:\nstartapp writes       %q\nmakemigrations writes %q", fromStartapp, fromMakemigrations)
	}
	var want []string
	for _, f := range migrations.Generated("20261126180509_create_blog_posts") {
		want = append(want, f.Name)
	}
	slices.Sort(want)
	if !slices.Equal(fromStartapp, want) || len(want) != 4 {
		t.Errorf("startapp writes %q, want an up and a down file per dialect %q", fromStartapp, want)
	}
	// Each file of one applies where the other's does: makemigrations' SQL,
	// applied, leaves no changes either.
	changes, err = autodetect.Detect(ctx, "blog", models, []migrations.Source{{App: "blog", FS: os.DirFS(dir)}})
	if err != nil || !changes.Empty() {
		t.Errorf("after makemigrations' own migration: %v %q", err, changes.Operations())
	}
}
