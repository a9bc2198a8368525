package server

import (
	"bufio"
	"bytes"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// releaseStartupMemory gives back, once the server is built, what starting
// it took and serving will not need: the garbage of the packages'
// initialization and of the project's (GoAdmin's templates, settings,
// migrations' checks) is collected and its pages returned to the system, and
// the executable's read-only pages the process touched (code and data of
// that initialization, which the kernel keeps mapped for the life of the
// process) are unmapped. They stay in the page cache; a page needed again
// maps back in on its first use, from memory (docs/benchmarks.md, issue 14,
// has its effect on the web process's PSS). It returns the kilobytes of the executable unmapped.
func releaseStartupMemory() int {
	runtime.GC()
	debug.FreeOSMemory()
	kb := dropExecutablePages()
	evictExecutableCache()
	return kb
}

// evictExecutableCache asks the kernel to drop the executable's clean pages
// from the page cache, now that this process maps none of them. Linux 6.18
// maps a whole large folio of the page cache on a fault: an executable that
// was written in large folios (by the linker, by the slug's extraction) or
// read back with a large readahead came back, page fault after page fault,
// 2 MB at a time — some 20 MB more of the executable resident for the pages
// the runtime reads while serving (its tables of stack maps, chiefly). Read
// again on demand, from disk, the pages come back in small folios. A page
// another process maps, or one not yet written back, stays: the advice is
// only advice, and never an error.
func evictExecutableCache() {
	f, err := os.Open("/proc/self/exe")
	if err != nil {
		return
	}
	defer f.Close()
	_ = unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
}

// dropExecutablePages unmaps (MADV_DONTNEED) the resident pages of the
// executable's read-only mappings, those that hold no page of their own (a
// copy-on-write page, such as a relocated one, would be lost: such a
// mapping is left alone), and returns how many kilobytes were resident.
func dropExecutablePages() int {
	var exe syscall.Stat_t
	if err := syscall.Stat("/proc/self/exe", &exe); err != nil {
		return 0
	}
	b, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		return 0
	}
	type mapping struct {
		start, end uintptr
		ours       bool // the executable's, read-only
		rss, anon  int
	}
	var maps []mapping
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) == 0 {
			continue
		}
		if lo, hi, ok := bytes.Cut(f[0], []byte("-")); ok && len(f) >= 5 && !bytes.HasSuffix(f[0], []byte(":")) {
			start, err1 := strconv.ParseUint(string(lo), 16, 64)
			end, err2 := strconv.ParseUint(string(hi), 16, 64)
			inode, err3 := strconv.ParseUint(string(f[4]), 10, 64)
			if err1 != nil || err2 != nil || err3 != nil {
				maps = append(maps, mapping{})
				continue
			}
			ours := inode == exe.Ino && len(f[1]) == 4 && f[1][1] == '-' && f[1][3] == 'p'
			maps = append(maps, mapping{start: uintptr(start), end: uintptr(end), ours: ours})
			continue
		}
		if len(maps) == 0 || len(f) < 2 {
			continue
		}
		m := &maps[len(maps)-1]
		kb, _ := strconv.Atoi(string(f[1]))
		switch string(f[0]) {
		case "Rss:":
			m.rss = kb
		case "Anonymous:":
			m.anon = kb
		}
	}
	dropped := 0
	for _, m := range maps {
		if !m.ours || m.anon != 0 || m.rss == 0 {
			continue
		}
		if _, _, errno := syscall.Syscall(syscall.SYS_MADVISE, m.start, m.end-m.start, syscall.MADV_DONTNEED); errno == 0 {
			dropped += m.rss
		}
	}
	return dropped
}
