package etcdstore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/authsuite/authsuite/internal/etcdtest"
	"github.com/authsuite/authsuite/services/provider"
)

// TestDeleteProviderCleanupOutlivesTheCaller: the index entries of a deleted provider's (pending)
// connectors are removed even when the caller hangs up once the delete was answered, so they do not stay in
// etcd for good.
func TestDeleteProviderCleanupOutlivesTheCaller(t *testing.T) {
	c := etcdtest.Start(t, 3)
	cli := c.Client(t)
	ctx := context.Background()
	s, err := Open(ctx, cli, "/cleanup/")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	k := provider.ProviderKey{Type: "odata", Name: "OData"}
	if err := s.PutProviders(ctx, []provider.Provider{{ProviderKey: k}}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	const n = 6 * batchSize
	for i := range n {
		con := provider.Connector{ID: fmt.Sprintf("c%04d", i), Provider: k, Kind: provider.KindSession, TenantID: "default",
			Owner: "u", Status: provider.StatusPending, CreateTime: now, UpdateTime: now}
		if err := s.CreateConnector(ctx, con, provider.AuthState{}); err != nil {
			t.Fatal(err)
		}
	}
	dctx, hangUp := context.WithCancel(ctx)
	defer hangUp()
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	watching := cli.Watch(wctx, s.p+"i/", clientv3.WithPrefix(), clientv3.WithRev(s.Revision()+1))
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
	if err := s.DeleteProvider(dctx, k); err != nil {
		t.Fatal(err)
	}
	left, err := cli.Get(ctx, s.p+"i/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		t.Fatal(err)
	}
	if left.Count != 0 {
		t.Errorf("%d index entries of the deleted provider's connectors are left in etcd", left.Count)
	}
}
