package etcdstore

import (
	"context"
	"fmt"
	"testing"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/authsuite/authsuite/internal/etcdtest"
	"github.com/authsuite/authsuite/services/registry"
)

// TestDeleteTenantSweepOutlivesTheCaller: the client records a tenant delete leaves behind are removed even
// when the caller goes away as soon as the delete committed (a gRPC client that timed out or hung up), so a
// deleted tenant's thousands of clients do not stay in etcd for good, to be paged through by every listing.
func TestDeleteTenantSweepOutlivesTheCaller(t *testing.T) {
	c := etcdtest.Start(t, 3)
	cli := c.Client(t)
	s := openAt(t, cli, "/sweep/")
	ctx := context.Background()
	const n = 5000
	clients := make([]registry.Client, n)
	for i := range clients {
		clients[i] = seedClient("big", fmt.Sprintf("c%05d", i))
	}
	if ok, err := s.Seed(ctx, []registry.Tenant{{ID: "big", Code: "big"}}, clients, nil); !ok || err != nil {
		t.Fatalf("seed: %v %v", ok, err)
	}
	// The caller hangs up once the tenant's deletion is committed and answered: when the sweep of its
	// client records has begun.
	dctx, hangUp := context.WithCancel(ctx)
	defer hangUp()
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	watching := cli.Watch(wctx, s.p+"c/", clientv3.WithPrefix(), clientv3.WithRev(s.Revision()+1))
	go func() {
		for wr := range watching {
			for _, ev := range wr.Events {
				if ev.Type == mvccpb.DELETE {
					hangUp()
					return
				}
			}
		}
	}()
	deleted, err := s.DeleteTenant(dctx, "big")
	if err != nil || len(deleted) != n {
		t.Fatalf("DeleteTenant: %d clients, %v", len(deleted), err)
	}
	left, err := cli.Get(ctx, s.p+"c/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		t.Fatal(err)
	}
	if left.Count != 0 {
		t.Errorf("%d client records of the deleted tenant are left in etcd", left.Count)
	}
}
