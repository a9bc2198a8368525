// Package apps is the project's INSTALLED_APPS: Installed lists the apps, in
// order. `go run . startapp NAME` appends the new app to it.
//
// The order is the order of everything that goes app by app: migrations run
// in it (an app's after those of the apps above it), routes mount in it (the
// admin's /admin before any later catch-all), an app's templates shadow those
// of the apps after it (the project's templates/ folder shadows them all), and
// commands and settings sections follow it. An app that needs another
// (DependsOn: the admin needs users) must be listed after it; the command line
// and core.New refuse a list that is not.
package apps

import (
	"manouche/admin/site"
	"manouche/apps/pages"
	"manouche/apps/users"
	"manouche/core"
)

// Installed is the project's installed apps, in order.
var Installed = []core.App{
	pages.App{},
	users.App{},
	site.App{},
}
