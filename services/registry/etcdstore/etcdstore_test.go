package etcdstore_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

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
