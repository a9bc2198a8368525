// Package templates embeds the project-wide templates folder: the email
// layout, error pages, and any file that overrides an app's template of the
// same name (templates/pages/index.html replaces the pages app's own).
package templates

import "embed"

// FS is the project's templates folder, compiled into the binary.
//
//go:embed all:*
var FS embed.FS
