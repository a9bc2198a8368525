package migrations

import (
	"context"

	"github.com/uptrace/bun"

	"manouche/core/queue"
)

// River's tables (river_job, river_migration, river_leader, river_queue,
// river_client...) for the email queue, created with rivermigrate inside the
// migration's transaction. The version is pinned so this migration always
// builds the same schema; a River upgrade that adds versions gets a new
// migration going from queue.SchemaVersion-at-the-time to the new one.
func init() {
	register("20261126000002_river", riverUp, riverDown)
}

// riverSchemaVersion is the River schema version this migration creates.
const riverSchemaVersion = 8

func riverUp(ctx context.Context, tx bun.Tx) error {
	return queue.MigrateUp(ctx, tx, riverSchemaVersion)
}

func riverDown(ctx context.Context, tx bun.Tx) error {
	return queue.MigrateDown(ctx, tx, 0)
}
