package userstest_test

import (
	"testing"

	"manouche/apps"
	"manouche/core/testkit"
)

// TestMain runs the helpers' tests with the project's installed apps.
func TestMain(m *testing.M) { testkit.Main(m, apps.Installed) }
