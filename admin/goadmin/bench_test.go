package goadmin_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"manouche/admin/goadmin"

	"github.com/google/uuid"
)

// BenchmarkUsersList measures the users list page with 10,000 users, as a logged-in superuser
// sees it (first page, default ordering, through the guard and GoAdmin). It mounts GoAdmin in
// this process, so run it alone:
//
//	go test -run '^$' -bench BenchmarkUsersList ./admin/
//
// ADMIN_BENCH_DIALECT=postgres (with TEST_DATABASE_URL) runs it on Postgres.
// The target is a median under 150 ms; the median is reported as median-ms.
func BenchmarkUsersList(b *testing.B) {
	d := goadmin.SQLite
	if os.Getenv("ADMIN_BENCH_DIALECT") == "postgres" {
		d = goadmin.Postgres
	}
	benchOnce.Do(func() { benchSite = seedBenchSite(b, d) })
	s := benchSite
	if s == nil {
		b.Fatal("the benchmark site could not be built (see the first run)")
	}
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar}
	if code := loginForBench(b, s.base, hc); code != http.StatusOK {
		b.Fatalf("login: %d", code)
	}
	durations := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		resp, err := hc.Get(s.base + "/admin/info/users")
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if n < 10000 {
			b.Fatalf("users list: only %d bytes", n)
		}
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("users list: %d", resp.StatusCode)
		}
		durations = append(durations, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(durations)
	if len(durations) > 0 {
		b.ReportMetric(float64(durations[len(durations)/2].Microseconds())/1000, "median-ms")
	}
}

var (
	benchOnce sync.Once
	benchSite *site
)

// seedBenchSite mounts the admin once per process (GoAdmin is global) on a database holding
// 10,000 users plus a superuser; it lives until the process ends (see TestMain).
func seedBenchSite(b *testing.B, d goadmin.Dialect) *site {
	// GoAdmin prints a line per list request: keep the benchmark's output readable.
	if restore, err := goadmin.SilenceGoAdminStdout(); err == nil {
		processCleanups = append(processCleanups, func() { _ = restore() })
	}
	s := newSite(processTB{b}, d)
	s.addUser(b, "root@example.com", "correct horse battery", true, true, true, "Root", "User")
	tx, err := s.db.Begin()
	if err != nil {
		b.Fatal(err)
	}
	q := s.rebind(`INSERT INTO users (id, email, password, is_active, is_staff, is_superuser, first_name, last_name, date_joined) VALUES (?, ?, '!', ?, ?, ?, ?, ?, ?)`)
	start := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 10000 {
		if _, err := tx.Exec(q, uuid.NewString(), fmt.Sprintf("user%05d@example.com", i), s.b(i%10 != 0), s.b(i%100 == 0), s.b(false),
			fmt.Sprintf("First%05d", i), fmt.Sprintf("Last%05d", i), start.Add(time.Duration(i)*time.Minute)); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	return s
}

func loginForBench(b *testing.B, base string, hc *http.Client) int {
	req, _ := http.NewRequest(http.MethodPost, base+"/admin/signin", strings.NewReader("username=root%40example.com&password=correct+horse+battery"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base)
	req.Header.Set("Referer", base+"/admin/login")
	resp, err := hc.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	return resp.StatusCode
}
