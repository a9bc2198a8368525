// Package core is the Manouche framework: the app interfaces, the running
// project (settings, database, cache, mail, storage), the HTTP server and the
// command line. Apps are Go packages under apps/; the project lists the
// installed ones, in order, in apps/apps.go (Django's INSTALLED_APPS):
//
//	var Installed = []core.App{pages.App{}, users.App{}, site.App{}}
//
// That order is the order of migrations, routes, template shadowing and
// commands. The required interface, App, is a name. Everything else is an optional
// interface the core discovers by type assertion: Router, Migrator, Templater,
// Commander, Configurable, ReadyHook, Modeler, Dependent, DeployChecker, PostMigrator. The core never imports an app.
package core

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"regexp"

	"github.com/gofiber/fiber/v2"
	"github.com/spf13/cobra"

	"manouche/core/checks"
	"manouche/settings"
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

// PostMigrator is an app that runs code after every migrate (Django's
// post_migrate signal), with the migration lock held: the users app creates
// the view/add/change/delete permissions of every installed model there. It
// must cope with its own tables being absent (its app migrated to zero).
type PostMigrator interface {
	PostMigrate(ctx context.Context, p *Project) error
}

// Modeler is an app with bun models, for makemigrations and the admin.
type Modeler interface {
	Models() []any
}

// DeployChecker is an app with checks of its own for `check --deploy`, made
// from the settings alone (the admin reports whether its cookies are Secure).
type DeployChecker interface {
	DeployChecks(st *settings.Settings) []checks.Issue
}

// Dependent is an app that needs other apps installed before it (an fk to
// users.User needs the users app's table first). DependsOn returns their names;
// CheckApps refuses a list that misses one or lists it later.
type Dependent interface {
	DependsOn() []string
}

var nameRe = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// installedList names the list that CheckApps' messages tell the reader to edit.
const installedList = "apps.Installed (apps/apps.go)"

// CheckApps checks an installed list: every app non-nil, named in lower case,
// once, and after the apps it depends on. It reports every problem at once,
// each saying what to change in apps/apps.go. core.New and the command line
// call it before anything else.
func CheckApps(installed []App) error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	position := map[string]int{}
	for i, app := range installed {
		if app == nil {
			fail("%s: element %d is nil: remove it", installedList, i)
			continue
		}
		name := app.Name()
		switch {
		case name == "":
			fail("%s: app %T has an empty name: its Name() must return one", installedList, app)
			continue
		case !nameRe.MatchString(name):
			fail("%s: app name %q (%T) must be lower-case letters, digits and underscores, starting with a letter", installedList, name, app)
			continue
		}
		if j, dup := position[name]; dup {
			fail("%s: app %q is listed twice (%T at %d and %T at %d): app names must be unique, remove one", installedList, name, installed[j], j, app, i)
			continue
		}
		position[name] = i
	}
	for i, app := range installed {
		d, ok := app.(Dependent)
		if !ok {
			continue
		}
		for _, dep := range d.DependsOn() {
			j, found := position[dep]
			switch {
			case !found:
				fail("%s: app %q depends on %q, which is not installed: add the %s app above %T{} in apps.Installed", installedList, app.Name(), dep, dep, app)
			case j > i:
				fail("%s: app %q depends on %q, which is listed after it: move %T{} above %T{}", installedList, app.Name(), dep, installed[j], app)
			}
		}
	}
	return errors.Join(errs...)
}

// Lookup returns the app of the installed list with that name.
func Lookup(installed []App, name string) (App, bool) {
	for _, a := range installed {
		if a != nil && a.Name() == name {
			return a, true
		}
	}
	return nil, false
}

// RouteAuthDescriber is a Router whose routes are guarded by something other
// than RequireAuth, such as the admin's staff session. RouteAuth says what
// the route method path requires, for the routes command ("" when it requires
// nothing).
type RouteAuthDescriber interface {
	RouteAuth(method, path string) string
}
