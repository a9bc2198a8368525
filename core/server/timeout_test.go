package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"manouche/core/api"
	"manouche/core/testkit"
)

// get sends one request to the real server and returns status, header, body
// and how long it took.
func get(t *testing.T, method, url string) (int, http.Header, []byte, time.Duration) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, res.Header, b, time.Since(start)
}

func assertUnavailable(t *testing.T, what string, status int, h http.Header, body []byte, wantMsg string) {
	t.Helper()
	var e errorBody
	if status != http.StatusServiceUnavailable || json.Unmarshal(body, &e) != nil || e.ErrorType != api.TypeServiceUnavailable ||
		len(e.Errors) != 1 || e.Errors[0].Field != "" || !strings.Contains(e.Errors[0].Message, wantMsg) {
		t.Errorf("%s: %d %s, want 503 ServiceUnavailable saying %q", what, status, body, wantMsg)
	}
	if ct := h.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Errorf("%s: Content-Type %q", what, ct)
	}
	if h.Get("X-Request-ID") == "" || h.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("%s: the 503 lost the headers set before the handler: %v", what, h)
	}
}

// TestRequestTimeout: a request running past REQUEST_TIMEOUT has its context
// cancelled, so its database work aborts and its transaction rolls back, and
// answers 503 in the error shape, long before the query would have ended; a
// handler that ignores its context answers 503 too when it returns, without
// what it wrote (its cookie). The server keeps serving.
func TestRequestTimeout(t *testing.T) {
	t.Parallel()
	app := testkit.New(t, testkit.Settings{"REQUEST_TIMEOUT": "300ms"})
	base := app.Serve()
	ctx := context.Background()

	status, h, body, took := get(t, "POST", base+"/coretest/slowwrite?id=42")
	assertUnavailable(t, "a transaction blocked on the database", status, h, body, "longer than 300ms")
	if took > 3*time.Second {
		t.Errorf("answered after %v: the query was not cancelled at the deadline", took)
	}
	var n int
	if err := app.DB.NewSelect().TableExpr("coretest_things").ColumnExpr("count(*)").Scan(ctx, &n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%d rows in coretest_things: the cancelled request's transaction was not rolled back", n)
	}

	status, h, body, took = get(t, "GET", base+"/coretest/nap?ms=600")
	assertUnavailable(t, "a handler ignoring its context", status, h, body, "longer than 300ms")
	if took < 600*time.Millisecond {
		t.Errorf("answered after %v, before the handler returned", took)
	}
	if c := h.Values("Set-Cookie"); len(c) > 0 {
		t.Errorf("the 503 carries what the late handler set: %v", c)
	}

	status, _, body, took = get(t, "GET", base+"/coretest/waitctx")
	if status != http.StatusServiceUnavailable || took > 3*time.Second {
		t.Errorf("a handler returning its context's error: %d after %v: %s", status, took, body)
	}

	// Within the deadline, and afterwards, the server answers as usual.
	if status, _, body, _ := get(t, "GET", base+"/coretest/nap?ms=10"); status != http.StatusOK || !strings.Contains(string(body), "napped") {
		t.Errorf("a quick request: %d %s", status, body)
	}
	if status, _, _, _ := get(t, "GET", base+"/health"); status != http.StatusOK {
		t.Errorf("/health after the timeouts: %d", status)
	}
	if _, err := app.DB.ExecContext(ctx, "INSERT INTO coretest_things (id) VALUES (1)"); err != nil {
		t.Errorf("the database after the cancelled transaction: %v", err)
	}
}

// TestRequestTimeoutOff: REQUEST_TIMEOUT=0s lets a request run as long as it takes.
func TestRequestTimeoutOff(t *testing.T) {
	t.Parallel()
	app := testkit.New(t, testkit.Settings{"REQUEST_TIMEOUT": "0s"})
	base := app.Serve()
	if status, _, body, _ := get(t, "GET", base+"/coretest/nap?ms=400"); status != http.StatusOK {
		t.Errorf("REQUEST_TIMEOUT=0s: %d %s, want 200", status, body)
	}
}
