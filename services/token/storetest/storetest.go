// Package storetest is the conformance suite every token store implementation runs:
//
//	func TestConformance(t *testing.T) { storetest.Run(t, func(t *testing.T, path string) token.Store { … }) }
//
// open must open the store persisted at path (a fresh directory per test), so that reopening the same path
// shows what a restart would. Backends that can have two store values open over the same data at once
// (memory handles, etcd clients) also run RunShared; Differential runs one operation sequence on several
// stores and fails where they answer differently (the fuzz targets of memstore and etcdstore).
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/authsuite/authsuite/services/token"
)

// Opener opens (or reopens) the store at path. The suite closes what it opens.
type Opener func(t *testing.T, path string) token.Store

// Run runs the conformance suite.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, open func() token.Store)
	}{
		{"KeysEmpty", testKeysEmpty},
		{"UpdateKeys", testUpdateKeys},
		{"UpdateKeysErrorChangesNothing", testUpdateKeysError},
		{"KeysSurviveReopen", testKeysReopen},
		{"Revocations", testRevocations},
		{"ConcurrentRevocations", testConcurrentRevocations},
		{"Sweep", testSweep},
		{"ClientSnapshot", testClientSnapshot},
		{"Closed", testClosed},
	}
	tests = append(tests, signinTests...)
	tests = append(tests, throttleTests...)
	tests = append(tests, accountTests...)
	tests = append(tests, watchTests...)
	tests = append(tests, assertionTests...)
	tests = append(tests, sessionListTests...)
	tests = append(tests, deviceTests...)
	tests = append(tests, consentTests...)
	for _, c := range concurrencyTests {
		tests = append(tests, struct {
			name string
			fn   func(t *testing.T, open func() token.Store)
		}{c.name, oneValue(c.fn)})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "token.db")
			tc.fn(t, func() token.Store { return open(t, path) })
		})
	}
}

var ctx = context.Background()

func t0() time.Time { return time.Unix(1_700_000_000, 0).UTC() }

func testKeysEmpty(t *testing.T, open func() token.Store) {
	s := open()
	defer s.Close()
	keys, err := s.Keys(ctx)
	if err != nil || len(keys) != 0 {
		t.Fatalf("Keys = %v, %v; want none", keys, err)
	}
}

func key(id string, created time.Time) token.SigningKey {
	return token.SigningKey{ID: id, Alg: "ES256", Private: []byte("sealed-" + id), CreateTime: created}
}

func sameKeys(t *testing.T, got, want []token.SigningKey) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d keys, want %d", len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.ID != w.ID || g.Alg != w.Alg || !bytes.Equal(g.Private, w.Private) ||
			!g.CreateTime.Equal(w.CreateTime) || !g.RetireTime.Equal(w.RetireTime) {
			t.Fatalf("key %d = %+v, want %+v", i, g, w)
		}
	}
}

func testUpdateKeys(t *testing.T, open func() token.Store) {
	s := open()
	defer s.Close()
	a, b := key("a", t0().Add(time.Hour)), key("b", t0())
	if err := s.UpdateKeys(ctx, func(old []token.SigningKey) ([]token.SigningKey, error) {
		if len(old) != 0 {
			t.Errorf("old = %v", old)
		}
		return []token.SigningKey{a, b}, nil
	}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sameKeys(t, got, []token.SigningKey{b, a}) // ordered by CreateTime
	b.RetireTime = t0().Add(2 * time.Hour)
	if err := s.UpdateKeys(ctx, func(old []token.SigningKey) ([]token.SigningKey, error) {
		sameKeys(t, old, []token.SigningKey{key("b", t0()), a})
		return []token.SigningKey{b}, nil // a deleted
	}); err != nil {
		t.Fatal(err)
	}
	got, _ = s.Keys(ctx)
	sameKeys(t, got, []token.SigningKey{b})
	// Returned data is the caller's.
	got[0].Private[0] = 'X'
	again, _ := s.Keys(ctx)
	sameKeys(t, again, []token.SigningKey{b})
	// Duplicate ids are refused.
	if err := s.UpdateKeys(ctx, func([]token.SigningKey) ([]token.SigningKey, error) {
		return []token.SigningKey{a, a}, nil
	}); err == nil {
		t.Fatal("duplicate ids accepted")
	}
}

func testUpdateKeysError(t *testing.T, open func() token.Store) {
	s := open()
	defer s.Close()
	a := key("a", t0())
	s.UpdateKeys(ctx, func([]token.SigningKey) ([]token.SigningKey, error) { return []token.SigningKey{a}, nil })
	boom := errors.New("boom")
	err := s.UpdateKeys(ctx, func([]token.SigningKey) ([]token.SigningKey, error) { return nil, boom })
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	got, _ := s.Keys(ctx)
	sameKeys(t, got, []token.SigningKey{a})
}

func testKeysReopen(t *testing.T, open func() token.Store) {
	s := open()
	a := key("a", t0())
	a.RetireTime = t0().Add(time.Minute)
	if err := s.UpdateKeys(ctx, func([]token.SigningKey) ([]token.SigningKey, error) { return []token.SigningKey{a}, nil }); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = open()
	defer s.Close()
	got, err := s.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sameKeys(t, got, []token.SigningKey{a})
}

func revMap(t *testing.T, s token.Store) map[string]time.Time {
	t.Helper()
	rs, err := s.Revocations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]time.Time{}
	for _, r := range rs {
		m[r.JTI] = r.Expiry
	}
	return m
}

func testRevocations(t *testing.T, open func() token.Store) {
	s := open()
	if err := s.Revoke(ctx, token.Revocation{JTI: "j1", Expiry: t0()}); err != nil {
		t.Fatal(err)
	}
	if err := s.Revoke(ctx, token.Revocation{JTI: "j2", Expiry: t0().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Revoke(ctx, token.Revocation{JTI: "j1", Expiry: t0().Add(time.Minute)}); err != nil { // replaces
		t.Fatal(err)
	}
	if err := s.Revoke(ctx, token.Revocation{JTI: "", Expiry: t0()}); err == nil {
		t.Fatal("empty jti accepted")
	}
	s.Close()
	s = open()
	defer s.Close()
	m := revMap(t, s)
	if len(m) != 2 || !m["j1"].Equal(t0().Add(time.Minute)) || !m["j2"].Equal(t0().Add(time.Hour)) {
		t.Fatalf("after reopen: %v", m)
	}
}

func testConcurrentRevocations(t *testing.T, open func() token.Store) {
	s := open()
	defer s.Close()
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			if err := s.Revoke(ctx, token.Revocation{JTI: fmt.Sprint("j", i), Expiry: t0()}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if m := revMap(t, s); len(m) != 50 {
		t.Fatalf("%d revocations, want 50", len(m))
	}
}

func testSweep(t *testing.T, open func() token.Store) {
	s := open()
	defer s.Close()
	for i := range 10 {
		s.Revoke(ctx, token.Revocation{JTI: fmt.Sprint("j", i), Expiry: t0().Add(time.Duration(i) * time.Minute)})
	}
	n, err := s.SweepRevocations(ctx, t0().Add(5*time.Minute))
	if err != nil || n != 5 {
		t.Fatalf("swept %d, %v; want 5", n, err)
	}
	m := revMap(t, s)
	if len(m) != 5 {
		t.Fatalf("left %v", m)
	}
	for i := 5; i < 10; i++ {
		if _, ok := m[fmt.Sprint("j", i)]; !ok {
			t.Fatalf("j%d swept too early", i)
		}
	}
}

func testClientSnapshot(t *testing.T, open func() token.Store) {
	s := open()
	got, err := s.ClientSnapshot(ctx)
	if err != nil || got != nil {
		t.Fatalf("empty store: %q, %v", got, err)
	}
	if err := s.PutClientSnapshot(ctx, []byte("one")); err != nil {
		t.Fatal(err)
	}
	if err := s.PutClientSnapshot(ctx, []byte("two")); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = open()
	defer s.Close()
	got, err = s.ClientSnapshot(ctx)
	if err != nil || string(got) != "two" {
		t.Fatalf("after reopen: %q, %v", got, err)
	}
}

func testClosed(t *testing.T, open func() token.Store) {
	s := open()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Keys(ctx); !errors.Is(err, token.ErrClosed) {
		t.Fatalf("Keys after Close: %v", err)
	}
	if err := s.Revoke(ctx, token.Revocation{JTI: "x", Expiry: t0()}); !errors.Is(err, token.ErrClosed) {
		t.Fatalf("Revoke after Close: %v", err)
	}
}
