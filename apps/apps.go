// Package apps is the project's INSTALLED_APPS: one blank import per app.
// `go run . startapp NAME` adds a line here.
//
// Apps register in Go's package initialisation order: an app that an app
// imports (users, for a foreign key to users.User) registers before it, so its
// migrations run first; independent apps follow their import paths' order.
package apps

import (
	_ "manouche/admin/site"
	_ "manouche/apps/pages"
	_ "manouche/apps/users"
)
