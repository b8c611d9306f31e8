package server

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/authsuite/authsuite/internal/changelog"
	"github.com/authsuite/authsuite/services/token"
	"github.com/authsuite/authsuite/services/token/jwt"
)

// loadRevocations adds every unexpired stored revocation to the set.
func (s *Server) loadRevocations(ctx context.Context) error {
	revs, err := s.st.Revocations(ctx)
	if err != nil {
		return fmt.Errorf("load revocations: %w", err)
	}
	now := s.now()
	for _, r := range revs {
		if !r.Expiry.Before(now) {
			s.revoked.add(r.JTI, r.Expiry.Unix())
		}
	}
	return nil
}

// recordRevocation records r durably (store first, RFC 7009 §2.2: the token is invalid once the response is
// sent), then in this replica's set, and answers the revocation's revision as response metadata
// RevisionMetadata ("token:<n>"), so that the caller can make any replica wait until it refuses the token
// too. n is the revision at which the store's watch reported the revocation here (one watch delivery, well
// under a millisecond on the embedded stores); when the watch does not deliver it within revocationEcho, n
// is the store's Revision, which is at or after the revocation's commit.
func (s *Server) recordRevocation(ctx context.Context, r token.Revocation) error {
	echo := s.echoes.expect(r.JTI)
	defer s.echoes.forget(r.JTI, echo)
	if err := s.st.Revoke(ctx, r); err != nil {
		return err
	}
	s.revoked.add(r.JTI, r.Expiry.Unix())
	rev := s.st.Revision()
	if s.following.Load() {
		t := time.NewTimer(revocationEcho)
		select {
		case rev = <-echo:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
	answerRevision(ctx, rev)
	return nil
}

// revocationEcho bounds how long a revocation waits for the store's watch to report it here.
const revocationEcho = time.Second

// revocationEchoes lets recordRevocation learn the revision at which the watch reported its revocation. On
// a store whose revision is global (etcd), the store's Revision after the write may be a later write of
// another kind, which no watcher of revocations ever sees; the echo's revision is one they all see.
type revocationEchoes struct {
	mu sync.Mutex
	m  map[string][]chan int64 // jti → waiting revocations
}

func (e *revocationEchoes) expect(jti string) chan int64 {
	ch := make(chan int64, 1)
	e.mu.Lock()
	if e.m == nil {
		e.m = map[string][]chan int64{}
	}
	e.m[jti] = append(e.m[jti], ch)
	e.mu.Unlock()
	return ch
}

func (e *revocationEchoes) forget(jti string, ch chan int64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	chans := slices.DeleteFunc(e.m[jti], func(c chan int64) bool { return c == ch })
	if len(chans) == 0 {
		delete(e.m, jti)
	} else {
		e.m[jti] = chans
	}
}

// reported hands rev to every revocation of jti waiting for its echo.
func (e *revocationEchoes) reported(jti string, rev int64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, ch := range e.m[jti] {
		select {
		case ch <- rev:
		default:
		}
	}
}

// followStore keeps the revocation set and the signing keys current with the store until ctx ends, so that
// a token revoked at another replica is refused here, and a key another replica created verifies here,
// without a store read per request. It watches from the revision noted before New read them: a reported
// revocation is added, a key change reloads the keys, and every batch (progress reports included) raises the
// applied revision the barrier waits on. When the history it needs is gone (changelog.ErrCompacted) it
// reads both again, noting the revision first, and watches from there; other failures are retried with
// jittered backoff (ReconnectMin to ReconnectMax).
func (s *Server) followStore(ctx context.Context) {
	from := s.applied.Get()
	backoff := s.deps.ReconnectMin
	for {
		s.following.Store(true)
		err := s.st.Watch(ctx, from, func(b changelog.Batch[token.Change]) error {
			if err := s.apply(ctx, b); err != nil {
				return err
			}
			from = b.Revision
			backoff = s.deps.ReconnectMin
			return nil
		})
		s.following.Store(false)
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, changelog.ErrCompacted) {
			s.log.Warn("revocation watch fell behind; reloading revocations and signing keys", "from", from)
			rev := s.st.Revision()
			err = errors.Join(s.loadRevocations(ctx), s.keys.reload(ctx))
			if err == nil {
				from = rev
				s.applied.Raise(rev)
				continue
			}
		}
		s.log.Error("revocation watch", "err", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff/2 + rand.N(backoff/2+1)):
		}
		backoff = min(2*backoff, s.deps.ReconnectMax)
	}
}

// apply applies one batch of the store's watch and records its revision as applied.
func (s *Server) apply(ctx context.Context, b changelog.Batch[token.Change]) error {
	keysChanged := false
	now := s.now().Unix()
	for _, c := range b.Changes {
		if r := c.Revocation; r != nil && r.Expiry.Unix() >= now {
			s.revoked.add(r.JTI, r.Expiry.Unix())
		}
		keysChanged = keysChanged || c.KeysChanged
	}
	if keysChanged {
		if err := s.keys.reload(ctx); err != nil {
			return err
		}
	}
	s.applied.Raise(b.Revision)
	for _, c := range b.Changes {
		if c.Revocation != nil {
			s.echoes.reported(c.Revocation.JTI, b.Revision)
		}
	}
	return nil
}

// revocationSet is the in-memory revocation list (jti → expiry, Unix seconds), loaded from the store at start,
// written through on every revocation here and fed by the store's watch with every other replica's.
type revocationSet struct {
	mu sync.RWMutex
	m  map[string]int64
}

func (r *revocationSet) add(jti string, exp int64) {
	r.mu.Lock()
	r.m[jti] = exp
	r.mu.Unlock()
}

func (r *revocationSet) has(jti string) bool {
	r.mu.RLock()
	_, ok := r.m[jti]
	r.mu.RUnlock()
	return ok
}

func (r *revocationSet) sweep(now time.Time) {
	r.mu.Lock()
	for jti, exp := range r.m {
		if exp < now.Unix() {
			delete(r.m, jti)
		}
	}
	r.mu.Unlock()
}

// verified is a token whose signature, issuer and audience were checked once.
type verified struct {
	claims *jwt.Claims
	scopes []string
}

// verifiedCache remembers verified tokens by the SHA-256 of the token string, so repeated checks skip the
// signature verification. It holds at most 2×size entries in two generations: when the young one fills, it
// becomes the old one and the previous old one is dropped. Expiry and revocation are not cached.
type verifiedCache struct {
	size     int
	mu       sync.RWMutex
	young    map[[32]byte]*verified
	old      map[[32]byte]*verified
	disabled bool
}

func newVerifiedCache(size int) *verifiedCache {
	return &verifiedCache{size: size, young: map[[32]byte]*verified{}, disabled: size <= 0}
}

func tokenHash(token string) [32]byte { return sha256.Sum256([]byte(token)) }

func (c *verifiedCache) get(h [32]byte) (*verified, bool) {
	if c.disabled {
		return nil, false
	}
	c.mu.RLock()
	v, ok := c.young[h]
	if !ok {
		v, ok = c.old[h]
	}
	c.mu.RUnlock()
	return v, ok
}

func (c *verifiedCache) put(h [32]byte, v *verified) {
	if c.disabled {
		return
	}
	c.mu.Lock()
	if len(c.young) >= c.size {
		c.old, c.young = c.young, make(map[[32]byte]*verified, c.size)
	}
	c.young[h] = v
	c.mu.Unlock()
}
