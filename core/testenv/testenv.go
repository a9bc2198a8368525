// Package testenv tells tests which real services (Postgres, Redis, SMTP, a
// browser) this machine offers, so that `go test ./...` passes on a bare
// machine while CI, which starts every service, runs every test.
//
// A service is named by an environment variable. When the variable is unset
// the test is skipped, unless MANOUCHE_TEST_STRICT=1 is set (as .ci/run does),
// in which case the test fails: a green CI run never hides a skipped service.
package testenv

import (
	"os"
	"testing"
)

// The environment variables that name the services tests may use.
const (
	// DatabaseURL is a Postgres URL; each test gets a fresh database or schema in it.
	DatabaseURL = "TEST_DATABASE_URL"
	// ReplicaURL is a Postgres streaming replica (a follower) of the server
	// of DatabaseURL, for the tests of DATABASE_REPLICA_URLS.
	ReplicaURL = "TEST_REPLICA_URL"
	// RedisURL is a Redis URL, such as redis://127.0.0.1:6379/0.
	RedisURL = "TEST_REDIS_URL"
	// SMTPAddr is the host:port of a real SMTP server (mailpit in CI).
	SMTPAddr = "TEST_SMTP_ADDR"
	// MailpitURL is the base URL of mailpit's HTTP API, to read delivered mail back.
	MailpitURL = "TEST_MAILPIT_URL"
	// Chromium is the path of a headless-capable Chromium binary.
	Chromium = "TEST_CHROMIUM"
	// Strict turns a missing service into a failure instead of a skip.
	Strict = "MANOUCHE_TEST_STRICT"
)

// Lookup returns the value of the environment variable name, or skips t when it
// is unset (fails it in strict mode).
func Lookup(t testing.TB, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		if os.Getenv(Strict) == "1" {
			t.Fatalf("%s is not set and %s=1: this test needs that service", name, Strict)
		}
		t.Skipf("%s is not set: skipping a test that needs that service", name)
	}
	return v
}

// Optional returns the value of the environment variable name, or "" when it is
// unset; tests use it for services that change what they test against rather
// than whether they run (a test on SQLite also runs on Postgres when set).
func Optional(name string) string { return os.Getenv(name) }
