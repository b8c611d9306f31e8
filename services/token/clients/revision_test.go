package clients

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	"github.com/authsuite/authsuite/internal/access"
	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/internal/apistatus"
	"github.com/authsuite/authsuite/internal/bearer"
	"github.com/authsuite/authsuite/internal/changelog"
	"github.com/authsuite/authsuite/internal/grpctest"
	"github.com/authsuite/authsuite/services/registry"
	"github.com/authsuite/authsuite/services/registry/memstore"
	regserver "github.com/authsuite/authsuite/services/registry/server"
)

func upsertEv(id, tenant string, rev int64, complete bool) *registryv1.WatchClientsResponse {
	return &registryv1.WatchClientsResponse{
		Event:    &registryv1.WatchClientsResponse_Upsert{Upsert: &registryv1.ClientRecord{Client: &registryv1.Client{ClientId: id, TenantId: tenant}, TenantCode: tenant}},
		Revision: rev, RevisionComplete: complete,
	}
}

func atRevision(ev *registryv1.WatchClientsResponse, rev int64) *registryv1.WatchClientsResponse {
	ev.Revision, ev.RevisionComplete = rev, true
	return ev
}

// reached reports whether WaitRevision(n) succeeds without waiting (its context is already over, so it can
// only succeed when the view has applied n).
func reached(c *Cache, n int64) bool {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return c.WaitRevision(ctx, n) == nil
}

// TestWaitRevisionFollowsEvents: the applied revision becomes the snapshot's at synced, moves only when a
// commit's last event is applied (not at an earlier event of the same commit), follows progress events, and
// after a resync is the new snapshot's even when lower; a waiter returns when, and only when, the event
// completing its revision is applied. A deleted tenant's clients leave the view without their own events.
func TestWaitRevisionFollowsEvents(t *testing.T) {
	st := openTokenStore(t, filepath.Join(t.TempDir(), "token.db"))
	reg := &scriptRegistry{streams: make(chan *scriptStream, 2)}
	c := NewCache(Config{Registry: reg, Store: st, Keyring: testKeyring(t), ReconnectMin: time.Millisecond, ReconnectMax: time.Millisecond})

	var failures []string
	// want[i] is the applied revision once events 0..i-1 are applied, with the clients known then.
	type state struct {
		rev   int64
		known []string
		gone  []string
	}
	want := map[int]state{
		0: {rev: 0},
		1: {rev: 0},                                                     // snapshot upsert pending
		2: {rev: 5, known: []string{"c1"}},                              // synced
		3: {rev: 5, known: []string{"c2"}},                              // first event of commit 6
		4: {rev: 6, known: []string{"c2", "c3"}},                        // last event of commit 6
		5: {rev: 9},                                                     // progress
		6: {rev: 10, known: []string{"c3"}, gone: []string{"c1", "c2"}}, // tenant t deleted
	}
	s1 := &scriptStream{events: []*registryv1.WatchClientsResponse{
		upsertEv("c1", "t", 5, false),
		atRevision(syncedEv(true), 5),
		upsertEv("c2", "t", 6, false),
		upsertEv("c3", "u", 6, true),
		atRevision(&registryv1.WatchClientsResponse{Event: &registryv1.WatchClientsResponse_Progress{Progress: true}}, 9),
		atRevision(deletedTenantEv("t"), 10),
	}}
	s1.before = func(i int) {
		w, ok := want[i]
		if !ok {
			return
		}
		if got := c.Revision(); got != w.rev {
			failures = append(failures, fmt.Sprintf("before event %d: Revision() = %d, want %d", i, got, w.rev))
		}
		if !reached(c, w.rev) || reached(c, w.rev+1) {
			failures = append(failures, fmt.Sprintf("before event %d: WaitRevision disagrees with revision %d", i, w.rev))
		}
		for _, id := range w.known {
			if _, ok := c.Get(id); !ok {
				failures = append(failures, fmt.Sprintf("before event %d: %s unknown", i, id))
			}
		}
		for _, id := range w.gone {
			if _, ok := c.Get(id); ok {
				failures = append(failures, fmt.Sprintf("before event %d: %s still known", i, id))
			}
		}
	}
	reg.streams <- s1

	// A waiter for revision 6 started before anything arrived returns with c3 applied, and not before.
	waited := make(chan error, 1)
	go func() {
		err := c.WaitRevision(context.Background(), 6)
		if _, ok := c.Get("c3"); err == nil && !ok {
			err = errors.New("WaitRevision(6) returned before the commit's last event was applied")
		}
		waited <- err
	}()

	// Stream 2, after the reconnect: a registry whose history restarted at a lower revision.
	resynced := make(chan struct{})
	s2 := &scriptStream{events: []*registryv1.WatchClientsResponse{atRevision(syncedEv(true), 3)}}
	s2.before = func(i int) {
		if i == 1 {
			close(resynced)
		}
	}
	reg.streams <- s2
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	select {
	case err := <-waited:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("WaitRevision(6) not woken by the event completing revision 6")
	}
	select {
	case <-resynced:
	case <-time.After(5 * time.Second):
		t.Fatal("no resync")
	}
	if len(failures) > 0 {
		t.Fatal(failures)
	}
	if got := c.Revision(); got != 3 {
		t.Fatalf("after a resync at revision 3: Revision() = %d", got)
	}
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer wcancel()
	if err := c.WaitRevision(wctx, 4); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitRevision beyond the applied revision: %v; want the context's error", err)
	}
}

// TestDeletedTenantDropsPendingClients: a tenant deleted during the snapshot leaves none of its clients in
// the view it installs.
func TestDeletedTenantDropsPendingClients(t *testing.T) {
	st := openTokenStore(t, filepath.Join(t.TempDir(), "token.db"))
	reg := &scriptRegistry{streams: make(chan *scriptStream, 1)}
	c := NewCache(Config{Registry: reg, Store: st, Keyring: testKeyring(t)})
	reg.streams <- &scriptStream{events: []*registryv1.WatchClientsResponse{
		upsertEv("c1", "t", 2, false), upsertEv("c2", "u", 2, false), deletedTenantEv("t"), atRevision(syncedEv(true), 2),
	}}
	if synced, _ := c.watchOnce(context.Background()); !synced {
		t.Fatal("not synced")
	}
	if _, ok := c.Get("c1"); ok {
		t.Fatal("a client of a tenant deleted during the snapshot survived it")
	}
	if _, ok := c.Get("c2"); !ok || c.Revision() != 2 {
		t.Fatalf("c2 known: %v, revision %d", ok, c.Revision())
	}
}

// adminAuth lets the bearer token "admin" administer every tenant.
type adminAuth struct{}

func (adminAuth) Authenticate(_ context.Context, token string) (bearer.TokenInfo, error) {
	if token != "admin" {
		return bearer.TokenInfo{}, apierror.Unauthenticated("invalid token")
	}
	return bearer.TokenInfo{Subject: "admin", ClientID: "admin", TenantID: access.SystemTenant, Scopes: []string{"adminapi"}}, nil
}

// registryReplica serves a registry server on st over loopback gRPC and returns its address.
func registryReplica(t testing.TB, st registry.Store, cred string) string {
	kr := testKeyring(t)
	srv := regserver.New(regserver.Deps{Store: st, Keyring: kr, Auth: adminAuth{}})
	t.Cleanup(srv.EndWatches)
	return grpctest.Serve(t, cred, srv.Register)
}

// written runs an admin write and returns the registry revision it answered.
func written(t *testing.T, call func(context.Context, ...grpc.CallOption) error) int64 {
	t.Helper()
	var hdr metadata.MD
	ctx := metadata.AppendToOutgoingContext(context.Background(), access.MDAuthorization, "Bearer admin")
	if err := call(ctx, grpc.Header(&hdr)); err != nil {
		t.Fatal(err)
	}
	vs := hdr.Get("authsuite-revision")
	if len(vs) != 1 || !strings.HasPrefix(vs[0], "registry:") {
		t.Fatalf("write answered authsuite-revision %q", vs)
	}
	n, err := strconv.ParseInt(strings.TrimPrefix(vs[0], "registry:"), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func waitRevision(t *testing.T, c *Cache, n int64) time.Duration {
	t.Helper()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.WaitRevision(ctx, n); err != nil {
		t.Fatalf("WaitRevision(%d): %v (applied %d)", n, err, c.Revision())
	}
	return time.Since(start)
}

// runCache starts a cache watching the registry at addr and waits until it is ready.
func runCache(t *testing.T, addr, cred string) *Cache {
	t.Helper()
	c := NewCache(Config{
		Registry: registryv1.NewRegistryInternalServiceClient(grpctest.Dial(t, addr, cred)),
		Store:    openTokenStore(t, filepath.Join(t.TempDir(), "token.db")), Keyring: testKeyring(t),
		ReconnectMin: time.Millisecond, ReconnectMax: 10 * time.Millisecond,
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-c.ReadyC():
	case <-time.After(5 * time.Second):
		t.Fatal("cache not ready")
	}
	return c
}

// TestViewFollowsRegistryReplicas: a token view watching registry replica B applies the writes made through
// replica A (both on one store), and WaitRevision on the revision A answered returns once they are visible:
// a new client, a tenant rename (new tenant code), a tenant deletion (its clients gone).
func TestViewFollowsRegistryReplicas(t *testing.T) {
	st := memstore.New()
	t.Cleanup(func() { st.Close() })
	followReplicas(t, st, st)
}

// followReplicas runs TestViewFollowsRegistryReplicas with replica A on stA and B on stB (one store value,
// or two over the same data).
func followReplicas(t *testing.T, stA, stB registry.Store) {
	ctx := context.Background()
	for _, tn := range []registry.Tenant{{ID: access.SystemTenant, Code: "default"}, {ID: "acme", Code: "acme"}} {
		if _, err := stA.CreateTenant(ctx, tn); err != nil {
			t.Fatal(err)
		}
	}
	cred := testKeyring(t).InternalCredential()
	a := grpctest.Dial(t, registryReplica(t, stA, cred), cred)
	c := runCache(t, registryReplica(t, stB, cred), cred)
	clientsA, tenantsA := registryv1.NewClientServiceClient(a), registryv1.NewTenantServiceClient(a)

	var worst time.Duration
	for i := range 20 {
		id := fmt.Sprint("app-", i)
		n := written(t, func(ctx context.Context, o ...grpc.CallOption) error {
			_, err := clientsA.CreateClient(ctx, &registryv1.CreateClientRequest{TenantId: "acme", Client: &registryv1.Client{
				ClientId: id, AllowedGrantTypes: []string{"client_credentials"}, AllowedScopes: []string{"openid"},
			}}, o...)
			return err
		})
		worst = max(worst, waitRevision(t, c, n))
		if cl, ok := c.Get(id); !ok || cl.TenantCode != "acme" {
			t.Fatalf("after WaitRevision(%d): %s = %v, %v", n, id, cl, ok)
		}
	}
	t.Logf("registry replica A → token view on replica B: worst wait after the write answered %v (20 writes)", worst)

	n := written(t, func(ctx context.Context, o ...grpc.CallOption) error {
		_, err := tenantsA.UpdateTenant(ctx, &registryv1.UpdateTenantRequest{TenantId: "acme", Tenant: &registryv1.Tenant{Code: "acme-2"}}, o...)
		return err
	})
	waitRevision(t, c, n)
	for i := range 20 {
		if cl, _ := c.Get(fmt.Sprint("app-", i)); cl == nil || cl.TenantCode != "acme-2" {
			t.Fatalf("after the rename: %v", cl)
		}
	}

	n = written(t, func(ctx context.Context, o ...grpc.CallOption) error {
		_, err := tenantsA.DeleteTenant(ctx, &registryv1.DeleteTenantRequest{TenantId: "acme"}, o...)
		return err
	})
	waitRevision(t, c, n)
	if _, ok := c.Get("app-0"); ok {
		t.Fatal("a client of a deleted tenant is still known")
	}
}

// compactOnce is a registry store whose first Watch reports a compaction once compact is closed, delivering
// nothing before; later watches are the store's.
type compactOnce struct {
	*memstore.Store
	compact chan struct{}
	first   chan struct{} // closed by the first Watch, taken once
}

func (s *compactOnce) Watch(ctx context.Context, from int64, fn func(changelog.Batch[registry.Change]) error) error {
	select {
	case <-s.first:
		return s.Store.Watch(ctx, from, fn)
	default:
		close(s.first)
	}
	select {
	case <-s.compact:
		return fmt.Errorf("registry history: %w", changelog.ErrCompacted)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// TestViewResyncsAfterCompaction: when the registry's history is compacted under a watch, the view
// reconnects, installs a new snapshot, and WaitRevision on a later write returns once the new stream has it.
func TestViewResyncsAfterCompaction(t *testing.T) {
	st := &compactOnce{Store: memstore.New(), compact: make(chan struct{}), first: make(chan struct{})}
	t.Cleanup(func() { st.Close() })
	if _, err := st.CreateTenant(context.Background(), registry.Tenant{ID: "acme", Code: "acme"}); err != nil {
		t.Fatal(err)
	}
	cred := testKeyring(t).InternalCredential()
	addr := registryReplica(t, st, cred)
	c := runCache(t, addr, cred)
	if c.Syncs() != 1 {
		t.Fatalf("syncs = %d", c.Syncs())
	}
	close(st.compact)
	clients := registryv1.NewClientServiceClient(grpctest.Dial(t, addr, cred))
	n := written(t, func(ctx context.Context, o ...grpc.CallOption) error {
		_, err := clients.CreateClient(ctx, &registryv1.CreateClientRequest{TenantId: "acme", Client: &registryv1.Client{
			ClientId: "late", AllowedGrantTypes: []string{"client_credentials"}, AllowedScopes: []string{"openid"},
		}}, o...)
		return err
	})
	waitRevision(t, c, n)
	if _, ok := c.Get("late"); !ok || c.Syncs() < 2 {
		t.Fatalf("late known %v after %d syncs; want it through a resync", ok, c.Syncs())
	}
}

// TestUnchangedUpsertIsNoChange: a client reported again unchanged (the registry reports a client when only
// its secrets' last use changed) does not count as a change, so it causes no snapshot write; a real change
// does.
func TestUnchangedUpsertIsNoChange(t *testing.T) {
	c := NewCache(Config{})
	rec := func(name string) *Client {
		cl, err := fromRecord(&registryv1.ClientRecord{Client: &registryv1.Client{ClientId: "a", TenantId: "t", ClientName: name, AllowedScopes: []string{"openid"}}, TenantCode: "t"})
		if err != nil {
			t.Fatal(err)
		}
		return cl
	}
	c.apply("a", rec("A"))
	before := c.changes.Load()
	c.apply("a", rec("A"))
	if got := c.changes.Load(); got != before {
		t.Fatalf("an unchanged upsert counted as %d changes", got-before)
	}
	c.apply("a", rec("B"))
	if cl, _ := c.Get("a"); c.changes.Load() != before+1 || cl.Name != "B" {
		t.Fatalf("a changed upsert: %d changes, name %q", c.changes.Load()-before, cl.Name)
	}
}

// TestViewConvergesUnderConcurrentWrites: two writers, one per registry replica, create, update and delete
// clients and rename, delete and re-create tenants at random while a view watches replica B; once it has
// applied the highest revision either writer was answered, it holds exactly the registry's clients with
// their current names and tenant codes.
func TestViewConvergesUnderConcurrentWrites(t *testing.T) {
	st := memstore.New()
	t.Cleanup(func() { st.Close() })
	tenants := []string{"t0", "t1", "t2"}
	for _, id := range append([]string{access.SystemTenant}, tenants...) {
		if _, err := st.CreateTenant(context.Background(), registry.Tenant{ID: id, Code: id}); err != nil {
			t.Fatal(err)
		}
	}
	cred := testKeyring(t).InternalCredential()
	addrA, addrB := registryReplica(t, st, cred), registryReplica(t, st, cred)
	c := runCache(t, addrB, cred)

	var highest atomic.Int64
	errs := make(chan error, 2)
	for w, addr := range []string{addrA, addrB} {
		cc := grpctest.Dial(t, addr, cred)
		cs, ts := registryv1.NewClientServiceClient(cc), registryv1.NewTenantServiceClient(cc)
		go func() {
			rnd := rand.New(rand.NewPCG(uint64(w), 1))
			ctx := metadata.AppendToOutgoingContext(context.Background(), access.MDAuthorization, "Bearer admin")
			for i := range 300 {
				tenant := tenants[rnd.IntN(len(tenants))]
				id := fmt.Sprint("c", rnd.IntN(40))
				var hdr metadata.MD
				var err error
				client := &registryv1.Client{ClientId: id, ClientName: fmt.Sprint("w", w, "-", i), AllowedGrantTypes: []string{"client_credentials"}, AllowedScopes: []string{"openid"}}
				switch op := rnd.IntN(20); {
				case op < 8:
					_, err = cs.CreateClient(ctx, &registryv1.CreateClientRequest{TenantId: tenant, Client: client}, grpc.Header(&hdr))
				case op < 14:
					_, err = cs.UpdateClient(ctx, &registryv1.UpdateClientRequest{TenantId: tenant, ClientId: id, Client: client}, grpc.Header(&hdr))
				case op < 17:
					_, err = cs.DeleteClient(ctx, &registryv1.DeleteClientRequest{TenantId: tenant, ClientId: id}, grpc.Header(&hdr))
				case op < 19:
					_, err = ts.UpdateTenant(ctx, &registryv1.UpdateTenantRequest{TenantId: tenant, Tenant: &registryv1.Tenant{Code: fmt.Sprint(tenant, "-", w, "-", i)}}, grpc.Header(&hdr))
				default:
					if _, err = ts.DeleteTenant(ctx, &registryv1.DeleteTenantRequest{TenantId: tenant}); err == nil {
						_, err = ts.CreateTenant(ctx, &registryv1.CreateTenantRequest{Tenant: &registryv1.Tenant{TenantId: tenant, Code: fmt.Sprint(tenant, "-new-", w, "-", i)}}, grpc.Header(&hdr))
					}
				}
				if c := apistatus.FromStatus(err).Code; err != nil && c != codes.NotFound && c != codes.AlreadyExists {
					errs <- fmt.Errorf("writer %d op %d: %v", w, i, err)
					return
				}
				if vs := hdr.Get("authsuite-revision"); len(vs) == 1 {
					n, _ := strconv.ParseInt(strings.TrimPrefix(vs[0], "registry:"), 10, 64)
					for cur := highest.Load(); n > cur && !highest.CompareAndSwap(cur, n); cur = highest.Load() {
					}
				}
			}
			errs <- nil
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	waitRevision(t, c, highest.Load())

	want := map[string]string{}
	all, _, err := st.ListClients(context.Background(), "", registry.ListOptions{Limit: registry.MaxPageSize})
	if err != nil {
		t.Fatal(err)
	}
	for _, cl := range all {
		tn, err := st.GetTenant(context.Background(), cl.TenantID)
		if err != nil {
			t.Fatal(err)
		}
		want[cl.ID] = cl.Name + "@" + tn.Code
	}
	got := map[string]string{}
	c.mu.RLock()
	for id, cl := range c.byID {
		got[id] = cl.Name + "@" + cl.TenantCode
	}
	c.mu.RUnlock()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("the view diverged from the registry:\nview     %v\nregistry %v", got, want)
	}
	t.Logf("%d clients after 600 writes, view at revision %d", len(want), c.Revision())
}
