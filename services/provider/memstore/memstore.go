// Package memstore is an in-memory implementation of provider.Store, for tests and a development mode that
// keeps nothing across restarts. It has the semantics of bboltstore for every method (uniqueness rules,
// errors, ordering, all-or-nothing writes) and passes storetest.Run. Its revisions start at 0 and Watch
// replays the last LogCapacity commits.
package memstore

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/internal/changelog"
	"github.com/authsuite/authsuite/services/provider"
)

// Store is a provider.Store held in memory. It is safe for concurrent use: one sync.RWMutex serializes
// writes, so every method is atomic (a concurrent reader sees all of a write or none of it) and a write is
// complete, and visible to every later call, when it returns. Nothing is durable: the contents are lost
// with the process. Values go in and come out as deep copies, so neither a caller mutating what it passed
// nor one mutating what it got back changes the store.
type Store struct {
	mu         sync.RWMutex
	closed     bool
	providers  map[provider.ProviderKey]*record
	connectors map[string]*connRecord
	// byProvider indexes connectors (pending ones too) by their provider's key.
	byProvider map[provider.ProviderKey]map[string]struct{}
	// states holds pending authorizations by string(hash); connStates indexes them by connector id.
	states     map[string]*stateRecord
	connStates map[string]map[string]struct{}
	// log records the commits that changed a provider or a connector; appended under mu.
	log *changelog.Log[provider.Change]
	// changes collects what the running write changed (under mu).
	changes []provider.Change
}

// LogCapacity is how many commits Watch can replay: a watcher further behind gets changelog.ErrCompacted.
const LogCapacity = 4096

var _ provider.Store = (*Store)(nil)

// New returns an empty store.
func New() *Store {
	return &Store{
		providers:  map[provider.ProviderKey]*record{},
		connectors: map[string]*connRecord{},
		byProvider: map[provider.ProviderKey]map[string]struct{}{},
		states:     map[string]*stateRecord{},
		connStates: map[string]map[string]struct{}{},
		log:        changelog.New[provider.Change](0, LogCapacity),
	}
}

// Revision implements provider.Store.
func (s *Store) Revision() int64 { return s.log.Revision() }

// Watch implements provider.Store; every watcher gets its own copies. Close does not end it; ctx does.
func (s *Store) Watch(ctx context.Context, from int64, fn func(changelog.Batch[provider.Change]) error) error {
	return s.log.Watch(ctx, from, func(b changelog.Batch[provider.Change]) error {
		out := changelog.Batch[provider.Change]{Revision: b.Revision, Changes: make([]provider.Change, len(b.Changes))}
		for i, c := range b.Changes {
			out.Changes[i] = c.Clone()
		}
		return fn(out)
	})
}

func (s *Store) changedConnector(r *connRecord) {
	c := r.domain()
	s.changes = append(s.changes, provider.Change{Connector: &c})
}

func (s *Store) deletedConnector(id string) {
	s.changes = append(s.changes, provider.Change{DeletedConnector: id})
}

func (s *Store) changedProvider(k provider.ProviderKey) {
	s.changes = append(s.changes, provider.Change{Provider: &k})
}

// Close drops the contents. Every later call fails with an error wrapping apierror.ErrUnavailable; Close
// itself may be called again and returns nil.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.providers, s.connectors, s.byProvider, s.states, s.connStates = nil, nil, nil, nil, nil
	return nil
}

var errClosed = fmt.Errorf("provider store: closed: %w", apierror.ErrUnavailable)

// read runs fn under the read lock unless ctx has ended or the store is closed.
func (s *Store) read(ctx context.Context, fn func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return errClosed
	}
	return fn()
}

// write runs fn under the write lock unless ctx has ended or the store is closed. fn must check everything
// that can fail before it changes anything, so an error leaves the store as it was. What fn reported
// changed is appended to the log as one commit.
func (s *Store) write(ctx context.Context, fn func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errClosed
	}
	s.changes = nil
	err := fn()
	if err == nil && len(s.changes) > 0 {
		s.log.Append(s.changes...)
	}
	s.changes = nil
	return err
}

// countConnectors counts the connectors using k: every connector of k except pending ones (see
// provider.Provider.Connectors).
func (s *Store) countConnectors(k provider.ProviderKey) int {
	n := 0
	for id := range s.byProvider[k] {
		if s.connectors[id].Status != string(provider.StatusPending) {
			n++
		}
	}
	return n
}

// PutProviders implements provider.Store.
func (s *Store) PutProviders(ctx context.Context, ps []provider.Provider) error {
	// Copy (and check) every provider before taking the lock. A value that cannot be stored refuses the
	// whole call, as a failed encoding aborts bboltstore's transaction, and is reported after the checks
	// that come before encoding there.
	recs := make([]*record, len(ps))
	var recErr error
	for i, p := range ps {
		r, err := fromProvider(p)
		if err != nil {
			recErr = err
			break
		}
		recs[i] = r
	}
	return s.write(ctx, func() error {
		var inUse []provider.ProviderKey
		for _, p := range ps {
			if _, ok := s.providers[p.ProviderKey]; ok && s.countConnectors(p.ProviderKey) > 0 {
				inUse = append(inUse, p.ProviderKey)
			}
		}
		if len(inUse) > 0 {
			return &provider.InUseError{Providers: inUse}
		}
		if recErr != nil {
			return recErr
		}
		for _, r := range recs {
			s.providers[r.key] = r
			s.changedProvider(r.key)
		}
		return nil
	})
}

// GetProvider implements provider.Store.
func (s *Store) GetProvider(ctx context.Context, k provider.ProviderKey) (provider.Provider, error) {
	var out provider.Provider
	err := s.read(ctx, func() error {
		r, ok := s.providers[k]
		if !ok {
			return apierror.NotFound("provider %s", k)
		}
		out = r.domain(s.countConnectors(k))
		return nil
	})
	return out, err
}

// ListProviders implements provider.Store. The order is by type, then name, byte-wise.
func (s *Store) ListProviders(ctx context.Context) ([]provider.Provider, error) {
	var out []provider.Provider
	err := s.read(ctx, func() error {
		for k, r := range s.providers {
			out = append(out, r.domain(s.countConnectors(k)))
		}
		return nil
	})
	slices.SortFunc(out, func(a, b provider.Provider) int {
		if c := strings.Compare(a.Type, b.Type); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out, err
}

// DeleteProvider implements provider.Store.
func (s *Store) DeleteProvider(ctx context.Context, k provider.ProviderKey) error {
	return s.write(ctx, func() error {
		if _, ok := s.providers[k]; !ok {
			return apierror.NotFound("provider %s", k)
		}
		if n := s.countConnectors(k); n > 0 {
			return apierror.FailedPrecondition("provider %s is used by %d connector(s); delete them first", k, n)
		}
		// Pending connectors never block: they go with their provider.
		for _, id := range slices.Sorted(maps.Keys(s.byProvider[k])) {
			s.deleteConnector(id)
			s.deletedConnector(id)
		}
		delete(s.providers, k)
		s.changedProvider(k)
		return nil
	})
}

// CreateConnector implements provider.Store.
func (s *Store) CreateConnector(ctx context.Context, c provider.Connector, st provider.AuthState) error {
	if c.ID == "" {
		return apierror.Invalid("connectorId", "is required")
	}
	r, recErr := fromConnector(c)
	var sr *stateRecord
	if len(st.Hash) > 0 && recErr == nil {
		st.ConnectorID = c.ID
		sr, recErr = fromState(st)
	}
	return s.write(ctx, func() error {
		if _, ok := s.providers[c.Provider]; !ok {
			return apierror.NotFound("provider %s", c.Provider)
		}
		if _, ok := s.connectors[c.ID]; ok {
			return apierror.AlreadyExists("connector %s", c.ID)
		}
		if recErr != nil {
			return recErr
		}
		s.connectors[r.ID] = r
		s.changedConnector(r)
		ids := s.byProvider[r.key()]
		if ids == nil {
			ids = map[string]struct{}{}
			s.byProvider[r.key()] = ids
		}
		ids[r.ID] = struct{}{}
		if sr != nil {
			s.putState(sr)
		}
		return nil
	})
}

// putState stores sr under its hash and indexes it under its connector. A state already stored under the
// same hash is replaced, and leaves the index of the connector it belonged to.
func (s *Store) putState(sr *stateRecord) {
	if old, ok := s.states[sr.hash]; ok {
		s.unindexState(old)
	}
	s.states[sr.hash] = sr
	hs := s.connStates[sr.connectorID]
	if hs == nil {
		hs = map[string]struct{}{}
		s.connStates[sr.connectorID] = hs
	}
	hs[sr.hash] = struct{}{}
}

func (s *Store) unindexState(sr *stateRecord) {
	hs := s.connStates[sr.connectorID]
	delete(hs, sr.hash)
	if len(hs) == 0 {
		delete(s.connStates, sr.connectorID)
	}
}

// PutAuthState implements provider.Store.
func (s *Store) PutAuthState(ctx context.Context, st provider.AuthState) error {
	if len(st.Hash) == 0 || st.ConnectorID == "" {
		return apierror.Invalid("state", "hash and connector id are required")
	}
	sr, recErr := fromState(st)
	return s.write(ctx, func() error {
		if _, ok := s.connectors[st.ConnectorID]; !ok {
			return apierror.NotFound("connector %s", st.ConnectorID)
		}
		if recErr != nil {
			return recErr
		}
		s.putState(sr)
		return nil
	})
}

// GetConnector implements provider.Store.
func (s *Store) GetConnector(ctx context.Context, id string) (provider.Connector, error) {
	var out provider.Connector
	err := s.read(ctx, func() error {
		r, ok := s.connectors[id]
		if !ok {
			return apierror.NotFound("connector %s", id)
		}
		out = r.domain()
		return nil
	})
	return out, err
}

// ListConnectors implements provider.Store. The order is by id, byte-wise.
func (s *Store) ListConnectors(ctx context.Context, f provider.ConnectorFilter) ([]provider.Connector, error) {
	var out []provider.Connector
	err := s.read(ctx, func() error {
		for _, r := range s.connectors {
			if r.match(f) {
				out = append(out, r.domain())
			}
		}
		return nil
	})
	slices.SortFunc(out, func(a, b provider.Connector) int { return strings.Compare(a.ID, b.ID) })
	return out, err
}

// UpdateConnector implements provider.Store. fn gets a copy of the stored connector and runs under the
// store's write lock, so it must not call the store. Here it runs exactly once per call, but callers must
// allow it to run more than once (a store on a replicated database retries it after a lost
// compare-and-swap) and keep it free of side effects.
func (s *Store) UpdateConnector(ctx context.Context, id string, fn func(provider.Connector) (provider.Connector, error)) (provider.Connector, error) {
	var out provider.Connector
	err := s.write(ctx, func() error {
		r, ok := s.connectors[id]
		if !ok {
			return apierror.NotFound("connector %s", id)
		}
		old := r.domain()
		nc, err := fn(r.domain())
		if err != nil {
			return err
		}
		nc.ID, nc.Provider, nc.TenantID, nc.Owner, nc.CreateTime = old.ID, old.Provider, old.TenantID, old.Owner, old.CreateTime
		nr, err := fromConnector(nc)
		if err != nil {
			return err
		}
		s.connectors[id] = nr
		s.changedConnector(nr)
		// As bboltstore, answer what fn returned (copied, times in UTC, the fixed fields restored); an
		// empty Scopes or SealedGrant stays empty rather than nil here, and reads back as nil later.
		out = nr.domain()
		out.Scopes, out.SealedGrant = slices.Clone(nc.Scopes), bytes.Clone(nc.SealedGrant)
		return nil
	})
	return out, err
}

// DeleteConnector implements provider.Store.
func (s *Store) DeleteConnector(ctx context.Context, id string) (provider.Connector, error) {
	var out provider.Connector
	err := s.write(ctx, func() error {
		r, ok := s.connectors[id]
		if !ok {
			return apierror.NotFound("connector %s", id)
		}
		out = r.domain()
		s.deleteConnector(id)
		s.deletedConnector(id)
		return nil
	})
	return out, err
}

// deleteConnector deletes the stored connector id, its index entry and its pending authorizations.
func (s *Store) deleteConnector(id string) {
	r := s.connectors[id]
	for h := range s.connStates[id] {
		delete(s.states, h)
	}
	delete(s.connStates, id)
	ids := s.byProvider[r.key()]
	delete(ids, id)
	if len(ids) == 0 {
		delete(s.byProvider, r.key())
	}
	delete(s.connectors, id)
}

// SweepPendingConnectors implements provider.Store. The result is ordered by id.
func (s *Store) SweepPendingConnectors(ctx context.Context, createdBefore time.Time) ([]provider.Connector, error) {
	var out []provider.Connector
	err := s.write(ctx, func() error {
		for _, r := range s.connectors {
			if r.Status == string(provider.StatusPending) && r.CreateTime.Before(createdBefore) {
				out = append(out, r.domain())
			}
		}
		slices.SortFunc(out, func(a, b provider.Connector) int { return strings.Compare(a.ID, b.ID) })
		for _, c := range out {
			s.deleteConnector(c.ID)
			s.deletedConnector(c.ID)
		}
		return nil
	})
	slices.SortFunc(out, func(a, b provider.Connector) int { return strings.Compare(a.ID, b.ID) })
	return out, err
}

// DropGrants implements provider.Store. The ids are ordered byte-wise.
func (s *Store) DropGrants(ctx context.Context, f provider.ConnectorFilter, now time.Time) ([]string, error) {
	if f.Name == "" {
		return nil, apierror.Invalid("oauthProvider", "is required")
	}
	var ids []string
	err := s.write(ctx, func() error {
		for id, r := range s.connectors {
			if r.match(f) && (r.SealedGrant != nil || r.Status == string(provider.StatusActive)) {
				ids = append(ids, id)
			}
		}
		if len(ids) > 0 {
			if err := checkTime("updateTime", now.UTC()); err != nil {
				ids = nil
				return err
			}
		}
		slices.Sort(ids)
		for _, id := range ids {
			// Replace the record instead of changing it: a copy handed out earlier shares nothing with
			// it anyway, and records stay immutable once stored.
			nr := *s.connectors[id]
			nr.SealedGrant, nr.Status, nr.UpdateTime = nil, string(provider.StatusRevoked), now.UTC()
			s.connectors[id] = &nr
			s.changedConnector(&nr)
		}
		return nil
	})
	slices.Sort(ids)
	return ids, err
}

// TakeAuthState implements provider.Store.
func (s *Store) TakeAuthState(ctx context.Context, hash []byte) (provider.AuthState, error) {
	var out provider.AuthState
	err := s.write(ctx, func() error {
		sr, ok := s.states[string(hash)]
		if !ok {
			return apierror.NotFound("authorization state")
		}
		delete(s.states, sr.hash)
		s.unindexState(sr)
		out = provider.AuthState{Hash: bytes.Clone(hash), ConnectorID: sr.connectorID,
			SealedVerifier: bytes.Clone(sr.sealedVerifier), Expiry: sr.expiry}
		return nil
	})
	return out, err
}

// SweepAuthStates implements provider.Store.
func (s *Store) SweepAuthStates(ctx context.Context, now time.Time) (int, error) {
	n := 0
	err := s.write(ctx, func() error {
		for h, sr := range s.states {
			if sr.expiry.Before(now) {
				delete(s.states, h)
				s.unindexState(sr)
				n++
			}
		}
		return nil
	})
	return n, err
}

// ClaimRefresh implements provider.Store.
func (s *Store) ClaimRefresh(ctx context.Context, id, holder string, now, until time.Time) (bool, provider.Connector, error) {
	if err := provider.CheckLease(holder, now, until); err != nil {
		return false, provider.Connector{}, err
	}
	var claimed bool
	var out provider.Connector
	err := s.write(ctx, func() error {
		r, ok := s.connectors[id]
		if !ok {
			return apierror.NotFound("connector %s", id)
		}
		if claimed = !r.domain().RefreshHeld(holder, now); !claimed {
			out = r.domain()
			return nil
		}
		if err := checkTime("until", until.UTC()); err != nil {
			return err
		}
		nr := *r
		nr.RefreshHolder, nr.RefreshUntil = holder, until.UTC()
		s.connectors[id] = &nr
		s.changedConnector(&nr)
		out = nr.domain()
		return nil
	})
	if err != nil {
		return false, provider.Connector{}, err
	}
	return claimed, out, nil
}

// ReleaseRefresh implements provider.Store.
func (s *Store) ReleaseRefresh(ctx context.Context, id, holder string) error {
	return s.write(ctx, func() error {
		r, ok := s.connectors[id]
		if !ok {
			return apierror.NotFound("connector %s", id)
		}
		if holder == "" || r.RefreshHolder != holder {
			return nil
		}
		nr := *r
		nr.RefreshHolder, nr.RefreshUntil = "", time.Time{}
		s.connectors[id] = &nr
		s.changedConnector(&nr)
		return nil
	})
}
