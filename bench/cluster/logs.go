package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// serverLines finds, in the web processes' logs in dir (web.N.log: every
// start of the process appends to it), the lines that name each of ids as
// their request id, at most perID per id, each summed up on one line: the
// process, the level, the message and the logged error (or panic). The
// server logs every request that failed with a 500 (the error handler's
// "request failed", the recoverer's "panic serving request"), so these say
// why it did.
func serverLines(dir string, ids []string, perID int) map[string][]string {
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	out := map[string][]string{}
	files, _ := filepath.Glob(filepath.Join(dir, "web.*.log"))
	sort.Strings(files)
	for _, file := range files {
		f, err := os.Open(file)
		if err != nil {
			continue
		}
		name := strings.TrimSuffix(filepath.Base(file), ".log")
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 4<<20) // a panic's stack is one long line
		for sc.Scan() {
			line := sc.Bytes()
			if !strings.Contains(string(line), `"request_id":"cl-`) {
				continue
			}
			var rec map[string]any
			if json.Unmarshal(line, &rec) != nil {
				continue
			}
			id, _ := rec["request_id"].(string)
			if !want[id] || len(out[id]) >= perID {
				continue
			}
			out[id] = append(out[id], summarize(name, rec))
		}
		f.Close()
	}
	return out
}

// summarize puts one JSON log record on one short line.
func summarize(proc string, rec map[string]any) string {
	s := fmt.Sprintf("%s %v %q", proc, rec["level"], rec["msg"])
	for _, k := range []string{"error", "panic"} {
		if v, ok := rec[k]; ok {
			s += fmt.Sprintf(" %s=%q", k, fmt.Sprint(v))
		}
	}
	if len(s) > 400 {
		s = s[:400] + "..."
	}
	return s
}
