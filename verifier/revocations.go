package verifier

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
)

// maxRevocations bounds each map of the revocation set; past it new entries are not kept and the watch
// reconnects from the full state (which the server bounds too).
const maxRevocations = 1 << 20

// revocationSet is the revocations in force: revoked jtis and families (with their expiry) and cutoffs by
// subject and by client (tokens issued at or before a time). Lookups take a read lock and allocate nothing.
type revocationSet struct {
	mu       sync.RWMutex
	jtis     map[string]int64 // jti → expire_time
	families map[string]int64 // fid → expire_time
	subjects map[subjectKey]cutoff
	clients  map[string]cutoff
}

type subjectKey struct{ tenant, subject string }

type cutoff struct{ issuedBefore, expire int64 }

func newRevocationSet() *revocationSet {
	r := &revocationSet{}
	r.clear()
	return r
}

func (r *revocationSet) clear() {
	r.mu.Lock()
	r.jtis, r.families = map[string]int64{}, map[string]int64{}
	r.subjects, r.clients = map[subjectKey]cutoff{}, map[string]cutoff{}
	r.mu.Unlock()
}

// replaceWith makes the set hold what other holds (other is not used afterwards).
func (r *revocationSet) replaceWith(other *revocationSet) {
	other.mu.Lock()
	jtis, families, subjects, clients := other.jtis, other.families, other.subjects, other.clients
	other.mu.Unlock()
	r.mu.Lock()
	r.jtis, r.families, r.subjects, r.clients = jtis, families, subjects, clients
	r.mu.Unlock()
}

// add applies one revocation event; it reports false when the event names nothing it knows or the set is
// full.
func (r *revocationSet) add(e *tokenv1.Revocation) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	exp := e.GetExpireTime()
	switch {
	case e.GetJti() != "":
		if len(r.jtis) >= maxRevocations {
			return false
		}
		r.jtis[e.GetJti()] = max(r.jtis[e.GetJti()], exp)
	case e.GetFamilyId() != "":
		if len(r.families) >= maxRevocations {
			return false
		}
		r.families[e.GetFamilyId()] = max(r.families[e.GetFamilyId()], exp)
	case e.GetSubject() != "":
		if len(r.subjects) >= maxRevocations {
			return false
		}
		k := subjectKey{e.GetTenantId(), e.GetSubject()}
		r.subjects[k] = later(r.subjects[k], cutoff{e.GetIssuedBefore(), exp})
	case e.GetClientId() != "":
		if len(r.clients) >= maxRevocations {
			return false
		}
		r.clients[e.GetClientId()] = later(r.clients[e.GetClientId()], cutoff{e.GetIssuedBefore(), exp})
	default:
		return false
	}
	return true
}

func later(a, b cutoff) cutoff {
	return cutoff{max(a.issuedBefore, b.issuedBefore), max(a.expire, b.expire)}
}

// revoked reports whether t is revoked: its jti, its family or a parent jti (RFC 8693 exchanges) is
// revoked, or it was issued at or before a cutoff of its user (tenant and subject, for tokens issued to a
// signed-in user: those with auth_time) or of its client.
func (r *revocationSet) revoked(t *Token) bool {
	iat := t.IssuedAt.Unix()
	r.mu.RLock()
	defer r.mu.RUnlock()
	if _, ok := r.jtis[t.ID]; ok {
		return true
	}
	if t.FamilyID != "" {
		if _, ok := r.families[t.FamilyID]; ok {
			return true
		}
	}
	for _, p := range t.Parents {
		if _, ok := r.jtis[p]; ok {
			return true
		}
	}
	if c, ok := r.subjects[subjectKey{t.Tenant, t.Subject}]; ok && t.user && iat <= c.issuedBefore {
		return true
	}
	if c, ok := r.clients[t.ClientID]; ok && iat <= c.issuedBefore {
		return true
	}
	return false
}

// sweep drops what expired before now.
func (r *revocationSet) sweep(now int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, exp := range r.jtis {
		if exp < now {
			delete(r.jtis, k)
		}
	}
	for k, exp := range r.families {
		if exp < now {
			delete(r.families, k)
		}
	}
	for k, c := range r.subjects {
		if c.expire < now {
			delete(r.subjects, k)
		}
	}
	for k, c := range r.clients {
		if c.expire < now {
			delete(r.clients, k)
		}
	}
}

// size is how many revocations the set holds.
func (r *revocationSet) size() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.jtis) + len(r.families) + len(r.subjects) + len(r.clients)
}

// Watch backoff between reconnects.
const (
	watchBackoffMin = 50 * time.Millisecond
	watchBackoffMax = time.Second
)

// watcher runs the revocation watch into the verifier's set.
type watcher struct {
	v      *Verifier
	client tokenv1.RevocationServiceClient
	ts     oauth2.TokenSource

	applied applied
	// brokenSince is when the current outage began (Unix nanoseconds), 0 while a stream is synced.
	brokenSince atomic.Int64
}

func newWatcher(v *Verifier, conn grpc.ClientConnInterface, ts oauth2.TokenSource) *watcher {
	w := &watcher{v: v, client: tokenv1.NewRevocationServiceClient(conn), ts: ts}
	w.applied.init()
	w.brokenSince.Store(v.now().UnixNano())
	return w
}

// fresh reports whether the revocations held can be trusted at now: synced once, and connected or broken
// for at most MaxStale.
func (w *watcher) fresh(now time.Time) bool {
	if !w.applied.synced.Load() {
		return false
	}
	b := w.brokenSince.Load()
	return b == 0 || now.UnixNano()-b <= int64(w.v.cfg.MaxStale)
}

// run watches until ctx ends, reconnecting with jittered backoff (watchBackoffMin doubling to
// watchBackoffMax, reset after a stream synced) and resuming from the last revision applied.
func (w *watcher) run(ctx context.Context) {
	backoff := watchBackoffMin
	for ctx.Err() == nil {
		synced, err := w.once(ctx)
		if w.brokenSince.Load() == 0 {
			w.brokenSince.Store(w.v.now().UnixNano())
		}
		if ctx.Err() != nil {
			return
		}
		if synced {
			backoff = watchBackoffMin
		}
		w.v.log.Warn("verifier: revocation watch ended; reconnecting", "err", err, "retry_in", backoff)
		t := time.NewTimer(backoff/2 + rand.N(backoff/2+1))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, watchBackoffMax)
	}
}

// once runs one stream and reports whether it reached synced.
func (w *watcher) once(ctx context.Context) (synced bool, err error) {
	tok, err := w.ts.Token()
	if err != nil {
		return false, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok.AccessToken)
	from := w.applied.resume()
	stream, err := w.client.WatchRevocations(ctx, &tokenv1.WatchRevocationsRequest{FromRevision: from})
	if err != nil {
		return false, err
	}
	// A full state (a stream from 0, or what follows a reset) is collected in pending and replaces the set
	// at synced; until then the set held keeps answering, with what arrives added to it (a revocation is
	// never withdrawn early, so adding is always safe).
	var pending *revocationSet
	if from == 0 {
		pending = newRevocationSet()
	}
	for {
		resp, err := stream.Recv()
		if err != nil {
			if status.Code(err) == codes.Unauthenticated {
				// The bearer token expired or was revoked: the token source gives another next time.
				w.v.log.Warn("verifier: the revocation watch's token was refused", "err", err)
			}
			return synced, err
		}
		if resp.GetReset_() {
			// The server could not resume: what it sends next (here or in a new stream from 0) is the
			// full state, which replaces what is held.
			pending = newRevocationSet()
			w.applied.forget()
			synced = false
		}
		switch e := resp.GetEvent().(type) {
		case *tokenv1.WatchRevocationsResponse_Revoked:
			ok := w.v.revs.add(e.Revoked)
			if pending != nil {
				ok = pending.add(e.Revoked) && ok
			}
			if !ok && e.Revoked.GetExpireTime() >= w.v.now().Unix() && (w.v.revs.size() >= maxRevocations || (pending != nil && pending.size() >= maxRevocations)) {
				w.applied.forget()
				return synced, errors.New("verifier: too many revocations held")
			}
			if synced {
				w.applied.raise(resp.GetRevision())
			}
		case *tokenv1.WatchRevocationsResponse_Synced:
			if pending != nil {
				w.v.revs.replaceWith(pending)
				pending = nil
			}
			synced = true
			w.applied.markSynced(resp.GetRevision())
			w.brokenSince.Store(0)
		case *tokenv1.WatchRevocationsResponse_Progress:
			if synced {
				w.applied.raise(resp.GetRevision())
			}
		}
	}
}

// applied is the revision the revocation set is current with, and who waits for one.
type applied struct {
	mu      sync.Mutex
	rev     int64
	changed chan struct{} // closed and replaced at every change
	synced  atomic.Bool
}

func (a *applied) init() { a.changed = make(chan struct{}) }

func (a *applied) get() int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.rev
}

// resume is the revision to resume from: the last one applied after a full state, 0 for a full state.
func (a *applied) resume() int64 { return a.get() }

func (a *applied) notifyLocked() {
	close(a.changed)
	a.changed = make(chan struct{})
}

func (a *applied) raise(rev int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if rev > a.rev {
		a.rev = rev
		a.notifyLocked()
	}
}

// markSynced records a completed full state (or resumed stream) at rev.
func (a *applied) markSynced(rev int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.rev = max(a.rev, rev)
	a.synced.Store(true)
	a.notifyLocked()
}

// forget forgets the revision: the next stream takes the full state. The revocations held stay trusted
// (synced) until then.
func (a *applied) forget() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.rev = 0
	a.notifyLocked()
}

func (a *applied) wait(ctx context.Context, n int64) error {
	for {
		a.mu.Lock()
		ok, ch := a.synced.Load() && a.rev >= n, a.changed
		a.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

func (a *applied) waitSynced(ctx context.Context) error { return a.wait(ctx, 0) }
