// Package changelog gives a store whose backend has no watch of its own (bbolt, memory) the revision counter
// and the recent change history that etcd gives the etcd stores: every commit gets the next revision, and
// watchers receive the commits after a revision, in order, then every later commit as it happens.
//
// A Log keeps the last Capacity commits. A watcher that asks for history older than that, or that falls
// further behind than that, gets ErrCompacted and must resynchronise from a snapshot, exactly as an etcd
// watcher does after a compaction. Appending never waits for watchers.
package changelog

import (
	"context"
	"errors"
	"sync"
)

// ErrCompacted is returned by Watch when the revisions the watcher needs are no longer kept: the watcher must
// read a fresh snapshot (noting the Revision before it reads) and watch from there.
var ErrCompacted = errors.New("changelog: revision compacted; resynchronise from a snapshot")

// Batch is the changes of one commit (or, with no changes, a progress report: every commit up to Revision
// has been delivered).
type Batch[E any] struct {
	Revision int64
	Changes  []E
}

// Log is a bounded, in-memory history of commits. Its zero value is not usable; call New.
type Log[E any] struct {
	mu       sync.Mutex
	rev      int64
	ring     []Batch[E] // the last len(ring) commits, oldest first once full
	next     int        // where the next commit goes in ring
	kept     int        // how many entries of ring are filled
	changed  chan struct{}
	capacity int
}

// New returns a log whose last revision is start (the revision a persistent backend stored; 0 for a new
// one) keeping the last capacity commits (at least 1).
func New[E any](start int64, capacity int) *Log[E] {
	capacity = max(capacity, 1)
	return &Log[E]{rev: start, ring: make([]Batch[E], capacity), capacity: capacity, changed: make(chan struct{})}
}

// Revision returns the revision of the last commit.
func (l *Log[E]) Revision() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rev
}

// Next returns the revision the next Append will get. A persistent backend writes it in the same transaction
// as the changes, then calls Append (holding its write lock, so that revisions follow commit order).
func (l *Log[E]) Next() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rev + 1
}

// Append records one commit's changes under the next revision and returns it. The log keeps changes as
// given: callers must not change them afterwards.
func (l *Log[E]) Append(changes ...E) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rev++
	l.ring[l.next] = Batch[E]{Revision: l.rev, Changes: changes}
	l.next = (l.next + 1) % l.capacity
	l.kept = min(l.kept+1, l.capacity)
	close(l.changed)
	l.changed = make(chan struct{})
	return l.rev
}

// since returns the commits after from, a channel closed at the next Append, and ErrCompacted when commits
// after from are no longer kept.
func (l *Log[E]) since(from int64) ([]Batch[E], <-chan struct{}, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if from >= l.rev {
		return nil, l.changed, nil
	}
	missing := int(l.rev - from)
	if from < 0 || missing > l.kept {
		return nil, nil, ErrCompacted
	}
	out := make([]Batch[E], 0, missing)
	for i := missing; i > 0; i-- {
		out = append(out, l.ring[(l.next-i+l.capacity)%l.capacity])
	}
	return out, l.changed, nil
}

// Watch calls fn with every commit after revision from, in revision order, then with every later commit as
// it is appended, until ctx ends (ctx.Err() is returned) or fn fails (its error is returned). It returns
// ErrCompacted when the commits after from are no longer kept, at the start or because fn fell more than
// the log's capacity behind.
func (l *Log[E]) Watch(ctx context.Context, from int64, fn func(Batch[E]) error) error {
	for {
		batches, changed, err := l.since(from)
		if err != nil {
			return err
		}
		for _, b := range batches {
			if err := fn(b); err != nil {
				return err
			}
			from = b.Revision
		}
		if len(batches) > 0 {
			continue
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		}
	}
}
