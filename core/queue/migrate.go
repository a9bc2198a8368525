package queue

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
)

// SchemaVersion is the River schema version this package needs (River
// v0.51.2's latest). A River upgrade that adds versions gets a new framework
// migration calling MigrateUp with the new version and MigrateDown with this
// one.
const SchemaVersion = 8

// MigrateUp applies River's migrations up to version target inside tx (the
// migration runner's transaction), so a failed migration leaves nothing.
func MigrateUp(ctx context.Context, tx bun.Tx, target int) error {
	return migrate(ctx, tx, rivermigrate.DirectionUp, target)
}

// MigrateDown reverts River's migrations down to version target (exclusive)
// inside tx; target 0 removes River's tables altogether.
func MigrateDown(ctx context.Context, tx bun.Tx, target int) error {
	if target == 0 {
		target = -1
	}
	return migrate(ctx, tx, rivermigrate.DirectionDown, target)
}

func migrate(ctx context.Context, tx bun.Tx, dir rivermigrate.Direction, target int) error {
	opts := &rivermigrate.MigrateOpts{TargetVersion: target}
	var err error
	switch name := tx.Dialect().Name(); name {
	case dialect.PG:
		var m *rivermigrate.Migrator[*sql.Tx]
		if m, err = rivermigrate.New(riverdatabasesql.New(nil), nil); err != nil {
			break
		}
		if dir == rivermigrate.DirectionUp && target >= 6 {
			if err = pgInitialSchema(ctx, tx, m); err != nil {
				break
			}
		}
		//lint:ignore SA1019 a framework migration runs in the runner's transaction
		_, err = m.MigrateTx(ctx, tx.Tx, dir, opts)
	case dialect.SQLite:
		var m *rivermigrate.Migrator[*sql.Tx]
		if m, err = rivermigrate.New(riversqlite.New(nil), nil); err != nil {
			break
		}
		//lint:ignore SA1019 a framework migration runs in the runner's transaction
		_, err = m.MigrateTx(ctx, tx.Tx, dir, opts)
	default:
		return fmt.Errorf("queue: migrate: unsupported dialect %s", name)
	}
	if err != nil {
		return fmt.Errorf("queue: migrate River tables %s to %d: %w", dir, target, err)
	}
	return nil
}

// pgInitialSchema applies River's versions 1 and 2 on a fresh Postgres
// database with one change: the river_job_state enum is created with its
// 'pending' value already (version 4 adds it with ADD VALUE IF NOT EXISTS,
// which then does nothing). Postgres refuses to use an enum value added in
// the same transaction (version 6 does), and a framework migration runs in
// one transaction. The resulting schema is the one River builds.
func pgInitialSchema(ctx context.Context, tx bun.Tx, m *rivermigrate.Migrator[*sql.Tx]) error {
	//lint:ignore SA1019 a framework migration runs in the runner's transaction
	if _, err := m.MigrateTx(ctx, tx.Tx, rivermigrate.DirectionUp, &rivermigrate.MigrateOpts{TargetVersion: 1}); err != nil {
		return err
	}
	existing, err := m.ExistingVersionsTx(ctx, tx.Tx)
	if err != nil {
		return err
	}
	for _, v := range existing {
		if v.Version >= 2 {
			return nil
		}
	}
	v2, err := m.GetVersion(2)
	if err != nil {
		return err
	}
	const from = "'discarded',\n  'retryable',"
	if !strings.Contains(v2.SQLUp, from) {
		return errors.New("the SQL of River's version 2 is not the one expected (River upgraded?): cannot create the enum with 'pending'")
	}
	up := strings.ReplaceAll(v2.SQLUp, "/* TEMPLATE: schema */", "")
	up = strings.Replace(up, from, "'discarded',\n  'pending',\n  'retryable',", 1)
	if _, err := tx.ExecContext(ctx, up); err != nil {
		return fmt.Errorf("version 2 (initial schema): %w", err)
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO river_migration (version) VALUES (2)"); err != nil {
		return fmt.Errorf("version 2 (initial schema): record: %w", err)
	}
	return nil
}

func decodeArgs(b []byte, args *emailArgs) error {
	return json.Unmarshal(b, args)
}
