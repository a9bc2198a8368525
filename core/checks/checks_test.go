package checks_test

import (
	"testing"

	"manouche/core/checks"
)

func TestIsLocal(t *testing.T) {
	t.Parallel()
	for host, want := range map[string]bool{
		"127.0.0.1:5432": true, "localhost": true, "[::1]:6379": true, "/var/run/postgresql": true, "": true,
		"db.example.com:5432": false, "10.0.0.5": false, "ec2-1-2-3-4.compute-1.amazonaws.com:5432": false,
	} {
		if got := checks.IsLocal(host); got != want {
			t.Errorf("IsLocal(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestIssueString(t *testing.T) {
	t.Parallel()
	if got := checks.Warningf("security.W004", "SECURE_HSTS_SECONDS is %d", 0).String(); got != "WARNING security.W004: SECURE_HSTS_SECONDS is 0" {
		t.Errorf("%q", got)
	}
}
