package goadmin_test

import (
	"os"
	"testing"
)

// processCleanups run when the test binary ends, for what outlives one test or benchmark run
// (the benchmark's site: GoAdmin can be mounted once per process).
var processCleanups []func()

func TestMain(m *testing.M) {
	code := m.Run()
	for i := len(processCleanups) - 1; i >= 0; i-- {
		processCleanups[i]()
	}
	os.Exit(code)
}

// processTB is a testing.TB whose temporary directories and cleanups last until the process ends.
type processTB struct{ testing.TB }

func (p processTB) Cleanup(f func()) { processCleanups = append(processCleanups, f) }

func (p processTB) TempDir() string {
	dir, err := os.MkdirTemp("", "manouche-admin-")
	if err != nil {
		p.Fatal(err)
	}
	processCleanups = append(processCleanups, func() { _ = os.RemoveAll(dir) })
	return dir
}
