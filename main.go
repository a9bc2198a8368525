// Command manouche runs and manages the project: `go run . runserver`,
// `go run . migrate`, `go run . --help` for the rest.
package main

import (
	"manouche/apps"
	"manouche/core/cli"
	"manouche/core/cli/generate"
)

func main() { cli.Main(apps.Installed, generate.Commands) }
