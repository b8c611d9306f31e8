package clients

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	"github.com/authsuite/authsuite/internal/changelog"
	"github.com/authsuite/authsuite/internal/suitekey"
	"github.com/authsuite/authsuite/services/token"
)

// snapshotAD binds the sealed snapshot to its purpose.
var snapshotAD = []byte("authsuite token client-snapshot v1")

// Config configures a Cache. Registry, Store and Keyring are required.
type Config struct {
	Registry registryv1.RegistryInternalServiceClient
	Store    token.Store
	Keyring  *suitekey.Keyring
	Log      *slog.Logger
	// ReconnectMin and ReconnectMax bound the exponential backoff between watch attempts (defaults 100 ms
	// and 5 s); the backoff resets after a stream reached its synced marker.
	ReconnectMin, ReconnectMax time.Duration
	// PersistDelay coalesces snapshot writes: a change is written at most this long after it arrived
	// (default 250 ms).
	PersistDelay time.Duration
	// AccountPersistDelay coalesces the snapshot writes of user account changes (default 5 s). A snapshot
	// write costs O(clients + accounts), and accounts change in bulk (imports, tenant clean-ups); the
	// persisted accounts only matter to a restart while the registry is unreachable.
	AccountPersistDelay time.Duration
	// AccountsEnded, when set, is called with the user accounts whose sessions and refresh tokens must end
	// (deleted, re-created with another incarnation, or disabled), after the cache already refuses them
	// (CheckAccount). It runs in the watch goroutine, in feed order, and should not block long.
	AccountsEnded func(ctx context.Context, ended []token.Account)
	// ClientsDeleted, when set, is called with the clients the registry's feed deleted (one by one, with
	// their tenant, or missing from a new snapshot), after Get stopped returning them. It runs in the watch
	// goroutine, in feed order, and should not block long.
	ClientsDeleted func(deleted []*Client)
}

// Cache is the local copy of the registry's clients and of the status of its user accounts. Get and
// CheckAccount are map lookups under a read lock.
type Cache struct {
	cfg Config
	log *slog.Logger

	mu      sync.RWMutex
	byID    map[string]*Client
	origins map[string]int // CORS origin → how many clients of byID list it; kept with byID under mu
	ready   bool
	readyCh chan struct{}
	// accounts is every user account (kept with byID under mu); accountsReady says the list is complete.
	accounts      map[accountKey]*Account
	accountsReady bool
	// accountsChanged is closed (and replaced) at every change of accounts, for AwaitAccount.
	accountsChanged chan struct{}
	lastHash        [32]byte // of the last snapshot written or loaded
	// resources are the API resources of every tenant, byScope indexes them by (tenant, scope); both kept
	// under mu (resources.go).
	resources map[resourceKey]*Resource
	byScope   map[resourceKey][]*Resource

	// applied is the registry revision the view has applied in full (0 before the first snapshot from the
	// registry).
	applied *changelog.Applied

	syncs   atomic.Uint64 // completed (re)syncs, for tests and metrics
	changes atomic.Uint64
	writes  atomic.Uint64 // snapshot writes
	// accountChanges counts applied user events and resyncs.
	accountChanges atomic.Uint64
	// accountsPending is set while an account change waits for its AccountPersistDelay.
	accountsPending atomic.Bool
	dirty           chan struct{}
}

// NewCache returns an empty cache; call Load, then Run.
func NewCache(cfg Config) *Cache {
	if cfg.ReconnectMin <= 0 {
		cfg.ReconnectMin = 100 * time.Millisecond
	}
	if cfg.ReconnectMax < cfg.ReconnectMin {
		cfg.ReconnectMax = max(5*time.Second, cfg.ReconnectMin)
	}
	if cfg.AccountPersistDelay <= 0 {
		cfg.AccountPersistDelay = 5 * time.Second
	}
	if cfg.PersistDelay <= 0 {
		cfg.PersistDelay = 250 * time.Millisecond
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Cache{cfg: cfg, log: log, byID: map[string]*Client{}, origins: map[string]int{}, accounts: map[accountKey]*Account{}, resources: map[resourceKey]*Resource{}, byScope: map[resourceKey][]*Resource{}, readyCh: make(chan struct{}), dirty: make(chan struct{}, 1), applied: changelog.NewApplied(0)}
}

// Get returns the client with id, which the caller must not modify.
func (c *Cache) Get(id string) (*Client, bool) {
	c.mu.RLock()
	cl, ok := c.byID[id]
	c.mu.RUnlock()
	return cl, ok
}

// Ready reports whether the cache holds a complete snapshot: loaded from token.db or received from the
// registry.
func (c *Cache) Ready() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.ready
}

// ReadyC is closed once the cache becomes ready.
func (c *Cache) ReadyC() <-chan struct{} { return c.readyCh }

// Revision returns the registry revision the cache has applied in full: every commit of the registry up to it
// is reflected in Get, CheckAccount and the other views. It is 0 until the first snapshot from the registry
// (a snapshot loaded from the token store has no revision), and after a resync it is the new snapshot's,
// which may be lower than before when the registry's history restarted.
func (c *Cache) Revision() int64 { return c.applied.Get() }

// WaitRevision returns nil once the cache has applied registry revision n (Revision() >= n): at once when it
// already has, else as soon as the watch applies the event or snapshot that reaches it (the apply loop wakes
// waiters; there is no polling). It returns ctx.Err() when ctx ends first. Registry writes answer the
// revision they produced, so a caller that holds one can wait for its effect here.
func (c *Cache) WaitRevision(ctx context.Context, n int64) error { return c.applied.Wait(ctx, n) }

// setApplied records that every registry commit up to rev is applied and wakes WaitRevision callers. Within
// one stream revisions only grow; a resync (resync true) sets the snapshot's revision whatever it is.
func (c *Cache) setApplied(rev int64, resync bool) {
	if resync {
		c.applied.Reset(rev)
	} else {
		c.applied.Raise(rev)
	}
}

// Syncs counts the registry snapshots applied so far (one per successful (re)connect).
func (c *Cache) Syncs() uint64 { return c.syncs.Load() }

// Writes counts the snapshot writes to the store so far.
func (c *Cache) Writes() uint64 { return c.writes.Load() }

func (c *Cache) markReadyLocked() {
	if !c.ready {
		c.ready = true
		close(c.readyCh)
	}
}

type snapshot struct {
	Clients []*Client `json:"clients"`
	// Accounts are every user account when AccountsKnown (snapshots written before user events have
	// neither).
	Accounts      []*Account `json:"accounts,omitempty"`
	AccountsKnown bool       `json:"accounts_known,omitempty"`
	// Resources are every API resource (snapshots written before resources existed have none).
	Resources []*Resource `json:"resources,omitempty"`
}

// Load reads the snapshot persisted by an earlier run, if any, so known clients work before the registry
// answers. A snapshot that cannot be opened (another master key, corruption) is logged and ignored.
func (c *Cache) Load(ctx context.Context) error {
	sealed, err := c.cfg.Store.ClientSnapshot(ctx)
	if err != nil {
		return fmt.Errorf("load client snapshot: %w", err)
	}
	if sealed == nil {
		return nil
	}
	plain, err := c.cfg.Keyring.Open(sealed, snapshotAD)
	if err != nil {
		c.log.Warn("ignoring persisted client snapshot", "err", err)
		return nil
	}
	var s snapshot
	if err := json.Unmarshal(plain, &s); err != nil {
		c.log.Warn("ignoring persisted client snapshot", "err", err)
		return nil
	}
	m := make(map[string]*Client, len(s.Clients))
	for _, cl := range s.Clients {
		if cl != nil && cl.ID != "" {
			m[cl.ID] = cl
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ready { // the registry was faster
		return nil
	}
	c.setAllLocked(m)
	res := make(map[resourceKey]*Resource, len(s.Resources))
	for _, r := range s.Resources {
		if r != nil && r.ID != "" && r.TenantID != "" {
			res[r.key()] = r
		}
	}
	c.setResourcesLocked(res)
	if s.AccountsKnown {
		accounts := make(map[accountKey]*Account, len(s.Accounts))
		for _, a := range s.Accounts {
			if a != nil && a.TenantID != "" && a.UserID != "" {
				accounts[a.key()] = a
			}
		}
		c.replaceAccountsLocked(accounts)
	}
	c.lastHash = sha256.Sum256(plain)
	c.markReadyLocked()
	c.log.Info("loaded persisted client snapshot", "clients", len(m), "accounts", len(s.Accounts))
	return nil
}

// Run keeps the cache fed until ctx ends: it watches the registry, reconnecting with jittered exponential
// backoff, and persists the snapshot after changes. Before returning it writes a pending change.
func (c *Cache) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { c.watchLoop(ctx) })
	wg.Go(func() { c.persistLoop(ctx) })
	wg.Wait()
}

func (c *Cache) watchLoop(ctx context.Context) {
	backoff := c.cfg.ReconnectMin
	for {
		synced, err := c.watchOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		if synced {
			backoff = c.cfg.ReconnectMin
		}
		wait := backoff/2 + rand.N(backoff/2+1)
		c.log.Warn("registry client watch broken; serving cached clients", "err", err, "retry_in", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(backoff*2, c.cfg.ReconnectMax)
	}
}

// watchOnce runs one WatchClients stream. Until the synced marker, events build a fresh snapshot that then
// replaces the cache wholesale (so clients deleted while disconnected disappear); afterwards each event is
// applied as it comes. The applied revision (Revision) becomes the snapshot's at the synced marker, then
// follows every response that completes a commit (revision_complete), after that response is applied.
func (c *Cache) watchOnce(ctx context.Context) (synced bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.cfg.Registry.WatchClients(ctx, &registryv1.WatchClientsRequest{})
	if err != nil {
		return false, err
	}
	pending := map[string]*Client{}
	pendingAccounts := map[accountKey]*Account{}
	pendingResources := map[resourceKey]*Resource{}
	for {
		ev, err := stream.Recv()
		if err != nil {
			return synced, err
		}
		switch e := ev.GetEvent().(type) {
		case *registryv1.WatchClientsResponse_Upsert:
			cl, err := fromRecord(e.Upsert)
			if err != nil {
				c.log.Warn("skipping client record", "err", err)
				continue
			}
			if synced {
				c.apply(cl.ID, cl)
			} else {
				pending[cl.ID] = cl
			}
		case *registryv1.WatchClientsResponse_DeletedClientId:
			if synced {
				c.apply(e.DeletedClientId, nil)
			} else {
				delete(pending, e.DeletedClientId)
			}
		case *registryv1.WatchClientsResponse_UserUpsert:
			a, err := accountFromRecord(e.UserUpsert)
			if err != nil {
				c.log.Warn("skipping user record", "err", err)
				continue
			}
			if synced {
				c.endAccounts(ctx, c.applyAccount(a.key(), a))
			} else {
				pendingAccounts[a.key()] = a
			}
		case *registryv1.WatchClientsResponse_DeletedUser:
			k := accountKey{e.DeletedUser.GetTenantId(), e.DeletedUser.GetUserId()}
			if synced {
				c.endAccounts(ctx, c.applyAccount(k, nil))
			} else {
				delete(pendingAccounts, k)
			}
		case *registryv1.WatchClientsResponse_ResourceUpsert:
			r, err := resourceFromRecord(e.ResourceUpsert)
			if err != nil {
				c.log.Warn("skipping resource record", "err", err)
				continue
			}
			if synced {
				c.applyResource(r.key(), r)
			} else {
				pendingResources[r.key()] = r
			}
		case *registryv1.WatchClientsResponse_DeletedResource:
			k := resourceKey{e.DeletedResource.GetTenantId(), e.DeletedResource.GetResourceId()}
			if synced {
				c.applyResource(k, nil)
			} else {
				delete(pendingResources, k)
			}
		case *registryv1.WatchClientsResponse_DeletedTenantId:
			// The tenant's clients and resources are gone with it, whether or not deletion events said so.
			if synced {
				c.deleteTenantClients(e.DeletedTenantId)
				c.deleteTenantResources(e.DeletedTenantId)
				c.endAccounts(ctx, c.deleteTenantAccounts(e.DeletedTenantId))
			} else {
				maps.DeleteFunc(pending, func(_ string, cl *Client) bool { return cl.TenantID == e.DeletedTenantId })
				maps.DeleteFunc(pendingAccounts, func(k accountKey, _ *Account) bool { return k.tenantID == e.DeletedTenantId })
				maps.DeleteFunc(pendingResources, func(k resourceKey, _ *Resource) bool { return k.tenantID == e.DeletedTenantId })
			}
		case *registryv1.WatchClientsResponse_Synced:
			if !synced {
				if !ev.GetUsersSynced() {
					pendingAccounts = nil // a registry without user events: keep what is known
				}
				c.endAccounts(ctx, c.replaceWith(pending, pendingAccounts, pendingResources))
				pending, pendingAccounts, pendingResources = nil, nil, nil
				synced = true
				c.setApplied(ev.GetRevision(), true)
			}
			continue
		}
		if synced && ev.GetRevisionComplete() {
			c.setApplied(ev.GetRevision(), false)
		}
	}
}

// replace installs a registry snapshot of clients and accounts (see replaceWith), keeping the resources.
func (c *Cache) replace(m map[string]*Client, accounts map[accountKey]*Account) []token.Account {
	return c.replaceWith(m, accounts, nil)
}

// replaceWith installs a registry snapshot: the clients, the resources unless resources is nil, and the
// accounts unless accounts is nil. It returns the accounts the snapshot ended (missed deletions and
// disables).
func (c *Cache) replaceWith(m map[string]*Client, accounts map[accountKey]*Account, resources map[resourceKey]*Resource) []token.Account {
	var ended []token.Account
	var deleted []*Client
	c.mu.Lock()
	for id, cl := range c.byID {
		if _, ok := m[id]; !ok {
			deleted = append(deleted, cl)
		}
	}
	c.setAllLocked(m)
	if resources != nil {
		c.setResourcesLocked(resources)
	}
	if accounts != nil {
		ended = c.replaceAccountsLocked(accounts)
	}
	c.markReadyLocked()
	c.mu.Unlock()
	c.syncs.Add(1)
	if accounts != nil {
		c.accountChanges.Add(1)
	}
	c.log.Info("client snapshot synced from registry", "clients", len(m), "accounts", len(accounts))
	c.changed()
	c.clientsDeleted(deleted)
	return ended
}

// apply sets (cl != nil) or deletes the client id. An upsert equal to the client held changes nothing (the
// registry reports a client again when only what the view does not keep changed, such as a secret's last
// use), so it causes no snapshot write.
func (c *Cache) apply(id string, cl *Client) {
	c.mu.Lock()
	old, ok := c.byID[id]
	if ok && cl != nil && reflect.DeepEqual(old, cl) {
		c.mu.Unlock()
		return
	}
	c.putLocked(id, cl)
	c.mu.Unlock()
	c.changed()
	if ok && cl == nil {
		c.clientsDeleted([]*Client{old})
	}
}

// clientsDeleted reports deleted clients to Config.ClientsDeleted.
func (c *Cache) clientsDeleted(deleted []*Client) {
	if len(deleted) > 0 && c.cfg.ClientsDeleted != nil {
		c.cfg.ClientsDeleted(deleted)
	}
}

// MaxAccessTokenLifetime is the longest access token lifetime of the clients the cache holds: no token
// issued from now on outlives it unless a client's setting grows.
func (c *Cache) MaxAccessTokenLifetime() time.Duration {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var d time.Duration
	for _, cl := range c.byID {
		d = max(d, cl.AccessTokenLifetime)
	}
	return d
}

// deleteTenantClients deletes every client of the tenant.
func (c *Cache) deleteTenantClients(tenantID string) {
	c.mu.Lock()
	var deleted []*Client
	for id, cl := range c.byID {
		if cl.TenantID == tenantID {
			c.putLocked(id, nil)
			deleted = append(deleted, cl)
		}
	}
	c.mu.Unlock()
	if len(deleted) > 0 {
		c.changed()
		c.clientsDeleted(deleted)
	}
}

// putLocked sets (cl != nil) or deletes the client id, keeping the origin counts. Call with mu held.
func (c *Cache) putLocked(id string, cl *Client) {
	if old, ok := c.byID[id]; ok {
		c.countOrigins(old, -1)
	}
	if cl == nil {
		delete(c.byID, id)
		return
	}
	c.byID[id] = cl
	c.countOrigins(cl, +1)
}

// setAllLocked replaces every client and recounts the origins. Call with mu held.
func (c *Cache) setAllLocked(m map[string]*Client) {
	c.byID = m
	c.origins = map[string]int{}
	for _, cl := range m {
		c.countOrigins(cl, +1)
	}
}

// countOrigins adds delta to the count of each distinct origin cl lists (a client listing one origin twice
// counts once). Call with mu held.
func (c *Cache) countOrigins(cl *Client, delta int) {
	for i, o := range cl.CORSOrigins {
		if slices.Contains(cl.CORSOrigins[:i], o) {
			continue
		}
		if n := c.origins[o] + delta; n > 0 {
			c.origins[o] = n
		} else {
			delete(c.origins, o)
		}
	}
}

func (c *Cache) changed() {
	c.changes.Add(1)
	select {
	case c.dirty <- struct{}{}:
	default:
	}
}

func (c *Cache) persistLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			select {
			case <-c.dirty:
				c.persist(context.WithoutCancel(ctx))
			default:
				if c.accountsPending.Load() {
					c.persist(context.WithoutCancel(ctx))
				}
			}
			return
		case <-c.dirty:
		}
		t := time.NewTimer(c.cfg.PersistDelay)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
		c.persist(context.WithoutCancel(ctx))
	}
}

// Persist writes the current content to the store unless it equals what was last written or loaded.
func (c *Cache) Persist(ctx context.Context) error {
	return c.persist(ctx)
}

func (c *Cache) persist(ctx context.Context) error {
	c.mu.RLock()
	if !c.ready {
		c.mu.RUnlock()
		return nil
	}
	s := snapshot{Clients: make([]*Client, 0, len(c.byID)), AccountsKnown: c.accountsReady}
	for _, cl := range c.byID {
		s.Clients = append(s.Clients, cl)
	}
	if c.accountsReady {
		s.Accounts = make([]*Account, 0, len(c.accounts))
		for _, a := range c.accounts {
			s.Accounts = append(s.Accounts, a)
		}
	}
	s.Resources = make([]*Resource, 0, len(c.resources))
	for _, r := range c.resources {
		s.Resources = append(s.Resources, r)
	}
	last := c.lastHash
	c.mu.RUnlock()
	slices.SortFunc(s.Resources, func(a, b *Resource) int {
		return cmp.Or(strings.Compare(a.TenantID, b.TenantID), strings.Compare(a.ID, b.ID))
	})
	slices.SortFunc(s.Accounts, func(a, b *Account) int {
		return cmp.Or(strings.Compare(a.TenantID, b.TenantID), strings.Compare(a.UserID, b.UserID))
	})
	slices.SortFunc(s.Clients, func(a, b *Client) int {
		if a.ID < b.ID {
			return -1
		}
		if a.ID > b.ID {
			return 1
		}
		return 0
	})
	plain, err := json.Marshal(s)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(plain)
	if sum == last {
		return nil
	}
	if err := c.cfg.Store.PutClientSnapshot(ctx, c.cfg.Keyring.Seal(plain, snapshotAD)); err != nil {
		c.log.Error("persist client snapshot", "err", err)
		c.changed() // retry later
		return err
	}
	c.mu.Lock()
	c.lastHash = sum
	c.mu.Unlock()
	c.writes.Add(1)
	return nil
}

// HasCORSOrigin reports whether some client lists origin in its allowed CORS origins (exact match, as
// browsers send origins: scheme://host[:port]). One map lookup: the cache keeps a count per origin.
func (c *Cache) HasCORSOrigin(origin string) bool {
	c.mu.RLock()
	n := c.origins[origin]
	c.mu.RUnlock()
	return n > 0
}
