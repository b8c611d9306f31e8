package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/authsuite/authsuite/services/token"
)

// throttleTests are the conformance tests of UpdateLoginFailureSet; Run runs them with the others.
var throttleTests = []struct {
	name string
	fn   func(t *testing.T, open func() token.Store)
}{
	{"UpdateLoginFailureSet", testUpdateLoginFailureSet},
	{"UpdateLoginFailureSetConcurrent", testUpdateLoginFailureSetConcurrent},
}

// testUpdateLoginFailureSet: absent keys arrive as zero values with their key; results are stored together
// (and survive a reopen); a zero count deletes; an error or a wrong-length result changes nothing.
func testUpdateLoginFailureSet(t *testing.T, open func() token.Store) {
	s := open()
	keys := []string{"acct:a", "addr:b"}
	got, err := s.UpdateLoginFailureSet(ctx, keys, func(fs []token.LoginFailures) ([]token.LoginFailures, error) {
		for i, f := range fs {
			if f.Key != keys[i] || f.Count != 0 || !f.Expiry.IsZero() {
				t.Errorf("absent record %d: update got %+v", i, f)
			}
			fs[i].Count, fs[i].Last, fs[i].Expiry = i+1, t0(), t0().Add(time.Hour)
		}
		return fs, nil
	})
	if err != nil || len(got) != 2 || got[0].Count != 1 || got[1].Count != 2 || got[1].Key != "addr:b" {
		t.Fatalf("first update = %+v, %v", got, err)
	}
	boom := errors.New("boom")
	for name, update := range map[string]func([]token.LoginFailures) ([]token.LoginFailures, error){
		"error": func(fs []token.LoginFailures) ([]token.LoginFailures, error) {
			fs[0].Count = 99
			return fs, boom
		},
		"short result": func(fs []token.LoginFailures) ([]token.LoginFailures, error) {
			fs[0].Count = 99
			return fs[:1], nil
		},
	} {
		if _, err := s.UpdateLoginFailureSet(ctx, keys, update); err == nil || (name == "error" && !errors.Is(err, boom)) {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if _, err := s.UpdateLoginFailureSet(ctx, []string{"acct:a", "acct:a"}, func(fs []token.LoginFailures) ([]token.LoginFailures, error) { return fs, nil }); err == nil {
		t.Fatal("a key given twice was accepted")
	}
	s.Close()
	s = open()
	defer s.Close()
	for i, k := range keys {
		if f, err := s.LoginFailures(ctx, k); err != nil || f.Count != i+1 || !f.Expiry.Equal(t0().Add(time.Hour)) {
			t.Fatalf("%s after failed updates and a reopen: %+v, %v", k, f, err)
		}
	}
	// A zero count (without a lock) deletes; a lock keeps the record.
	if _, err := s.UpdateLoginFailureSet(ctx, keys, func(fs []token.LoginFailures) ([]token.LoginFailures, error) {
		fs[0].Count, fs[1].Count, fs[1].LockedUntil = 0, 0, t0().Add(time.Minute)
		return fs, nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LoginFailures(ctx, "acct:a"); !errors.Is(err, token.ErrNotFound) {
		t.Fatalf("zero count kept: %v", err)
	}
	if f, err := s.LoginFailures(ctx, "addr:b"); err != nil || !f.LockedUntil.Equal(t0().Add(time.Minute)) {
		t.Fatalf("locked record: %+v, %v", f, err)
	}
}

// testUpdateLoginFailureSetConcurrent: concurrent reservations over two keys lose nothing, and a bound
// checked inside the update holds exactly (never more than limit increments of the first key).
func testUpdateLoginFailureSetConcurrent(t *testing.T, open func() token.Store) {
	s := open()
	defer s.Close()
	const n, limit = 40, 7
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if _, err := s.UpdateLoginFailureSet(ctx, []string{"acct:race", "addr:race"}, func(fs []token.LoginFailures) ([]token.LoginFailures, error) {
				if fs[0].Count < limit {
					fs[0].Count++
				}
				fs[1].Count++
				fs[0].Expiry, fs[1].Expiry = t0().Add(time.Hour), t0().Add(time.Hour)
				return fs, nil
			}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if f, err := s.LoginFailures(ctx, "acct:race"); err != nil || f.Count != limit {
		t.Fatalf("bounded key after %d concurrent updates: %+v, %v", n, f, err)
	}
	if f, err := s.LoginFailures(ctx, "addr:race"); err != nil || f.Count != n {
		t.Fatalf("counted key after %d concurrent updates: %+v, %v", n, f, err)
	}
}
