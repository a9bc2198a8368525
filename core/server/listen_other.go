//go:build !linux

package server

import "context"

// PortHolder reports the process listening on a TCP port; outside Linux it
// cannot tell.
func PortHolder(port int) (pid int, command string, ok bool) { return 0, "", false }

// StopWithGoRun only watches for `go run`'s death on Linux.
func StopWithGoRun(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithCancel(ctx)
}
