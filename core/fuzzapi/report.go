package fuzzapi

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// curl renders a request as a curl command; a body too long or binary for
// a command line is written to a file in BodiesDir and sent from it.
// f.mu is held.
func (f *fuzzer) curl(b *built) string {
	var sb strings.Builder
	sb.WriteString("curl -sS -i -X " + b.Method + " " + shellQuote(b.URL))
	names := make([]string, 0, len(b.Header))
	for k := range b.Header {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		for _, v := range b.Header[k] {
			sb.WriteString(" -H " + shellQuote(k+": "+v))
		}
	}
	if len(b.Body) == 0 {
		return sb.String()
	}
	if len(b.Body) <= 2000 && utf8.Valid(b.Body) && !strings.ContainsFunc(string(b.Body), func(r rune) bool { return r < 0x20 && r != '\n' && r != '\t' || r == 0x7f }) {
		sb.WriteString(" --data-raw " + shellQuote(string(b.Body)))
		return sb.String()
	}
	if f.opts.BodiesDir == "" {
		dir, err := os.MkdirTemp("", "fuzzapi-")
		if err != nil {
			return sb.String() + " # (body of " + strconv.Itoa(len(b.Body)) + " bytes not saved: " + err.Error() + ")"
		}
		f.opts.BodiesDir = dir
	}
	f.bodies++
	name := filepath.Join(f.opts.BodiesDir, fmt.Sprintf("body-%d.bin", f.bodies))
	if err := os.MkdirAll(f.opts.BodiesDir, 0o755); err != nil || os.WriteFile(name, b.Body, 0o644) != nil {
		return sb.String() + " # (body of " + strconv.Itoa(len(b.Body)) + " bytes not saved)"
	}
	sb.WriteString(" --data-binary @" + shellQuote(name))
	return sb.String()
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Write prints the report: the requests per operation and their statuses,
// then each finding with the request that shows it.
func (r *Report) Write(w io.Writer) {
	fmt.Fprintf(w, "fuzzapi: %d requests to %s in %s (seed %d, %d operations): %d findings\n\n",
		r.Requests, r.BaseURL, r.Elapsed.Round(time.Millisecond), r.Seed, len(r.Operations), len(r.Findings))
	width := len("operation")
	for _, op := range r.Operations {
		width = max(width, len(op))
	}
	fmt.Fprintf(w, "%-*s  %8s  %s\n", width, "operation", "requests", "statuses")
	for _, op := range r.Operations {
		st := r.Stats[op]
		codes := make([]int, 0, len(st.Status))
		for c := range st.Status {
			codes = append(codes, c)
		}
		sort.Ints(codes)
		parts := make([]string, len(codes))
		for i, c := range codes {
			parts[i] = fmt.Sprintf("%d×%d", c, st.Status[c])
		}
		fmt.Fprintf(w, "%-*s  %8d  %s\n", width, op, st.Requests, strings.Join(parts, " "))
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "\nnote: %s\n", n)
	}
	if len(r.Findings) == 0 {
		fmt.Fprintln(w, "\nNo findings.")
		return
	}
	findings := append([]*Finding(nil), r.Findings...)
	sort.SliceStable(findings, func(i, j int) bool {
		a, b := findings[i], findings[j]
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		if a.Operation != b.Operation {
			return a.Operation < b.Operation
		}
		return a.Status < b.Status
	})
	fmt.Fprintf(w, "\nFindings:\n")
	for i, f := range findings {
		status := "no answer"
		if f.Status != 0 {
			status = strconv.Itoa(f.Status)
		}
		fmt.Fprintf(w, "\n%d. [%s] %s → %s (%d requests; first in %s, trying: %s)\n   %s\n   %s\n",
			i+1, f.Kind, f.Operation, status, f.Count, f.Duration.Round(time.Millisecond), f.Variant, f.Detail, f.Curl)
	}
}
