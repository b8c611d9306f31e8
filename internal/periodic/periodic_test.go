package periodic

import (
	"context"
	"testing"
	"time"
)

func TestRunCallsUntilCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := make(chan struct{})
	done := make(chan struct{})
	go func() {
		Run(ctx, time.Millisecond, func(context.Context) { calls <- struct{}{} })
		close(done)
	}()
	for range 3 {
		<-calls
	}
	cancel()
	for {
		select {
		case <-calls: // a tick that raced with cancel
		case <-done:
			return
		}
	}
}
