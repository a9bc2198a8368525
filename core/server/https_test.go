package server_test

import (
	"net/http"
	"strings"
	"testing"

	"manouche/core/api"
	"manouche/core/testkit"
)

// TestHSTS: SECURE_HSTS_SECONDS (with SECURE_HSTS_INCLUDE_SUBDOMAINS and
// SECURE_HSTS_PRELOAD) is sent on https responses only, https as the trusted
// proxies report it; never on plain http, never because of a header an
// untrusted client sent, and not at all when SECURE_HSTS_SECONDS is 0, even
// with SITE_SCHEME=https.
func TestHSTS(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		settings testkit.Settings
		header   string
		want     string
	}{
		{"https through the router", testkit.Settings{"NUM_PROXIES": 1, "SECURE_HSTS_SECONDS": 31536000, "SECURE_HSTS_INCLUDE_SUBDOMAINS": true}, "X-Forwarded-Proto: https", "max-age=31536000; includeSubDomains"},
		{"preload", testkit.Settings{"NUM_PROXIES": 1, "SECURE_HSTS_SECONDS": 63072000, "SECURE_HSTS_INCLUDE_SUBDOMAINS": true, "SECURE_HSTS_PRELOAD": true}, "X-Forwarded-Proto: https", "max-age=63072000; includeSubDomains; preload"},
		{"max-age alone", testkit.Settings{"NUM_PROXIES": 1, "SECURE_HSTS_SECONDS": 3600}, "X-Forwarded-Proto: https", "max-age=3600"},
		{"http through the router", testkit.Settings{"NUM_PROXIES": 1, "SECURE_HSTS_SECONDS": 3600}, "X-Forwarded-Proto: http", ""},
		{"a client's entry before the router's", testkit.Settings{"NUM_PROXIES": 1, "SECURE_HSTS_SECONDS": 3600}, "X-Forwarded-Proto: https, http", ""},
		{"no proxy, forged header", testkit.Settings{"SECURE_HSTS_SECONDS": 3600}, "X-Forwarded-Proto: https", ""},
		{"SECURE_HSTS_SECONDS=0 with SITE_SCHEME=https", testkit.Settings{"NUM_PROXIES": 1, "SITE_SCHEME": "https", "SECURE_HSTS_SECONDS": 0}, "X-Forwarded-Proto: https", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.settings["ALLOWED_HOSTS"] = "127.0.0.1"
			app := testkit.New(t, tt.settings)
			for _, path := range []string{"/health", "/no/such/page"} {
				res := app.Raw("GET " + path + " HTTP/1.1\r\nHost: {addr}\r\n" + tt.header + "\r\nConnection: close\r\n\r\n")
				if got := res.Header.Get("Strict-Transport-Security"); got != tt.want {
					t.Errorf("%s: Strict-Transport-Security %q, want %q", path, got, tt.want)
				}
			}
		})
	}
}

// TestSSLRedirect: with SECURE_SSL_REDIRECT, plain-HTTP GET and HEAD go to the
// same URL on https (301, the host the client asked for, never
// X-Forwarded-Host), other plain-HTTP methods answer 403 PermissionDenied,
// https requests (as the trusted proxies report it: a client's own
// X-Forwarded-Proto counts for nothing) are served, and /health stays on
// plain HTTP for load balancers' probes.
func TestSSLRedirect(t *testing.T) {
	t.Parallel()
	for _, proxies := range []int{0, 1} {
		app := testkit.New(t, testkit.Settings{"SECURE_SSL_REDIRECT": true, "SECURE_HSTS_SECONDS": 3600, "NUM_PROXIES": proxies, "ALLOWED_HOSTS": "127.0.0.1,api.example.com"})
		served := "X-Forwarded-Proto: https"
		if proxies == 0 {
			served = ""
		}
		tests := []struct {
			name, request string
			status        int
			location      string
		}{
			{"GET", "GET /coretest/list?search=a%20b&offset=0 HTTP/1.1\r\nHost: api.example.com\r\n", 301, "https://api.example.com/coretest/list?search=a%20b&offset=0"},
			{"unknown path", "GET /nope HTTP/1.1\r\nHost: api.example.com\r\n", 301, "https://api.example.com/nope"},
			{"X-Forwarded-Host ignored", "GET /coretest/list HTTP/1.1\r\nHost: api.example.com\r\nX-Forwarded-Host: evil.com\r\n", 301, "https://api.example.com/coretest/list"},
			{"client's X-Forwarded-Proto before the router's", "GET /coretest/list HTTP/1.1\r\nHost: api.example.com\r\nX-Forwarded-Proto: https, http\r\n", 301, "https://api.example.com/coretest/list"},
			{"client's X-Forwarded-Proto lines before the router's", "GET /coretest/list HTTP/1.1\r\nHost: api.example.com\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Proto: http\r\n", 301, "https://api.example.com/coretest/list"},
			{"other scheme headers ignored", "GET /coretest/list HTTP/1.1\r\nHost: api.example.com\r\nX-Forwarded-Ssl: on\r\nForwarded: proto=https\r\nX-Url-Scheme: https\r\n", 301, "https://api.example.com/coretest/list"},
			{"absolute-form request line", "GET http://api.example.com/coretest/list?x=1 HTTP/1.1\r\nHost: api.example.com\r\n", 301, "https://api.example.com/coretest/list?x=1"},
			{"double slash stays on the host", "GET //evil.com/x HTTP/1.1\r\nHost: api.example.com\r\n", 301, "https://api.example.com/evil.com/x"},
			{"host with a port", "GET /coretest/list HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n", 301, "https://127.0.0.1:8080/coretest/list"},
			{"a host ALLOWED_HOSTS refuses is not redirected", "GET /coretest/list HTTP/1.1\r\nHost: evil.com\r\n", 400, ""},
			{"POST refused", "POST /coretest/echo HTTP/1.1\r\nHost: api.example.com\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{\"name\":\"x\"}\n", 403, ""},
			{"DELETE refused", "DELETE /coretest/list HTTP/1.1\r\nHost: api.example.com\r\n", 403, ""},
			{"/health on plain HTTP", "GET /health HTTP/1.1\r\nHost: api.example.com\r\n", 200, ""},
			{"/health/ready on plain HTTP", "GET /health/ready HTTP/1.1\r\nHost: api.example.com\r\n", 200, ""},
		}
		if proxies == 1 {
			tests = append(tests, []struct {
				name, request string
				status        int
				location      string
			}{
				{"GET over https", "GET /coretest/list HTTP/1.1\r\nHost: api.example.com\r\n" + served + "\r\n", 200, ""},
				{"POST over https", "POST /coretest/echo HTTP/1.1\r\nHost: api.example.com\r\n" + served + "\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{\"name\":\"x\"}\n", 200, ""},
			}...)
		} else {
			tests = append(tests, []struct {
				name, request string
				status        int
				location      string
			}{
				{"no proxy: forged X-Forwarded-Proto", "GET /coretest/list HTTP/1.1\r\nHost: api.example.com\r\nX-Forwarded-Proto: https\r\n", 301, "https://api.example.com/coretest/list"},
				{"no proxy: forged X-Forwarded-Proto on a POST", "POST /coretest/echo HTTP/1.1\r\nHost: api.example.com\r\nX-Forwarded-Proto: https\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{\"name\":\"x\"}\n", 403, ""},
			}...)
		}
		for _, tt := range tests {
			req := tt.request
			if !strings.Contains(req, "Content-Length") {
				req += "Connection: close\r\n\r\n"
			} else {
				req = strings.Replace(req, "\r\n\r\n", "\r\nConnection: close\r\n\r\n", 1)
			}
			res := app.Raw(req)
			if res.Status != tt.status {
				t.Errorf("NUM_PROXIES=%d, %s: status %d, want %d: %s", proxies, tt.name, res.Status, tt.status, res.Body)
				continue
			}
			if got := res.Header.Get("Location"); got != tt.location {
				t.Errorf("NUM_PROXIES=%d, %s: Location %q, want %q", proxies, tt.name, got, tt.location)
			}
			switch tt.status {
			case http.StatusMovedPermanently:
				if res.Header.Get("Strict-Transport-Security") != "" || res.Header.Get("X-Request-ID") == "" {
					t.Errorf("NUM_PROXIES=%d, %s: redirect headers %v: want X-Request-ID and no HSTS over http", proxies, tt.name, res.Header)
				}
			case http.StatusForbidden:
				e := res.AssertError(http.StatusForbidden, api.TypePermissionDenied)
				if !strings.Contains(e.Errors[0].Message, "HTTPS is required") || !strings.Contains(e.Errors[0].Message, "https://api.example.com/") {
					t.Errorf("NUM_PROXIES=%d, %s: message %q does not say what to do", proxies, tt.name, e.Errors[0].Message)
				}
			case http.StatusBadRequest:
				res.AssertError(http.StatusBadRequest, api.TypeValidation)
			}
		}
	}
	// HEAD (net/http: a hand-read HEAD response has no body to read).
	app := testkit.New(t, testkit.Settings{"SECURE_SSL_REDIRECT": true})
	req, _ := http.NewRequest(http.MethodHead, app.Serve()+"/coretest/list?a=1", nil)
	req.Host = "api.example.com"
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusMovedPermanently || res.Header.Get("Location") != "https://api.example.com/coretest/list?a=1" {
		t.Errorf("HEAD: %d, Location %q", res.StatusCode, res.Header.Get("Location"))
	}

	// Off (the default outside production), plain HTTP is served.
	app = testkit.New(t)
	if res := app.RawJSON("GET", "/coretest/list", ""); res.Status != http.StatusOK || res.Header.Get("Location") != "" {
		t.Errorf("SECURE_SSL_REDIRECT off: %d, Location %q", res.Status, res.Header.Get("Location"))
	}
}
