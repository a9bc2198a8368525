// Package apps is the project's INSTALLED_APPS: one blank import per app, in
// the order their migrations run and their routes mount. `go run . startapp
// NAME` appends a line here.
package apps

import (
	_ "manouche/apps/pages"
	_ "manouche/apps/users"
)
