package server

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/authsuite/authsuite/internal/changelog"
	"github.com/authsuite/authsuite/services/provider"
)

// grantCache holds the decrypted grants of connectors this server served, so a fresh grant is answered
// with no store read. It is only trusted while the server follows the store's changes (Run): every change
// of a connector, made by this replica or any other, drops that connector's entry, and a provider change,
// a lost watch or compacted history drops them all. Not following, it holds nothing and every call reads
// the store.
//
// A put carries the generation read before the store read it caches; any drop in between bumps the
// generation and refuses the put, so a value read before a change is never cached after the change was
// applied. One generation for all connectors keeps memory bounded: a drop elsewhere only costs a put its
// caching (the next call reads the store).
type grantCache struct {
	mu        sync.Mutex
	following bool
	gen       uint64
	grants    map[string]provider.Grant
	// signals holds, per connector someone may wait on, a channel closed at that connector's next change
	// (or at the next drop of everything), and how many hold it.
	signals map[string]*signal
	applied int64         // the revision of the last batch applied while following
	advance chan struct{} // closed and replaced whenever applied moves or following changes
}

func newGrantCache() *grantCache {
	return &grantCache{grants: map[string]provider.Grant{}, signals: map[string]*signal{}, advance: make(chan struct{})}
}

type signal struct {
	ch      chan struct{}
	holders int
}

// generation returns the generation to pass to put after reading the store.
func (c *grantCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// put caches g for id when the cache is followed and nothing was dropped since gen was read.
func (c *grantCache) put(id string, gen uint64, g provider.Grant) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.following && c.gen == gen {
		c.grants[id] = g
	}
}

// get returns id's cached grant.
func (c *grantCache) get(id string) (provider.Grant, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	g, ok := c.grants[id]
	return g, ok
}

// drop forgets id's grant and wakes whoever waits for its change.
func (c *grantCache) drop(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dropLocked(id)
}

func (c *grantCache) dropLocked(id string) {
	delete(c.grants, id)
	c.gen++
	if sig, ok := c.signals[id]; ok {
		close(sig.ch)
		delete(c.signals, id)
	}
}

// reset forgets every grant, wakes every waiter and sets whether the cache is followed from now on, with
// applied as the revision everything up to which is known.
func (c *grantCache) reset(following bool, applied int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dropAllLocked()
	c.following = following
	c.applied = applied
	c.moved()
}

func (c *grantCache) moved() {
	close(c.advance)
	c.advance = make(chan struct{})
}

// dropAllLocked forgets every grant and wakes every waiter.
func (c *grantCache) dropAllLocked() {
	clear(c.grants)
	c.gen++
	for id, sig := range c.signals {
		close(sig.ch)
		delete(c.signals, id)
	}
}

// changed returns a channel closed at the next change of id the cache applies, whether the cache is
// followed (when it is not, no change will ever close the channel), and done, to call once the channel is
// no longer needed (so the cache keeps nothing for connectors nobody waits on).
func (c *grantCache) changed(id string) (ch <-chan struct{}, following bool, done func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	sig, ok := c.signals[id]
	if !ok {
		sig = &signal{ch: make(chan struct{})}
		c.signals[id] = sig
	}
	sig.holders++
	return sig.ch, c.following, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if sig.holders--; sig.holders == 0 && c.signals[id] == sig {
			delete(c.signals, id)
		}
	}
}

// apply drops what one committed batch of the store changed and records its revision.
func (c *grantCache) apply(b changelog.Batch[provider.Change]) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ch := range b.Changes {
		switch {
		case ch.Connector != nil:
			c.dropLocked(ch.Connector.ID)
		case ch.DeletedConnector != "":
			c.dropLocked(ch.DeletedConnector)
		case ch.Provider != nil:
			c.dropAllLocked()
		}
	}
	if b.Revision > c.applied {
		c.applied = b.Revision
		c.moved()
	}
}

// waitApplied waits until the cache is followed and has applied every change up to rev, or ctx ends.
func (c *grantCache) waitApplied(ctx context.Context, rev int64) error {
	for {
		c.mu.Lock()
		done, advance := c.following && c.applied >= rev, c.advance
		c.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-advance:
		}
	}
}

// Watch retry pacing: after a watch fails without having applied anything, the next attempt waits
// watchRetryMin, doubling up to watchRetryMax, so a store that refuses every watch is not asked in a loop.
const (
	watchRetryMin = 100 * time.Millisecond
	watchRetryMax = 5 * time.Second
)

// Run keeps the grant cache in step with the store until ctx ends (it then returns nil): it notes the
// store's revision, starts trusting the cache, and applies every change committed after that revision,
// whichever replica made it. When the store's history is compacted or the watch fails, the cache is
// emptied and stops being trusted until the watch resumes from a newly noted revision; meanwhile every
// call reads the store. Run it once, before or while serving: without it the server never caches, and a
// caller waiting for another replica's refresh looks at the store again every second instead of being
// woken by the change.
func (s *Server) Run(ctx context.Context) error {
	delay := watchRetryMin
	for {
		from := s.store.Revision()
		s.cache.reset(true, from)
		applied := false
		err := s.store.Watch(ctx, from, func(b changelog.Batch[provider.Change]) error {
			s.cache.apply(b)
			applied = true
			return nil
		})
		s.cache.reset(false, 0)
		if ctx.Err() != nil {
			return nil
		}
		if applied {
			delay = watchRetryMin
		}
		if errors.Is(err, changelog.ErrCompacted) {
			s.log.Info("provider store history compacted; cached grants dropped", "revision", from)
			// Read once, so that the store's Revision covers the present: a store that learns revisions
			// from its answers (etcd's) may not have moved past the compacted history by itself.
			s.store.ListProviders(ctx)
			if applied || s.store.Revision() > from {
				continue
			}
		} else {
			s.log.Warn("watch the provider store; cached grants dropped until it resumes", "err", err)
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		delay = min(2*delay, watchRetryMax)
	}
}
