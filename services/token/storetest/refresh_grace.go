package storetest

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/authsuite/authsuite/services/token"
)

// graceNext is a rotate function for RotateRefreshTokenGrace: the old token under a new key, counting calls.
func graceNext(key string, calls *int) func(token.RefreshToken) (token.RefreshToken, error) {
	return func(old token.RefreshToken) (token.RefreshToken, error) {
		*calls++
		n := old
		n.Hash = h(key)
		return n, nil
	}
}

// testRefreshRotationGrace: the immediately previous token, within its window, is answered with the same
// successor and changes nothing; after the window, or once the successor rotated on, it is ErrUsed; a
// failing check changes nothing; the grace state survives a reopen.
func testRefreshRotationGrace(t *testing.T, open func() token.Store) {
	s := open()
	first := token.RefreshToken{Hash: h("g0"), FamilyID: "f", ClientID: "web", UserID: "u", Scopes: []string{"openid", "offline_access"}, Expiry: t0().Add(time.Hour)}
	if err := s.PutRefreshToken(ctx, first); err != nil {
		t.Fatal(err)
	}
	grace := func(at time.Duration, sealed string) token.RefreshGrace {
		return token.RefreshGrace{Now: t0().Add(at), Window: 30 * time.Second, Sealed: []byte(sealed)}
	}
	calls := 0
	r1, err := s.RotateRefreshTokenGrace(ctx, h("g0"), grace(0, "sealed-g1"), graceNext("g1", &calls))
	if err != nil || r1.Replayed || !bytes.Equal(r1.Token.Hash, h("g1")) || string(r1.Sealed) != "sealed-g1" ||
		r1.Token.Used || r1.Token.FamilyID != "f" || !bytes.Equal(r1.Token.Predecessor, h("g0")) || !r1.Token.Expiry.Equal(first.Expiry) {
		t.Fatalf("rotation: %+v, %v", r1, err)
	}
	// A retry with g0 inside the window: the same successor, its sealed value, the check run, nothing stored.
	calls = 0
	again, err := s.RotateRefreshTokenGrace(ctx, h("g0"), grace(29*time.Second, "sealed-other"), graceNext("other", &calls))
	if err != nil || !again.Replayed || !bytes.Equal(again.Token.Hash, h("g1")) || string(again.Sealed) != "sealed-g1" || again.Token.Used || calls != 1 {
		t.Fatalf("retry in the window: %+v, %v (rotate called %d times)", again, err, calls)
	}
	if _, err := s.RefreshToken(ctx, h("other")); !errors.Is(err, token.ErrNotFound) {
		t.Fatalf("a replay stored a token: %v", err)
	}
	boom := errors.New("boom")
	if _, err := s.RotateRefreshTokenGrace(ctx, h("g0"), grace(time.Second, "x"), func(token.RefreshToken) (token.RefreshToken, error) { return token.RefreshToken{}, boom }); !errors.Is(err, boom) {
		t.Fatalf("a refused replay: %v", err)
	}
	// At the window's end the previous token is a reuse.
	old, err := s.RotateRefreshTokenGrace(ctx, h("g0"), grace(30*time.Second, "x"), graceNext("late", &calls))
	if !errors.Is(err, token.ErrUsed) || old.Replayed || old.Token.FamilyID != "f" || !old.Token.Used {
		t.Fatalf("retry after the window: %+v, %v", old, err)
	}
	s.Close()
	s = open()
	defer s.Close()
	// After a reopen, g1 rotates to g2; g0 is then no longer the immediately previous token.
	if again, err := s.RotateRefreshTokenGrace(ctx, h("g0"), grace(2*time.Second, "x"), graceNext("x", &calls)); err != nil || !again.Replayed {
		t.Fatalf("retry after reopen: %+v, %v", again, err)
	}
	r2, err := s.RotateRefreshTokenGrace(ctx, h("g1"), grace(3*time.Second, "sealed-g2"), graceNext("g2", &calls))
	if err != nil || r2.Replayed || !bytes.Equal(r2.Token.Hash, h("g2")) {
		t.Fatalf("second rotation: %+v, %v", r2, err)
	}
	if _, err := s.RotateRefreshTokenGrace(ctx, h("g0"), grace(4*time.Second, "x"), graceNext("y", &calls)); !errors.Is(err, token.ErrUsed) {
		t.Fatalf("an older token inside its window: %v, want ErrUsed", err)
	}
	if g0, err := s.RefreshToken(ctx, h("g0")); err != nil || g0.SealedSuccessor != nil {
		t.Fatalf("g0 keeps its sealed successor after g1 rotated on: %+v, %v", g0, err)
	}
	if again, err := s.RotateRefreshTokenGrace(ctx, h("g1"), grace(5*time.Second, "x"), graceNext("z", &calls)); err != nil || !again.Replayed || !bytes.Equal(again.Token.Hash, h("g2")) {
		t.Fatalf("the new previous token: %+v, %v", again, err)
	}
	if _, err := s.RotateRefreshTokenGrace(ctx, h("nope"), grace(0, "x"), graceNext("zz", &calls)); !errors.Is(err, token.ErrNotFound) {
		t.Fatalf("missing token: %v", err)
	}
	if _, err := s.RotateRefreshTokenGrace(ctx, h("g2"), grace(6*time.Second, "x"), func(o token.RefreshToken) (token.RefreshToken, error) { return o, nil }); err == nil {
		t.Fatal("rotation to the same key accepted")
	}
}

// testRefreshRotationGraceConcurrent: concurrent presentations of one token are serialized: exactly one
// rotates it and, within the window, every other one gets that same successor; without a window they are
// reuses.
func testRefreshRotationGraceConcurrent(t *testing.T, open func() token.Store) {
	s := open()
	defer s.Close()
	for _, window := range []time.Duration{30 * time.Second, 0} {
		key := "c" + window.String()
		if err := s.PutRefreshToken(ctx, token.RefreshToken{Hash: h(key), FamilyID: key, ClientID: "web", Expiry: t0().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		var rotated, replayed, used int
		var successors [][]byte
		var wg sync.WaitGroup
		for i := range 6 {
			wg.Go(func() {
				calls := 0
				next := key + string(rune('a'+i))
				r, err := s.RotateRefreshTokenGrace(ctx, h(key), token.RefreshGrace{Now: t0(), Window: window, Sealed: []byte(next)}, graceNext(next, &calls))
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil && r.Replayed:
					replayed++
					successors = append(successors, r.Token.Hash)
				case err == nil:
					rotated++
					successors = append(successors, r.Token.Hash)
				case errors.Is(err, token.ErrUsed):
					used++
				default:
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if window > 0 && (rotated != 1 || replayed != 5) || window == 0 && (rotated != 1 || used != 5) {
			t.Fatalf("window %v: %d rotations, %d replays, %d reuses", window, rotated, replayed, used)
		}
		for _, sc := range successors {
			if !bytes.Equal(sc, successors[0]) {
				t.Fatalf("window %v: concurrent presentations got different successors", window)
			}
		}
	}
}

// rotateNoGrace rotates the token under hash with no retry window: a used token is always ErrUsed, with the
// old token, and rotate is not called then.
func rotateNoGrace(ctx context.Context, s token.Store, hash []byte, rotate func(token.RefreshToken) (token.RefreshToken, error)) (token.RefreshToken, error) {
	out, err := s.RotateRefreshTokenGrace(ctx, hash, token.RefreshGrace{Now: time.Now()}, rotate)
	return out.Token, err
}
