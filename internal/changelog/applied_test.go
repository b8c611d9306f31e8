package changelog

import (
	"context"
	"testing"
	"time"
)

func TestAppliedWaitWakesExactlyAtTheRevision(t *testing.T) {
	a := NewApplied(5)
	if err := a.Wait(context.Background(), 5); err != nil {
		t.Fatalf("wait for an applied revision: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Wait(context.Background(), 8) }()
	a.Raise(7)
	a.Raise(6) // never lowers
	select {
	case err := <-done:
		t.Fatalf("woke at revision %d waiting for 8 (%v)", a.Get(), err)
	case <-time.After(20 * time.Millisecond):
	}
	a.Raise(8)
	if err := <-done; err != nil || a.Get() != 8 {
		t.Fatalf("after Raise(8): %v, revision %d", err, a.Get())
	}
	a.Reset(2)
	if a.Get() != 2 {
		t.Fatalf("Reset(2) left %d", a.Get())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := a.Wait(ctx, 3); err != context.Canceled {
		t.Fatalf("wait with an ended context: %v", err)
	}
}
