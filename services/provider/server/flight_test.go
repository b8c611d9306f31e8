package server

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"
)

// Callers of one key share one run; a caller that gives up gets its own error without ending the run for
// the others; when the last one gives up the run's context ends and the next caller starts a new run.
func TestFlightGroup(t *testing.T) {
	var g flightGroup
	started := make(chan context.Context, 2)
	finish := make(chan struct{})
	fn := func(ctx context.Context) (any, error) {
		started <- ctx
		select {
		case <-finish:
			return "done", nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	quitter, quit := context.WithCancel(context.Background())
	results := make(chan error, 2)
	go func() { _, err := g.do(quitter, "k", fn); results <- err }()
	runCtx := <-started
	var wg sync.WaitGroup
	wg.Add(1)
	var shared any
	var sharedErr error
	go func() {
		defer wg.Done()
		shared, sharedErr = g.do(context.Background(), "k", func(context.Context) (any, error) {
			t.Error("a second run started while the first ran")
			return nil, nil
		})
	}()
	// Wait until the second caller joined: it is counted on the flight.
	for {
		g.mu.Lock()
		n := g.m["k"].callers
		g.mu.Unlock()
		if n == 2 {
			break
		}
		runtime.Gosched()
	}
	quit()
	if err := <-results; !errors.Is(err, context.Canceled) {
		t.Fatalf("the caller that gave up: %v", err)
	}
	if runCtx.Err() != nil {
		t.Fatal("the run's context ended while a caller still waits")
	}
	close(finish)
	wg.Wait()
	if shared != "done" || sharedErr != nil {
		t.Fatalf("the caller that stayed: %v %v", shared, sharedErr)
	}

	// Every caller gives up: the run's context ends, and a later caller gets a run of its own.
	block := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		_, err := g.do(ctx, "k", func(ctx context.Context) (any, error) {
			started <- ctx
			<-block
			return nil, ctx.Err()
		})
		results <- err
	}()
	runCtx = <-started
	cancel()
	if err := <-results; !errors.Is(err, context.Canceled) {
		t.Fatalf("the only caller, cancelled: %v", err)
	}
	<-runCtx.Done()
	later, stop := context.WithTimeout(context.Background(), 5*time.Second)
	defer stop()
	v, err := g.do(later, "k", func(context.Context) (any, error) { return "new", nil })
	if v != "new" || err != nil {
		t.Fatalf("a caller after everyone gave up: %v %v", v, err)
	}
	close(block)
}
