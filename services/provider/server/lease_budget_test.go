package server_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authsuite/authsuite/services/provider"
	"github.com/authsuite/authsuite/services/provider/memstore"
)

// leaseClock is a provider.Store that notes (in real time) when a refresh lease was won and when its
// holder wrote the connector again (the refreshed grant, or the lease given back), and can make reading a
// provider slow, as a store in the middle of an election is.
type leaseClock struct {
	provider.Store
	slowProvider atomic.Int64 // nanoseconds GetProvider takes
	claimed      atomic.Int64 // unix nanoseconds of the last won claim
	wrote        atomic.Int64 // unix nanoseconds of the holder's next write after it
}

func (s *leaseClock) GetProvider(ctx context.Context, k provider.ProviderKey) (provider.Provider, error) {
	if d := time.Duration(s.slowProvider.Load()); d > 0 {
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return provider.Provider{}, ctx.Err()
		}
	}
	return s.Store.GetProvider(ctx, k)
}

func (s *leaseClock) ClaimRefresh(ctx context.Context, id, holder string, now, until time.Time) (bool, provider.Connector, error) {
	won, c, err := s.Store.ClaimRefresh(ctx, id, holder, now, until)
	if won && err == nil {
		s.claimed.Store(time.Now().UnixNano())
	}
	return won, c, err
}

func (s *leaseClock) ReleaseRefresh(ctx context.Context, id, holder string) error {
	s.wrote.CompareAndSwap(0, time.Now().UnixNano())
	return s.Store.ReleaseRefresh(ctx, id, holder)
}

func (s *leaseClock) UpdateConnector(ctx context.Context, id string, fn func(provider.Connector) (provider.Connector, error)) (provider.Connector, error) {
	if s.claimed.Load() != 0 {
		s.wrote.CompareAndSwap(0, time.Now().UnixNano())
	}
	return s.Store.UpdateConnector(ctx, id, fn)
}

// TestRefreshEndsWithinItsLease: the replica that holds a connector's refresh lease must have stored the
// provider's answer (or given the lease back) before the lease runs out; after that another replica takes
// the lease and sends the same refresh token again, which a provider that rotates refresh tokens answers
// with invalid_grant (and may take as reuse of a stolen token). So the time the holder spends reading the
// provider's settings counts against the provider call's budget: here the read takes half the lease and
// the provider never answers, and the lease is still given back in time.
func TestRefreshEndsWithinItsLease(t *testing.T) {
	const lease = 2 * time.Second
	up := newUpstream(t)
	st := &leaseClock{Store: memstore.New()}
	e := up.serve(t, st, lease)
	e.mustLoad(t, e.odataConfig("OData"))
	id, _ := e.authorize(t, "alice", `{"connectorType": "odata", "oauthProvider": "OData", "kind": "named"}`)
	up.clock.Advance(2 * time.Hour)
	release := up.fake.holdRefreshes()
	defer release()
	st.slowProvider.Store(int64(lease / 2))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := e.accessToken(ctx, id); err == nil {
		t.Fatal("a provider that never answers refreshed the grant")
	}
	claimed, wrote := st.claimed.Load(), st.wrote.Load()
	if claimed == 0 || wrote == 0 {
		t.Fatalf("claimed at %d, wrote at %d: the refresh did not run under the lease", claimed, wrote)
	}
	if held := time.Duration(wrote - claimed); held >= lease {
		t.Errorf("the holder wrote the connector %v after winning a %v lease; another replica could have refreshed meanwhile", held, lease)
	}
}
