package cli

import (
	"context"
	"fmt"
	"manouche/core"
	"os"
	"path/filepath"
	"strings"

	"manouche/migrations"
	"manouche/migrations/autodetect"
)

// modelChanges compares an installed app's models (core.Modeler) with the schema
// its migrations produce. The framework's migrations and those of the apps
// installed before it are applied first, for foreign keys. With onDisk, the
// app's migrations are read from apps/APP/migrations when that folder exists
// (files written since the last build count); otherwise from the binary. It
// returns nil changes for an app without models or migrations.
func modelChanges(ctx context.Context, installed []core.App, app core.App, onDisk bool) (*autodetect.Changes, error) {
	modeler, ok := app.(core.Modeler)
	if !ok {
		return nil, nil
	}
	migrator, ok := app.(core.Migrator)
	if !ok || len(modeler.Models()) == 0 {
		return nil, nil
	}
	sources := []migrations.Source{migrations.Framework()}
	for _, other := range installed {
		if other.Name() == app.Name() {
			break
		}
		if m, ok := other.(core.Migrator); ok {
			sources = append(sources, migrations.Source{App: other.Name(), FS: m.Migrations()})
		}
	}
	own := migrations.Source{App: app.Name(), FS: migrator.Migrations()}
	if onDisk {
		dir := filepath.Join("apps", app.Name(), "migrations")
		if st, err := os.Stat(dir); err == nil && st.IsDir() {
			own.FS = os.DirFS(dir)
		}
	}
	return autodetect.Detect(ctx, app.Name(), modeler.Models(), append(sources, own))
}

// UnmigratedApps returns the names of the apps of installed whose models have
// changes that no migration reflects (the migrations built into the binary),
// in installed order.
func UnmigratedApps(ctx context.Context, installed []core.App) ([]string, error) {
	var names []string
	for _, app := range installed {
		changes, err := modelChanges(ctx, installed, app, false)
		if err != nil {
			return nil, err
		}
		if !changes.Empty() {
			names = append(names, app.Name())
		}
	}
	return names, nil
}

// unmigratedMessage is Django's warning for models ahead of their migrations.
func unmigratedMessage(apps []string) string {
	quoted := make([]string, len(apps))
	for i, a := range apps {
		quoted[i] = "'" + a + "'"
	}
	run := "'go run . makemigrations " + apps[0] + "'"
	if len(apps) > 1 {
		run = "'go run . makemigrations APP' for each"
	}
	return fmt.Sprintf("Your models in app(s): %s have changes that are not yet reflected in a migration, and so won't be applied. Run %s to make new migrations, and then re-run 'go run . migrate' to apply them.",
		strings.Join(quoted, ", "), run)
}

// PendingModelChanges returns the operations that makemigrations would write
// for the installed app named app (its migrations read from its folder on
// disk): none when its models and migrations agree. addmodel refuses to add
// a model to an app with such changes, so that the new model's migration
// holds only its own table.
func PendingModelChanges(ctx context.Context, installed []core.App, app string) ([]string, error) {
	a, ok := core.Lookup(installed, app)
	if !ok {
		return nil, UsageError("no installed app named %q", app)
	}
	ch, err := modelChanges(ctx, installed, a, true)
	if err != nil || ch == nil {
		return nil, err
	}
	return ch.Operations(), nil
}
