package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/services/provider"
)

// testClaimRefresh: of 50 concurrent claimers exactly one wins and the others see its lease; the lease
// holds until it expires or its holder releases it; updates keep it unless their function clears it.
func testClaimRefresh(t *testing.T, s provider.Store) {
	ctx := context.Background()
	p := prov("google_gmail", "Gmail", "a")
	must(t, s.PutProviders(ctx, []provider.Provider{p}))
	must(t, s.CreateConnector(ctx, active(conn("c1", p.ProviderKey, "u")), provider.AuthState{}))
	until := t0.Add(time.Minute)

	var wg sync.WaitGroup
	var mu sync.Mutex
	var winners []string
	var seen []provider.Connector
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			holder := fmt.Sprint("replica-", i)
			claimed, cur, err := s.ClaimRefresh(ctx, "c1", holder, t0, until)
			if err != nil {
				t.Errorf("ClaimRefresh(%s) = %v", holder, err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if claimed {
				winners = append(winners, holder)
				if cur.RefreshHolder != holder || !cur.RefreshUntil.Equal(until) {
					t.Errorf("claimed by %s, but current lease is %q until %v", holder, cur.RefreshHolder, cur.RefreshUntil)
				}
			} else {
				seen = append(seen, cur)
			}
		}()
	}
	wg.Wait()
	if len(winners) != 1 {
		t.Fatalf("%d claimers won (%v), want exactly 1", len(winners), winners)
	}
	for _, c := range seen {
		if c.RefreshHolder != winners[0] || c.ID != "c1" || string(c.SealedGrant) != "sealed-grant" {
			t.Fatalf("a losing claimer saw %+v, want the winner %s's lease", c, winners[0])
		}
	}
	got, err := s.GetConnector(ctx, "c1")
	must(t, err)
	if got.RefreshHolder != winners[0] || !got.RefreshUntil.Equal(until) || !got.UpdateTime.Equal(t0) {
		t.Fatalf("stored connector %+v: want %s's lease and an unchanged UpdateTime", got, winners[0])
	}

	// The holder may claim again (extending it); others may not until it expires.
	if ok, _, err := s.ClaimRefresh(ctx, "c1", winners[0], t0.Add(time.Second), until.Add(time.Minute)); err != nil || !ok {
		t.Fatalf("the holder's second claim = %v, %v; want claimed", ok, err)
	}
	if ok, _, err := s.ClaimRefresh(ctx, "c1", "other", until, until.Add(time.Minute)); err != nil || ok {
		t.Fatalf("a claim before the extended lease expired = %v, %v; want refused", ok, err)
	}
	if ok, cur, err := s.ClaimRefresh(ctx, "c1", "other", until.Add(time.Minute), until.Add(2*time.Minute)); err != nil || !ok || cur.RefreshHolder != "other" {
		t.Fatalf("a claim once the lease expired = %v, %+v, %v; want claimed", ok, cur, err)
	}

	// Release: a stranger's release changes nothing; the holder's frees the lease at once.
	must(t, s.ReleaseRefresh(ctx, "c1", winners[0]))
	if ok, _, _ := s.ClaimRefresh(ctx, "c1", "third", until.Add(time.Minute), until.Add(2*time.Minute)); ok {
		t.Fatal("a release by a former holder freed the current holder's lease")
	}
	must(t, s.ReleaseRefresh(ctx, "c1", "other"))
	if got, _ := s.GetConnector(ctx, "c1"); got.RefreshHolder != "" || !got.RefreshUntil.IsZero() {
		t.Fatalf("after release: %q until %v", got.RefreshHolder, got.RefreshUntil)
	}
	if ok, _, err := s.ClaimRefresh(ctx, "c1", "third", until.Add(time.Minute), until.Add(2*time.Minute)); err != nil || !ok {
		t.Fatalf("a claim after release = %v, %v; want claimed", ok, err)
	}

	// An update that starts from the connector keeps the lease; the holder clears it with the new grant.
	up, err := s.UpdateConnector(ctx, "c1", func(c provider.Connector) (provider.Connector, error) {
		c.Failure = "x"
		return c, nil
	})
	must(t, err)
	if up.RefreshHolder != "third" {
		t.Fatalf("UpdateConnector dropped the lease: %+v", up)
	}
	up, err = s.UpdateConnector(ctx, "c1", func(c provider.Connector) (provider.Connector, error) {
		c.SealedGrant, c.RefreshHolder, c.RefreshUntil = []byte("new-grant"), "", time.Time{}
		return c, nil
	})
	must(t, err)
	if got, _ := s.GetConnector(ctx, "c1"); got.RefreshHolder != "" || string(got.SealedGrant) != "new-grant" {
		t.Fatalf("after the holder's update: %+v", got)
	}

	// Bad calls are refused and change nothing.
	var fe *apierror.FieldError
	if _, _, err := s.ClaimRefresh(ctx, "c1", "", t0, until); !errors.As(err, &fe) {
		t.Fatalf("ClaimRefresh without a holder = %v, want a FieldError", err)
	}
	if _, _, err := s.ClaimRefresh(ctx, "c1", "h", t0, t0); !errors.As(err, &fe) {
		t.Fatalf("ClaimRefresh ending at now = %v, want a FieldError", err)
	}
	if _, _, err := s.ClaimRefresh(ctx, "missing", "h", t0, until); !errors.Is(err, apierror.ErrNotFound) {
		t.Fatalf("ClaimRefresh of a missing connector = %v, want ErrNotFound", err)
	}
	if err := s.ReleaseRefresh(ctx, "missing", "h"); !errors.Is(err, apierror.ErrNotFound) {
		t.Fatalf("ReleaseRefresh of a missing connector = %v, want ErrNotFound", err)
	}
	if got, _ := s.GetConnector(ctx, "c1"); got.RefreshHolder != "" {
		t.Fatalf("a refused claim took the lease: %+v", got)
	}
}

// testConcurrentUpdates: concurrent UpdateConnector calls lose no update: each function sees the result of
// the ones before it. A backend may run a function more than once to get there (see provider.Store).
func testConcurrentUpdates(t *testing.T, s provider.Store) {
	ctx := context.Background()
	p := prov("github", "GitHub", "a")
	must(t, s.PutProviders(ctx, []provider.Provider{p}))
	must(t, s.CreateConnector(ctx, active(conn("c1", p.ProviderKey, "u")), provider.AuthState{}))
	const n = 20
	var wg sync.WaitGroup
	var mu sync.Mutex
	runs := 0
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.UpdateConnector(ctx, "c1", func(c provider.Connector) (provider.Connector, error) {
				mu.Lock()
				runs++
				mu.Unlock()
				c.Scopes = append(c.Scopes, fmt.Sprint(i))
				return c, nil
			}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	got, err := s.GetConnector(ctx, "c1")
	must(t, err)
	if len(got.Scopes) != n || runs < n {
		t.Fatalf("after %d concurrent updates (%d runs of their functions): %d scopes %v", n, runs, len(got.Scopes), got.Scopes)
	}
}

// manyConnectors is how many connectors the scale tests create: more than a replicated backend's
// transaction may hold.
const manyConnectors = 2000

// createMany creates n connectors of k (pending ones with a pending authorization each, else active), 16
// at a time.
func createMany(t *testing.T, s provider.Store, k provider.ProviderKey, prefix string, n int, pending bool) {
	t.Helper()
	ctx := context.Background()
	work := make(chan int)
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				id := fmt.Sprintf("%s%05d", prefix, i)
				c, st := active(conn(id, k, fmt.Sprint("u", i%7))), provider.AuthState{}
				if pending {
					c = conn(id, k, "u")
					st = provider.AuthState{Hash: provider.HashStartToken(id), Expiry: t0.Add(time.Hour)}
				}
				if err := s.CreateConnector(ctx, c, st); err != nil {
					t.Errorf("CreateConnector %s: %v", id, err)
				}
			}
		}()
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
}

// testDropGrantsMany: DropGrants over thousands of connectors of one provider changes every one of them,
// and only them.
func testDropGrantsMany(t *testing.T, s provider.Store) {
	ctx := context.Background()
	p, other := prov("google_gmail", "Gmail", "a"), prov("google_drive", "Drive", "b")
	must(t, s.PutProviders(ctx, []provider.Provider{p, other}))
	createMany(t, s, p.ProviderKey, "g", manyConnectors, false)
	must(t, s.CreateConnector(ctx, active(conn("d1", other.ProviderKey, "u0")), provider.AuthState{}))
	start := time.Now()
	ids, err := s.DropGrants(ctx, provider.ConnectorFilter{Type: "google_gmail", Name: "Gmail"}, t0.Add(time.Hour))
	must(t, err)
	t.Logf("DropGrants over %d connectors: %v", manyConnectors, time.Since(start))
	if len(ids) != manyConnectors || ids[0] != "g00000" || ids[len(ids)-1] != fmt.Sprintf("g%05d", manyConnectors-1) {
		t.Fatalf("DropGrants changed %d connectors (%v … ), want %d in id order", len(ids), ids[:min(3, len(ids))], manyConnectors)
	}
	list, err := s.ListConnectors(ctx, provider.ConnectorFilter{Type: "google_gmail"})
	must(t, err)
	for _, c := range list {
		if c.Status != provider.StatusRevoked || c.SealedGrant != nil || !c.UpdateTime.Equal(t0.Add(time.Hour)) {
			t.Fatalf("after DropGrants: %+v", c)
		}
	}
	if c, _ := s.GetConnector(ctx, "d1"); c.Status != provider.StatusActive {
		t.Fatalf("another provider's connector was changed: %+v", c)
	}
	if again, err := s.DropGrants(ctx, provider.ConnectorFilter{Type: "google_gmail", Name: "Gmail"}, t0); err != nil || len(again) != 0 {
		t.Fatalf("second DropGrants = %d ids, %v; want none", len(again), err)
	}
}

// testDeleteProviderManyPending: a provider with thousands of pending connectors is deleted with all of
// them and their pending authorizations, at once.
func testDeleteProviderManyPending(t *testing.T, s provider.Store) {
	ctx := context.Background()
	p, other := prov("github", "GitHub", "a"), prov("box", "Box", "b")
	must(t, s.PutProviders(ctx, []provider.Provider{p, other}))
	createMany(t, s, p.ProviderKey, "p", manyConnectors, true)
	must(t, s.CreateConnector(ctx, conn("b1", other.ProviderKey, "u"), provider.AuthState{Hash: provider.HashStartToken("b1"), Expiry: t0.Add(time.Hour)}))
	start := time.Now()
	must(t, s.DeleteProvider(ctx, p.ProviderKey))
	t.Logf("DeleteProvider with %d pending connectors: %v", manyConnectors, time.Since(start))
	if list, err := s.ListConnectors(ctx, provider.ConnectorFilter{}); err != nil || len(list) != 1 || list[0].ID != "b1" {
		t.Fatalf("after DeleteProvider: %d connectors, %v; want only b1", len(list), err)
	}
	for _, id := range []string{"p00000", fmt.Sprintf("p%05d", manyConnectors-1)} {
		if _, err := s.GetConnector(ctx, id); !errors.Is(err, apierror.ErrNotFound) {
			t.Fatalf("GetConnector(%s) after its provider's deletion = %v", id, err)
		}
		if _, err := s.TakeAuthState(ctx, provider.HashStartToken(id)); !errors.Is(err, apierror.ErrNotFound) {
			t.Fatalf("pending authorization of %s after its provider's deletion = %v", id, err)
		}
	}
	// The ids are free again, and the other provider's pending authorization is still there.
	must(t, s.PutProviders(ctx, []provider.Provider{p}))
	must(t, s.CreateConnector(ctx, conn("p00000", p.ProviderKey, "u"), provider.AuthState{}))
	if _, err := s.TakeAuthState(ctx, provider.HashStartToken("p00001")); !errors.Is(err, apierror.ErrNotFound) {
		t.Fatalf("an old pending authorization came back: %v", err)
	}
	if st, err := s.TakeAuthState(ctx, provider.HashStartToken("b1")); err != nil || st.ConnectorID != "b1" {
		t.Fatalf("TakeAuthState(b1) = %+v, %v", st, err)
	}
}

// testPutProvidersMany: a load of more providers than a replicated backend's transaction holds operations
// is still all or nothing, its in-use check included.
func testPutProvidersMany(t *testing.T, s provider.Store) {
	ctx := context.Background()
	const n = 300
	ps := make([]provider.Provider, n)
	for i := range ps {
		ps[i] = prov("type", fmt.Sprintf("p%03d", i), fmt.Sprint(i))
	}
	must(t, s.PutProviders(ctx, ps))
	must(t, s.PutProviders(ctx, ps)) // all replaced, none in use
	must(t, s.CreateConnector(ctx, active(conn("c1", ps[150].ProviderKey, "u")), provider.AuthState{}))
	changed := make([]provider.Provider, n)
	for i, p := range ps {
		changed[i] = prov(p.Type, p.Name, "changed")
	}
	var inUse *provider.InUseError
	if err := s.PutProviders(ctx, changed); !errors.As(err, &inUse) || len(inUse.Providers) != 1 || inUse.Providers[0] != ps[150].ProviderKey {
		t.Fatalf("a load over a provider in use = %v, want InUseError naming %s", err, ps[150].ProviderKey)
	}
	list, err := s.ListProviders(ctx)
	must(t, err)
	if len(list) != n {
		t.Fatalf("%d providers, want %d", len(list), n)
	}
	for _, p := range list {
		if p.Settings.ClientID == "changed" {
			t.Fatalf("a refused load changed %s", p.ProviderKey)
		}
		if want := map[bool]int{true: 1}[p.ProviderKey == ps[150].ProviderKey]; p.Connectors != want {
			t.Fatalf("%s has %d connectors, want %d", p.ProviderKey, p.Connectors, want)
		}
	}
	_, err = s.DeleteConnector(ctx, "c1")
	must(t, err)
	must(t, s.PutProviders(ctx, changed))
}
