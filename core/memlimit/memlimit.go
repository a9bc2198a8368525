// Package memlimit gives the Go runtime a soft memory limit from the
// container's, as a dyno's: Go does not read the cgroup's limit itself, so
// without GOMEMLIMIT the heap grows to twice the live data before a
// collection (GOGC=100) and a dyno near its 512 MB is killed (R14/R15)
// instead of collecting sooner.
//
// Call Apply once at process start, before any work:
//
//	memlimit.Apply(memlimit.DefaultCgroupRoot, logger)
package memlimit

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
)

// DefaultCgroupRoot is where the process's cgroup is mounted: in a container
// (a dyno, with its own cgroup namespace) its own cgroup.
const DefaultCgroupRoot = "/sys/fs/cgroup"

// Fraction of the container's limit given to the Go runtime: the rest is
// for what the runtime does not count (stacks of cgo, the binary's mapped
// pages, the kernel's page cache of files the process wrote).
const Fraction = 0.85

// unlimitedV1 is above any real limit: cgroup v1 writes "no limit" as the
// largest page-aligned int64 (9223372036854771712).
const unlimitedV1 = 1 << 62

// CgroupLimit returns the memory limit of the cgroup mounted at root, in
// bytes: cgroup v2's memory.max, else v1's memory/memory.limit_in_bytes (or
// memory.limit_in_bytes at root, when the memory controller is mounted
// there). It returns 0 when there is no limit or no cgroup file, and an error
// when a file holds something else than a limit.
func CgroupLimit(root string) (int64, error) {
	for _, name := range []string{"memory.max", filepath.Join("memory", "memory.limit_in_bytes"), "memory.limit_in_bytes"} {
		path := filepath.Join(root, name)
		b, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("memlimit: read %s: %w", path, err)
		}
		s := strings.TrimSpace(string(b))
		if s == "max" {
			return 0, nil
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("memlimit: %s holds %q, not a memory limit", path, s)
		}
		if n >= unlimitedV1 {
			return 0, nil
		}
		return n, nil
	}
	return 0, nil
}

// Apply sets the runtime's soft memory limit to Fraction of the cgroup's
// limit under root, unless GOMEMLIMIT is set (then the runtime already
// obeys it) or there is no limit. It logs what it did and returns the limit
// it set, or 0.
func Apply(root string, log *slog.Logger) int64 {
	if log == nil {
		log = slog.Default()
	}
	if v := os.Getenv("GOMEMLIMIT"); v != "" {
		log.Debug("memory limit from GOMEMLIMIT", "gomemlimit", v)
		return 0
	}
	limit, err := CgroupLimit(root)
	if err != nil {
		log.Warn("no memory limit set: cannot read the container's", "error", err)
		return 0
	}
	if limit == 0 {
		log.Debug("no memory limit: the container has none", "cgroup", root)
		return 0
	}
	soft := int64(float64(limit) * Fraction)
	debug.SetMemoryLimit(soft)
	log.Info("memory limit set from the container's", "limit_bytes", soft, "limit_mb", soft>>20,
		"container_bytes", limit, "fraction", Fraction)
	return soft
}
