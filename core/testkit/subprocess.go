package testkit

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// childEnv names the test a child process of InChild runs.
const childEnv = "MANOUCHE_TEST_CHILD"

// InChild runs the calling test again in a child process of the test binary,
// with env (NAME=value entries) added to its environment, and reports whether
// the caller is that child. For code with process-wide state that a test
// cannot reset, such as GoAdmin's configuration:
//
//	for _, d := range testdb.Dialects(t) {
//		t.Run(string(d), func(t *testing.T) {
//			if !testkit.InChild(t, "ADMIN_DIALECT="+string(d)) {
//				return // the parent: the child passed
//			}
//			... // the child: the test itself, alone in its process
//		})
//	}
//
// In the parent, InChild waits for the child, logs its output, and fails t
// when the child fails (skips t when the child skipped).
func InChild(t testing.TB, env ...string) (child bool) {
	t.Helper()
	if os.Getenv(childEnv) == t.Name() {
		return true
	}
	parts := strings.Split(t.Name(), "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	args := []string{"-test.run=" + strings.Join(parts, "/"), "-test.v", "-test.count=1"}
	if testing.Short() {
		args = append(args, "-test.short")
	}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), env...), childEnv+"="+t.Name())
	out, err := cmd.CombinedOutput()
	t.Logf("child process (%s):\n%s", strings.Join(env, " "), out)
	switch {
	case err != nil:
		t.Fatalf("%s failed in its child process: %v", t.Name(), err)
	case strings.Contains(string(out), "--- SKIP: "+t.Name()+" "):
		t.Skipf("%s skipped in its child process", t.Name())
	case !strings.Contains(string(out), "--- PASS: "+t.Name()+" "):
		t.Fatalf("%s did not run in its child process", t.Name())
	}
	return false
}
