package storetest

import (
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authsuite/authsuite/services/token"
)

var assertionTests = []struct {
	name string
	fn   func(t *testing.T, open func() token.Store)
}{
	{"UseAssertionIDOnce", testUseAssertionIDOnce},
	{"UseAssertionIDSwept", testUseAssertionIDSwept},
}

// testUseAssertionIDOnce: an id is fresh once, per client; the record survives a reopen; an invalid key is
// refused and records nothing.
func testUseAssertionIDOnce(t *testing.T, open func() token.Store) {
	s := open()
	exp := t0().Add(5 * time.Minute)
	for i, c := range []struct {
		client, jti string
		want        bool
	}{
		{"svc", "j1", true}, {"svc", "j1", false}, {"other", "j1", true}, {"svc", "j2", true},
		// The key separates client id and jti: "sv" with "cj1" is not "svc" with "j1".
		{"sv", "cj1", true},
	} {
		fresh, err := s.UseAssertionID(ctx, c.client, c.jti, exp)
		if err != nil || fresh != c.want {
			t.Errorf("%d: UseAssertionID(%q, %q) = %v, %v; want %v", i, c.client, c.jti, fresh, err, c.want)
		}
	}
	if _, err := s.UseAssertionID(ctx, "svc", strings.Repeat("x", token.MaxKeyBytes), exp); err == nil {
		t.Error("an oversized key was accepted")
	}
	s.Close()
	s = open()
	defer s.Close()
	if fresh, err := s.UseAssertionID(ctx, "svc", "j1", exp); err != nil || fresh {
		t.Errorf("after reopen: %v, %v; want used", fresh, err)
	}
}

// testUseAssertionIDSwept: a used id stays used until a sweep after its expiry, which counts it; then it is
// fresh again.
func testUseAssertionIDSwept(t *testing.T, open func() token.Store) {
	s := open()
	defer s.Close()
	exp := t0().Add(time.Minute)
	if fresh, err := s.UseAssertionID(ctx, "svc", "j", exp); err != nil || !fresh {
		t.Fatalf("first use: %v, %v", fresh, err)
	}
	if n, err := s.SweepExpired(ctx, exp); err != nil || n != 0 {
		t.Fatalf("sweep at expiry: %d, %v; want 0", n, err)
	}
	if fresh, _ := s.UseAssertionID(ctx, "svc", "j", exp); fresh {
		t.Fatal("used again before the sweep")
	}
	if n, err := s.SweepExpired(ctx, exp.Add(time.Second)); err != nil || n != 1 {
		t.Fatalf("sweep after expiry: %d, %v; want 1", n, err)
	}
	if fresh, err := s.UseAssertionID(ctx, "svc", "j", exp.Add(time.Hour)); err != nil || !fresh {
		t.Fatalf("after the sweep: %v, %v; want fresh", fresh, err)
	}
}

// useAssertionIDRace: 32 goroutines (alternating store values under RunShared) race one client's jti:
// exactly one is told fresh.
func useAssertionIDRace(t *testing.T, ss stores) {
	var fresh atomic.Int32
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Go(func() {
			ok, err := ss.at(i).UseAssertionID(ctx, "svc", "race", t0().Add(time.Minute))
			if err != nil {
				t.Error(err)
			}
			if ok {
				fresh.Add(1)
			}
		})
	}
	wg.Wait()
	if n := fresh.Load(); n != 1 {
		t.Fatalf("%d racing uses were fresh, want exactly 1", n)
	}
}
