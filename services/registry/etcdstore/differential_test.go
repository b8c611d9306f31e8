package etcdstore_test

import (
	"math/rand/v2"
	"testing"

	"github.com/authsuite/authsuite/internal/etcdtest"
	"github.com/authsuite/authsuite/services/registry/memstore"
	"github.com/authsuite/authsuite/services/registry/storetest"
)

// FuzzSameAsMemstore runs one operation sequence (storetest.Differential) against a memstore and an etcd
// store (on a 3-member cluster started once, a new key prefix per input) side by side and fails at the first
// operation whose answer differs.
func FuzzSameAsMemstore(f *testing.F) {
	for _, seed := range storetest.DifferentialSeeds {
		f.Add(seed)
	}
	c := etcdtest.Start(f, 3)
	f.Fuzz(func(t *testing.T, prog []byte) {
		m := memstore.New()
		defer m.Close()
		storetest.Differential(t, prog, m, open(t, c))
	})
}

// TestSameAsMemstore runs pseudo-random operation sequences (a fixed seed, so a failure repeats) on a
// memstore and an etcd store side by side: the fuzz target's check without the fuzzing engine.
func TestSameAsMemstore(t *testing.T) {
	c := etcdtest.Start(t, 3)
	rng := rand.New(rand.NewPCG(1, 2))
	for range 40 {
		prog := make([]byte, 120)
		for i := range prog {
			prog[i] = byte(rng.UintN(256))
		}
		m := memstore.New()
		storetest.Differential(t, prog, m, open(t, c))
		m.Close()
	}
}
