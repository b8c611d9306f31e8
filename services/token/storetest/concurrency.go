package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authsuite/authsuite/services/token"
)

// Update functions may run more than once (a backend may retry a compare-and-swap when a concurrent write
// got there first). These tests run them under contention, so a retrying backend does retry, and check the
// documented result whatever the number of runs: nothing lost, single use held, and every answer is what
// the last run of the caller's function saw or returned.

var concurrencyTests = []struct {
	name string
	fn   func(t *testing.T, ss stores)
}{
	{"ConsumeCode50", consumeCode50},
	{"RotateRefreshToken50", rotate50},
	{"UpdateKeysConcurrent", updateKeysConcurrent},
	{"UpdateSessionConcurrent", updateSessionConcurrent},
	{"UpdateLoginFailureSetAnswersLastRun", failuresLastRun},
	{"UseAssertionIDRace", useAssertionIDRace},
}

// stores gives each goroutine i one of the store values: the one value of Run, or alternately the two values
// over the same data of RunShared.
type stores []token.Store

func (ss stores) at(i int) token.Store { return ss[i%len(ss)] }

// oneValue runs a concurrency test on one store value (Run).
func oneValue(fn func(t *testing.T, ss stores)) func(t *testing.T, open func() token.Store) {
	return func(t *testing.T, open func() token.Store) {
		s := open()
		defer s.Close()
		fn(t, stores{s})
	}
}

// RunShared runs the concurrency tests with two store values open at once over the same data, for backends
// that allow it (memory handles over one store, etcd clients on one cluster): open is called twice per
// path, and a change through one value must be seen by the other.
func RunShared(t *testing.T, open Opener) {
	tests := append([]struct {
		name string
		fn   func(t *testing.T, ss stores)
	}{{"WatchSeesOtherValuesWrites", testWatchOtherValue}}, concurrencyTests...)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "token.db")
			a, b := open(t, path), open(t, path)
			defer a.Close()
			defer b.Close()
			tc.fn(t, stores{a, b})
		})
	}
}

// consumeCode50: 50 concurrent redemptions of one code: exactly one succeeds, having checked the code
// unused; the 49 others get ErrUsed with the code. The stored code is used.
func consumeCode50(t *testing.T, ss stores) {
	c := token.AuthCode{Hash: h("code50"), ClientID: "web", UserID: "u", FamilyID: "f50", Scopes: []string{"openid"}, Expiry: t0().Add(time.Minute)}
	if err := ss.at(0).PutCode(ctx, c); err != nil {
		t.Fatal(err)
	}
	var wins, used atomic.Int32
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			var seen token.AuthCode
			got, err := ss.at(i).ConsumeCode(ctx, c.Hash, func(c token.AuthCode) error {
				seen = c
				return nil
			})
			switch {
			case err == nil:
				wins.Add(1)
				if seen.Used || got.Used || got.FamilyID != "f50" || !bytes.Equal(got.Hash, c.Hash) {
					t.Errorf("winner checked %+v, answered %+v", seen, got)
				}
			case errors.Is(err, token.ErrUsed):
				used.Add(1)
				if !got.Used || got.FamilyID != "f50" {
					t.Errorf("reuse answered %+v", got)
				}
			default:
				t.Errorf("consume: %v", err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 || used.Load() != 49 {
		t.Fatalf("%d consumed, %d refused as used; want 1 and 49", wins.Load(), used.Load())
	}
	if _, err := ss.at(1).ConsumeCode(ctx, c.Hash, func(token.AuthCode) error { return nil }); !errors.Is(err, token.ErrUsed) {
		t.Fatalf("consume after the race: %v", err)
	}
}

// rotate50: 50 concurrent rotations of one refresh token. Without a grace window exactly one rotates and 49
// are reuses, answered the old token; the successor stays unused and rotates on (the store itself ends no
// family: burning one on reuse is the caller's move). Within a window exactly one rotates and the 49 others
// are replays of that one successor. Every winner's answer is what its last rotate run returned.
func rotate50(t *testing.T, ss stores) {
	for _, window := range []time.Duration{0, time.Minute} {
		fam := fmt.Sprint("fam", window)
		old := token.RefreshToken{Hash: h(fam), FamilyID: fam, ClientID: "web", UserID: "u", Scopes: []string{"openid"}, Expiry: t0().Add(time.Hour)}
		if err := ss.at(0).PutRefreshToken(ctx, old); err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		var rotated, replayed, reused int
		var successor []byte
		var wg sync.WaitGroup
		for i := range 50 {
			wg.Go(func() {
				var last token.RefreshToken
				newHash := h(fmt.Sprint(fam, "-", i))
				r, err := ss.at(i).RotateRefreshTokenGrace(ctx, old.Hash, token.RefreshGrace{Now: t0(), Window: window, Sealed: []byte(fmt.Sprint("sealed", i))},
					func(o token.RefreshToken) (token.RefreshToken, error) {
						n := o
						n.Hash, n.IssueTime = newHash, t0()
						last = n
						return n, nil
					})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil && r.Replayed:
					replayed++
				case err == nil:
					rotated++
					successor = r.Token.Hash
					if !bytes.Equal(r.Token.Hash, last.Hash) || r.Token.Used || !bytes.Equal(r.Token.Predecessor, old.Hash) ||
						string(r.Sealed) != fmt.Sprint("sealed", i) {
						t.Errorf("rotation answered %+v (sealed %q); its last rotate returned %+v", r.Token, r.Sealed, last)
					}
				case errors.Is(err, token.ErrUsed):
					reused++
					if !r.Token.Used || r.Token.FamilyID != fam {
						t.Errorf("reuse answered %+v", r.Token)
					}
				default:
					t.Errorf("rotate: %v", err)
				}
			})
		}
		wg.Wait()
		if rotated != 1 || (window == 0 && reused != 49) || (window > 0 && replayed != 49) {
			t.Fatalf("window %v: %d rotated, %d replayed, %d reused", window, rotated, replayed, reused)
		}
		stored, err := ss.at(1).RefreshToken(ctx, old.Hash)
		if err != nil || !stored.Used || !bytes.Equal(stored.Successor, successor) {
			t.Fatalf("rotated token stored as %+v, %v", stored, err)
		}
		next, err := ss.at(1).RefreshToken(ctx, successor)
		if err != nil || next.Used || next.FamilyID != fam {
			t.Fatalf("successor stored as %+v, %v", next, err)
		}
		// A reuse after the window changes nothing; the successor still rotates.
		if _, err := ss.at(0).RotateRefreshTokenGrace(ctx, old.Hash, token.RefreshGrace{Now: t0().Add(2 * time.Minute)}, func(o token.RefreshToken) (token.RefreshToken, error) {
			t.Error("rotate called for a reuse")
			return o, nil
		}); !errors.Is(err, token.ErrUsed) {
			t.Fatalf("reuse after the window: %v", err)
		}
		if _, err := ss.at(1).RotateRefreshTokenGrace(ctx, successor, token.RefreshGrace{Now: t0().Add(3 * time.Minute)}, func(o token.RefreshToken) (token.RefreshToken, error) {
			o.Hash = h(fam + "-next")
			return o, nil
		}); err != nil {
			t.Fatalf("successor does not rotate after the reuse: %v", err)
		}
	}
}

// updateKeysConcurrent: keys added concurrently, each by an update that appends one key to what it is
// given, are all kept.
func updateKeysConcurrent(t *testing.T, ss stores) {
	const n = 20
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			k := key(fmt.Sprint("k", i), t0().Add(time.Duration(i)*time.Second))
			if err := ss.at(i).UpdateKeys(ctx, func(old []token.SigningKey) ([]token.SigningKey, error) {
				return append(old, k), nil
			}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for _, s := range ss {
		keys, err := s.Keys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) != n {
			t.Fatalf("%d keys after %d concurrent additions", len(keys), n)
		}
		for i, k := range keys {
			if k.ID != fmt.Sprint("k", i) {
				t.Fatalf("key %d is %q; keys are ordered by CreateTime", i, k.ID)
			}
		}
	}
}

// updateSessionConcurrent: clients added to one session concurrently are all kept, and each call answers
// what its last update run returned.
func updateSessionConcurrent(t *testing.T, ss stores) {
	id := h("sess-conc")
	if err := ss.at(0).PutSession(ctx, token.Session{ID: id, SID: "sid-conc", UserID: "u", TenantID: "t", Expiry: t0().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	const n = 30
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			var last token.Session
			client := fmt.Sprint("c", i)
			got, err := ss.at(i).UpdateSession(ctx, id, func(s token.Session) (token.Session, error) {
				s.Clients = append(slices.Clone(s.Clients), client)
				last = s
				return s, nil
			})
			if err != nil {
				t.Error(err)
				return
			}
			if !slices.Contains(got.Clients, client) || !reflect.DeepEqual(got.Clients, last.Clients) || !bytes.Equal(got.ID, id) {
				t.Errorf("answer %+v; last update returned %+v", got, last)
			}
		})
	}
	wg.Wait()
	se, err := ss.at(1).Session(ctx, id)
	if err != nil || len(se.Clients) != n {
		t.Fatalf("session after %d concurrent updates: %d clients, %v", n, len(se.Clients), err)
	}
	if got, err := ss.at(0).SessionBySID(ctx, "sid-conc"); err != nil || !bytes.Equal(got.ID, id) {
		t.Fatalf("SessionBySID after updates: %+v, %v", got, err)
	}
}

// failuresLastRun: concurrent UpdateLoginFailureSet calls lose no count, and each answers what its last
// update run returned.
func failuresLastRun(t *testing.T, ss stores) {
	const n = 30
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			var last []token.LoginFailures
			got, err := ss.at(i).UpdateLoginFailureSet(ctx, []string{"k:last"}, func(fs []token.LoginFailures) ([]token.LoginFailures, error) {
				fs[0].Count++
				fs[0].Last = t0().Add(time.Duration(fs[0].Count) * time.Second)
				fs[0].Expiry = t0().Add(time.Hour)
				last = slices.Clone(fs)
				return fs, nil
			})
			if err != nil {
				t.Error(err)
				return
			}
			if len(got) != 1 || got[0].Count != last[0].Count || !got[0].Last.Equal(last[0].Last) || got[0].Key != "k:last" {
				t.Errorf("answer %+v; last update returned %+v", got, last)
			}
		})
	}
	wg.Wait()
	f, err := ss.at(1).LoginFailures(ctx, "k:last")
	if err != nil || f.Count != n || !f.Last.Equal(t0().Add(n*time.Second)) {
		t.Fatalf("after %d concurrent updates: %+v, %v", n, f, err)
	}
}

// testWatchOtherValue: a watch through one store value sees the revocations and key changes made through
// another, and the other's Revision bounds what the watcher must reach.
func testWatchOtherValue(t *testing.T, ss stores) {
	from := ss[1].Revision()
	if err := ss[0].Revoke(ctx, token.Revocation{JTI: "elsewhere", Expiry: t0()}); err != nil {
		t.Fatal(err)
	}
	if err := ss[0].UpdateKeys(ctx, func([]token.SigningKey) ([]token.SigningKey, error) {
		return []token.SigningKey{key("k", t0())}, nil
	}); err != nil {
		t.Fatal(err)
	}
	sameChanges(t, watchUntil(t, ss[1], from, ss[0].Revision()), "revoke elsewhere "+t0().Format(time.RFC3339), "keys")
}
