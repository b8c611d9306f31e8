package server_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	"github.com/authsuite/authsuite/internal/etcdtest"
	"github.com/authsuite/authsuite/services/registry/etcdstore"
)

// commitAt skips the commits before revision n (B's store may note an older revision than A's writes, so its
// watch replays commits its snapshot already holds) and returns the first at or after n.
func commitAt(t *testing.T, next func() *registryv1.WatchClientsResponse, n int64) (int64, []*registryv1.WatchClientsResponse) {
	t.Helper()
	for {
		if rev, evs := commit(t, next); rev >= n {
			return rev, evs
		}
	}
}

// TestFeedAcrossReplicasOnEtcd: two registry servers, each with its own etcd client and store value (as two
// processes), on one 3-member etcd cluster. A client created through A reaches B's watcher as one commit at
// the revision A answered; a rename through A re-sends its tenant's clients and a tenant deletion removes
// them, each at the revision A answered.
func TestFeedAcrossReplicasOnEtcd(t *testing.T) {
	cluster := etcdtest.Start(t, 3)
	open := func() *etcdstore.Store {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		st, err := etcdstore.Open(ctx, cluster.Client(t), "/authsuite-test/")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	kr := newKeyring(t)
	a := newEnvOn(t, open(), kr, true)
	b := newEnvOn(t, open(), kr, false)
	a.createClient(t, "acme", "before")
	next := watch(t, b)
	mark := synced(t, next)

	var worst time.Duration
	for _, id := range []string{"x1", "x2", "x3", "x4", "x5"} {
		start := time.Now()
		var hdr metadata.MD
		if _, err := a.clients.CreateClient(as(tokSystem), &registryv1.CreateClientRequest{TenantId: "acme", Client: validClient(id)}, grpc.Header(&hdr)); err != nil {
			t.Fatal(err)
		}
		n := revisionOf(t, hdr)
		rev, evs := commitAt(t, next, n)
		worst = max(worst, time.Since(start))
		if len(evs) != 1 || evs[0].GetUpsert().GetClient().GetClientId() != id || rev < n || n <= mark.GetRevision() {
			t.Fatalf("create %s at A (registry:%d, snapshot at %d) seen at B as %v at %d", id, n, mark.GetRevision(), evs, rev)
		}
	}
	t.Logf("etcd feed latency A→B, write call included: worst %v of 5", worst)

	var hdr metadata.MD
	if _, err := a.tenants.UpdateTenant(as(tokSystem), &registryv1.UpdateTenantRequest{TenantId: "acme", Tenant: &registryv1.Tenant{Code: "acme-2", Name: "Acme"}}, grpc.Header(&hdr)); err != nil {
		t.Fatal(err)
	}
	rev, evs := commitAt(t, next, revisionOf(t, hdr))
	renamed := map[string]bool{}
	for _, ev := range evs {
		if ev.GetUpsert().GetTenantCode() == "acme-2" {
			renamed[ev.GetUpsert().GetClient().GetClientId()] = true
		}
	}
	if len(renamed) != 6 || rev < revisionOf(t, hdr) {
		t.Fatalf("rename re-sent %v at %d; want the 6 clients of acme at %d", renamed, rev, revisionOf(t, hdr))
	}

	if _, err := a.tenants.DeleteTenant(as(tokSystem), &registryv1.DeleteTenantRequest{TenantId: "acme"}, grpc.Header(&hdr)); err != nil {
		t.Fatal(err)
	}
	n := revisionOf(t, hdr)
	for {
		rev, evs := commit(t, next)
		if slices.ContainsFunc(evs, func(ev *registryv1.WatchClientsResponse) bool { return ev.GetDeletedTenantId() == "acme" }) {
			if rev > n {
				t.Fatalf("tenant deletion reported at %d, after the revision A answered (%d)", rev, n)
			}
			break
		}
		if rev >= n {
			t.Fatalf("no tenant deletion up to revision %d: %v", n, evs)
		}
	}
}

// TestFeedAfterEtcdCompaction: a registry replica that has written nothing since it opened its store watches
// from that old revision; once etcd compacted its history past it, a watch ends with UNAVAILABLE, and the
// next one must start from a revision etcd still keeps, sync and follow (not end the same way forever).
func TestFeedAfterEtcdCompaction(t *testing.T) {
	cluster := etcdtest.Start(t, 1)
	cli := cluster.Client(t)
	open := func() *etcdstore.Store {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		st, err := etcdstore.Open(ctx, cluster.Client(t), "/authsuite-test/")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	kr := newKeyring(t)
	stB := open()
	a := newEnvOn(t, open(), kr, true)
	b := newEnvOn(t, stB, kr, false)
	for _, id := range []string{"c1", "c2", "c3"} {
		a.createClient(t, "acme", id)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := cli.Compact(ctx, a.store.Revision(), clientv3.WithCompactPhysical()); err != nil {
		t.Fatal(err)
	}

	// The first watch may end at once (its replica's revision is compacted); a later one must hold.
	var next func() *registryv1.WatchClientsResponse
	for attempt := 0; ; attempt++ {
		if attempt == 3 {
			t.Fatal("every watch ends: the replica keeps watching from a compacted revision")
		}
		stream, err := b.internal.WatchClients(ctx, &registryv1.WatchClientsRequest{})
		if err != nil {
			t.Fatal(err)
		}
		events := make(chan *registryv1.WatchClientsResponse, 100)
		ended := make(chan error, 1)
		go func() {
			for {
				ev, err := stream.Recv()
				if err != nil {
					ended <- err
					return
				}
				events <- ev
			}
		}()
		next = func() *registryv1.WatchClientsResponse {
			select {
			case ev := <-events:
				return ev
			case err := <-ended:
				wantCode(t, err, codes.Unavailable)
				return nil
			case <-ctx.Done():
				t.Fatal("no watch event in time")
				return nil
			}
		}
		for ev := next(); ev != nil && !ev.GetSynced(); ev = next() {
		}
		var hdr metadata.MD
		if _, err := a.clients.CreateClient(as(tokSystem), &registryv1.CreateClientRequest{TenantId: "acme", Client: validClient(fmt.Sprint("late", attempt))}, grpc.Header(&hdr)); err != nil {
			t.Fatal(err)
		}
		n := revisionOf(t, hdr)
		for {
			ev := next()
			if ev == nil {
				break // ended: try again
			}
			if ev.GetRevisionComplete() && ev.GetRevision() >= n {
				return
			}
		}
	}
}
