// Package storetest is the conformance suite of provider.Store: every backend runs Run and must pass it
// unchanged.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/services/provider"
)

// Run runs the suite; open returns a new, empty store for each subtest (closed by the suite). The scale
// subtests run in parallel with each other, each on its own store.
func Run(t *testing.T, open func(t *testing.T) provider.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s provider.Store)
	}{
		{"Providers", testProviders},
		{"PutProvidersAllOrNothing", testPutAllOrNothing},
		{"DeleteProviderInUse", testDeleteInUse},
		{"Connectors", testConnectors},
		{"AuthStateSingleUse", testAuthStateSingleUse},
		{"SweepAuthStates", testSweep},
		{"DropGrants", testDropGrants},
		{"PendingConnectorsNeverBlock", testPendingNeverBlock},
		{"SweepPendingConnectors", testSweepPending},
		{"Watch", testWatch},
		{"ClaimRefresh", testClaimRefresh},
		{"ConcurrentUpdates", testConcurrentUpdates},
		{"PutProvidersMany", testPutProvidersMany},
		{"DropGrantsMany", testDropGrantsMany},
		{"DeleteProviderManyPending", testDeleteProviderManyPending},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if strings.HasSuffix(tc.name, "Many") || strings.HasSuffix(tc.name, "ManyPending") {
				t.Parallel()
			}
			s := open(t)
			t.Cleanup(func() { s.Close() })
			tc.fn(t, s)
		})
	}
}

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func prov(typ, name, clientID string) provider.Provider {
	return provider.Provider{ProviderKey: provider.ProviderKey{Type: typ, Name: name},
		Settings:     provider.Settings{ClientID: clientID, Raw: map[string]any{"CLIENT_ID": clientID}},
		SealedSecret: []byte("sealed-" + clientID), UpdateTime: t0}
}

func conn(id string, k provider.ProviderKey, owner string) provider.Connector {
	return provider.Connector{ID: id, Provider: k, Kind: provider.KindSession, TenantID: "default", Owner: owner,
		Status: provider.StatusPending, CreateTime: t0, UpdateTime: t0}
}

// active is c authorized: a connector that uses its provider.
func active(c provider.Connector) provider.Connector {
	c.Status, c.SealedGrant = provider.StatusActive, []byte("sealed-grant")
	return c
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func testProviders(t *testing.T, s provider.Store) {
	ctx := context.Background()
	if _, err := s.GetProvider(ctx, provider.ProviderKey{Type: "github", Name: "x"}); !errors.Is(err, apierror.ErrNotFound) {
		t.Fatalf("GetProvider(missing) = %v, want ErrNotFound", err)
	}
	must(t, s.PutProviders(ctx, []provider.Provider{prov("google_gmail", "Gmail-2", "b"), prov("google_gmail", "Gmail-1", "a"), prov("azure", "Azure", "c")}))
	got, err := s.GetProvider(ctx, provider.ProviderKey{Type: "google_gmail", Name: "Gmail-1"})
	must(t, err)
	if got.Settings.ClientID != "a" || !bytes.Equal(got.SealedSecret, []byte("sealed-a")) || !got.UpdateTime.Equal(t0) {
		t.Fatalf("GetProvider = %+v", got)
	}
	list, err := s.ListProviders(ctx)
	must(t, err)
	var names []string
	for _, p := range list {
		names = append(names, p.ProviderKey.String())
	}
	if fmt.Sprint(names) != "[azure/Azure google_gmail/Gmail-1 google_gmail/Gmail-2]" {
		t.Fatalf("ListProviders order = %v", names)
	}
	// Replacing a provider nobody uses is allowed.
	must(t, s.PutProviders(ctx, []provider.Provider{prov("google_gmail", "Gmail-1", "a2")}))
	got, _ = s.GetProvider(ctx, provider.ProviderKey{Type: "google_gmail", Name: "Gmail-1"})
	if got.Settings.ClientID != "a2" {
		t.Fatalf("after replace ClientID = %q", got.Settings.ClientID)
	}
	// Results are copies.
	got.SealedSecret[0] = 'X'
	again, _ := s.GetProvider(ctx, provider.ProviderKey{Type: "google_gmail", Name: "Gmail-1"})
	if again.SealedSecret[0] == 'X' {
		t.Fatal("GetProvider returned shared memory")
	}
	must(t, s.DeleteProvider(ctx, provider.ProviderKey{Type: "azure", Name: "Azure"}))
	if err := s.DeleteProvider(ctx, provider.ProviderKey{Type: "azure", Name: "Azure"}); !errors.Is(err, apierror.ErrNotFound) {
		t.Fatalf("second DeleteProvider = %v, want ErrNotFound", err)
	}
}

func testPutAllOrNothing(t *testing.T, s provider.Store) {
	ctx := context.Background()
	g1 := prov("google_gmail", "Gmail-1", "a")
	must(t, s.PutProviders(ctx, []provider.Provider{g1}))
	must(t, s.CreateConnector(ctx, active(conn("c1", g1.ProviderKey, "u1")), provider.AuthState{}))
	err := s.PutProviders(ctx, []provider.Provider{prov("google_gmail", "Gmail-2", "b"), prov("google_gmail", "Gmail-1", "changed")})
	var inUse *provider.InUseError
	if !errors.As(err, &inUse) || len(inUse.Providers) != 1 || inUse.Providers[0] != g1.ProviderKey {
		t.Fatalf("PutProviders over an in-use provider = %v, want InUseError naming %s", err, g1.ProviderKey)
	}
	if _, err := s.GetProvider(ctx, provider.ProviderKey{Type: "google_gmail", Name: "Gmail-2"}); !errors.Is(err, apierror.ErrNotFound) {
		t.Fatalf("Gmail-2 was stored by a refused load: %v", err)
	}
	got, _ := s.GetProvider(ctx, g1.ProviderKey)
	if got.Settings.ClientID != "a" || got.Connectors != 1 {
		t.Fatalf("Gmail-1 after refused load = %+v", got)
	}
}

func testDeleteInUse(t *testing.T, s provider.Store) {
	ctx := context.Background()
	p := prov("slack", "Slack", "a")
	must(t, s.PutProviders(ctx, []provider.Provider{p}))
	if err := s.CreateConnector(ctx, conn("c0", provider.ProviderKey{Type: "slack", Name: "Other"}, "u"), provider.AuthState{}); !errors.Is(err, apierror.ErrNotFound) {
		t.Fatalf("CreateConnector for a missing provider = %v, want ErrNotFound", err)
	}
	must(t, s.CreateConnector(ctx, active(conn("c1", p.ProviderKey, "u")), provider.AuthState{}))
	if err := s.DeleteProvider(ctx, p.ProviderKey); !errors.Is(err, apierror.ErrFailedPrecondition) {
		t.Fatalf("DeleteProvider in use = %v, want ErrFailedPrecondition", err)
	}
	if _, err := s.DeleteConnector(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	must(t, s.DeleteProvider(ctx, p.ProviderKey))
}

func testConnectors(t *testing.T, s provider.Store) {
	ctx := context.Background()
	p := prov("github", "GitHub", "a")
	must(t, s.PutProviders(ctx, []provider.Provider{p}))
	c := conn("c1", p.ProviderKey, "u1")
	c.ReturnTo, c.Subdomain = "/done", "acme"
	must(t, s.CreateConnector(ctx, c, provider.AuthState{}))
	if err := s.CreateConnector(ctx, c, provider.AuthState{}); !errors.Is(err, apierror.ErrAlreadyExists) {
		t.Fatalf("duplicate CreateConnector = %v, want ErrAlreadyExists", err)
	}
	must(t, s.CreateConnector(ctx, conn("c2", p.ProviderKey, "u2"), provider.AuthState{}))
	got, err := s.GetConnector(ctx, "c1")
	must(t, err)
	if got.ReturnTo != "/done" || got.Subdomain != "acme" || got.Owner != "u1" || got.Status != provider.StatusPending {
		t.Fatalf("GetConnector = %+v", got)
	}
	up, err := s.UpdateConnector(ctx, "c1", func(c provider.Connector) (provider.Connector, error) {
		c.Status, c.SealedGrant, c.Scopes = provider.StatusActive, []byte("grant"), []string{"repo"}
		c.Owner = "someone-else" // must be ignored
		return c, nil
	})
	must(t, err)
	if up.Status != provider.StatusActive || up.Owner != "u1" || string(up.SealedGrant) != "grant" {
		t.Fatalf("UpdateConnector = %+v", up)
	}
	boom := errors.New("boom")
	if _, err := s.UpdateConnector(ctx, "c1", func(c provider.Connector) (provider.Connector, error) {
		c.Status = provider.StatusFailed
		return c, boom
	}); !errors.Is(err, boom) {
		t.Fatalf("UpdateConnector fn error = %v", err)
	}
	if got, _ := s.GetConnector(ctx, "c1"); got.Status != provider.StatusActive {
		t.Fatal("a failed UpdateConnector changed the connector")
	}
	if _, err := s.UpdateConnector(ctx, "nope", func(c provider.Connector) (provider.Connector, error) { return c, nil }); !errors.Is(err, apierror.ErrNotFound) {
		t.Fatalf("UpdateConnector(missing) = %v", err)
	}
	list, err := s.ListConnectors(ctx, provider.ConnectorFilter{Owner: "u2"})
	must(t, err)
	if len(list) != 1 || list[0].ID != "c2" {
		t.Fatalf("ListConnectors(owner u2) = %+v", list)
	}
	all, _ := s.ListConnectors(ctx, provider.ConnectorFilter{})
	if len(all) != 2 || all[0].ID != "c1" {
		t.Fatalf("ListConnectors() = %+v", all)
	}
	del, err := s.DeleteConnector(ctx, "c1")
	must(t, err)
	if del.ID != "c1" {
		t.Fatalf("DeleteConnector returned %+v", del)
	}
	if _, err := s.GetConnector(ctx, "c1"); !errors.Is(err, apierror.ErrNotFound) {
		t.Fatalf("GetConnector after delete = %v", err)
	}
	if _, err := s.DeleteConnector(ctx, "c1"); !errors.Is(err, apierror.ErrNotFound) {
		t.Fatalf("second DeleteConnector = %v", err)
	}
}

func testAuthStateSingleUse(t *testing.T, s provider.Store) {
	ctx := context.Background()
	p := prov("odata", "OData", "a")
	must(t, s.PutProviders(ctx, []provider.Provider{p}))
	h := provider.HashState("state-1", "browser-1")
	must(t, s.CreateConnector(ctx, conn("c1", p.ProviderKey, "u"), provider.AuthState{Hash: h, ConnectorID: "c1", SealedVerifier: []byte("v"), Expiry: t0.Add(time.Minute)}))
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := s.TakeAuthState(ctx, h)
			if err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
				if st.ConnectorID != "c1" || string(st.SealedVerifier) != "v" || !st.Expiry.Equal(t0.Add(time.Minute)) {
					t.Errorf("TakeAuthState = %+v", st)
				}
			} else if !errors.Is(err, apierror.ErrNotFound) {
				t.Errorf("TakeAuthState = %v", err)
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("state taken %d times, want exactly once", wins)
	}
	// A state added later (PutAuthState) is taken like one stored with its connector; a connector that does
	// not exist takes none.
	h3 := provider.HashState("state-3", "browser-1")
	must(t, s.PutAuthState(ctx, provider.AuthState{Hash: h3, ConnectorID: "c1", SealedVerifier: []byte("w"), Expiry: t0.Add(time.Hour)}))
	if st, err := s.TakeAuthState(ctx, h3); err != nil || st.ConnectorID != "c1" || string(st.SealedVerifier) != "w" || !st.Expiry.Equal(t0.Add(time.Hour)) {
		t.Fatalf("TakeAuthState of a put state = %+v, %v", st, err)
	}
	if err := s.PutAuthState(ctx, provider.AuthState{Hash: h3, ConnectorID: "missing", Expiry: t0.Add(time.Hour)}); !errors.Is(err, apierror.ErrNotFound) {
		t.Fatalf("PutAuthState for a missing connector = %v, want ErrNotFound", err)
	}
	if _, err := s.TakeAuthState(ctx, h3); !errors.Is(err, apierror.ErrNotFound) {
		t.Fatalf("a refused PutAuthState stored a state: %v", err)
	}
	// Deleting a connector drops its pending states, the put ones too.
	must(t, s.PutAuthState(ctx, provider.AuthState{Hash: provider.HashState("state-4", "b"), ConnectorID: "c1", Expiry: t0.Add(time.Hour)}))
	if _, err := s.DeleteConnector(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TakeAuthState(ctx, provider.HashState("state-4", "b")); !errors.Is(err, apierror.ErrNotFound) {
		t.Fatalf("put state of a deleted connector = %v", err)
	}
	// The binding is part of the key: another browser's binding finds nothing.
	if provider.HashState("s", "b1") == nil || string(provider.HashState("s", "b1")) == string(provider.HashState("s", "b2")) ||
		string(provider.HashState("s", "")) == string(provider.HashTemporaryToken("s", "")) || string(provider.HashState("ab", "c")) == string(provider.HashState("a", "bc")) {
		t.Fatal("state hashes do not separate bindings, kinds or value boundaries")
	}

	h2 := provider.HashState("state-2", "browser-1")
	must(t, s.CreateConnector(ctx, conn("c2", p.ProviderKey, "u"), provider.AuthState{Hash: h2, ConnectorID: "c2", Expiry: t0.Add(time.Minute)}))
	if _, err := s.DeleteConnector(ctx, "c2"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TakeAuthState(ctx, h2); !errors.Is(err, apierror.ErrNotFound) {
		t.Fatalf("state of a deleted connector = %v", err)
	}
}

func testSweep(t *testing.T, s provider.Store) {
	ctx := context.Background()
	p := prov("box", "Box", "a")
	must(t, s.PutProviders(ctx, []provider.Provider{p}))
	must(t, s.CreateConnector(ctx, conn("old", p.ProviderKey, "u"), provider.AuthState{Hash: provider.HashState("old", "b"), ConnectorID: "old", Expiry: t0}))
	must(t, s.CreateConnector(ctx, conn("new", p.ProviderKey, "u"), provider.AuthState{Hash: provider.HashState("new", "b"), ConnectorID: "new", Expiry: t0.Add(time.Hour)}))
	n, err := s.SweepAuthStates(ctx, t0.Add(time.Minute))
	must(t, err)
	if n != 1 {
		t.Fatalf("swept %d, want 1", n)
	}
	if _, err := s.TakeAuthState(ctx, provider.HashState("old", "b")); !errors.Is(err, apierror.ErrNotFound) {
		t.Fatalf("swept state still there: %v", err)
	}
	if _, err := s.TakeAuthState(ctx, provider.HashState("new", "b")); err != nil {
		t.Fatalf("live state swept: %v", err)
	}
}

func testDropGrants(t *testing.T, s provider.Store) {
	ctx := context.Background()
	a, b := prov("google_gmail", "Gmail", "a"), prov("google_drive", "Gmail", "b")
	must(t, s.PutProviders(ctx, []provider.Provider{a, b}))
	for i, spec := range []struct {
		k     provider.ProviderKey
		owner string
	}{{a.ProviderKey, "u1"}, {a.ProviderKey, "u2"}, {b.ProviderKey, "u1"}} {
		c := conn(fmt.Sprintf("c%d", i), spec.k, spec.owner)
		c.Status, c.SealedGrant = provider.StatusActive, []byte("g")
		must(t, s.CreateConnector(ctx, c, provider.AuthState{}))
	}
	if _, err := s.DropGrants(ctx, provider.ConnectorFilter{}, t0); err == nil {
		t.Fatal("DropGrants without a provider name succeeded")
	}
	ids, err := s.DropGrants(ctx, provider.ConnectorFilter{Name: "Gmail", Type: "google_gmail", Owner: "u1"}, t0)
	must(t, err)
	if fmt.Sprint(ids) != "[c0]" {
		t.Fatalf("DropGrants(u1) = %v", ids)
	}
	ids, err = s.DropGrants(ctx, provider.ConnectorFilter{Name: "Gmail"}, t0)
	must(t, err)
	if fmt.Sprint(ids) != "[c1 c2]" {
		t.Fatalf("DropGrants(all) = %v", ids)
	}
	c, _ := s.GetConnector(ctx, "c0")
	if c.Status != provider.StatusRevoked || c.SealedGrant != nil {
		t.Fatalf("dropped connector = %+v", c)
	}
}

// testPendingNeverBlock: pending connectors are not users of their provider. They do not count, a change
// of the provider goes through (they stay), and deleting the provider deletes them and their pending
// authorizations in the same transaction.
func testPendingNeverBlock(t *testing.T, s provider.Store) {
	ctx := context.Background()
	p := prov("github", "GitHub", "a")
	must(t, s.PutProviders(ctx, []provider.Provider{p}))
	must(t, s.CreateConnector(ctx, conn("p1", p.ProviderKey, "u"), provider.AuthState{Hash: provider.HashStartToken("t1"), ConnectorID: "p1", Expiry: t0.Add(time.Hour)}))
	got, err := s.GetProvider(ctx, p.ProviderKey)
	must(t, err)
	if got.Connectors != 0 {
		t.Fatalf("a pending connector counts as a user: Connectors = %d", got.Connectors)
	}
	must(t, s.PutProviders(ctx, []provider.Provider{prov("github", "GitHub", "changed")}))
	if _, err := s.GetConnector(ctx, "p1"); err != nil {
		t.Fatalf("a change of the provider dropped its pending connector: %v", err)
	}
	must(t, s.DeleteProvider(ctx, p.ProviderKey))
	if _, err := s.GetConnector(ctx, "p1"); !errors.Is(err, apierror.ErrNotFound) {
		t.Fatalf("pending connector of a deleted provider: %v, want ErrNotFound", err)
	}
	if _, err := s.TakeAuthState(ctx, provider.HashStartToken("t1")); !errors.Is(err, apierror.ErrNotFound) {
		t.Fatalf("pending authorization of a deleted provider: %v, want ErrNotFound", err)
	}
	// The provider can be loaded again and used by a new connector with the same id.
	must(t, s.PutProviders(ctx, []provider.Provider{p}))
	must(t, s.CreateConnector(ctx, conn("p1", p.ProviderKey, "u"), provider.AuthState{}))
}

// testSweepPending: SweepPendingConnectors deletes pending connectors created before the cut-off, with
// their authorizations, and nothing else.
func testSweepPending(t *testing.T, s provider.Store) {
	ctx := context.Background()
	p := prov("dropbox", "Dropbox", "a")
	must(t, s.PutProviders(ctx, []provider.Provider{p}))
	old := conn("old", p.ProviderKey, "u")
	fresh := conn("fresh", p.ProviderKey, "u")
	fresh.CreateTime = t0.Add(time.Hour)
	must(t, s.CreateConnector(ctx, old, provider.AuthState{Hash: provider.HashState("s-old", "b"), ConnectorID: "old", Expiry: t0.Add(2 * time.Hour)}))
	must(t, s.CreateConnector(ctx, fresh, provider.AuthState{}))
	must(t, s.CreateConnector(ctx, active(conn("done", p.ProviderKey, "u")), provider.AuthState{}))
	gone, err := s.SweepPendingConnectors(ctx, t0.Add(time.Minute))
	must(t, err)
	if len(gone) != 1 || gone[0].ID != "old" {
		t.Fatalf("swept %+v, want only old", gone)
	}
	if _, err := s.GetConnector(ctx, "old"); !errors.Is(err, apierror.ErrNotFound) {
		t.Fatalf("swept connector still there: %v", err)
	}
	if _, err := s.TakeAuthState(ctx, provider.HashState("s-old", "b")); !errors.Is(err, apierror.ErrNotFound) {
		t.Fatalf("authorization of a swept connector still there: %v", err)
	}
	for _, id := range []string{"fresh", "done"} {
		if _, err := s.GetConnector(ctx, id); err != nil {
			t.Fatalf("%s was swept: %v", id, err)
		}
	}
	got, err := s.GetProvider(ctx, p.ProviderKey)
	must(t, err)
	if got.Connectors != 1 {
		t.Fatalf("Connectors = %d, want 1 (the active one)", got.Connectors)
	}
}
