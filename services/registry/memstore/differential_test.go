package memstore_test

import (
	"path/filepath"
	"testing"

	"github.com/authsuite/authsuite/services/registry/bboltstore"
	"github.com/authsuite/authsuite/services/registry/memstore"
	"github.com/authsuite/authsuite/services/registry/storetest"
)

// FuzzSameAsBbolt runs one operation sequence (storetest.Differential) against a memstore and a bbolt store
// side by side and fails at the first operation whose answer differs.
func FuzzSameAsBbolt(f *testing.F) {
	for _, seed := range storetest.DifferentialSeeds {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, prog []byte) {
		b, err := bboltstore.Open(filepath.Join(t.TempDir(), "registry.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		b.DB().NoSync = true // the file is thrown away; fsync only slows the fuzzer
		m := memstore.New()
		defer m.Close()
		storetest.Differential(t, prog, m, b)
	})
}
