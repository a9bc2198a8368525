package server_test

import (
	"testing"

	"manouche/core"
	"manouche/core/testkit"
)

// TestMain runs the server's tests with a project of one test-only app.
func TestMain(m *testing.M) { testkit.Main(m, []core.App{coreTestApp{}}) }
