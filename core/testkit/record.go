package testkit

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
)

// Failures is what a function run by Record reported.
type Failures struct {
	// Messages are the Error, Fatal and Skip messages, in order.
	Messages []string
	// Failed is true when the function failed (Error, Fatal or Fail).
	Failed bool
	// Skipped is true when the function skipped.
	Skipped bool
}

// Record runs fn with a testing.TB that records failures instead of failing
// t, and returns them: the way to test a test helper, such as a Scenario row
// that must fail. Fatal, FailNow and Skip end fn (as they end a test); the
// rest (TempDir, Cleanup, Setenv, Log) is t's, so cleanups run when t ends.
func Record(t testing.TB, fn func(tb testing.TB)) Failures {
	t.Helper()
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(r)
	}()
	<-done
	r.mu.Lock()
	defer r.mu.Unlock()
	return Failures{Messages: append([]string(nil), r.msgs...), Failed: r.failed, Skipped: r.skipped}
}

// recorder is the testing.TB of Record.
type recorder struct {
	testing.TB
	mu      sync.Mutex
	msgs    []string
	failed  bool
	skipped bool
}

func (r *recorder) add(msg string, fail, skip bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if msg != "" {
		r.msgs = append(r.msgs, msg)
	}
	r.failed = r.failed || fail
	r.skipped = r.skipped || skip
}

func (r *recorder) Error(args ...any) { r.add(fmt.Sprint(args...), true, false) }
func (r *recorder) Errorf(format string, args ...any) {
	r.add(fmt.Sprintf(format, args...), true, false)
}
func (r *recorder) Fail()                             { r.add("", true, false) }
func (r *recorder) FailNow()                          { r.add("", true, false); runtime.Goexit() }
func (r *recorder) Fatal(args ...any)                 { r.Error(args...); runtime.Goexit() }
func (r *recorder) Fatalf(format string, args ...any) { r.Errorf(format, args...); runtime.Goexit() }
func (r *recorder) Skip(args ...any)                  { r.add(fmt.Sprint(args...), false, true); runtime.Goexit() }
func (r *recorder) Skipf(format string, args ...any) {
	r.add(fmt.Sprintf(format, args...), false, true)
	runtime.Goexit()
}
func (r *recorder) SkipNow() { r.add("", false, true); runtime.Goexit() }

func (r *recorder) Failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed
}

func (r *recorder) Skipped() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.skipped
}
