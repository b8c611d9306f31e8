package etcdstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/internal/changelog"
	"github.com/authsuite/authsuite/internal/etcdtest"
	"github.com/authsuite/authsuite/services/registry"
	"github.com/authsuite/authsuite/services/registry/etcdstore"
	"github.com/authsuite/authsuite/services/registry/storetest"
)

// prefixes numbers the stores of one test binary, each under its own key prefix of the shared cluster.
var prefixes atomic.Int64

// open opens a store under a new prefix of c.
func open(t testing.TB, c *etcdtest.Cluster) *etcdstore.Store {
	t.Helper()
	s, err := etcdstore.Open(context.Background(), c.Client(t), fmt.Sprintf("/test-%d/", prefixes.Add(1)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	c := etcdtest.Start(t, 3)
	storetest.Run(t, func(t *testing.T) registry.Store { return open(t, c) })
}

// TestMemberKilledDuringWrites: the etcd leader is killed with SIGKILL while clients are being created; the
// writes go on through the other members, and every create that was acknowledged (or whose retry found the
// client already there) is readable afterwards, also through the restarted member alone.
func TestMemberKilledDuringWrites(t *testing.T) {
	c := etcdtest.Start(t, 3)
	prefix := fmt.Sprintf("/kill-%d/", prefixes.Add(1))
	s, err := etcdstore.Open(context.Background(), c.Client(t), prefix)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := s.CreateTenant(ctx, registry.Tenant{ID: "a", Code: "a"}); err != nil {
		t.Fatal(err)
	}
	const writers = 8
	var (
		acked    sync.Map
		count    atomic.Int64
		stop     atomic.Bool
		wg       sync.WaitGroup
		failed   atomic.Int64
		progress = make(chan struct{}, 1)
	)
	for w := range writers {
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				id := fmt.Sprintf("w%d-%05d", w, i)
				cl := registry.DefaultClient()
				cl.ID, cl.TenantID = id, "a"
				for attempt := 0; ; attempt++ {
					wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
					_, err := s.CreateClient(wctx, cl)
					cancel()
					if err == nil || (attempt > 0 && errors.Is(err, apierror.ErrAlreadyExists)) {
						break
					}
					failed.Add(1)
					if attempt > 50 {
						t.Errorf("create %s: %v", id, err)
						return
					}
				}
				acked.Store(id, true)
				count.Add(1)
				select {
				case progress <- struct{}{}:
				default:
				}
			}
		})
	}
	waitCount := func(n int64) {
		t.Helper()
		for count.Load() < n {
			select {
			case <-progress:
			case <-time.After(time.Minute):
				t.Fatalf("writes stalled at %d acknowledged creates", count.Load())
			}
		}
	}
	waitCount(200)
	leader := leaderIndex(t, c)
	c.Kill(leader)
	before := count.Load()
	waitCount(before + 300)
	stop.Store(true)
	wg.Wait()
	c.Restart(leader)
	t.Logf("%d creates acknowledged, %d after the kill of member %d; %d attempts failed and were retried",
		count.Load(), count.Load()-before, leader, failed.Load())

	only, err := etcdstore.Open(ctx, c.ClientAt(t, leader), prefix)
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]bool{}
	after := ""
	for {
		items, next, err := only.ListClients(ctx, "a", registry.ListOptions{Limit: registry.MaxPageSize, After: after})
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			stored[it.ID] = true
		}
		if next == "" {
			break
		}
		after = next
	}
	lost := 0
	acked.Range(func(k, _ any) bool {
		if !stored[k.(string)] {
			lost++
			t.Errorf("acknowledged create of %s lost", k)
		}
		return lost < 10
	})
	if _, err := only.GetClient(ctx, "w0-00000"); err != nil {
		t.Fatalf("first client through the restarted member: %v", err)
	}
}

// leaderIndex returns the index of the cluster's current leader.
func leaderIndex(t *testing.T, c *etcdtest.Cluster) int {
	t.Helper()
	cli := c.Client(t)
	for i, ep := range c.Endpoints() {
		st, err := cli.Status(context.Background(), ep)
		if err != nil {
			t.Fatal(err)
		}
		if st.Leader == st.Header.MemberId {
			return i
		}
	}
	t.Fatal("no member is the leader")
	return -1
}

// TestConcurrentLargeSeeds: replicas (each with its own etcd client) seed large, different registries at
// once; exactly one seeds, and the registry holds exactly its records.
func TestConcurrentLargeSeeds(t *testing.T) {
	c := etcdtest.Start(t, 3)
	prefix := fmt.Sprintf("/seeds-%d/", prefixes.Add(1))
	ctx := context.Background()
	const replicas = 3
	results := make([]bool, replicas)
	errs := make([]error, replicas)
	stores := make([]*etcdstore.Store, replicas)
	for i := range replicas {
		s, err := etcdstore.Open(ctx, c.Client(t), prefix)
		if err != nil {
			t.Fatal(err)
		}
		stores[i] = s
	}
	var wg sync.WaitGroup
	for i := range replicas {
		wg.Go(func() {
			var clients []registry.Client
			for j := range 500 {
				cl := registry.DefaultClient()
				cl.ID, cl.TenantID = fmt.Sprintf("r%d-%04d", i, j), "default"
				clients = append(clients, cl)
			}
			start := time.Now()
			results[i], errs[i] = stores[i].Seed(ctx, []registry.Tenant{{ID: "default", Code: "default"}}, clients, nil)
			t.Logf("replica %d: %v after %v", i, results[i], time.Since(start))
		})
	}
	wg.Wait()
	winner := -1
	for i := range replicas {
		if errs[i] != nil {
			t.Fatalf("replica %d: %v", i, errs[i])
		}
		if results[i] {
			if winner >= 0 {
				t.Fatalf("replicas %d and %d both seeded", winner, i)
			}
			winner = i
		}
	}
	if winner < 0 {
		t.Fatal("no replica seeded")
	}
	var ids []string
	after := ""
	for {
		items, next, err := stores[0].ListClients(ctx, "", registry.ListOptions{Limit: registry.MaxPageSize, After: after})
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			ids = append(ids, it.ID)
		}
		if after = next; next == "" {
			break
		}
	}
	if len(ids) != 500 || ids[0] != fmt.Sprintf("r%d-0000", winner) || ids[499] != fmt.Sprintf("r%d-0499", winner) {
		t.Fatalf("registry after concurrent seeds holds %d clients (first %q), want replica %d's 500", len(ids), ids[:min(1, len(ids))], winner)
	}
}

// TestWatchAcrossMemberKill: a watcher that resumes from the last revision it saw whenever Watch fails (as a
// replica's cache does) receives every acknowledged create exactly once and in order, while an etcd member is
// killed and restarted under the write load.
func TestWatchAcrossMemberKill(t *testing.T) {
	c := etcdtest.Start(t, 3)
	ctx := context.Background()
	prefix := fmt.Sprintf("/watchkill-%d/", prefixes.Add(1))
	w, err := etcdstore.Open(ctx, c.Client(t), prefix)
	if err != nil {
		t.Fatal(err)
	}
	s, err := etcdstore.Open(ctx, c.Client(t), prefix)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateTenant(ctx, registry.Tenant{ID: "a", Code: "a"}); err != nil {
		t.Fatal(err)
	}
	from := s.Revision()

	seen := make(chan string, 1<<16)
	wctx, cancel := context.WithCancel(ctx)
	var restarts atomic.Int64
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		last := from
		for wctx.Err() == nil {
			err := w.Watch(wctx, last, func(b changelog.Batch[registry.Change]) error {
				if b.Revision < last {
					return fmt.Errorf("batch at revision %d after %d", b.Revision, last)
				}
				for _, ch := range b.Changes {
					if ch.Client != nil {
						seen <- ch.Client.ID
					}
				}
				last = b.Revision
				return nil
			})
			if errors.Is(err, changelog.ErrCompacted) {
				t.Errorf("watch from %d compacted", last)
				return
			}
			restarts.Add(1)
		}
	}()

	var acked []string
	create := func(id string) {
		cl := registry.DefaultClient()
		cl.ID, cl.TenantID = id, "a"
		for attempt := 0; ; attempt++ {
			actx, acancel := context.WithTimeout(ctx, 3*time.Second)
			_, err := s.CreateClient(actx, cl)
			acancel()
			if err == nil || (attempt > 0 && errors.Is(err, apierror.ErrAlreadyExists)) {
				acked = append(acked, id)
				return
			}
			if attempt > 50 {
				t.Fatalf("create %s: %v", id, err)
			}
		}
	}
	for i := range 100 {
		create(fmt.Sprintf("c%04d", i))
	}
	victim := leaderIndex(t, c)
	c.Kill(victim)
	for i := 100; i < 200; i++ {
		create(fmt.Sprintf("c%04d", i))
	}
	c.Restart(victim)
	for i := 200; i < 250; i++ {
		create(fmt.Sprintf("c%04d", i))
	}
	for i, id := range acked {
		select {
		case got := <-seen:
			if got != id {
				t.Fatalf("watch delivered %q as create %d, want %q", got, i, id)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("watch delivered %d of %d creates", i, len(acked))
		}
	}
	cancel()
	<-watchDone
	t.Logf("%d creates seen in order; the watch was resumed %d times", len(acked), restarts.Load()-1)
}

// TestWatchCompacted: after etcd compacts its history, a watch from before the compaction revision answers
// changelog.ErrCompacted (from the start as from a later revision), and one from the compaction revision on
// replays what followed.
func TestWatchCompacted(t *testing.T) {
	c := etcdtest.Start(t, 3)
	ctx := context.Background()
	cli := c.Client(t)
	s := open(t, c)
	if _, err := s.CreateTenant(ctx, registry.Tenant{ID: "a", Code: "a"}); err != nil {
		t.Fatal(err)
	}
	old := s.Revision()
	if _, err := s.CreateClient(ctx, registry.Client{ID: "c1", TenantID: "a"}); err != nil {
		t.Fatal(err)
	}
	compacted := s.Revision()
	if _, err := cli.Compact(ctx, compacted); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateClient(ctx, registry.Client{ID: "c2", TenantID: "a"}); err != nil {
		t.Fatal(err)
	}
	never := func(changelog.Batch[registry.Change]) error { return errors.New("delivered from compacted history") }
	for _, from := range []int64{0, old} {
		if err := s.Watch(ctx, from, never); !errors.Is(err, changelog.ErrCompacted) {
			t.Fatalf("Watch from %d after compaction at %d: %v, want ErrCompacted", from, compacted, err)
		}
	}
	stop := errors.New("stop")
	err := s.Watch(ctx, compacted, func(b changelog.Batch[registry.Change]) error {
		if len(b.Changes) != 1 || b.Changes[0].Client == nil || b.Changes[0].Client.ID != "c2" {
			t.Errorf("first batch after the compaction revision: %+v", b)
		}
		return stop
	})
	if !errors.Is(err, stop) {
		t.Fatalf("Watch from the compaction revision: %v", err)
	}
}
