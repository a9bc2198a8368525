// Package version reports which build of Manouche is running.
//
// The version is, first found wins:
//
//  1. the linker-set [Version] variable:
//     go build -ldflags "-X manouche/core/version.Version=$SOURCE_VERSION" .
//     On Heroku the Go buildpack does this itself when the config var
//     GO_LINKER_SYMBOL is manouche/core/version.Version (app.json sets it):
//     GO_LINKER_VALUE defaults to SOURCE_VERSION, the commit being built;
//  2. the SOURCE_VERSION environment variable of the process (set by Heroku
//     at build time, and by CI systems that export it);
//  3. the VCS revision the go command stamped into the binary (a build from
//     a git checkout; "-dirty" is appended when the tree had changes);
//  4. "dev".
package version

import (
	"os"
	"runtime/debug"
	"strings"
)

// Version is set at link time with -ldflags "-X manouche/core/version.Version=VALUE".
// Leave it empty in source.
var Version string

// Get returns the running build's version (see the package documentation).
func Get() string {
	info, _ := debug.ReadBuildInfo()
	return resolve(Version, os.Getenv("SOURCE_VERSION"), info)
}

// resolve picks the version from its sources, in order.
func resolve(linked, sourceVersion string, info *debug.BuildInfo) string {
	if v := strings.TrimSpace(linked); v != "" {
		return v
	}
	if v := strings.TrimSpace(sourceVersion); v != "" {
		return v
	}
	if info != nil {
		var rev string
		var dirty bool
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if rev != "" {
			if dirty {
				rev += "-dirty"
			}
			return rev
		}
	}
	return "dev"
}
