package server

import (
	"testing"
	"time"
)

// SetWatchStall sets how long a watcher with a full queue may take no event, until the test ends, and
// returns a channel that receives when a watcher is dropped for it.
func SetWatchStall(t testing.TB, d time.Duration) <-chan struct{} {
	old, oldDropped := watchStall, watchDropped
	dropped := make(chan struct{}, 1)
	watchStall, watchDropped = d, dropped
	t.Cleanup(func() { watchStall, watchDropped = old, oldDropped })
	return dropped
}
