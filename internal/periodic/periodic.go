// Package periodic runs background work on a fixed interval.
package periodic

import (
	"context"
	"time"
)

// Run calls fn every interval (first after one interval) until ctx ends, and returns once ctx has ended
// and no call of fn is in progress. Calls never overlap: a slow fn delays the next tick.
func Run(ctx context.Context, interval time.Duration, fn func(context.Context)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn(ctx)
		}
	}
}
