package changelog

import (
	"context"
	"sync"
)

// Applied is the revision up to which a follower of a store (a cache fed by a Watch or a change feed) has
// applied every commit, with a wait for a revision that needs no polling: the revision barrier's view of
// "has this replica seen that write yet". Its zero value is not usable; call NewApplied.
type Applied struct {
	mu      sync.Mutex
	rev     int64
	changed chan struct{} // closed and replaced whenever rev changes
}

// NewApplied returns an Applied at rev.
func NewApplied(rev int64) *Applied { return &Applied{rev: rev, changed: make(chan struct{})} }

// Get returns the applied revision.
func (a *Applied) Get() int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.rev
}

// Raise raises the applied revision to rev (never lowers it) and wakes the waiters.
func (a *Applied) Raise(rev int64) { a.set(rev, false) }

// Reset sets the applied revision to rev even when that is lower (the follower resynchronised from a
// snapshot of a history that restarted) and wakes the waiters.
func (a *Applied) Reset(rev int64) { a.set(rev, true) }

func (a *Applied) set(rev int64, lower bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if rev == a.rev || rev < a.rev && !lower {
		return
	}
	a.rev = rev
	close(a.changed)
	a.changed = make(chan struct{})
}

// Wait returns nil once the applied revision is at least n: at once when it is, else as soon as Raise or
// Reset reaches it. It returns ctx.Err() when ctx ends first.
func (a *Applied) Wait(ctx context.Context, n int64) error {
	for {
		a.mu.Lock()
		rev, changed := a.rev, a.changed
		a.mu.Unlock()
		if rev >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		}
	}
}
