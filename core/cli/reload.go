package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"manouche/core"
	"manouche/core/server"
)

// The reloader (runserver in development, like Django's autoreloader) is a
// supervisor: it opens the listening socket once and runs the server in a
// child process that inherits it. It polls the project's files; on a change it
// runs `go build`, starts the new binary as a second child on the same socket,
// waits until that child serves, then stops the old one, which drains its
// in-flight requests (SIGTERM). The socket never closes, so a request made
// during a rebuild waits in its backlog and is answered by one child or the
// other: never refused. A build that fails prints the compiler's errors and
// the old child keeps serving.
//
// Polling, not inotify (fsnotify): a walk of the project's few hundred files
// every reloadPoll costs well under a millisecond, sees files in folders
// created after the start (a new app) and editors' atomic saves (write a
// temporary file, rename it) without re-adding watches, has no watch limit,
// and works on every file system (network mounts, containers' bind mounts,
// where inotify events do not cross). Its delay is nothing beside go build's
// seconds. Django's default StatReloader polls too.

// childEnv tells a runserver started by the reloader that the listening
// socket is its file descriptor 3 and that it reports being ready by writing
// to descriptor 4.
const childEnv = "MANOUCHE_RUNSERVER_CHILD"

// reloadPoll is how often the reloader looks at the project's files, and
// reloadSettle how long files must stay unchanged before a rebuild starts.
const (
	reloadPoll   = 250 * time.Millisecond
	reloadSettle = 100 * time.Millisecond
)

// inheritedListener returns the socket and the ready notification a
// runserver started by the reloader inherits, and false in any other process.
func inheritedListener() (ln net.Listener, ready func(), ok bool, err error) {
	if os.Getenv(childEnv) != "1" {
		return nil, nil, false, nil
	}
	_ = os.Unsetenv(childEnv) // not for the processes this one starts
	f := os.NewFile(3, "listener")
	ln, err = net.FileListener(f)
	_ = f.Close()
	if err != nil {
		return nil, nil, true, fmt.Errorf("runserver: the reloader's socket (fd 3): %w", err)
	}
	readyFile := os.NewFile(4, "ready")
	return ln, func() {
		_, _ = readyFile.Write([]byte{1})
		_ = readyFile.Close()
	}, true, nil
}

// stopWithParent returns a context that is cancelled when this process's
// parent (the reloader) goes away without stopping it (killed with SIGKILL):
// the child then drains and exits instead of serving on with no supervisor.
func stopWithParent(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	ppid := os.Getppid()
	go func() {
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if os.Getppid() != ppid {
					cancel()
					return
				}
			}
		}
	}()
	return ctx, cancel
}

// reloadRoot returns the project's source folder when runserver can reload:
// the working directory is the root of the installed apps' module and go is
// on PATH.
func (cl *commandLine) reloadRoot(errOut io.Writer) (string, bool) {
	wd, err := os.Getwd()
	if err != nil {
		return "", false
	}
	if _, ok := core.SourceRoot(wd, cl.env.Installed); !ok {
		return "", false
	}
	if _, err := exec.LookPath("go"); err != nil {
		fmt.Fprintln(errOut, "WARNING: go is not on PATH: runserver will not reload on changes.")
		return "", false
	}
	return wd, true
}

// reloader is runserver's supervisor: see the comment at the top of the file.
type reloader struct {
	root   string
	out    io.Writer
	errOut io.Writer
	// args are the child's arguments (runserver --noreload ...).
	args []string
	// socket is the listener's file, passed to every child.
	socket *os.File
	// tmp holds the binaries the reloader builds.
	tmp string
	// templateDirs are the folders whose files the server reads from disk
	// (core.TemplateSourceDirs): a change there needs no restart.
	templateDirs []string
	builds       int
	// drain is how long a stopped child may take (SHUTDOWN_TIMEOUT and a margin).
	drain time.Duration
}

// child is one server process.
type child struct {
	cmd  *exec.Cmd
	bin  string
	done chan struct{}
	err  error
}

// superviseRunserver runs the reloader until ctx is cancelled.
func (cl *commandLine) superviseRunserver(ctx context.Context, cmd *cobra.Command, addr, root string, childArgs []string) error {
	st, err := cl.settings()
	if err != nil {
		return err
	}
	ln, err := server.Listen(addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	tcp, ok := ln.(*net.TCPListener)
	if !ok {
		return fmt.Errorf("runserver: cannot pass a %T to the server process", ln)
	}
	socket, err := tcp.File()
	if err != nil {
		return fmt.Errorf("runserver: %w", err)
	}
	defer socket.Close()
	tmp, err := os.MkdirTemp("", "manouche-runserver-")
	if err != nil {
		return fmt.Errorf("runserver: %w", err)
	}
	defer os.RemoveAll(tmp)
	ctx, cancel := server.StopWithGoRun(ctx)
	defer cancel()
	r := &reloader{
		root: root, out: cmd.OutOrStdout(), errOut: cmd.ErrOrStderr(),
		args: childArgs, socket: socket, tmp: tmp,
		drain: st.ShutdownTimeout + 5*time.Second,
	}
	for _, d := range core.TemplateSourceDirs(root, cl.env.Installed) {
		if d != "" {
			r.templateDirs = append(r.templateDirs, d+string(filepath.Separator))
		}
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("runserver: %w", err)
	}
	return r.run(ctx, self)
}

// run starts the first child from bin, then watches and reloads until ctx is
// cancelled, and stops the children.
func (r *reloader) run(ctx context.Context, bin string) error {
	files := r.scan()
	cur, err := r.start(ctx, bin)
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped (CONTROL-C) while the first server started
		}
		return err
	}
	fmt.Fprintln(r.out, "Watching for file changes (runserver --noreload turns it off).")
	lastBin := bin
	var draining []*child
	defer func() {
		for _, c := range append(draining, cur) {
			r.stop(c)
		}
		for _, c := range append(draining, cur) {
			r.wait(c)
		}
	}()
	tick := time.NewTicker(reloadPoll)
	defer tick.Stop()
	for {
		var exited chan struct{}
		if cur != nil {
			exited = cur.done
		}
		select {
		case <-ctx.Done():
			return nil
		case <-exited:
			fmt.Fprintf(r.errOut, "The server stopped (%v): waiting for a change to start it again.\n", cur.err)
			cur = nil
			continue
		case <-tick.C:
		}
		draining = r.reap(draining, lastBin)
		now := r.scan()
		changed := diffFiles(files, now)
		files = now
		if len(changed) == 0 {
			continue
		}
		// Let a burst of writes settle (a save and a formatter's rewrite,
		// a git checkout) into one rebuild.
		for range 10 {
			time.Sleep(reloadSettle)
			again := r.scan()
			more := diffFiles(files, again)
			files = again
			if len(more) == 0 {
				break
			}
			changed = mergeSorted(changed, more)
		}
		kind := r.classify(changed)
		if cur == nil {
			kind = max(kind, changeEnv) // no server: start one, whatever changed
		}
		if kind == changeTemplates {
			fmt.Fprintf(r.out, "%s changed: templates are read from disk, no restart.\n", describe(changed))
			continue
		}
		started := time.Now()
		next := lastBin
		if kind == changeCode {
			fmt.Fprintf(r.out, "%s changed, rebuilding...\n", describe(changed))
			bin, err := r.build(ctx)
			if ctx.Err() != nil {
				return nil
			}
			if err != nil {
				fmt.Fprintf(r.errOut, "%s\nThe build failed: the server keeps running the previous code.\n", strings.TrimRight(err.Error(), "\n"))
				continue
			}
			next = bin
		} else {
			fmt.Fprintf(r.out, "%s changed, restarting...\n", describe(changed))
		}
		built := time.Now()
		c, err := r.start(ctx, next)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			fmt.Fprintf(r.errOut, "The new server did not start (%v): the server keeps running the previous code.\n", strings.TrimPrefix(err.Error(), "runserver: "))
			if next != lastBin {
				_ = os.Remove(next)
			}
			continue
		}
		if cur != nil {
			r.stop(cur)
			draining = append(draining, cur)
		}
		cur, lastBin = c, next
		fmt.Fprintf(r.out, "Reloaded in %s (build %s, start %s).\n", time.Since(started).Round(10*time.Millisecond),
			built.Sub(started).Round(10*time.Millisecond), time.Since(built).Round(10*time.Millisecond))
	}
}

// start runs bin as a server child on the socket and waits until it serves.
func (r *reloader) start(ctx context.Context, bin string) (*child, error) {
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("runserver: %w", err)
	}
	defer readyR.Close()
	cmd := exec.Command(bin, r.args...)
	cmd.Dir = r.root
	cmd.Env = append(os.Environ(), childEnv+"=1")
	cmd.Stdout, cmd.Stderr = r.out, r.errOut
	cmd.ExtraFiles = []*os.File{r.socket, readyW}
	err = cmd.Start()
	_ = readyW.Close()
	if err != nil {
		return nil, fmt.Errorf("runserver: start the server: %w", err)
	}
	c := &child{cmd: cmd, bin: bin, done: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	ready := make(chan bool, 1)
	go func() {
		b := make([]byte, 1)
		n, _ := readyR.Read(b)
		ready <- n == 1
	}()
	select {
	case ok := <-ready:
		if ok {
			return c, nil
		}
		<-c.done
		return nil, fmt.Errorf("runserver: the server exited before serving (%v)", c.err)
	case <-ctx.Done():
		r.stop(c)
		r.wait(c)
		return nil, ctx.Err()
	}
}

// stop asks a child to finish its in-flight requests and exit.
func (r *reloader) stop(c *child) {
	if c != nil {
		_ = c.cmd.Process.Signal(syscall.SIGTERM)
	}
}

// wait waits for a stopped child, and kills it when it outlives its drain.
func (r *reloader) wait(c *child) {
	if c == nil {
		return
	}
	select {
	case <-c.done:
	case <-time.After(r.drain):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// reap forgets the stopped children that have exited, and removes their
// binaries (not the one in use).
func (r *reloader) reap(draining []*child, inUse string) []*child {
	return slices.DeleteFunc(draining, func(c *child) bool {
		select {
		case <-c.done:
			if c.bin != inUse && strings.HasPrefix(c.bin, r.tmp) {
				_ = os.Remove(c.bin)
			}
			return true
		default:
			return false
		}
	})
}

// build runs go build in the project's root, and returns the new binary, or
// the compiler's output as the error.
func (r *reloader) build(ctx context.Context) (string, error) {
	r.builds++
	bin := filepath.Join(r.tmp, "manouche-"+strconv.Itoa(r.builds))
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	cmd.Dir = r.root
	out, err := cmd.CombinedOutput()
	if err != nil {
		if len(out) == 0 {
			return "", fmt.Errorf("go build: %w", err)
		}
		return "", errors.New(string(out))
	}
	return bin, nil
}

// fileState is what the reloader compares between two scans.
type fileState struct {
	mod  time.Time
	size int64
}

// scan lists the files a change of which reloads the server: Go files (not
// tests), SQL migrations, settings (*.toml, .env), go.mod and go.sum, and
// the files of the template folders.
func (r *reloader) scan() map[string]fileState {
	files := map[string]fileState{}
	_ = filepath.WalkDir(r.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // a file removed during the walk
		}
		rel, _ := filepath.Rel(r.root, p)
		name := d.Name()
		if d.IsDir() {
			if rel != "." && (strings.HasPrefix(name, ".") || name == "node_modules" || name == "testdata" || name == "vendor" ||
				rel == "media" || rel == "test-artifacts") {
				return filepath.SkipDir
			}
			return nil
		}
		if !r.watched(rel) {
			return nil
		}
		if fi, err := d.Info(); err == nil {
			files[rel] = fileState{fi.ModTime(), fi.Size()}
		}
		return nil
	})
	return files
}

// watched reports whether the file at rel (from the root) is one scan lists.
func (r *reloader) watched(rel string) bool {
	name := filepath.Base(rel)
	switch ext := filepath.Ext(name); {
	case name == ".env", name == "go.mod", name == "go.sum":
		return true
	case ext == ".go":
		return !strings.HasSuffix(name, "_test.go")
	case ext == ".sql", ext == ".toml":
		return true
	}
	return r.inTemplates(rel)
}

func (r *reloader) inTemplates(rel string) bool {
	for _, d := range r.templateDirs {
		if strings.HasPrefix(rel, d) {
			return filepath.Ext(rel) != ".go"
		}
	}
	return false
}

// The kinds of change, from the least to the most work.
const (
	changeTemplates = iota // read from disk at the next render: nothing to do
	changeEnv              // .env: the same binary, restarted
	changeCode             // a rebuild
)

func (r *reloader) classify(changed []string) int {
	kind := changeTemplates
	for _, f := range changed {
		switch {
		case r.inTemplates(f):
		case f == ".env":
			kind = max(kind, changeEnv)
		default:
			kind = changeCode
		}
	}
	return kind
}

// diffFiles returns the files added, removed or modified between two scans, sorted.
func diffFiles(before, after map[string]fileState) []string {
	var changed []string
	for f, s := range after {
		if b, ok := before[f]; !ok || !b.mod.Equal(s.mod) || b.size != s.size {
			changed = append(changed, f)
		}
	}
	for f := range before {
		if _, ok := after[f]; !ok {
			changed = append(changed, f)
		}
	}
	slices.Sort(changed)
	return changed
}

// mergeSorted merges two sorted lists of files, without duplicates.
func mergeSorted(a, b []string) []string {
	return slices.Compact(slices.Sorted(slices.Values(append(append([]string(nil), a...), b...))))
}

// describe names the changed files for a message: the first, and how many more.
func describe(changed []string) string {
	s := filepath.ToSlash(changed[0])
	if len(changed) > 1 {
		s += fmt.Sprintf(" and %d more files", len(changed)-1)
	}
	return s
}
