// Package core is the Manouche framework: the app registry, the running
// project (settings, database, cache, mail, storage), the HTTP server and the
// command line. Apps are Go packages under apps/ that register themselves in
// init(), the way database/sql drivers do:
//
//	func init() { core.Register(App{}) }
//
// The required interface, App, is a name. Everything else is an optional
// interface the core discovers by type assertion: Router, Migrator, Templater,
// Commander, Configurable, ReadyHook, Modeler. The core never imports an app.
package core

import (
	"context"
	"fmt"
	"io/fs"
	"regexp"
	"sync"

	"github.com/gofiber/fiber/v2"
	"github.com/spf13/cobra"
)

// App is an installed application. Its name is unique, lower-case, and used
// for its migrations, its settings section and its commands.
type App interface {
	Name() string
}

// Router is an app that serves HTTP routes, mounted under Prefix ("/" or
// "/api/blog"). Routes runs once per project; handlers close over p.
type Router interface {
	Prefix() string
	Routes(r fiber.Router, p *Project)
}

// Migrator is an app with migrations: an embedded folder of
// YYYYMMDDHHMMSS_name.up.postgres.sql / .down.postgres.sql / .up.sqlite.sql /
// .down.sqlite.sql files, or plain .up.sql / .down.sql ones for both
// dialects (see package migrations).
type Migrator interface {
	Migrations() fs.FS
}

// MigrationAdopter is a Migrator some of whose migrations were recorded under another
// app before they moved to it (the admin's GoAdmin tables were the framework's):
// AdoptsMigrations maps each such migration's name to that former app, and migrate
// re-records them instead of running them again (see migrations.Source.Adopts).
type MigrationAdopter interface {
	AdoptsMigrations() map[string]string
}

// Templater is an app with templates (pages, emails). The project's templates/
// folder shadows them by name.
type Templater interface {
	Templates() fs.FS
}

// Loader builds (once per process) the project that a command works on.
type Loader func(ctx context.Context) (*Project, error)

// Commander is an app that adds commands to `go run . <command>`.
type Commander interface {
	Commands(load Loader) []*cobra.Command
}

// Configurable is an app with a settings section of its own. Settings returns a
// pointer to a struct whose fields carry `setting:"KEY"` tags and whose values
// are the defaults; the loaded values are written into it. Return a new
// pointer on each call, so that each project (each test) has its own. Read it
// back with p.Settings.App(name).
type Configurable interface {
	Settings() any
}

// ReadyHook is an app that runs code once the project's settings, database
// and cache are up, before any route is served (Django's AppConfig.ready).
type ReadyHook interface {
	Ready(ctx context.Context, p *Project) error
}

// Modeler is an app with bun models, for makemigrations and the admin.
type Modeler interface {
	Models() []any
}

var (
	registryMu sync.RWMutex
	registry   []App
	nameRe     = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
)

// Register installs an app. It is called from the app package's init(); the
// order of the blank imports in apps/apps.go is the installed order. It panics
// on an empty, malformed or duplicate name, since either is a programming error
// that must stop the binary at start.
func Register(app App) {
	if app == nil {
		panic("core.Register: app is nil")
	}
	name := app.Name()
	if name == "" {
		panic(fmt.Sprintf("core.Register: app %T has an empty name", app))
	}
	if !nameRe.MatchString(name) {
		panic(fmt.Sprintf("core.Register: app name %q must be lower-case letters, digits and underscores, starting with a letter", name))
	}
	registryMu.Lock()
	defer registryMu.Unlock()
	for _, a := range registry {
		if a.Name() == name {
			panic(fmt.Sprintf("core.Register: an app named %q is already registered (%T and %T): app names must be unique", name, a, app))
		}
	}
	registry = append(registry, app)
}

// Apps returns the installed apps in installed order.
func Apps() []App {
	registryMu.RLock()
	defer registryMu.RUnlock()
	return append([]App(nil), registry...)
}

// LookupApp returns the installed app with that name.
func LookupApp(name string) (App, bool) {
	for _, a := range Apps() {
		if a.Name() == name {
			return a, true
		}
	}
	return nil, false
}
