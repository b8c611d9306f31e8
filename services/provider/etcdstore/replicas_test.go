package etcdstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/authsuite/authsuite/internal/changelog"
	"github.com/authsuite/authsuite/internal/etcdtest"
	"github.com/authsuite/authsuite/services/provider"
	"github.com/authsuite/authsuite/services/provider/etcdstore"
)

// TestTwoReplicas: two store values on one prefix, each talking to a different member, act as one store: a
// write through one is reported to a watcher of the other and read there, and of 25 claimers on each
// exactly one takes a connector's refresh lease.
func TestTwoReplicas(t *testing.T) {
	ctx := context.Background()
	c := etcdtest.Start(t, 3)
	a, err := etcdstore.Open(ctx, c.ClientAt(t, 0), "/suite/")
	if err != nil {
		t.Fatal(err)
	}
	b, err := etcdstore.Open(ctx, c.ClientAt(t, 1), "/suite/")
	if err != nil {
		t.Fatal(err)
	}
	seen := make(chan provider.Change, 16)
	wctx, cancel := context.WithCancel(ctx)
	watchErr := make(chan error, 1)
	go func() {
		watchErr <- b.Watch(wctx, b.Revision(), func(batch changelog.Batch[provider.Change]) error {
			for _, ch := range batch.Changes {
				seen <- ch
			}
			return nil
		})
	}()
	defer func() {
		cancel()
		if err := <-watchErr; !errors.Is(err, context.Canceled) {
			t.Errorf("watch ended with %v", err)
		}
	}()
	k := provider.ProviderKey{Type: "github", Name: "GitHub"}
	if err := a.PutProviders(ctx, []provider.Provider{{ProviderKey: k, UpdateTime: t0}}); err != nil {
		t.Fatal(err)
	}
	if err := a.CreateConnector(ctx, provider.Connector{ID: "c1", Provider: k, Status: provider.StatusActive,
		SealedGrant: []byte("g"), CreateTime: t0, UpdateTime: t0}, provider.AuthState{}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"provider", "connector"} {
		select {
		case ch := <-seen:
			if (want == "provider") != (ch.Provider != nil) || (want == "connector") != (ch.Connector != nil && ch.Connector.ID == "c1") {
				t.Fatalf("replica b saw %+v, want a %s change", ch, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("replica b saw no %s change", want)
		}
	}
	if got, err := b.GetConnector(ctx, "c1"); err != nil || string(got.SealedGrant) != "g" {
		t.Fatalf("replica b reads %+v, %v", got, err)
	}

	var wg sync.WaitGroup
	var mu sync.Mutex
	var winners []string
	for i := range 50 {
		s := map[bool]*etcdstore.Store{true: a, false: b}[i%2 == 0]
		wg.Add(1)
		go func() {
			defer wg.Done()
			holder := fmt.Sprint("claimer-", i)
			ok, _, err := s.ClaimRefresh(ctx, "c1", holder, t0, t0.Add(time.Minute))
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				winners = append(winners, holder)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(winners) != 1 {
		t.Fatalf("%d claimers over two replicas won: %v", len(winners), winners)
	}
	if got, _ := a.GetConnector(ctx, "c1"); got.RefreshHolder != winners[0] {
		t.Fatalf("replica a sees the lease of %q, want %q", got.RefreshHolder, winners[0])
	}
}

// TestUpdateRunsAgainAfterLostRace: when another writer changes the connector between UpdateConnector's
// read and its write, the function runs again on the new value, and only that run's result is stored.
func TestUpdateRunsAgainAfterLostRace(t *testing.T) {
	ctx := context.Background()
	c := etcdtest.Start(t, 1)
	a, err := etcdstore.Open(ctx, c.Client(t), "/suite/")
	if err != nil {
		t.Fatal(err)
	}
	b, err := etcdstore.Open(ctx, c.Client(t), "/suite/")
	if err != nil {
		t.Fatal(err)
	}
	k := provider.ProviderKey{Type: "github", Name: "GitHub"}
	if err := a.PutProviders(ctx, []provider.Provider{{ProviderKey: k, UpdateTime: t0}}); err != nil {
		t.Fatal(err)
	}
	if err := a.CreateConnector(ctx, provider.Connector{ID: "c1", Provider: k, Status: provider.StatusActive, CreateTime: t0, UpdateTime: t0}, provider.AuthState{}); err != nil {
		t.Fatal(err)
	}
	var seen []string
	got, err := a.UpdateConnector(ctx, "c1", func(c provider.Connector) (provider.Connector, error) {
		seen = append(seen, c.Failure)
		if len(seen) == 1 { // a concurrent writer comes first
			if _, err := b.UpdateConnector(ctx, "c1", func(c provider.Connector) (provider.Connector, error) {
				c.Failure = "other"
				return c, nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		c.Scopes = append(c.Scopes, fmt.Sprint(len(seen)))
		return c, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(seen) != "[ other]" || got.Failure != "other" || fmt.Sprint(got.Scopes) != "[2]" {
		t.Fatalf("runs saw %q; result %+v: want a second run on the other writer's value", seen, got)
	}
	if stored, _ := a.GetConnector(ctx, "c1"); stored.Failure != "other" || fmt.Sprint(stored.Scopes) != "[2]" {
		t.Fatalf("stored %+v", stored)
	}
}

// BenchmarkWatchLatency: from a connector update through one store value to its change at another's
// watch, on a 3-member cluster (the values talk to different members).
func BenchmarkWatchLatency(b *testing.B) {
	ctx := context.Background()
	c := etcdtest.Start(b, 3)
	w, err := etcdstore.Open(ctx, c.ClientAt(b, 0), "/bench/")
	if err != nil {
		b.Fatal(err)
	}
	s, err := etcdstore.Open(ctx, c.ClientAt(b, 1), "/bench/")
	if err != nil {
		b.Fatal(err)
	}
	k := provider.ProviderKey{Type: "github", Name: "GitHub"}
	if err := s.PutProviders(ctx, []provider.Provider{{ProviderKey: k, UpdateTime: t0}}); err != nil {
		b.Fatal(err)
	}
	if err := s.CreateConnector(ctx, provider.Connector{ID: "c1", Provider: k, Status: provider.StatusActive, CreateTime: t0, UpdateTime: t0}, provider.AuthState{}); err != nil {
		b.Fatal(err)
	}
	seen := make(chan struct{}, 1)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go w.Watch(wctx, s.Revision(), func(batch changelog.Batch[provider.Change]) error {
		if len(batch.Changes) > 0 {
			seen <- struct{}{}
		}
		return nil
	})
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.UpdateConnector(ctx, "c1", func(c provider.Connector) (provider.Connector, error) {
			c.Failure = fmt.Sprint(time.Now().UnixNano())
			return c, nil
		}); err != nil {
			b.Fatal(err)
		}
		<-seen
	}
}
