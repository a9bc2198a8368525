package server

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// PortHolder returns the process listening on TCP port, from /proc/net/tcp,
// /proc/net/tcp6 and the processes' file descriptors. It reports false when
// no listening socket has that port or its owner cannot be read (another
// user's process, without the right to read its descriptors).
func PortHolder(port int) (pid int, command string, ok bool) {
	inodes := map[string]bool{}
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		for inode := range listeningInodes(table, port) {
			inodes[inode] = true
		}
	}
	if len(inodes) == 0 {
		return 0, "", false
	}
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		n, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		fds, err := os.ReadDir(filepath.Join("/proc", p.Name(), "fd"))
		if err != nil {
			continue
		}
		for _, fd := range fds {
			link, err := os.Readlink(filepath.Join("/proc", p.Name(), "fd", fd.Name()))
			if err != nil {
				continue
			}
			if inode, isSocket := strings.CutPrefix(link, "socket:["); isSocket && inodes[strings.TrimSuffix(inode, "]")] {
				return n, processCommand(n), true
			}
		}
	}
	return 0, "", false
}

// listeningInodes returns the inodes of the sockets of a /proc/net/tcp table
// that listen on port.
func listeningInodes(table string, port int) map[string]bool {
	out := map[string]bool{}
	f, err := os.Open(table)
	if err != nil {
		return out
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // the header
	for sc.Scan() {
		// sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
		fields := strings.Fields(sc.Text())
		if len(fields) < 10 || fields[3] != "0A" { // 0A: LISTEN
			continue
		}
		_, hexPort, found := strings.Cut(fields[1], ":")
		if !found {
			continue
		}
		if p, err := strconv.ParseInt(hexPort, 16, 32); err == nil && int(p) == port {
			out[fields[9]] = true
		}
	}
	return out
}

// processCommand is a process's command line, as ps shows it.
func processCommand(pid int) string {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	if err != nil || len(b) == 0 {
		return "unknown command"
	}
	return string(bytes.Join(bytes.Split(bytes.TrimRight(b, "\x00"), []byte{0}), []byte(" ")))
}

// underGoRun reports whether the parent process is `go run`.
func underGoRun(ppid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(ppid), "cmdline"))
	if err != nil {
		return false
	}
	args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
	return len(args) >= 2 && filepath.Base(args[0]) == "go" && args[1] == "run"
}

// StopWithGoRun returns a context that is cancelled, like SIGTERM would, when
// the process was started by `go run` and that parent goes away (killed with
// SIGKILL, or its terminal closed): go run does not pass such a death on to
// the program it built, which would otherwise keep serving, and keep the port,
// with no terminal. The parent's pid is checked every 200 ms; a process whose
// parent is anything else (a shell, a supervisor, Heroku) is left alone.
func StopWithGoRun(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	ppid := os.Getppid()
	if !underGoRun(ppid) {
		return ctx, cancel
	}
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
