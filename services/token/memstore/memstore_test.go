package memstore_test

import (
	"bytes"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/authsuite/authsuite/services/token"
	"github.com/authsuite/authsuite/services/token/memstore"
	"github.com/authsuite/authsuite/services/token/storetest"
)

// TestConformance runs the whole conformance suite. A memory store lives only as long as the process, so
// the opener keeps one store per path and reopening a path opens a new handle over that store's data.
func TestConformance(t *testing.T) {
	var mu sync.Mutex
	stores := map[string]*memstore.Store{}
	storetest.Run(t, func(t *testing.T, path string) token.Store {
		mu.Lock()
		defer mu.Unlock()
		s, ok := stores[path]
		if !ok {
			s = memstore.New()
			stores[path] = s
		}
		h := s.Reopen()
		t.Cleanup(func() { h.Close() })
		return h
	})
}

// TestNoSharedMemory: changing what was given to the store, what it answered, or what an update function
// was handed never changes what it holds.
func TestNoSharedMemory(t *testing.T) {
	ctx := t.Context()
	s := memstore.New()
	defer s.Close()
	id := []byte("0123456789abcdef0123456789abcdef")
	exp := time.Unix(1_700_000_000, 0)

	se := token.Session{ID: bytes.Clone(id), SID: "sid", Clients: []string{"web"}, Expiry: exp}
	if err := s.PutSession(ctx, se); err != nil {
		t.Fatal(err)
	}
	se.ID[0], se.Clients[0] = 'X', "evil"
	got, err := s.Session(ctx, id)
	if err != nil || got.Clients[0] != "web" {
		t.Fatalf("session after the caller changed its copy: %+v, %v", got, err)
	}
	got.ID[0], got.Clients[0] = 'X', "evil"
	if _, err := s.UpdateSession(ctx, id, func(o token.Session) (token.Session, error) {
		o.Clients[0] = "evil"
		return token.Session{}, errors.New("no")
	}); err == nil {
		t.Fatal("failing update succeeded")
	}
	if again, err := s.SessionBySID(ctx, "sid"); err != nil || again.Clients[0] != "web" || !bytes.Equal(again.ID, id) {
		t.Fatalf("session after changes to answers and to a failed update's input: %+v, %v", again, err)
	}

	rt := token.RefreshToken{Hash: bytes.Clone(id), FamilyID: "f", Scopes: []string{"openid"}, Expiry: exp}
	if err := s.PutRefreshToken(ctx, rt); err != nil {
		t.Fatal(err)
	}
	rt.Scopes[0] = "evil"
	next := []byte("fedcba9876543210fedcba9876543210")
	sealed := []byte("sealed")
	r, err := s.RotateRefreshTokenGrace(ctx, id, token.RefreshGrace{Now: exp, Window: time.Minute, Sealed: sealed}, func(o token.RefreshToken) (token.RefreshToken, error) {
		o.Hash = next
		return o, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sealed[0], next[0], r.Token.Scopes[0], r.Sealed[0] = 'X', 'X', "evil", 'X'
	replay, err := s.RotateRefreshTokenGrace(ctx, id, token.RefreshGrace{Now: exp}, func(o token.RefreshToken) (token.RefreshToken, error) {
		o.Scopes[0], o.Successor[0], o.SealedSuccessor[0] = "evil", 'X', 'X'
		return o, nil
	})
	if err != nil || !replay.Replayed || string(replay.Sealed) != "sealed" || replay.Token.Scopes[0] != "openid" ||
		string(replay.Token.Hash) != "fedcba9876543210fedcba9876543210" {
		t.Fatalf("replay after changes to the rotation's input and answer: %+v, %v", replay, err)
	}

	k := token.SigningKey{ID: "k", Private: []byte("private")}
	if err := s.UpdateKeys(ctx, func([]token.SigningKey) ([]token.SigningKey, error) { return []token.SigningKey{k}, nil }); err != nil {
		t.Fatal(err)
	}
	k.Private[0] = 'X'
	keys, _ := s.Keys(ctx)
	keys[0].Private[0] = 'X'
	if keys, _ := s.Keys(ctx); string(keys[0].Private) != "private" {
		t.Fatalf("key after changes: %q", keys[0].Private)
	}
}

// TestConformanceShared runs the concurrency tests over two handles of one memory store at once.
func TestConformanceShared(t *testing.T) {
	var mu sync.Mutex
	stores := map[string]*memstore.Store{}
	storetest.RunShared(t, func(t *testing.T, path string) token.Store {
		mu.Lock()
		defer mu.Unlock()
		s, ok := stores[path]
		if !ok {
			s = memstore.New()
			stores[path] = s
		}
		h := s.Reopen()
		t.Cleanup(func() { h.Close() })
		return h
	})
}
