//go:build race

package replication_test

// raceEnabled: the tests run under -race, so the binaries they run are built with -race too.
const raceEnabled = true
