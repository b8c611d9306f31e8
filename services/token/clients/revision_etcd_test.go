package clients

import (
	"context"
	"testing"
	"time"

	"github.com/authsuite/authsuite/internal/etcdtest"
	"github.com/authsuite/authsuite/services/registry/etcdstore"
)

// TestViewFollowsRegistryReplicasOnEtcd is TestViewFollowsRegistryReplicas with registry replicas A and B
// each on its own etcd client and store value (as two processes) over one 3-member etcd cluster.
func TestViewFollowsRegistryReplicasOnEtcd(t *testing.T) {
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
	followReplicas(t, open(), open())
}
