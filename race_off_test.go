//go:build !race

package main_test

// raceEnabled: this test binary runs under the race detector, which makes
// every request several times slower.
const raceEnabled = false
