package site_test

import (
	"slices"
	"testing"

	"manouche/admin/site"
	"manouche/core/checks"
	"manouche/settings"
)

// TestDeployChecks: the admin's cookies are Secure only on an https site
// (goadmin's TestAdminSecureCookies proves what the browser then receives),
// and `check --deploy` reports Django's W012 and W016 otherwise; the session
// cookie is always HttpOnly (no W013).
func TestDeployChecks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		scheme string
		want   []string
	}{
		{"https", nil},
		{"http", []string{"security.W012", "security.W016"}},
	}
	for _, tt := range tests {
		st, err := settings.Load(settings.Options{Layer: "testing", DotEnv: "-", Environ: []string{"SITE_SCHEME=" + tt.scheme}, SkipAbsentApps: true})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, is := range (site.App{}).DeployChecks(st) {
			if is.Level != checks.Warning {
				t.Errorf("%s: %s", is.ID, is.Level)
			}
			got = append(got, is.ID)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("SITE_SCHEME=%s: %v, want %v", tt.scheme, got, tt.want)
		}
	}
}
