// Command manouche runs and manages the project: `go run . runserver`,
// `go run . migrate`, `go run . --help` for the rest.
package main

import (
	_ "manouche/apps" // the installed apps register themselves

	"manouche/core"
)

func main() { core.Main() }
