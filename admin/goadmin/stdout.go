package goadmin

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
)

// goAdminNoise is the start of the debug line GoAdmin v1.2.26 prints with fmt.Println on every
// list and form request (table.(*DefaultTable).getColumns), whatever its log settings.
const goAdminNoise = "getColumns columns "

// SilenceGoAdminStdout routes the process's standard output through a filter that drops
// GoAdmin's unconditional "getColumns columns [...]" lines; every other line passes through
// unchanged (a line is written once it is complete). os.Stdout is process-global: Mount calls
// it once, under its once-per-process guard, when Config.FilterStdout is set, and Admin.Close
// calls restore so the last lines are flushed.
func SilenceGoAdminStdout() (restore func() error, err error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("admin: silence GoAdmin: %w", err)
	}
	orig := os.Stdout
	os.Stdout = w
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		br := bufio.NewReader(r)
		for {
			line, err := br.ReadString('\n')
			if line != "" && !strings.HasPrefix(line, goAdminNoise) {
				_, _ = io.WriteString(orig, line)
			}
			if err != nil {
				return
			}
		}
	}()
	var once sync.Once
	return func() error {
		var cerr error
		once.Do(func() {
			os.Stdout = orig
			cerr = w.Close()
			wg.Wait()
			_ = r.Close()
		})
		if cerr != nil {
			return fmt.Errorf("admin: restore stdout: %w", cerr)
		}
		return nil
	}, nil
}
