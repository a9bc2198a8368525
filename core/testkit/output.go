package testkit

import (
	"bufio"
	"io"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// Output collects what a process writes, line by line, as it writes it: give
// Writer to exec.Cmd's Stdout and Stderr, then WaitFor the lines a test
// expects.
type Output struct {
	mu    sync.Mutex
	lines []string
	added chan struct{}
	w     *io.PipeWriter
}

// NewOutput returns an empty Output; Close it when the process has exited.
func NewOutput() *Output {
	r, w := io.Pipe()
	o := &Output{added: make(chan struct{}, 1), w: w}
	go o.read(r)
	return o
}

// Writer is what the process writes to.
func (o *Output) Writer() io.Writer { return o.w }

// Close stops collecting.
func (o *Output) Close() error { return o.w.Close() }

func (o *Output) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		o.mu.Lock()
		o.lines = append(o.lines, sc.Text())
		o.mu.Unlock()
		select {
		case o.added <- struct{}{}:
		default:
		}
	}
	_, _ = io.Copy(io.Discard, r)
}

// Lines returns the lines written so far.
func (o *Output) Lines() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.lines...)
}

// String is the output so far.
func (o *Output) String() string { return strings.Join(o.Lines(), "\n") }

// WaitFor waits until a line, from the from-th on, matches re and returns its
// submatches; it fails t after timeout.
func (o *Output) WaitFor(t testing.TB, from int, re *regexp.Regexp, timeout time.Duration) []string {
	t.Helper()
	deadline := time.After(timeout)
	for {
		lines := o.Lines()
		for _, line := range lines[min(from, len(lines)):] {
			if m := re.FindStringSubmatch(line); m != nil {
				return m
			}
		}
		select {
		case <-o.added:
		case <-deadline:
			t.Fatalf("no line matches %s after %s; output:\n%s", re, timeout, o)
		}
	}
}
