//go:build race

package metrics

// raceEnabled: the race detector makes sync.Pool drop items on purpose, so allocation counts are off.
const raceEnabled = true
