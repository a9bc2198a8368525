package cli_test

import (
	"io/fs"
	"testing"
	"testing/fstest"

	"manouche/core"
	"manouche/core/testkit"
)

// coreTestApp is a test-only app with one migration, for the migration
// commands to work on.
type coreTestApp struct{}

func (coreTestApp) Name() string { return "coretestapp" }

func (coreTestApp) Migrations() fs.FS {
	return fstest.MapFS{
		"20260101000001_create_things.up.sql":   {Data: []byte("CREATE TABLE coretest_things (id INTEGER);")},
		"20260101000001_create_things.down.sql": {Data: []byte("DROP TABLE coretest_things;")},
	}
}

// namedApp is an app with any name and dependencies.
type namedApp struct {
	name string
	deps []string
}

func (a namedApp) Name() string        { return a.name }
func (a namedApp) DependsOn() []string { return a.deps }

// TestMain runs the command line's tests with a project of one test-only app.
func TestMain(m *testing.M) { testkit.Main(m, []core.App{coreTestApp{}}) }
