package memlimit_test

import (
	"bytes"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"manouche/core/memlimit"
)

// cgroup writes files under a fresh root.
func cgroup(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		path := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestCgroupLimit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		files   map[string]string
		want    int64
		wantErr string
	}{
		{"v2 dyno 512 MB", map[string]string{"memory.max": "536870912\n"}, 536870912, ""},
		{"v2 unlimited", map[string]string{"memory.max": "max\n"}, 0, ""},
		{"v1", map[string]string{"memory/memory.limit_in_bytes": "1073741824\n"}, 1 << 30, ""},
		{"v1 at root", map[string]string{"memory.limit_in_bytes": "268435456"}, 256 << 20, ""},
		{"v1 unlimited", map[string]string{"memory/memory.limit_in_bytes": "9223372036854771712\n"}, 0, ""},
		{"v2 wins over v1", map[string]string{"memory.max": "1000000", "memory/memory.limit_in_bytes": "2000000"}, 1000000, ""},
		{"no cgroup", nil, 0, ""},
		{"garbage", map[string]string{"memory.max": "lots"}, 0, `holds "lots"`},
		{"zero", map[string]string{"memory.max": "0"}, 0, "not a memory limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := memlimit.CgroupLimit(cgroup(t, tc.files))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("CgroupLimit = %d, %v; want %d", got, err, tc.want)
			}
		})
	}
}

// Apply changes the process's limit: these tests do not run in parallel and
// put the previous limit back.
func TestApply(t *testing.T) {
	prev := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })
	dyno := cgroup(t, map[string]string{"memory.max": "536870912\n"})

	t.Run("from the cgroup, logged", func(t *testing.T) {
		t.Setenv("GOMEMLIMIT", "")
		debug.SetMemoryLimit(math.MaxInt64)
		var buf bytes.Buffer
		got := memlimit.Apply(dyno, slog.New(slog.NewTextHandler(&buf, nil)))
		want := int64(536870912 * 85 / 100)
		if got != want {
			t.Errorf("Apply = %d, want %d (85%% of 512 MiB)", got, want)
		}
		if now := debug.SetMemoryLimit(-1); now != want {
			t.Errorf("runtime limit = %d, want %d", now, want)
		}
		if !strings.Contains(buf.String(), "memory limit set") || !strings.Contains(buf.String(), "limit_mb=435") {
			t.Errorf("log = %q, want the limit set", buf.String())
		}
	})
	t.Run("GOMEMLIMIT wins", func(t *testing.T) {
		t.Setenv("GOMEMLIMIT", "300MiB")
		debug.SetMemoryLimit(math.MaxInt64)
		if got := memlimit.Apply(dyno, nil); got != 0 {
			t.Errorf("Apply = %d with GOMEMLIMIT set, want 0", got)
		}
		if now := debug.SetMemoryLimit(-1); now != math.MaxInt64 {
			t.Errorf("runtime limit changed to %d although GOMEMLIMIT is set", now)
		}
	})
	t.Run("no container limit", func(t *testing.T) {
		t.Setenv("GOMEMLIMIT", "")
		debug.SetMemoryLimit(math.MaxInt64)
		if got := memlimit.Apply(cgroup(t, map[string]string{"memory.max": "max"}), nil); got != 0 {
			t.Errorf("Apply = %d without a limit, want 0", got)
		}
		if now := debug.SetMemoryLimit(-1); now != math.MaxInt64 {
			t.Errorf("runtime limit changed to %d without a container limit", now)
		}
	})
	t.Run("unreadable limit is a warning", func(t *testing.T) {
		t.Setenv("GOMEMLIMIT", "")
		var buf bytes.Buffer
		if got := memlimit.Apply(cgroup(t, map[string]string{"memory.max": "junk"}), slog.New(slog.NewTextHandler(&buf, nil))); got != 0 {
			t.Errorf("Apply = %d", got)
		}
		if !strings.Contains(buf.String(), "level=WARN") {
			t.Errorf("log = %q, want a warning", buf.String())
		}
	})
}
