package core_test

import (
	"io/fs"
	"testing"
	"testing/fstest"

	"manouche/core"
	"manouche/core/testkit"
)

// TestMain runs core's tests with a project of one test-only app.
func TestMain(m *testing.M) { testkit.Main(m, []core.App{coreTestApp{}}) }

// coreTestApp is a test-only app with one migration, so the project and its
// database pools have something of an app's to work on. (core/server's tests
// have one with routes.)
type coreTestApp struct{}

func (coreTestApp) Name() string { return "coretestapp" }

func (coreTestApp) Migrations() fs.FS {
	return fstest.MapFS{
		"20260101000001_create_things.up.sql":   {Data: []byte("CREATE TABLE coretest_things (id INTEGER);")},
		"20260101000001_create_things.down.sql": {Data: []byte("DROP TABLE coretest_things;")},
	}
}

var _ core.Migrator = coreTestApp{}
