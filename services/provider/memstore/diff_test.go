package memstore_test

import (
	"path/filepath"
	"testing"

	"github.com/authsuite/authsuite/services/provider/bboltstore"
	"github.com/authsuite/authsuite/services/provider/memstore"
	"github.com/authsuite/authsuite/services/provider/storetest"
)

// FuzzSameAsBbolt runs one sequence of operations, decoded from the input, on a memstore and on a
// bboltstore and fails at the first call whose result, error or revision differs (storetest.Differential).
func FuzzSameAsBbolt(f *testing.F) {
	for _, seed := range storetest.DifferentialSeeds {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, ops []byte) {
		bs, err := bboltstore.Open(filepath.Join(t.TempDir(), "provider.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer bs.Close()
		ms := memstore.New()
		defer ms.Close()
		storetest.Differential(t, ops, bs, ms, true)
	})
}
