package main

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// snapshot is the cumulative cost counters at one moment: the web
// processes' CPU time, the database's transactions and Redis' commands.
type snapshot struct {
	at        time.Time
	cpu       time.Duration
	xacts     int64
	redisCmds int64
	requests  int
}

func (e *env) snapshot(ctx context.Context, w *workload) snapshot {
	s := snapshot{at: time.Now()}
	for _, p := range e.webs {
		s.cpu += p.cpuTime()
	}
	if db, err := sql.Open("pgx", e.dbURL); err == nil {
		_ = db.QueryRowContext(ctx, "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()").Scan(&s.xacts)
		db.Close()
	}
	s.redisCmds = redisCommands(e.redisAddr)
	w.mu.Lock()
	s.requests = len(w.results)
	w.mu.Unlock()
	return s
}

// costs prints the per-request costs between two snapshots taken before any
// fault: the inputs of docs/operations.md's capacity model.
func costs(a, b snapshot) string {
	n := b.requests - a.requests
	if n <= 0 {
		return "no requests measured"
	}
	secs := b.at.Sub(a.at).Seconds()
	return fmt.Sprintf("%.0f req/s; per request: %.2f ms web CPU, %.2f database transactions, %.2f Redis commands",
		float64(n)/secs, float64(b.cpu-a.cpu)/float64(time.Millisecond)/float64(n),
		float64(b.xacts-a.xacts)/float64(n), float64(b.redisCmds-a.redisCmds)/float64(n))
}

// cpuTime is the process's user + system CPU time, from /proc/PID/stat.
func (p *proc) cpuTime() time.Duration {
	p.mu.Lock()
	cmd := p.cmd
	p.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", cmd.Process.Pid))
	if err != nil {
		return 0
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(fields) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(fields[11], 10, 64)
	st, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond // USER_HZ = 100
}

// redisCommands is Redis' total_commands_processed.
func redisCommands(addr string) int64 {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return 0
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	fmt.Fprint(c, "INFO stats\r\n")
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return 0
		}
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "total_commands_processed:"); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
}
