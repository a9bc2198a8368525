package queue_test

import (
	"context"
	"testing"

	"github.com/uptrace/bun"

	"manouche/core/mail"
	"manouche/core/queue"
)

func TestMigrateDownAndUp(t *testing.T) {
	t.Parallel()
	for _, d := range databases(t) {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			db := d.open(t) // migrated up
			ctx := context.Background()
			q := mustNew(t, queue.Config{DB: db, Backend: mail.NewMemory()})
			if err := q.Ping(ctx); err != nil {
				t.Fatal(err)
			}
			// Up again is a no-op.
			if err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
				return queue.MigrateUp(ctx, tx, queue.SchemaVersion)
			}); err != nil {
				t.Fatal(err)
			}
			// Down in a transaction that rolls back changes nothing.
			_ = db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
				if err := queue.MigrateDown(ctx, tx, 0); err != nil {
					t.Fatal(err)
				}
				return context.Canceled
			})
			if err := q.Ping(ctx); err != nil {
				t.Fatalf("after a rolled-back down: %v", err)
			}
			if err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
				return queue.MigrateDown(ctx, tx, 0)
			}); err != nil {
				t.Fatal(err)
			}
			if err := q.Ping(ctx); err == nil {
				t.Fatal("Ping succeeds after the tables were removed")
			}
			var n int
			if err := db.NewSelect().TableExpr("river_migration").ColumnExpr("count(*)").Scan(ctx, &n); err == nil {
				t.Fatal("river_migration survived the down migration")
			}
			migrateUp(t, db)
			if err := q.Ping(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := q.Enqueue(ctx, &mail.Message{From: "a@example.com", To: []string{"b@example.com"}, Subject: "s"}); err != nil {
				t.Fatal(err)
			}
		})
	}
}
