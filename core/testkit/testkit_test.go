package testkit_test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"manouche/core"
	"manouche/core/testkit"
)

// commentApp is an app with a settings section of its own, like the README's
// blog with [blog] COMMENT_MAX_LENGTH. Its name is one no project app should
// have: the project's layer files may configure a blog of its own.
type commentApp struct{}

type commentSettings struct {
	CommentMaxLength int `setting:"COMMENT_MAX_LENGTH"`
}

func (commentApp) Name() string  { return "kitblog" }
func (commentApp) Settings() any { return &commentSettings{CommentMaxLength: 500} }

// TestMain installs the test app in every test project.
func TestMain(m *testing.M) { testkit.Main(m, []core.App{commentApp{}, notesApp{}}) }

// fatalTB records the first Fatalf instead of failing the test, and ends the
// goroutine that called it as testing.T does.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}
func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// newFails runs testkit.New with a TB that records its failure, and returns
// the failure message ("" when New succeeded).
func newFails(t *testing.T, options ...any) string {
	t.Helper()
	tb := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		testkit.New(tb, options...)
	}()
	<-done
	return tb.msg
}

func TestSettingsByTheirEnvironmentName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		overrides testkit.Settings
		want      int    // the kitblog's COMMENT_MAX_LENGTH
		wantRate  string // API_THROTTLE_RATE
	}{
		{"defaults", nil, 500, "10000/day"},
		{"an app's setting", testkit.Settings{"KITBLOG_COMMENT_MAX_LENGTH": "5"}, 5, "10000/day"},
		{"an app's setting, typed", testkit.Settings{"KITBLOG_COMMENT_MAX_LENGTH": 7}, 7, "10000/day"},
		{"a core setting", testkit.Settings{"API_THROTTLE_RATE": "5/min"}, 500, "5/min"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			app := testkit.New(t, tt.overrides, testkit.NoMigrate{})
			if got := app.Settings.App("kitblog").(*commentSettings).CommentMaxLength; got != tt.want {
				t.Errorf("kitblog COMMENT_MAX_LENGTH = %d, want %d", got, tt.want)
			}
			if got := app.Settings.APIThrottleRate.String(); got != tt.wantRate {
				t.Errorf("API_THROTTLE_RATE = %s, want %s", got, tt.wantRate)
			}
		})
	}
}

func TestUnknownSettingsFail(t *testing.T) {
	t.Parallel()
	tests := []struct {
		overrides testkit.Settings
		want      string
	}{
		{testkit.Settings{"API_THROTLE_RATE": "5/min"}, "unknown setting API_THROTLE_RATE in the overrides: did you mean API_THROTTLE_RATE?"},
		{testkit.Settings{"KITBLOG_COMMENT_MAX_LENGHT": "5"}, "did you mean KITBLOG_COMMENT_MAX_LENGTH?"},
		{testkit.Settings{"KITNEWS_COMMENT_MAX_LENGTH": "5"}, "did you mean KITBLOG_COMMENT_MAX_LENGTH?"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			t.Parallel()
			msg := newFails(t, tt.overrides, testkit.NoMigrate{})
			if !strings.Contains(msg, tt.want) {
				t.Errorf("testkit.New(%v) failed with %q, want %q", tt.overrides, msg, tt.want)
			}
		})
	}
	if msg := newFails(t, testkit.Settings{"KITBLOG_COMMENT_MAX_LENGTH": "5"}, testkit.NoMigrate{}); msg != "" {
		t.Errorf("a valid name failed: %s", msg)
	}
}

func TestAppsOption(t *testing.T) {
	t.Parallel()
	if msg := newFails(t, testkit.Apps(nil)); !strings.Contains(msg, "testkit.Main(m, apps.Installed)") {
		t.Errorf("New without installed apps: %q, want it to name testkit.Main", msg)
	}
	app := testkit.New(t, testkit.Apps{})
	if _, ok := core.Lookup(app.Apps(), "kitblog"); ok {
		t.Error("testkit.Apps{} kept the apps given to Main")
	}
	app = testkit.New(t)
	if _, ok := core.Lookup(app.Apps(), "kitblog"); !ok {
		t.Error("New without Apps does not have the apps given to Main")
	}
}
