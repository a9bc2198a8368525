package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"
)

// report checks the invariants, prints the table and returns the exit code.
func report(ctx context.Context, e *env, w *workload, f *faults, rt *router, drained bool) int {
	failed := false
	check := func(ok bool, name, detail string) {
		mark := "PASS"
		if !ok {
			mark, failed = "FAIL", true
		}
		fmt.Printf("  %-4s  %-46s %s\n", mark, name, detail)
	}
	inWindow := func(r result) bool {
		for _, win := range f.wins {
			if !r.start.Add(r.took).Before(win.start) && !r.start.After(win.end) {
				return true
			}
		}
		return false
	}

	// Requests.
	var lat []time.Duration
	byStatus := map[bool]map[int]int{false: {}, true: {}}
	var bad5xx []string
	var badIDs []string // their request ids, in the same order
	badCount := 0
	hangs := 0
	badMalformed := 0
	for _, r := range w.results {
		lat = append(lat, r.took)
		in := inWindow(r)
		byStatus[in][r.status]++
		if r.took > *reqTO+2*time.Second {
			hangs++
		}
		if r.status >= 500 || r.status == 0 {
			if !in || r.status != 503 || !r.shaped || r.errType != "ServiceUnavailable" {
				badCount++
				if len(bad5xx) < 8 {
					where := "outside"
					if in {
						where = "inside"
					}
					what := fmt.Sprintf("%q", shorten(r.body))
					if r.shaped {
						what = r.errType
					}
					bad5xx = append(bad5xx, fmt.Sprintf("%s %s %d %s", where, r.op, r.status, what))
					badIDs = append(badIDs, r.reqID)
				}
			}
		}
		switch r.op {
		case "bad-type", "bad-token", "bad-json", "create-bad":
			if r.status != 0 && r.status < 500 && (r.status < 400 || !r.shaped) {
				badMalformed++
			}
		case "huge":
			if r.status != 413 || !r.shaped {
				badMalformed++
			}
		}
	}
	slices.Sort(lat)
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(float64(len(lat))*p))]
	}
	fmt.Printf("\nrequests: %d in %s (%.0f req/s), p50 %s, p99 %s, router 503s %d\n",
		len(w.results), *duration, float64(len(w.results))/duration.Seconds(), pct(0.50).Round(time.Millisecond), pct(0.99).Round(time.Millisecond), rt.routed.Load())
	for _, in := range []bool{false, true} {
		label := "outside fault windows"
		if in {
			label = "inside fault windows "
		}
		var parts []string
		keys := make([]int, 0, len(byStatus[in]))
		for k := range byStatus[in] {
			keys = append(keys, k)
		}
		sort.Ints(keys)
		for _, k := range keys {
			name := fmt.Sprint(k)
			if k == 0 {
				name = "no response"
			}
			parts = append(parts, fmt.Sprintf("%s: %d", name, byStatus[in][k]))
		}
		fmt.Printf("  %s  %s\n", label, strings.Join(parts, ", "))
	}

	fmt.Println("\nfaults:")
	fmt.Printf("  %-38s %-12s %-10s %s\n", "fault", "recovery", "readiness", "note")
	worstRecovery := time.Duration(0)
	neverRecovered := 0
	for _, win := range f.wins {
		fmt.Printf("  %-38s %-12s %-10s %s\n", win.name, fmtRecovery(win.recovered), win.readiness, win.note)
		if win.recovered < 0 {
			neverRecovered++
		} else if win.recovered > worstRecovery {
			worstRecovery = win.recovered
		}
	}

	// Emails.
	perAddress, err := e.deliveredTo(ctx)
	if err != nil {
		fmt.Println("cannot read mailpit:", err)
		failed = true
	}
	expected, maybe, lost, dups := 0, 0, 0, 0
	for _, u := range w.users {
		expected += u.resets
		maybe += u.maybeResets
		got := perAddress[u.email]
		if got < u.resets {
			lost += u.resets - got
		}
		if got > u.resets+u.maybeResets {
			dups += got - u.resets - u.maybeResets
		}
	}
	delivered := 0
	for _, n := range perAddress {
		delivered += n
	}

	// Writes.
	db, err := sql.Open("pgx", e.dbURL)
	if err != nil {
		fmt.Println("cannot open the database:", err)
		return 1
	}
	defer db.Close()
	names := map[string]string{}
	rows, err := db.QueryContext(ctx, "SELECT email, first_name FROM users")
	if err != nil {
		fmt.Println("cannot read users:", err)
		return 1
	}
	for rows.Next() {
		var em, fn string
		_ = rows.Scan(&em, &fn)
		names[em] = fn
	}
	rows.Close()
	missingUsers, lostPatches := 0, 0
	var writeNotes []string
	for _, u := range w.users {
		fn, ok := names[u.email]
		if !ok {
			missingUsers++
			continue
		}
		allowed := append([]string{u.firstName}, u.maybe...)
		if !slices.Contains(allowed, fn) {
			lostPatches++
			if len(writeNotes) < 3 {
				writeNotes = append(writeNotes, fmt.Sprintf("%s: first_name %q, acknowledged %q", u.email, fn, u.firstName))
			}
		}
	}

	// Notes: each acknowledged one read back through the API.
	lostNotes, checkedNotes := 0, 0
	for _, u := range w.users {
		for id, n := range u.notes {
			status, data := w.doAt(ctx, w.base, "final-read", "GET", notesPath+"/"+id, u.token, nil, "", false)
			var got struct {
				Title string `json:"title"`
			}
			_ = json.Unmarshal(data, &got)
			checkedNotes++
			ok := false
			switch {
			case n.deleted:
				ok = status == 404
			case status == 200:
				ok = got.Title == n.title || slices.Contains(n.maybe, got.Title)
			case status == 404:
				ok = slices.Contains(n.maybe, "-")
			}
			if !ok {
				lostNotes++
				if len(writeNotes) < 5 {
					writeNotes = append(writeNotes, fmt.Sprintf("note %s: %d %q, acknowledged title %q deleted %v", id, status, got.Title, n.title, n.deleted))
				}
			}
		}
	}

	fmt.Println("\nemails: queued (acknowledged) ", expected, " unknown outcome ", maybe, " delivered ", delivered, " lost ", lost, " duplicated ", dups, " in flight at worker kills ", f.inFlight)
	fmt.Println("\ninvariants:")
	check(drained, "email queue drained after the run", "")
	check(lost == 0, "no email lost", fmt.Sprintf("%d of %d acknowledged resets undelivered", lost, expected))
	check(dups <= f.inFlight, "duplicates only from killed deliveries", fmt.Sprintf("%d duplicated, %d in flight at kills", dups, f.inFlight))
	check(missingUsers == 0, "no acknowledged registration lost", fmt.Sprintf("%d of %d missing", missingUsers, len(w.users)))
	check(lostPatches == 0, "no acknowledged PATCH /api/me lost", strings.Join(writeNotes, "; "))
	check(lostNotes == 0 && checkedNotes > 0, "generated resource: acknowledged writes kept", fmt.Sprintf("%d notes checked, %d wrong", checkedNotes, lostNotes))
	check(w.revocationFailures == 0 && w.revocationChecks > 0, "revoked tokens refused on every web process", fmt.Sprintf("%d checks, %d failures %s", w.revocationChecks, w.revocationFailures, strings.Join(w.revocationNotes, "; ")))
	check(len(bad5xx) == 0, "no 5xx outside faults; only shaped 503 inside", fmt.Sprintf("%d unexpected", badCount))
	// Each unexpected answer, with what its web process logged about it.
	logged := serverLines(e.dir, badIDs, 2)
	for i, b := range bad5xx {
		id, lines := badIDs[i], logged[badIDs[i]]
		switch {
		case id == "":
			id, lines = "-", []string{"(sent over a raw connection, without a request id)"}
		case len(lines) == 0:
			lines = []string{"(no server log line names it)"}
		}
		fmt.Printf("          %s %s\n", id, b)
		for _, l := range lines {
			fmt.Printf("            %s\n", l)
		}
	}
	check(hangs == 0, "no request hangs past REQUEST_TIMEOUT", fmt.Sprintf("%d over %s", hangs, *reqTO+2*time.Second))
	check(badMalformed == 0, "malformed requests get a shaped 4xx", fmt.Sprintf("%d did not", badMalformed))
	check(neverRecovered == 0 && worstRecovery <= *recoverBy, "every fault recovered by itself within "+recoverBy.String(), "worst "+worstRecovery.Round(10*time.Millisecond).String())
	readinessMissed := 0
	for _, win := range f.wins {
		if win.readiness == "no" {
			readinessMissed++
		}
	}
	// "not seen": the service came back before any sample found it down (a
	// Postgres restart can take a few milliseconds); not a failure.
	check(readinessMissed == 0, "/health/ready named the failing service", fmt.Sprintf("%d windows where it did not", readinessMissed))
	if failed {
		return 1
	}
	return 0
}

// deliveredTo counts mailpit's messages by recipient.
func (e *env) deliveredTo(ctx context.Context) (map[string]int, error) {
	out := map[string]int{}
	c := &http.Client{Timeout: 10 * time.Second}
	for start := 0; ; start += 500 {
		req, _ := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("http://%s/api/v1/messages?start=%d&limit=500", e.mailHTTP, start), nil)
		res, err := c.Do(req)
		if err != nil {
			return nil, err
		}
		var page struct {
			Total    int `json:"total"`
			Messages []struct {
				To []struct {
					Address string `json:"Address"`
				} `json:"To"`
			} `json:"messages"`
		}
		err = json.NewDecoder(res.Body).Decode(&page)
		res.Body.Close()
		if err != nil {
			return nil, err
		}
		for _, m := range page.Messages {
			for _, to := range m.To {
				out[strings.ToLower(to.Address)]++
			}
		}
		if len(page.Messages) == 0 || start+500 >= page.Total {
			return out, nil
		}
	}
}
