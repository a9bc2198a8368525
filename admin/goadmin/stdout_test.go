package goadmin_test

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"

	"manouche/admin/goadmin"
)

// TestMountFiltersStdout runs TestAdminSiteFilteredStdout in a process of its own, with the
// admin mounted as runserver mounts it (FilterStdout), and reads what that process printed:
// GoAdmin's getColumns lines are gone, every other line is there, flushed by Close.
func TestMountFiltersStdout(t *testing.T) {
	if os.Getenv(childEnv) != "" {
		t.Skip("parent test")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestAdminSiteFilteredStdout$", "-test.v")
	cmd.Env = append(os.Environ(), childEnv+"="+string(goadmin.SQLite), filterEnv+"=1")
	out, err := cmd.CombinedOutput()
	t.Logf("child process output:\n%s", out)
	if err != nil || !strings.Contains(string(out), "--- PASS: TestAdminSiteFilteredStdout") {
		t.Fatalf("filtered-stdout test failed or did not run: %v", err)
	}
	if strings.Contains(string(out), "getColumns columns ") {
		t.Error("GoAdmin's getColumns lines reached stdout")
	}
	for _, want := range []string{"marker: before close", "marker: after close"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("stdout lost %q", want)
		}
	}
}

// TestAdminSiteFilteredStdout: a list request (GoAdmin prints a getColumns line then) and a
// line of our own go through the filter; Close gives os.Stdout back.
func TestAdminSiteFilteredStdout(t *testing.T) {
	if os.Getenv(filterEnv) == "" {
		t.Skip("run through TestMountFiltersStdout")
	}
	orig := os.Stdout
	s := newSite(t, goadmin.SQLite)
	if os.Stdout == orig {
		t.Fatal("Mount with FilterStdout left os.Stdout as it was")
	}
	s.addUser(t, "root@example.com", "correct horse battery", true, true, true, "Root", "User")
	c := newClient(t, s.base)
	c.login("root@example.com", "correct horse battery")
	if code, _, _ := c.get("/admin/info/notes"); code != http.StatusOK {
		t.Fatalf("list: %d", code)
	}
	fmt.Println("getColumns columns [a synthetic noise line]")
	fmt.Println("marker: before close")
	if err := s.admin.Close(); err != nil {
		t.Fatal(err)
	}
	if os.Stdout != orig {
		t.Fatal("Close did not give os.Stdout back")
	}
	fmt.Println("marker: after close")
}
