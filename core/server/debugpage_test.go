package server_test

import (
	"strings"
	"testing"

	"manouche/core/api"
	"manouche/core/testkit"
)

// TestDebugPageThroughTheServer: the whole stack answers a browser's request
// to a panicking page with the debug page when DEBUG is on (the panic, a
// stack frame of the handler, the request's headers with Authorization and
// Cookie masked), and with the JSON error shape, no detail, when it is off.
func TestDebugPageThroughTheServer(t *testing.T) {
	t.Parallel()
	for _, debug := range []bool{true, false} {
		app := testkit.New(t, testkit.Settings{"DEBUG": debug})
		res := app.Client.
			WithHeader("Accept", "text/html,application/xhtml+xml,*/*;q=0.8").
			WithHeader("Authorization", "Bearer SECRET-token").
			WithHeader("Cookie", "sessionid=SECRET-cookie").
			Get("/coretest/panic")
		body := string(res.Body)
		if res.Status != 500 {
			t.Fatalf("DEBUG=%v: status %d", debug, res.Status)
		}
		if strings.Contains(body, "SECRET") {
			t.Errorf("DEBUG=%v: the page shows a secret header:\n%s", debug, body)
		}
		if !debug {
			res.AssertError(500, api.TypeServerError)
			if strings.Contains(body, "launch codes") {
				t.Errorf("DEBUG=false: the answer shows the panic: %s", body)
			}
			continue
		}
		if ct := res.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("Content-Type %q, want HTML", ct)
		}
		for _, want := range []string{
			"panic: secret internal detail: the launch codes",
			"server_test.go:", // the panicking handler's frame
			"GET /coretest/panic",
			`<th>Authorization</th><td class="v">********************</td>`,
			`<th>Cookie</th><td class="v">********************</td>`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("the debug page lacks %q:\n%s", want, body)
			}
		}
	}
}
