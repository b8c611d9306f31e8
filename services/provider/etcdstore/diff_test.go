package etcdstore_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"

	"github.com/authsuite/authsuite/internal/etcdtest"
	"github.com/authsuite/authsuite/services/provider/etcdstore"
	"github.com/authsuite/authsuite/services/provider/memstore"
	"github.com/authsuite/authsuite/services/provider/storetest"
)

// FuzzSameAsMemory runs one sequence of operations, decoded from the input, on an etcd store (3-member
// cluster, a fresh prefix per input) and on a memstore, and fails at the first call whose result or error
// differs (storetest.Differential; revisions differ by design: etcd's are the cluster's). Besides the
// shared seeds, it runs 40 fixed pseudo-random sequences of 150 operations.
func FuzzSameAsMemory(f *testing.F) {
	for _, seed := range storetest.DifferentialSeeds {
		f.Add(seed)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 40 {
		ops := make([]byte, 200)
		for i := range ops {
			ops[i] = byte(rng.IntN(256))
		}
		f.Add(ops)
	}
	c := etcdtest.Start(f, 3)
	cli := c.Client(f)
	var n atomic.Int64
	f.Fuzz(func(t *testing.T, ops []byte) {
		es, err := etcdstore.Open(context.Background(), cli, fmt.Sprintf("/diff-%d/", n.Add(1)))
		if err != nil {
			t.Fatal(err)
		}
		ms := memstore.New()
		defer ms.Close()
		storetest.Differential(t, ops, es, ms, false)
	})
}
