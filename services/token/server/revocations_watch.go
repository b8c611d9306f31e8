package server

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/bearer"
	"github.com/authsuite/authsuite/internal/changelog"
	"github.com/authsuite/authsuite/services/token"
	"github.com/authsuite/authsuite/services/token/clients"
)

// Limits of the revocation watch (WatchRevocations).
const (
	// MaxRevocationWatchers bounds the concurrent revocation watches of one replica; one more is refused
	// with RESOURCE_EXHAUSTED. Each holds a store watch and a send buffer (revocationWatchBuffer).
	MaxRevocationWatchers = 256
	// revocationWatchBuffer bounds the events waiting to be sent to one watcher; a watcher that lets it fill
	// (it reads slower than revocations happen) is ended with UNAVAILABLE and resumes from its revision.
	revocationWatchBuffer = 4096
	// maxCutoffs bounds the subject and client cutoffs kept for watchers; past it the one that expires first
	// is dropped (and logged).
	maxCutoffs = 100_000
	// minCutoffKeep is the least time a cutoff is kept, whatever the clients' lifetimes.
	minCutoffKeep = time.Hour
)

// WatchRevocations streams the revocations still in force, then synced, then each new one as it commits
// (tokenv1.RevocationService), so that services validating access tokens locally refuse revoked ones
// without a call per request.
//
// The caller authenticates with a bearer access token of this issuer (gRPC metadata "authorization",
// RFC 6750 §2.1) whose audience contains the issuer; anything else ends the call with UNAUTHENTICATED. The
// stream ends with UNAUTHENTICATED when that token expires or is revoked, or its client or user is gone.
//
// Tenant scoping. Revocations of a jti or of a refresh token family (fid) are sent to every caller: the
// store keeps them without a tenant, and they are opaque random identifiers that tell a caller nothing
// about another tenant (a service never sees a token of another tenant with that jti). Subject cutoffs
// (a user disabled, deleted or created anew) and client cutoffs (a client deleted) name users and clients,
// so a caller gets those of its own tenant only, or of every tenant when its client is of the system
// tenant.
//
// Revisions. jti and family revocations come from the token store: their responses carry the store's
// revision, and a watcher that resumes with from_revision gets what followed it. When from_revision is
// ahead of the store, the first response has reset set and the full state follows. When the history after
// it is gone (changelog.ErrCompacted; the store's watch tells only once it runs, so possibly after the
// resumed stream's synced), a response with reset set is the stream's last: it ends with UNAVAILABLE and
// the watcher, having dropped what it held, reconnects from revision 0. The state before synced is sent
// directly, whatever its size; only what follows goes through the bounded queue. Subject and client cutoffs are not stored: this replica learns them from the
// registry's feed and keeps them in memory (at most maxCutoffs) until every token they match has expired
// (the longest access token lifetime of the clients, at least minCutoffKeep). They are sent whole at the
// start of every stream, resumed or not (a watcher applies them again, harmlessly), and carry the
// revision of the stream's last store event; a replica started afresh knows only the cutoffs of changes
// the feed delivered since it started.
//
// Bounds: at most MaxRevocationWatchers streams per replica (RESOURCE_EXHAUSTED beyond); a watcher that
// falls more than revocationWatchBuffer events behind is ended with UNAVAILABLE.
func (s *Server) WatchRevocations(req *tokenv1.WatchRevocationsRequest, stream tokenv1.RevocationService_WatchRevocationsServer) error {
	ctx := stream.Context()
	raw, err := bearer.FromContext(ctx)
	if err != nil {
		return status.Error(codes.Unauthenticated, "WatchRevocations: a bearer access token is required (authorization metadata)")
	}
	v, err := s.verifyOwnToken(raw)
	if err != nil {
		return status.Error(codes.Unauthenticated, "WatchRevocations: the bearer token is not valid")
	}
	if req.GetFromRevision() < 0 {
		return status.Error(codes.InvalidArgument, "from_revision must not be negative")
	}
	select {
	case s.revWatch.slots <- struct{}{}:
		defer func() { <-s.revWatch.slots }()
	default:
		return status.Errorf(codes.ResourceExhausted, "WatchRevocations: at most %d watchers per replica", MaxRevocationWatchers)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	w := &revWatcher{tenant: v.claims.Tenant, all: isSystemTenant(v.claims.Tenant), out: make(chan *tokenv1.WatchRevocationsResponse, revocationWatchBuffer), cancel: cancel}

	// The state before synced is sent here, not queued: it may be larger than the queue.
	sendNow := func(resp *tokenv1.WatchRevocationsResponse) error {
		w.stamp(resp, 0)
		return stream.Send(resp)
	}
	from := req.GetFromRevision()
	if from > 0 {
		latest, err := s.st.LatestRevision(ctx)
		if err != nil {
			return status.Error(codes.Unavailable, "WatchRevocations: the token store is unavailable")
		}
		if from > latest {
			// A revision this store never produced (another store, or one restarted empty): start over.
			if err := sendNow(&tokenv1.WatchRevocationsResponse{Reset_: true, Event: &tokenv1.WatchRevocationsResponse_Progress{Progress: true}}); err != nil {
				return err
			}
			from = 0
		}
	}
	w.lastRev = from
	// Subscribing before anything is read (and after a reset, which drops what came before it): a cutoff
	// made meanwhile is in the snapshot, or queued after it, or both.
	cutoffs := s.revWatch.subscribe(w)
	defer s.revWatch.unsubscribe(w)
	if from == 0 {
		rev, entries := s.fullState()
		w.stamp(&tokenv1.WatchRevocationsResponse{}, rev)
		for _, r := range entries {
			if err := sendNow(&tokenv1.WatchRevocationsResponse{Event: &tokenv1.WatchRevocationsResponse_Revoked{Revoked: r}}); err != nil {
				return err
			}
		}
		from = rev
	}
	now := s.now().Unix()
	for _, c := range cutoffs {
		if c.GetExpireTime() >= now && w.sees(c) {
			if err := sendNow(&tokenv1.WatchRevocationsResponse{Event: &tokenv1.WatchRevocationsResponse_Revoked{Revoked: c}}); err != nil {
				return err
			}
		}
	}
	if err := sendNow(&tokenv1.WatchRevocationsResponse{Event: &tokenv1.WatchRevocationsResponse_Synced{Synced: true}}); err != nil {
		return err
	}

	expiry := time.NewTimer(time.Unix(v.claims.Expiry, 0).Sub(s.now()))
	defer expiry.Stop()
	go s.followRevocations(ctx, w, from)
	for {
		select {
		case <-ctx.Done():
			if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
				return err
			}
			return ctx.Err()
		case <-expiry.C:
			return status.Error(codes.Unauthenticated, "WatchRevocations: the bearer token has expired")
		case resp := <-w.out:
			if resp.GetRevoked() != nil || resp.GetProgress() {
				// What ends the watcher's own token arrives as an event: check it again (a cached lookup).
				if _, err := s.verifyOwnToken(raw); err != nil {
					return status.Error(codes.Unauthenticated, "WatchRevocations: the bearer token is no longer valid")
				}
			}
			if err := stream.Send(resp); err != nil {
				return err
			}
			if resp.GetReset_() {
				// The history after the watcher's revision is gone: it dropped what it held at reset and
				// takes the full state from a new stream (sent there before synced, whatever its size).
				return status.Error(codes.Unavailable, "WatchRevocations: the revocation history was compacted; reconnect from revision 0")
			}
		}
	}
}

// fullState returns every revocation of the in-memory set still in force and the revision the set is
// current with. The revision is noted before the set is read, so the set holds every revocation up to it
// (and possibly later ones, which the watch sends again).
func (s *Server) fullState() (int64, []*tokenv1.Revocation) {
	rev := s.applied.Get()
	now := s.now().Unix()
	s.revoked.mu.RLock()
	defer s.revoked.mu.RUnlock()
	entries := make([]*tokenv1.Revocation, 0, len(s.revoked.m))
	for jti, exp := range s.revoked.m {
		if exp >= now {
			entries = append(entries, revocationOf(jti, exp))
		}
	}
	return rev, entries
}

// followRevocations queues the store's revocations after from until ctx ends; when the history is gone it
// queues a reset, after which WatchRevocations ends the stream. A store failure ends the stream with
// UNAVAILABLE (the watcher resumes, possibly at another replica).
func (s *Server) followRevocations(ctx context.Context, w *revWatcher, from int64) {
	for ctx.Err() == nil {
		err := s.st.Watch(ctx, from, func(b changelog.Batch[token.Change]) error {
			now := s.now().Unix()
			n := 0
			w.mu.Lock()
			w.lastRev = max(w.lastRev, b.Revision)
			w.mu.Unlock()
			for _, c := range b.Changes {
				if r := c.Revocation; r != nil && r.Expiry.Unix() >= now {
					w.sendAt(&tokenv1.WatchRevocationsResponse{Event: &tokenv1.WatchRevocationsResponse_Revoked{Revoked: revocationOf(r.JTI, r.Expiry.Unix())}}, b.Revision)
					n++
				}
			}
			if n == 0 {
				w.sendAt(&tokenv1.WatchRevocationsResponse{Event: &tokenv1.WatchRevocationsResponse_Progress{Progress: true}}, b.Revision)
			}
			from = b.Revision
			return ctx.Err()
		})
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(err, changelog.ErrCompacted):
			// The stream ends after the reset is sent (WatchRevocations); the watcher reconnects from 0.
			w.send(&tokenv1.WatchRevocationsResponse{Reset_: true, Event: &tokenv1.WatchRevocationsResponse_Progress{Progress: true}})
			return
		default:
			s.log.Warn("revocation watch: store watch failed", "err", err)
			w.cancel(status.Error(codes.Unavailable, "WatchRevocations: the token store watch failed; resume from the last revision"))
			return
		}
	}
}

// revocationOf is the event of a stored revocation: a jti, or a family ("family:" + fid, familyKey).
func revocationOf(key string, exp int64) *tokenv1.Revocation {
	if fid, ok := strings.CutPrefix(key, familyKey("")); ok {
		return &tokenv1.Revocation{FamilyId: fid, ExpireTime: exp}
	}
	return &tokenv1.Revocation{Jti: key, ExpireTime: exp}
}

// revWatcher is one WatchRevocations stream: what it may see, and its bounded queue.
type revWatcher struct {
	tenant string
	all    bool // system tenant: every tenant's cutoffs
	out    chan *tokenv1.WatchRevocationsResponse
	cancel context.CancelCauseFunc

	mu      sync.Mutex
	lastRev int64 // revision of the last store event queued
}

// stamp sets resp's revision to the last store event's, raised to rev first.
func (w *revWatcher) stamp(resp *tokenv1.WatchRevocationsResponse, rev int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.lastRev = max(w.lastRev, rev)
	resp.Revision = w.lastRev
}

// send queues resp with the revision of the last store event; sendAt with rev (raising it).
func (w *revWatcher) send(resp *tokenv1.WatchRevocationsResponse) { w.sendAt(resp, 0) }

func (w *revWatcher) sendAt(resp *tokenv1.WatchRevocationsResponse, rev int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.lastRev = max(w.lastRev, rev)
	resp.Revision = w.lastRev
	select {
	case w.out <- resp:
	default:
		w.cancel(status.Error(codes.Unavailable, "WatchRevocations: the watcher fell behind; resume from the last revision"))
	}
}

// sees reports whether the watcher may learn c.
func (w *revWatcher) sees(c *tokenv1.Revocation) bool { return w.all || c.GetTenantId() == w.tenant }

func (w *revWatcher) sendCutoffs(cs []*tokenv1.Revocation, now int64) {
	for _, c := range cs {
		if c.GetExpireTime() >= now && w.sees(c) {
			w.send(&tokenv1.WatchRevocationsResponse{Event: &tokenv1.WatchRevocationsResponse_Revoked{Revoked: c}})
		}
	}
}

// revocationWatch holds the cutoffs (subject and client revocations learnt from the registry's feed) and the
// watchers they are pushed to.
type revocationWatch struct {
	slots chan struct{} // one per running watcher

	mu       sync.Mutex
	cutoffs  []*tokenv1.Revocation // at most maxCutoffs; never modified once added
	watchers map[*revWatcher]struct{}
}

func newRevocationWatch() *revocationWatch {
	return &revocationWatch{slots: make(chan struct{}, MaxRevocationWatchers), watchers: map[*revWatcher]struct{}{}}
}

// subscribe adds w and returns the cutoffs in force.
func (h *revocationWatch) subscribe(w *revWatcher) []*tokenv1.Revocation {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.watchers[w] = struct{}{}
	return append([]*tokenv1.Revocation(nil), h.cutoffs...)
}

// snapshot returns the cutoffs in force.
func (h *revocationWatch) snapshot() []*tokenv1.Revocation {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]*tokenv1.Revocation(nil), h.cutoffs...)
}

func (h *revocationWatch) unsubscribe(w *revWatcher) {
	h.mu.Lock()
	delete(h.watchers, w)
	h.mu.Unlock()
}

// add keeps cs (dropping expired ones, and the soonest to expire past maxCutoffs) and queues them to every
// watcher that may see them. It reports how many were dropped for room.
func (h *revocationWatch) add(now int64, cs ...*tokenv1.Revocation) (dropped int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	kept := h.cutoffs[:0:0]
	for _, c := range h.cutoffs {
		if c.GetExpireTime() >= now {
			kept = append(kept, c)
		}
	}
	kept = append(kept, cs...)
	if over := len(kept) - maxCutoffs; over > 0 {
		// Cutoffs are added in time order with one keep time, so the oldest expire first.
		kept = kept[over:]
		dropped = over
	}
	h.cutoffs = kept
	for w := range h.watchers {
		w.sendCutoffs(cs, now)
	}
	return dropped
}

// cutoffKeep is how long a cutoff made now must be kept: until every token it matches has expired.
func (s *Server) cutoffKeep() time.Duration {
	return max(min(s.cache.MaxAccessTokenLifetime(), MaxAccessTokenLifetime), minCutoffKeep)
}

// cutoffAccounts records that every token issued until now to the ended accounts (disabled, deleted or
// created anew; clients.Config.AccountsEnded) is refused, for the revocation watchers.
func (s *Server) cutoffAccounts(ended []token.Account) {
	if len(ended) == 0 {
		return
	}
	now := s.now()
	exp := now.Add(s.cutoffKeep()).Unix()
	cs := make([]*tokenv1.Revocation, 0, len(ended))
	for _, a := range ended {
		// iat has whole seconds: a token issued in the second of the change counts as issued before it, as
		// verifyToken counts it.
		cs = append(cs, &tokenv1.Revocation{TenantId: a.TenantID, Subject: a.UserID, IssuedBefore: now.Unix(), ExpireTime: exp})
	}
	if n := s.revWatch.add(now.Unix(), cs...); n > 0 {
		s.log.Warn("revocation watch: too many cutoffs; dropped the oldest", "dropped", n)
	}
}

// cutoffClients records that every token issued until now to the deleted clients (clients.Config.
// ClientsDeleted) is refused, for the revocation watchers.
func (s *Server) cutoffClients(deleted []*clients.Client) {
	now := s.now()
	exp := now.Add(s.cutoffKeep()).Unix()
	cs := make([]*tokenv1.Revocation, 0, len(deleted))
	for _, cl := range deleted {
		cs = append(cs, &tokenv1.Revocation{TenantId: cl.TenantID, ClientId: cl.ID, IssuedBefore: now.Unix(), ExpireTime: exp})
	}
	if n := s.revWatch.add(now.Unix(), cs...); n > 0 {
		s.log.Warn("revocation watch: too many cutoffs; dropped the oldest", "dropped", n)
	}
}
