package version

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

func TestResolve(t *testing.T) {
	vcs := &debug.BuildInfo{Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.modified", Value: "false"}}}
	dirty := &debug.BuildInfo{Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.modified", Value: "true"}}}
	bare := &debug.BuildInfo{Settings: []debug.BuildSetting{{Key: "GOOS", Value: "linux"}}}
	for _, tc := range []struct {
		name, linked, source string
		info                 *debug.BuildInfo
		want                 string
	}{
		{"linker wins", "v1.2.3", "deadbeef", vcs, "v1.2.3"},
		{"SOURCE_VERSION next", "", "deadbeef", vcs, "deadbeef"},
		{"blank SOURCE_VERSION ignored", "", "  ", vcs, "abc123"},
		{"vcs revision", "", "", vcs, "abc123"},
		{"dirty tree", "", "", dirty, "abc123-dirty"},
		{"no vcs", "", "", bare, "dev"},
		{"no build info", "", "", nil, "dev"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := resolve(tc.linked, tc.source, tc.info); got != tc.want {
				t.Errorf("resolve = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestGetReadsSourceVersion(t *testing.T) {
	t.Setenv("SOURCE_VERSION", "0123456789abcdef")
	if got := Get(); got != "0123456789abcdef" && Version == "" {
		t.Errorf("Get() = %q, want SOURCE_VERSION", got)
	}
}

// TestLinkerFlag builds a program that prints Get() with -ldflags -X, as the
// Heroku buildpack does with GO_LINKER_SYMBOL, and checks the value arrives.
func TestLinkerFlag(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program")
	}
	dir := t.TempDir()
	main := filepath.Join(dir, "main.go")
	if err := os.WriteFile(main, []byte("package main\n\nimport (\n\t\"fmt\"\n\n\t\"manouche/core/version\"\n)\n\nfunc main() { fmt.Print(version.Get()) }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The program must be inside the module to import the package: build it
	// from a throwaway folder in the module.
	pkgDir, err := os.MkdirTemp(".", "linktest")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(pkgDir) })
	if err := os.Rename(main, filepath.Join(pkgDir, "main.go")); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "prog")
	build := exec.Command("go", "build", "-ldflags", "-X manouche/core/version.Version=v9.9.9-test", "-o", bin, "./"+filepath.Base(pkgDir))
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	run := exec.Command(bin)
	run.Env = append(os.Environ(), "SOURCE_VERSION=not-this")
	out, err := run.Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(out)); got != "v9.9.9-test" {
		t.Errorf("linked program says %q, want v9.9.9-test", got)
	}
}
