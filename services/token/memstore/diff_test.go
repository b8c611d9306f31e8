package memstore_test

import (
	"bytes"
	"path/filepath"
	"testing"
	"time"

	"github.com/authsuite/authsuite/services/token"
	"github.com/authsuite/authsuite/services/token/bboltstore"
	"github.com/authsuite/authsuite/services/token/memstore"
	"github.com/authsuite/authsuite/services/token/storetest"
)

// FuzzAgainstBoltstore runs one sequence of operations, decoded from the input (storetest.Differential), on
// a memory store and on a bbolt store, and fails when they answer differently.
func FuzzAgainstBoltstore(f *testing.F) {
	for _, seed := range storetest.DifferentialSeeds {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > 400 {
			return
		}
		bs, err := bboltstore.Open(filepath.Join(t.TempDir(), "token.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer bs.Close()
		// Durability is not compared here: skip the fsync and the batch delay so that inputs run fast.
		bs.DB().NoSync, bs.DB().MaxBatchDelay = true, 0
		ms := memstore.New()
		defer ms.Close()
		storetest.Differential(t, in, []string{"boltstore", "memstore"}, bs, ms)
	})
}

// TestDifferentialOddCases pins answers where a careless memory store would differ from the bbolt one:
// expiries kept to the second, an empty client snapshot, a nil and an empty scope list.
func TestDifferentialOddCases(t *testing.T) {
	bs, err := bboltstore.Open(filepath.Join(t.TempDir(), "token.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer bs.Close()
	ms := memstore.New()
	defer ms.Close()
	ctx := t.Context()
	half := base.Add(1500 * time.Millisecond)
	for _, s := range []token.Store{bs, ms} {
		must(t, s.PutClientSnapshot(ctx, nil))
		must(t, s.PutRefreshToken(ctx, token.RefreshToken{Hash: key(0), Scopes: []string{}, Expiry: half}))
		must(t, s.PutRefreshToken(ctx, token.RefreshToken{Hash: key(1), Expiry: half}))
	}
	for _, s := range []token.Store{bs, ms} {
		snap, err := s.ClientSnapshot(ctx)
		if err != nil || snap == nil || len(snap) != 0 {
			t.Fatalf("%T: empty snapshot read back as %#v, %v", s, snap, err)
		}
		rt, _ := s.RefreshToken(ctx, key(0))
		if rt.Scopes == nil || !rt.Expiry.Equal(base.Add(time.Second)) {
			t.Fatalf("%T: %#v", s, rt)
		}
		if rt, _ := s.RefreshToken(ctx, key(1)); rt.Scopes != nil {
			t.Fatalf("%T: nil scopes read back as %#v", s, rt.Scopes)
		}
		// The expiry is 1 s after base once truncated: a sweep at base+1.2 s takes it.
		if n, err := s.SweepExpired(ctx, base.Add(1200*time.Millisecond)); err != nil || n != 2 {
			t.Fatalf("%T: swept %d, %v", s, n, err)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

var base = storetest.DifferentialBase

// key is a record key, as the differential sequences draw them.
func key(i byte) []byte { return bytes.Repeat([]byte{'a' + i%8}, 32) }
