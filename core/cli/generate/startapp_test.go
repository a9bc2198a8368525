package generate_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"manouche/core/cli"
	"manouche/core/cli/generate"
	"manouche/settings"
)

// TestStartappIsAnExtension: startapp is on the command line main.go builds
// (with generate.Commands), and not on one without the generators.
func TestStartappIsAnExtension(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		ext      []cli.Extension
		args     []string
		wantCode int
		wantErr  string
	}{
		{"usage", []cli.Extension{generate.Commands}, []string{"startapp"}, 2, "startapp takes the app's NAME"},
		{"outside a project", []cli.Extension{generate.Commands}, []string{"startapp", "blog"}, 1, "run startapp from the project's root folder"},
		{"without the generators", nil, []string{"startapp", "blog"}, 2, `unknown command "startapp"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out, errb bytes.Buffer
			code := cli.Execute(context.Background(), tt.args, cli.Env{
				Extensions: tt.ext,
				Settings:   settings.Options{Layer: "testing", Environ: []string{}, DotEnv: "-", SkipAbsentApps: true},
				Stdout:     &out, Stderr: &errb,
			})
			if code != tt.wantCode || !strings.Contains(errb.String(), tt.wantErr) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, errb.String(), tt.wantCode, tt.wantErr)
			}
		})
	}
}
