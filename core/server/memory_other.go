//go:build !linux

package server

import (
	"runtime"
	"runtime/debug"
)

// releaseStartupMemory collects the garbage of starting the server and
// returns its pages to the system (on Linux it also unmaps the executable's
// pages that start-up touched).
func releaseStartupMemory() int {
	runtime.GC()
	debug.FreeOSMemory()
	return 0
}
