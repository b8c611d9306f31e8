package etcdstore_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authsuite/authsuite/internal/etcdtest"
	"github.com/authsuite/authsuite/services/token"
	"github.com/authsuite/authsuite/services/token/etcdstore"
	"github.com/authsuite/authsuite/services/token/memstore"
	"github.com/authsuite/authsuite/services/token/storetest"
)

// corpus reads the inputs the memory store's differential fuzz target kept (Go's corpus file format: one
// []byte("…") line after the header).
func corpus(t testing.TB) [][]byte {
	dir := filepath.Join("..", "memstore", "testdata", "fuzz", "FuzzAgainstBoltstore")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, e := range entries {
		raw, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(raw), "\n") {
			if q, ok := strings.CutPrefix(line, "[]byte("); ok {
				s, err := strconv.Unquote(strings.TrimSuffix(q, ")"))
				if err != nil {
					t.Fatalf("%s: %v", e.Name(), err)
				}
				out = append(out, []byte(s))
			}
		}
	}
	return out
}

// FuzzAgainstMemstore runs one sequence of operations (storetest.Differential) on an etcd store, on a
// one-member cluster started once, and on a memory store, and fails when they answer differently. Its seeds
// are the memory store's differential seeds and kept corpus, so the etcd store answers every sequence the
// bbolt and memory stores were held to alike.
func FuzzAgainstMemstore(f *testing.F) {
	for _, seed := range storetest.DifferentialSeeds {
		f.Add(seed)
	}
	for _, in := range corpus(f) {
		f.Add(in)
	}
	cli := etcdtest.Start(f, 1).Client(f)
	var n atomic.Int64
	f.Fuzz(func(t *testing.T, in []byte) {
		es, err := etcdstore.Open(context.Background(), cli, fmt.Sprintf("/diff-%d/", n.Add(1)))
		if err != nil {
			t.Fatal(err)
		}
		defer es.Close()
		ms := memstore.New()
		defer ms.Close()
		storetest.Differential(t, in, []string{"memstore", "etcdstore"}, ms, es)
	})
}

// TestSelfPredecessorAsMemstore: a refresh token stored as its own predecessor (no rotation makes one, a
// caller's PutRefreshToken can) rotates as on the other backends: it keeps no sealed successor, and the
// rotation still answers the new one's sealed value.
func TestSelfPredecessorAsMemstore(t *testing.T) {
	ctx := context.Background()
	es, err := etcdstore.Open(ctx, etcdtest.Start(t, 1).Client(t), "/self/")
	if err != nil {
		t.Fatal(err)
	}
	defer es.Close()
	ms := memstore.New()
	k, next := h("self"), h("next")
	var answers []string
	for _, s := range []token.Store{ms, es} {
		if err := s.PutRefreshToken(ctx, token.RefreshToken{Hash: k, Predecessor: k, FamilyID: "f", Expiry: t0.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		r, err := s.RotateRefreshTokenGrace(ctx, k, token.RefreshGrace{Now: t0, Window: time.Minute, Sealed: []byte("sealed")}, func(o token.RefreshToken) (token.RefreshToken, error) {
			o.Hash = next
			return o, nil
		})
		old, gerr := s.RefreshToken(ctx, k)
		answers = append(answers, fmt.Sprintf("sealed %q %v; stored used=%v successor=%x sealed=%q %v", r.Sealed, err, old.Used, old.Successor, old.SealedSuccessor, gerr))
	}
	if answers[0] != answers[1] {
		t.Fatalf("memstore: %s\netcdstore: %s", answers[0], answers[1])
	}
}
