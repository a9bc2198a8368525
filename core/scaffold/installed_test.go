package scaffold

import (
	"strings"
	"testing"
)

func TestAddInstalled(t *testing.T) {
	t.Parallel()
	const module = "example.com/site"
	tests := []struct {
		name    string
		src     string
		want    string // the formatted result; "" when refused
		wantErr string
	}{
		{
			name: "one element a line",
			src:  "package apps\n\nimport (\n\t\"example.com/site/apps/users\"\n\t\"example.com/site/core\"\n)\n\nvar Installed = []core.App{\n\tusers.App{},\n}\n",
			want: "package apps\n\nimport (\n\t\"example.com/site/apps/blog\"\n\t\"example.com/site/apps/users\"\n\t\"example.com/site/core\"\n)\n\nvar Installed = []core.App{\n\tusers.App{},\n\tblog.App{},\n}\n",
		},
		{
			name: "one line",
			src:  "package apps\n\nimport (\n\t\"example.com/site/apps/users\"\n\t\"example.com/site/core\"\n)\n\nvar Installed = []core.App{users.App{}}\n",
			want: "package apps\n\nimport (\n\t\"example.com/site/apps/blog\"\n\t\"example.com/site/apps/users\"\n\t\"example.com/site/core\"\n)\n\nvar Installed = []core.App{users.App{}, blog.App{}}\n",
		},
		{
			name: "empty list, single import",
			src:  "package apps\n\nimport \"example.com/site/core\"\n\nvar Installed = []core.App{}\n",
			want: "package apps\n\nimport \"example.com/site/core\"\nimport \"example.com/site/apps/blog\"\n\nvar Installed = []core.App{blog.App{}}\n",
		},
		{
			name: "comments kept, in a var block",
			src:  "package apps\n\nimport (\n\t\"example.com/site/apps/users\"\n\t\"example.com/site/core\"\n)\n\nvar (\n\t// Installed is the list.\n\tInstalled = []core.App{\n\t\tusers.App{}, // accounts\n\t}\n)\n",
			want: "package apps\n\nimport (\n\t\"example.com/site/apps/blog\"\n\t\"example.com/site/apps/users\"\n\t\"example.com/site/core\"\n)\n\nvar (\n\t// Installed is the list.\n\tInstalled = []core.App{\n\t\tusers.App{}, // accounts\n\t\tblog.App{},\n\t}\n)\n",
		},
		{
			name:    "built by a function",
			src:     "package apps\n\nimport \"example.com/site/core\"\n\nvar Installed = build()\n\nfunc build() []core.App { return nil }\n",
			wantErr: "add blog.App{} to it by hand",
		},
		{
			name:    "no list",
			src:     "package apps\n\nimport _ \"example.com/site/apps/users\"\n",
			wantErr: "has no `var Installed = []core.App{...}`",
		},
		{
			name:    "already installed",
			src:     "package apps\n\nimport (\n\t\"example.com/site/apps/blog\"\n\t\"example.com/site/core\"\n)\n\nvar Installed = []core.App{blog.App{}}\n",
			wantErr: "already imports example.com/site/apps/blog",
		},
		{
			name:    "does not parse",
			src:     "package apps\n\nvar Installed = []core.App{\n",
			wantErr: "does not parse",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := addInstalled([]byte(tt.src), module, "blog")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q (result:\n%s)", err, tt.wantErr, got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tt.want)
			}
			parsed, err := parseAppsGo(got)
			if err != nil || !parsed.installedPaths()[module+"/apps/blog"] {
				t.Errorf("blog is not in the parsed Installed list (%v)", err)
			}
		})
	}
}
