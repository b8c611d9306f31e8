package server_test

import (
	"context"
	"testing"

	"github.com/authsuite/authsuite/internal/etcdtest"
	"github.com/authsuite/authsuite/services/registry/etcdstore"
)

// newEtcdFactorEnv is newFactorEnv on a one-member etcd cluster, where UpdateUser is a compare-and-swap
// that runs its function again when another writer got in first.
func newEtcdFactorEnv(t testing.TB) *fenv {
	cluster := etcdtest.Start(t, 1)
	st, err := etcdstore.Open(context.Background(), cluster.Client(t), "/authsuite-factors/")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return newFactorEnv(t, st, "")
}
