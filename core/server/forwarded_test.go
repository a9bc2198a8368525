package server_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"manouche/core/api"
	"manouche/core/testkit"
)

// Forwarded headers are attacked over a real TCP connection: what a client
// writes by hand reaches the server as written.

func TestForwardedHostNeverTrusted(t *testing.T) {
	t.Parallel()
	for _, proxies := range []int{0, 1, 2} {
		t.Run(fmt.Sprintf("NUM_PROXIES=%d", proxies), func(t *testing.T) {
			t.Parallel()
			app := testkit.New(t, testkit.Settings{"ALLOWED_HOSTS": "127.0.0.1", "NUM_PROXIES": proxies})
			tests := []struct {
				name, host, extra string
				status            int
			}{
				{"allowed host, forwarded evil host", "127.0.0.1", "X-Forwarded-Host: evil.com", 200},
				{"evil host, forwarded allowed host", "evil.com", "X-Forwarded-Host: 127.0.0.1", 400},
				{"evil host, forwarded list", "evil.com", "X-Forwarded-Host: 127.0.0.1, 127.0.0.1", 400},
				{"evil host, Forwarded header", "evil.com", "Forwarded: host=127.0.0.1", 400},
				{"evil host, X-Forwarded-Server", "evil.com", "X-Forwarded-Server: 127.0.0.1", 400},
				{"evil host, X-Host", "evil.com", "X-Host: 127.0.0.1", 400},
				{"absolute URI names an evil host", "127.0.0.1", "", 400},
			}
			for _, tt := range tests {
				target := "/health"
				if tt.extra == "" {
					target = "http://evil.com/health"
				}
				res := app.Raw("GET " + target + " HTTP/1.1\r\nHost: " + tt.host + "\r\n" + tt.extra + "\r\nConnection: close\r\n\r\n")
				if res.Status != tt.status {
					t.Errorf("%s: status %d, want %d: %s", tt.name, res.Status, tt.status, res.Body)
				}
				if tt.status == 400 {
					res.AssertError(400, api.TypeValidation, api.NonFieldErrors)
				}
			}
		})
	}
}

func TestForwardedSchemeAndHostInLinks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		proxies int
		header  []string
		scheme  string
	}{
		{"no proxy: X-Forwarded-Proto ignored", 0, []string{"X-Forwarded-Proto: https"}, "http"},
		{"no proxy: every other scheme header ignored", 0, []string{"X-Forwarded-Ssl: on", "X-Url-Scheme: https", "X-Forwarded-Protocol: https", "Forwarded: proto=https"}, "http"},
		{"one proxy: its X-Forwarded-Proto", 1, []string{"X-Forwarded-Proto: https"}, "https"},
		{"one proxy: the entry it wrote, not the client's", 1, []string{"X-Forwarded-Proto: https, http"}, "http"},
		{"one proxy: repeated lines are one list", 1, []string{"X-Forwarded-Proto: https", "X-Forwarded-Proto: http"}, "http"},
		{"one proxy: other headers still ignored", 1, []string{"X-Forwarded-Ssl: on", "X-Url-Scheme: https"}, "http"},
		{"two proxies: the second from the right", 2, []string{"X-Forwarded-Proto: http, https, http"}, "https"},
		{"one proxy: nonsense is http", 1, []string{"X-Forwarded-Proto: javascript"}, "http"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			app := testkit.New(t, testkit.Settings{"NUM_PROXIES": tt.proxies})
			header := append([]string{"X-Forwarded-Host: evil.com"}, tt.header...)
			res := app.RawJSON("GET", "/coretest/list?search=x", "", header...).AssertStatus(http.StatusOK)
			next, _ := res.Map()["next"].(string)
			u, err := url.Parse(next)
			if err != nil {
				t.Fatalf("next %q: %v", next, err)
			}
			if u.Scheme != tt.scheme || !strings.HasPrefix(u.Host, "127.0.0.1:") || u.Query().Get("search") != "x" {
				t.Fatalf("next = %q, want %s://127.0.0.1:PORT/...?search=x", next, tt.scheme)
			}
		})
	}
}

// The anonymous API throttle counts per client IP: forged X-Forwarded-For
// entries never open a new bucket; behind N proxies only the entry the Nth
// proxy wrote counts.
func TestThrottleClientIP(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		proxies int
		xff     []string // one request each: the third must be throttled
	}{
		{"no proxy: X-Forwarded-For ignored", 0, []string{"1.1.1.1", "2.2.2.2", "3.3.3.3"}},
		{"no proxy: Forwarded and X-Real-IP ignored", 0, []string{"", "", ""}},
		{"one proxy: the client's own entries ignored", 1, []string{"1.1.1.1, 9.9.9.9", "2.2.2.2, 9.9.9.9", "3.3.3.3,9.9.9.9"}},
		{"two proxies: the second from the right", 2, []string{"1.1.1.1, 9.9.9.9, 10.0.0.1", "2.2.2.2, 9.9.9.9, 10.0.0.2", "9.9.9.9, 10.0.0.3"}},
		{"one proxy: not an IP is the socket's", 1, []string{"evil", "evil2", "evil3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			app := testkit.New(t, testkit.Settings{"NUM_PROXIES": tt.proxies, "API_THROTTLE_RATE": "2/min"})
			for i, xff := range tt.xff {
				header := []string{"X-Real-IP: 10.9.9." + fmt.Sprint(i), fmt.Sprintf("Forwarded: for=10.8.8.%d", i)}
				if xff != "" {
					header = append(header, "X-Forwarded-For: "+xff)
				}
				res := app.RawJSON("GET", "/api/nothing", "", header...)
				want := http.StatusNotFound
				if i == 2 {
					want = http.StatusTooManyRequests
				}
				if res.Status != want {
					t.Fatalf("request %d (X-Forwarded-For %q): status %d, want %d: %s", i+1, xff, res.Status, want, res.Body)
				}
			}
		})
	}
	// Behind one proxy, two clients it names differently have a bucket each.
	app := testkit.New(t, testkit.Settings{"NUM_PROXIES": 1, "API_THROTTLE_RATE": "2/min"})
	for i, xff := range []string{"203.0.113.1", "203.0.113.1", "203.0.113.2", "203.0.113.2"} {
		if res := app.RawJSON("GET", "/api/nothing", "", "X-Forwarded-For: "+xff); res.Status != http.StatusNotFound {
			t.Fatalf("request %d from %s: status %d, want 404: %s", i+1, xff, res.Status, res.Body)
		}
	}
}

// TestSSLRedirectTrustsOnlyTheProxies: SECURE_SSL_REDIRECT reads the scheme
// the NUM_PROXIES trusted proxies wrote; whatever a client put before their
// entries (or sent with no proxy in front) cannot skip the redirect.
func TestSSLRedirectTrustsOnlyTheProxies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		proxies int
		header  []string
		status  int
	}{
		{0, []string{"X-Forwarded-Proto: https"}, http.StatusMovedPermanently},
		{1, []string{"X-Forwarded-Proto: https"}, http.StatusOK},
		{1, []string{"X-Forwarded-Proto: https, http"}, http.StatusMovedPermanently},
		{1, []string{"X-Forwarded-Proto: https", "X-Forwarded-Proto: http"}, http.StatusMovedPermanently},
		{1, []string{"X-Forwarded-Proto: HTTPS"}, http.StatusOK},
		{2, []string{"X-Forwarded-Proto: https, http, https"}, http.StatusMovedPermanently},
		{2, []string{"X-Forwarded-Proto: http, https, http"}, http.StatusOK},
		{2, []string{"X-Forwarded-Proto: https"}, http.StatusOK}, // fewer entries than proxies: the leftmost
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("NUM_PROXIES=%d %q", tt.proxies, tt.header), func(t *testing.T) {
			t.Parallel()
			app := testkit.New(t, testkit.Settings{"SECURE_SSL_REDIRECT": true, "NUM_PROXIES": tt.proxies})
			res := app.RawJSON("GET", "/coretest/list", "", tt.header...)
			if res.Status != tt.status {
				t.Errorf("status %d, want %d: %s", res.Status, tt.status, res.Body)
			}
		})
	}
}
