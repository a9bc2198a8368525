//go:build race

package queue_test

// raceEnabled: the race detector slows the pure-Go SQLite driver about
// tenfold, so volume tests use fewer messages.
const raceEnabled = true
