// Package memstore is an in-memory implementation of registry.Store, for tests and development. It keeps
// nothing on disk: the registry is gone when the process ends. It answers exactly as the bbolt store does —
// the same uniqueness rules, apierror sentinels, key order and paging, all-or-nothing writes — and passes
// storetest.Run, and a differential fuzz test holds it to the bbolt store's answers operation by operation.
// One difference is left on purpose: it stores identifiers the bbolt store's keys cannot hold (an empty ID, a
// NUL byte inside one); the validators refuse those before any store sees them.
//
// Concurrency: every method is safe for concurrent use. One sync.RWMutex guards the whole registry: reads
// hold it shared, writes hold it exclusively from their first check to their last change, so every method is
// atomic and linearizable (a read sees all of a write or none of it) and writes are serialised. Update
// callbacks run while the lock is held; they must not call back into the store.
//
// Revisions count commits from 0 (a new store); Watch replays the last HistorySize commits from memory.
package memstore

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/authsuite/authsuite/internal/access"
	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/internal/changelog"
	"github.com/authsuite/authsuite/services/registry"
)

// ErrClosed is returned by every method called after Close.
var ErrClosed = errors.New("registry memstore: store is closed")

// Store is an in-memory registry.Store. The zero value is not usable; call New.
type Store struct {
	mu     sync.RWMutex
	st     *state // nil after Close
	closed bool
	log    *changelog.Log[registry.Change]
	done   chan struct{} // closed by Close, ending every Watch
}

// HistorySize is how many of the latest commits Watch can replay; older ones answer changelog.ErrCompacted.
const HistorySize = 1024

var _ registry.Store = (*Store)(nil)

// state is the whole registry. Records are never shared with callers (see records.go). Indexes are keyed by
// tenant first, as the bbolt store's composite keys are, so a tenant's entries go with it.
type state struct {
	tenants       map[string]*tenantRec              // tenant ID → tenant
	codes         map[string]string                  // tenant code → tenant ID
	clients       map[string]*clientRec              // client ID → client (IDs unique across tenants)
	tenantClients map[string]map[string]struct{}     // tenant ID → its client IDs
	users         map[string]map[string]*userRec     // tenant ID → user ID → user
	logins        map[string]map[string]string       // tenant ID → lower(login name) → user ID
	emails        map[string]map[string]string       // tenant ID → lower(email) → user ID
	mobiles       map[string]map[string]string       // tenant ID → mobile → user ID
	federated     map[string]map[string]string       // tenant ID → provider ID NUL subject → user ID
	resources     map[string]map[string]*resourceRec // tenant ID → resource ID → API resource
}

func newState() *state {
	return &state{
		tenants:       map[string]*tenantRec{},
		codes:         map[string]string{},
		clients:       map[string]*clientRec{},
		tenantClients: map[string]map[string]struct{}{},
		users:         map[string]map[string]*userRec{},
		logins:        map[string]map[string]string{},
		emails:        map[string]map[string]string{},
		mobiles:       map[string]map[string]string{},
		federated:     map[string]map[string]string{},
		resources:     map[string]map[string]*resourceRec{},
	}
}

// New returns an empty store.
func New() *Store {
	return &Store{st: newState(), log: changelog.New[registry.Change](0, HistorySize), done: make(chan struct{})}
}

// Close drops the registry. Later calls of any method (Close included) return ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.st, s.closed = nil, true
	close(s.done)
	return nil
}

// Revision implements registry.Store: the revision of the last commit.
func (s *Store) Revision() int64 { return s.log.Revision() }

// Watch implements registry.Store. It ends with ErrClosed when the store is closed.
func (s *Store) Watch(ctx context.Context, from int64, fn func(changelog.Batch[registry.Change]) error) error {
	return watch(ctx, s.log, s.done, ErrClosed, from, fn)
}

// watch runs log.Watch until ctx ends or done is closed (then closedErr), handing fn copies of the changes.
func watch(ctx context.Context, log *changelog.Log[registry.Change], done <-chan struct{}, closedErr error, from int64, fn func(changelog.Batch[registry.Change]) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		select {
		case <-done:
			cancel(closedErr)
		case <-ctx.Done():
		}
	}()
	err := log.Watch(ctx, from, func(b changelog.Batch[registry.Change]) error {
		out := changelog.Batch[registry.Change]{Revision: b.Revision, Changes: make([]registry.Change, len(b.Changes))}
		for i, ch := range b.Changes {
			out.Changes[i] = ch.Clone()
		}
		return fn(out)
	})
	if errors.Is(context.Cause(ctx), closedErr) {
		return closedErr
	}
	return err
}

// view runs fn with the registry locked for reading, unless ctx has ended or the store is closed.
func (s *Store) view(ctx context.Context, fn func(*state) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return ErrClosed
	}
	return fn(s.st)
}

// update runs fn with the registry locked for writing, unless ctx has ended or the store is closed. fn must
// check everything before its first change: an error after a change would leave the change in place. The
// changes fn reports (none: nothing changed) are committed as the next revision, still under the lock, so
// revisions follow commit order; the log keeps them, so fn must hand over values nothing else holds.
func (s *Store) update(ctx context.Context, fn func(*state) ([]registry.Change, error)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	changes, err := fn(s.st)
	if err == nil && len(changes) > 0 {
		s.log.Append(changes...)
	}
	return err
}

// page returns the keys of m greater than after, in order, at most limit of them, and the last one returned
// when more follow ("" otherwise) — the bbolt store's cursor walk over a sorted key space.
func page[V any](m map[string]V, after string, limit int) (keys []string, next string) {
	for k := range m {
		if after == "" || k > after {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	if len(keys) > limit {
		keys = keys[:limit]
		next = keys[limit-1]
	}
	return keys, next
}

// --- tenants ---

// CreateTenant implements registry.Store.
func (s *Store) CreateTenant(ctx context.Context, t registry.Tenant) (out registry.Tenant, err error) {
	err = s.update(ctx, func(st *state) ([]registry.Change, error) {
		r, err := st.createTenant(t)
		if err != nil {
			return nil, err
		}
		out = r.domain()
		return []registry.Change{{Tenant: new(r.domain())}}, nil
	})
	return out, err
}

func (st *state) createTenant(t registry.Tenant) (*tenantRec, error) {
	if st.tenants[t.ID] != nil {
		return nil, apierror.AlreadyExists("tenant %q", t.ID)
	}
	if _, ok := st.codes[t.Code]; ok {
		return nil, apierror.AlreadyExists("tenant code %q", t.Code)
	}
	r := tenantToRec(t)
	st.tenants[r.id] = r
	st.codes[r.code] = r.id
	return r, nil
}

func (st *state) tenant(id string) (*tenantRec, error) {
	r := st.tenants[id]
	if r == nil {
		return nil, apierror.NotFound("tenant %q", id)
	}
	return r, nil
}

// GetTenant implements registry.Store.
func (s *Store) GetTenant(ctx context.Context, id string) (t registry.Tenant, err error) {
	err = s.view(ctx, func(st *state) error {
		r, err := st.tenant(id)
		if err == nil {
			t = r.domain()
		}
		return err
	})
	return t, err
}

// GetTenantByCode implements registry.Store.
func (s *Store) GetTenantByCode(ctx context.Context, code string) (t registry.Tenant, err error) {
	err = s.view(ctx, func(st *state) error {
		id, ok := st.codes[code]
		if !ok {
			return apierror.NotFound("tenant with code %q", code)
		}
		r, err := st.tenant(id)
		if err == nil {
			t = r.domain()
		}
		return err
	})
	return t, err
}

// ListTenants implements registry.Store.
func (s *Store) ListTenants(ctx context.Context, opts registry.ListOptions) (items []registry.Tenant, next string, err error) {
	err = s.view(ctx, func(st *state) error {
		var keys []string
		keys, next = page(st.tenants, opts.After, opts.EffectiveLimit())
		for _, k := range keys {
			items = append(items, st.tenants[k].domain())
		}
		return nil
	})
	return items, next, err
}

// UpdateTenant implements registry.Store. Here update runs exactly once, with the registry locked; callers
// must nevertheless allow it to run several times (a compare-and-swap backend retries it on a conflict), so
// it should only compute its result from the tenant it is given.
func (s *Store) UpdateTenant(ctx context.Context, id string, update func(registry.Tenant) (registry.Tenant, error)) (t registry.Tenant, err error) {
	err = s.update(ctx, func(st *state) ([]registry.Change, error) {
		old, err := st.tenant(id)
		if err != nil {
			return nil, err
		}
		t, err = update(old.domain())
		if err != nil {
			return nil, err
		}
		t.ID = old.id
		if t.Code != old.code {
			if _, taken := st.codes[t.Code]; taken {
				return nil, apierror.AlreadyExists("tenant code %q", t.Code)
			}
			delete(st.codes, old.code)
			st.codes[t.Code] = t.ID
		}
		r := tenantToRec(t)
		st.tenants[id] = r
		t = r.domain()
		return []registry.Change{{Tenant: new(r.domain())}}, nil
	})
	if err != nil {
		return registry.Tenant{}, err
	}
	return t, nil
}

// DeleteTenant implements registry.Store. The tenant, its clients (secrets included), its users, its API
// resources and every
// index entry of theirs go in one step; the deleted client IDs come back sorted.
func (s *Store) DeleteTenant(ctx context.Context, id string) (deleted []string, err error) {
	err = s.update(ctx, func(st *state) ([]registry.Change, error) {
		t, err := st.tenant(id)
		if err != nil {
			return nil, err
		}
		deleted = slices.Sorted(maps.Keys(st.tenantClients[id]))
		changes := make([]registry.Change, 0, len(deleted)+1)
		for _, cid := range deleted {
			delete(st.clients, cid)
			changes = append(changes, registry.Change{DeletedClient: cid})
		}
		delete(st.tenantClients, id)
		delete(st.users, id)
		delete(st.logins, id)
		delete(st.emails, id)
		delete(st.mobiles, id)
		delete(st.federated, id)
		delete(st.resources, id)
		delete(st.codes, t.code)
		delete(st.tenants, id)
		return append(changes, registry.Change{DeletedTenant: id}), nil
	})
	if err != nil {
		return nil, err
	}
	if len(deleted) == 0 {
		deleted = nil
	}
	return deleted, nil
}

// --- clients ---

// CreateClient implements registry.Store.
func (s *Store) CreateClient(ctx context.Context, c registry.Client) (out registry.Client, err error) {
	err = s.update(ctx, func(st *state) ([]registry.Change, error) {
		r, err := st.createClient(c)
		if err != nil {
			return nil, err
		}
		out = r.domain()
		return []registry.Change{{Client: new(r.domain())}}, nil
	})
	return out, err
}

func (st *state) createClient(c registry.Client) (*clientRec, error) {
	if st.tenants[c.TenantID] == nil {
		return nil, apierror.NotFound("tenant %q", c.TenantID)
	}
	if st.clients[c.ID] != nil {
		return nil, apierror.AlreadyExists("client %q", c.ID)
	}
	r := clientToRec(c)
	st.clients[r.id] = r
	set := st.tenantClients[r.tenantID]
	if set == nil {
		set = map[string]struct{}{}
		st.tenantClients[r.tenantID] = set
	}
	set[r.id] = struct{}{}
	return r, nil
}

func (st *state) client(id string) (*clientRec, error) {
	r := st.clients[id]
	if r == nil {
		return nil, apierror.NotFound("client %q", id)
	}
	return r, nil
}

// GetClient implements registry.Store.
func (s *Store) GetClient(ctx context.Context, id string) (c registry.Client, err error) {
	err = s.view(ctx, func(st *state) error {
		r, err := st.client(id)
		if err == nil {
			c = r.domain()
		}
		return err
	})
	return c, err
}

// ListClients implements registry.Store.
func (s *Store) ListClients(ctx context.Context, tenantID string, opts registry.ListOptions) (items []registry.Client, next string, err error) {
	err = s.view(ctx, func(st *state) error {
		var keys []string
		if opts.Filter != "" {
			items, next = listClientsFiltered(st, tenantID, opts)
			return nil
		}
		if tenantID == "" {
			keys, next = page(st.clients, opts.After, opts.EffectiveLimit())
		} else {
			keys, next = page(st.tenantClients[tenantID], opts.After, opts.EffectiveLimit())
		}
		for _, k := range keys {
			items = append(items, st.clients[k].domain())
		}
		return nil
	})
	return items, next, err
}

// UpdateClient implements registry.Store. Here update runs exactly once, with the registry locked; callers
// must nevertheless allow it to run several times (a compare-and-swap backend retries it on a conflict), so
// it should only compute its result from the client it is given. The result is the client as stored.
func (s *Store) UpdateClient(ctx context.Context, id string, update func(registry.Client) (registry.Client, error)) (c registry.Client, err error) {
	err = s.update(ctx, func(st *state) ([]registry.Change, error) {
		old, err := st.client(id)
		if err != nil {
			return nil, err
		}
		c, err = update(old.domain())
		if err != nil {
			return nil, err
		}
		c.ID, c.TenantID = old.id, old.tenantID
		r := clientToRec(c)
		st.clients[id] = r
		c = r.domain()
		return []registry.Change{{Client: new(r.domain())}}, nil
	})
	if err != nil {
		return registry.Client{}, err
	}
	return c, nil
}

// DeleteClient implements registry.Store.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	return s.update(ctx, func(st *state) ([]registry.Change, error) {
		r, err := st.client(id)
		if err != nil {
			return nil, err
		}
		delete(st.tenantClients[r.tenantID], id)
		if len(st.tenantClients[r.tenantID]) == 0 {
			delete(st.tenantClients, r.tenantID)
		}
		delete(st.clients, id)
		return []registry.Change{{DeletedClient: id}}, nil
	})
}

// RecordSecretUse implements registry.Store: the whole batch is applied under one lock, so readers see all
// of it or none of it. Times are stored in UTC.
func (s *Store) RecordSecretUse(ctx context.Context, uses []registry.SecretUse) error {
	if len(uses) == 0 {
		return nil
	}
	return s.update(ctx, func(st *state) ([]registry.Change, error) {
		var changed []string
		for _, u := range uses {
			r := st.clients[u.ClientID]
			if r == nil {
				continue
			}
			for i := range r.secrets {
				if sec := &r.secrets[i]; sec.id == u.SecretID && u.Time.After(sec.lastUsed) {
					sec.lastUsed = wall(u.Time.UTC())
					changed = append(changed, r.id)
				}
			}
		}
		slices.Sort(changed)
		var changes []registry.Change
		for _, id := range slices.Compact(changed) {
			changes = append(changes, registry.Change{Client: new(st.clients[id].domain())})
		}
		return changes, nil
	})
}

// --- users ---

// userIndex is one unique index of users within a tenant.
type userIndex struct {
	m    map[string]map[string]string // tenant ID → key → user ID
	key  string
	what string
}

// indexes lists the unique-index entries of u: its login name always, its email and mobile when set. Login
// names and emails compare case-insensitively.
func (st *state) indexes(u *userRec) []userIndex {
	list := []userIndex{{st.logins, strings.ToLower(u.loginName), "login name"}}
	if u.email != "" {
		list = append(list, userIndex{st.emails, strings.ToLower(u.email), "email"})
	}
	if u.mobile != "" {
		list = append(list, userIndex{st.mobiles, u.mobile, "mobile"})
	}
	for _, fi := range u.factors.FederatedIdentities {
		list = append(list, userIndex{st.federated, federatedKey(fi.ProviderID, fi.Subject), "federated identity"})
	}
	return list
}

// checkIndexes fails with ErrAlreadyExists when one of u's index entries names another user.
func (st *state) checkIndexes(u *userRec) error {
	for _, ix := range st.indexes(u) {
		if owner, ok := ix.m[u.tenantID][ix.key]; ok && owner != u.id {
			return apierror.AlreadyExists("a user with this %s in tenant %q", ix.what, u.tenantID)
		}
	}
	return nil
}

func (st *state) putIndexes(u *userRec) {
	for _, ix := range st.indexes(u) {
		m := ix.m[u.tenantID]
		if m == nil {
			m = map[string]string{}
			ix.m[u.tenantID] = m
		}
		m[ix.key] = u.id
	}
}

func (st *state) deleteIndexes(u *userRec) {
	for _, ix := range st.indexes(u) {
		if ix.m[u.tenantID][ix.key] == u.id {
			delete(ix.m[u.tenantID], ix.key)
		}
	}
}

// CreateUser implements registry.Store.
func (s *Store) CreateUser(ctx context.Context, u registry.User) (out registry.User, err error) {
	u.Incarnation = registry.NewIncarnation()
	err = s.update(ctx, func(st *state) ([]registry.Change, error) {
		r, err := st.createUser(u)
		if err != nil {
			return nil, err
		}
		out = r.domain()
		return []registry.Change{{User: new(r.domain())}}, nil
	})
	return out, err
}

// createUser stores u as given; callers set a new incarnation first.
func (st *state) createUser(u registry.User) (*userRec, error) {
	if st.tenants[u.TenantID] == nil {
		return nil, apierror.NotFound("tenant %q", u.TenantID)
	}
	if st.users[u.TenantID][u.ID] != nil {
		return nil, apierror.AlreadyExists("user %q in tenant %q", u.ID, u.TenantID)
	}
	r := userToRec(u)
	if err := st.checkIndexes(r); err != nil {
		return nil, err
	}
	st.putIndexes(r)
	users := st.users[r.tenantID]
	if users == nil {
		users = map[string]*userRec{}
		st.users[r.tenantID] = users
	}
	users[r.id] = r
	return r, nil
}

func (st *state) user(tenantID, id string) (*userRec, error) {
	r := st.users[tenantID][id]
	if r == nil {
		return nil, apierror.NotFound("user %q in tenant %q", id, tenantID)
	}
	return r, nil
}

// GetUser implements registry.Store.
func (s *Store) GetUser(ctx context.Context, tenantID, id string) (u registry.User, err error) {
	err = s.view(ctx, func(st *state) error {
		r, err := st.user(tenantID, id)
		if err == nil {
			u = r.domain()
		}
		return err
	})
	return u, err
}

// FindUser implements registry.Store.
func (s *Store) FindUser(ctx context.Context, tenantID string, sel access.Selector) (u registry.User, err error) {
	err = s.view(ctx, func(st *state) error {
		var (
			id string
			ok bool
		)
		switch sel.Kind {
		case access.ByUID:
			id, ok = sel.Value, true
		case access.ByLoginName:
			id, ok = st.logins[tenantID][strings.ToLower(sel.Value)]
		case access.ByEmail:
			id, ok = st.emails[tenantID][strings.ToLower(sel.Value)]
		case access.ByMobile:
			id, ok = st.mobiles[tenantID][sel.Value]
		}
		r := st.users[tenantID][id]
		if !ok || r == nil {
			return apierror.NotFound("user %s in tenant %q", sel, tenantID)
		}
		u = r.domain()
		return nil
	})
	return u, err
}

func federatedKey(provider, subject string) string { return provider + "\x00" + subject }

// FindUserByFederatedIdentity implements registry.Store.
func (s *Store) FindUserByFederatedIdentity(ctx context.Context, tenantID, providerID, subject string) (u registry.User, err error) {
	err = s.view(ctx, func(st *state) error {
		r := st.users[tenantID][st.federated[tenantID][federatedKey(providerID, subject)]]
		if r == nil || strings.Contains(providerID, "\x00") {
			return apierror.NotFound("user linked to %q at provider %q in tenant %q", subject, providerID, tenantID)
		}
		u = r.domain()
		return nil
	})
	return u, err
}

// ListUsers implements registry.Store.
func (s *Store) ListUsers(ctx context.Context, tenantID string, opts registry.ListOptions) (items []registry.User, next string, err error) {
	err = s.view(ctx, func(st *state) error {
		var keys []string
		users := st.users[tenantID]
		if opts.Filter != "" {
			items, next = pageMatching(users, opts.After, opts.EffectiveLimit(), func(_ string, u *userRec) (registry.User, bool) {
				d := u.domain()
				return d, registry.UserMatches(d, opts.Filter)
			})
			return nil
		}
		keys, next = page(users, opts.After, opts.EffectiveLimit())
		for _, k := range keys {
			items = append(items, users[k].domain())
		}
		return nil
	})
	return items, next, err
}

// UpdateUser implements registry.Store. Here update runs exactly once, with the registry locked; callers
// must nevertheless allow it to run several times (a compare-and-swap backend retries it on a conflict), so
// it should only compute its result from the user it is given.
func (s *Store) UpdateUser(ctx context.Context, tenantID, id string, update func(registry.User) (registry.User, error)) (u registry.User, err error) {
	err = s.update(ctx, func(st *state) ([]registry.Change, error) {
		old, err := st.user(tenantID, id)
		if err != nil {
			return nil, err
		}
		u, err = update(old.domain())
		if err != nil {
			return nil, err
		}
		u.ID, u.TenantID, u.Incarnation = old.id, old.tenantID, old.incarnation
		r := userToRec(u)
		if err := st.checkIndexes(r); err != nil {
			return nil, err
		}
		st.deleteIndexes(old)
		st.putIndexes(r)
		st.users[tenantID][id] = r
		u = r.domain()
		return []registry.Change{{User: new(r.domain())}}, nil
	})
	if err != nil {
		return registry.User{}, err
	}
	return u, nil
}

// DeleteUser implements registry.Store.
func (s *Store) DeleteUser(ctx context.Context, tenantID, id string) error {
	return s.update(ctx, func(st *state) ([]registry.Change, error) {
		r, err := st.user(tenantID, id)
		if err != nil {
			return nil, err
		}
		st.deleteIndexes(r)
		delete(st.users[tenantID], id)
		return []registry.Change{{DeletedUser: new(r.domain())}}, nil
	})
}

// Seed implements registry.Store. It builds the seeded registry apart and installs it only when every record
// went in, so a failure (a duplicate, a client of an unknown tenant) leaves the store empty as it was.
func (s *Store) Seed(ctx context.Context, tenants []registry.Tenant, clients []registry.Client, users []registry.User) (done bool, err error) {
	err = s.update(ctx, func(st *state) ([]registry.Change, error) {
		if len(st.tenants) > 0 {
			return nil, nil
		}
		fresh := newState()
		changes := make([]registry.Change, 0, len(tenants)+len(clients)+len(users))
		for _, t := range tenants {
			r, err := fresh.createTenant(t)
			if err != nil {
				return nil, err
			}
			changes = append(changes, registry.Change{Tenant: new(r.domain())})
		}
		for _, c := range clients {
			r, err := fresh.createClient(c)
			if err != nil {
				return nil, err
			}
			changes = append(changes, registry.Change{Client: new(r.domain())})
		}
		for _, u := range users {
			u.Incarnation = registry.NewIncarnation()
			r, err := fresh.createUser(u)
			if err != nil {
				return nil, err
			}
			changes = append(changes, registry.Change{User: new(r.domain())})
		}
		*st = *fresh
		done = true
		return changes, nil
	})
	return done && err == nil, err
}
