package server

import (
	"context"
	"sync"
)

// flightGroup runs one function per key at a time and hands its result to every caller that asked while it
// ran (the singleflight pattern), so N concurrent refreshes of one connector in this process make one
// provider call.
type flightGroup struct {
	mu sync.Mutex
	m  map[string]*flight
}

type flight struct {
	done    chan struct{}
	val     any
	err     error
	callers int                // callers still waiting for the result
	cancel  context.CancelFunc // ends the run's context
}

// do runs fn for key unless a run for key is in progress, in which case it joins that run; either way it
// returns the run's result, or ctx's error as soon as ctx ends. fn runs on its own goroutine with a
// context that keeps ctx's values and ends only when every caller waiting for it has given up: a run then
// stops waiting on others, and a later caller starts a new run. Work that must finish even then (a
// refresh already sent to a provider) detaches with context.WithoutCancel.
func (g *flightGroup) do(ctx context.Context, key string, fn func(context.Context) (any, error)) (any, error) {
	g.mu.Lock()
	if g.m == nil {
		g.m = map[string]*flight{}
	}
	f, ok := g.m[key]
	if !ok {
		fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		f = &flight{done: make(chan struct{}), cancel: cancel}
		g.m[key] = f
		go func() {
			defer cancel()
			v, err := fn(fctx)
			g.mu.Lock()
			f.val, f.err = v, err
			if g.m[key] == f {
				delete(g.m, key)
			}
			g.mu.Unlock()
			close(f.done)
		}()
	}
	f.callers++
	g.mu.Unlock()
	select {
	case <-f.done:
		return f.val, f.err
	case <-ctx.Done():
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if f.callers--; f.callers == 0 {
		f.cancel()
		if g.m[key] == f {
			delete(g.m, key)
		}
	}
	select {
	case <-f.done: // finished meanwhile: the result is there, give it
		return f.val, f.err
	default:
		return nil, ctx.Err()
	}
}
