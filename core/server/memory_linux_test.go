package server_test

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"manouche/core/server"
	"manouche/core/testkit"
)

// exeRSS is the kilobytes of the executable's mappings resident in the process.
func exeRSS(t *testing.T) int {
	t.Helper()
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	total, ours := 0, false
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 6 && strings.Contains(f[0], "-") && !strings.HasSuffix(f[0], ":"):
			ours = f[5] == exe
		case ours && len(f) >= 2 && f[0] == "Rss:":
			kb, _ := strconv.Atoi(f[1])
			total += kb
		}
	}
	return total
}

// TestReleaseStartupMemory: the executable's pages that start-up touched are
// unmapped, and the program runs on (the code it then needs maps back in).
func TestReleaseStartupMemory(t *testing.T) {
	before := exeRSS(t)
	dropped := server.ReleaseStartupMemory()
	after := exeRSS(t)
	if dropped <= 0 || after >= before {
		t.Fatalf("dropped %d kB: the executable's resident pages went from %d to %d kB", dropped, before, after)
	}
	// The program runs on: code that was unmapped maps back in.
	if res := testkit.New(t).Client.Get("/health"); res.Status != 200 {
		t.Errorf("a request after the release: %d %s", res.Status, res.Body)
	}
	t.Logf("executable resident: %d kB -> %d kB (dropped %d kB)", before, after, dropped)
}
