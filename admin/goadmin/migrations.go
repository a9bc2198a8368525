package goadmin

import (
	"embed"
	"io/fs"
)

//go:embed migrations
var migrationFiles embed.FS

// Migration names of the adapter's tables and the email queue's view. Before the admin was an
// adapter package they were the framework's migrations, recorded under the app "manouche":
// FormerApp says so, for the admin app's AdoptsMigrations.
const (
	TablesMigration    = "20261126000001_goadmin"
	QueueViewMigration = "20261126000003_email_queue_view"
	FormerApp          = "manouche"
)

// Migrations returns GoAdmin's tables (with its seeded roles, menu and permissions) and the
// email queue's view over River's jobs, the migrations of the app that mounts the admin. The
// view reads River's tables, which the framework's own migrations create before any app's.
func Migrations() fs.FS {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		panic(err)
	}
	return sub
}
