package testkit_test

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"manouche/core/testkit"
)

func TestInChild(t *testing.T) {
	t.Parallel()
	t.Run("runs the test in a child process", func(t *testing.T) {
		t.Parallel()
		if !testkit.InChild(t, "KIT_PARENT_PID="+strconv.Itoa(os.Getpid()), "KIT_VALUE=a b") {
			return
		}
		if parent := os.Getenv("KIT_PARENT_PID"); parent == "" || parent == strconv.Itoa(os.Getpid()) {
			t.Fatalf("not in a child process: parent %q, pid %d", parent, os.Getpid())
		}
		if v := os.Getenv("KIT_VALUE"); v != "a b" {
			t.Fatalf("KIT_VALUE = %q in the child", v)
		}
	})
	t.Run("a failing child fails the parent", func(t *testing.T) {
		t.Parallel()
		if os.Getenv("KIT_FAIL") == "1" {
			t.Error("deliberate failure in the child")
			return
		}
		f := testkit.Record(t, func(tb testing.TB) { testkit.InChild(tb, "KIT_FAIL=1") })
		if !f.Failed || !strings.Contains(strings.Join(f.Messages, "\n"), "failed in its child process") {
			t.Fatalf("parent of a failing child: %+v", f)
		}
	})
	t.Run("a skipping child skips the parent", func(t *testing.T) {
		t.Parallel()
		if os.Getenv("KIT_SKIP") == "1" {
			t.Skip("deliberate skip in the child")
		}
		f := testkit.Record(t, func(tb testing.TB) { testkit.InChild(tb, "KIT_SKIP=1") })
		if f.Failed || !f.Skipped {
			t.Fatalf("parent of a skipping child: %+v", f)
		}
	})
}
