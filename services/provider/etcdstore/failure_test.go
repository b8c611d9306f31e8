package etcdstore_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/authsuite/authsuite/internal/changelog"
	"github.com/authsuite/authsuite/internal/etcdtest"
	"github.com/authsuite/authsuite/services/provider"
	"github.com/authsuite/authsuite/services/provider/etcdstore"
)

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// TestMemberKilledMidLoad: with a member killed (kill -9) during a load of connector writes and lease
// claims, every write the store acknowledged is there afterwards, and the load goes on through the others.
func TestMemberKilledMidLoad(t *testing.T) {
	ctx := context.Background()
	c := etcdtest.Start(t, 3)
	s, err := etcdstore.Open(ctx, c.Client(t), "/kill/")
	if err != nil {
		t.Fatal(err)
	}
	k := provider.ProviderKey{Type: "github", Name: "GitHub"}
	if err := s.PutProviders(ctx, []provider.Provider{{ProviderKey: k, UpdateTime: t0}}); err != nil {
		t.Fatal(err)
	}
	const before, after = 200, 200
	var mu sync.Mutex
	var acked []string
	var killed bool
	ackedAfter, failed := 0, 0
	reached := make(chan struct{}) // closed when `before` writes were acknowledged
	done := make(chan struct{})    // closed when `after` more were acknowledged after the kill
	var closeReached, closeDone sync.Once
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				id := fmt.Sprintf("w%d-%05d", w, i)
				cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				err := s.CreateConnector(cctx, provider.Connector{ID: id, Provider: k, Status: provider.StatusActive,
					SealedGrant: []byte("g"), CreateTime: t0, UpdateTime: t0}, provider.AuthState{})
				if err == nil {
					_, _, err = s.ClaimRefresh(cctx, id, "h", t0, t0.Add(time.Minute))
				}
				cancel()
				if err != nil {
					mu.Lock()
					failed++
					mu.Unlock()
					t.Logf("%s: %v", id, err)
					continue // not acknowledged
				}
				mu.Lock()
				acked = append(acked, id)
				if len(acked) >= before {
					closeReached.Do(func() { close(reached) })
				}
				if killed {
					if ackedAfter++; ackedAfter >= after {
						closeDone.Do(func() { close(done) })
					}
				}
				mu.Unlock()
			}
		}()
	}
	<-reached
	c.Kill(0)
	mu.Lock()
	killed = true
	mu.Unlock()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Error("the load did not go on after a member was killed")
	}
	close(stop)
	wg.Wait()
	for _, id := range acked {
		got, err := s.GetConnector(ctx, id)
		if err != nil || got.RefreshHolder != "h" {
			t.Fatalf("acknowledged connector %s: %+v, %v", id, got, err)
		}
	}
	t.Logf("%d acknowledged writes, %d after the kill, none lost; %d failed", len(acked), ackedAfter, failed)
}

// BenchmarkClaimRefresh: one lease claim and its release on a 3-member cluster (two compare-and-swaps).
func BenchmarkClaimRefresh(b *testing.B) {
	ctx := context.Background()
	c := etcdtest.Start(b, 3)
	s, err := etcdstore.Open(ctx, c.Client(b), "/bench/")
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
	b.ResetTimer()
	for b.Loop() {
		ok, _, err := s.ClaimRefresh(ctx, "c1", "h", t0, t0.Add(time.Minute))
		if err != nil || !ok {
			b.Fatal(ok, err)
		}
		if err := s.ReleaseRefresh(ctx, "c1", "h"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGetConnector: one connector read (two linearizable reads) on a 3-member cluster.
func BenchmarkGetConnector(b *testing.B) {
	ctx := context.Background()
	c := etcdtest.Start(b, 3)
	s, err := etcdstore.Open(ctx, c.Client(b), "/bench/")
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
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.GetConnector(ctx, "c1"); err != nil {
			b.Fatal(err)
		}
	}
}

// TestWatchSurvivesMemberKill: a watch through a client of every member goes on delivering, in order and
// without a gap, while each member in turn is killed and restarted.
func TestWatchSurvivesMemberKill(t *testing.T) {
	ctx := context.Background()
	c := etcdtest.Start(t, 3)
	w, err := etcdstore.Open(ctx, c.Client(t), "/watch/")
	if err != nil {
		t.Fatal(err)
	}
	s, err := etcdstore.Open(ctx, c.Client(t), "/watch/")
	if err != nil {
		t.Fatal(err)
	}
	seen := make(chan string, 64)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go w.Watch(wctx, w.Revision(), func(b changelog.Batch[provider.Change]) error {
		for _, ch := range b.Changes {
			if ch.Provider != nil {
				seen <- ch.Provider.Name
			}
		}
		return nil
	})
	for i := range 3 {
		c.Kill(i)
		name := fmt.Sprint("after-kill-", i)
		wrote := false
		for attempt := 0; attempt < 5 && !wrote; attempt++ { // a write during the election may fail
			wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
			wrote = s.PutProviders(wctx, []provider.Provider{{ProviderKey: provider.ProviderKey{Type: "t", Name: name}, UpdateTime: t0}}) == nil
			wcancel()
		}
		if !wrote {
			t.Fatalf("no write went through with member %d killed", i)
		}
		select {
		case got := <-seen:
			if got != name {
				t.Fatalf("watch delivered %q, want %q", got, name)
			}
		case <-time.After(15 * time.Second):
			t.Fatalf("the watch delivered nothing with member %d killed", i)
		}
		c.Restart(i)
	}
}
