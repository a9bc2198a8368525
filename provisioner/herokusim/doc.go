// Package herokusim holds the slow test that plays Heroku on this machine
// (issue 13, "Proof: Heroku, simulated here"): it builds the binary the way
// the Go buildpack does, starts Postgres with TLS, Redis behind rediss://,
// mailpit as Mailgun and gofakes3 as S3, runs the Procfile's release, web and
// worker lines with only the environment a Heroku app has, and sends the
// traffic through a router of its own that terminates TLS and adds the
// headers Heroku's does.
//
// It runs only with MANOUCHE_TEST_HEROKU=1 (.ci/run sets it):
//
//	MANOUCHE_TEST_HEROKU=1 go test -count=1 -v ./provisioner/herokusim/
//
// It needs Postgres's server binaries (initdb, postgres), redis-server built
// with TLS (Debian's is), and mailpit on PATH or in $(go env GOPATH)/bin.
// Every service is an instance of its own on free ports, stopped at the end:
// the shared services on 5432, 6379 and 1025 are never touched.
package herokusim
