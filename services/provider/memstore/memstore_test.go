package memstore_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/services/provider"
	"github.com/authsuite/authsuite/services/provider/bboltstore"
	"github.com/authsuite/authsuite/services/provider/memstore"
	"github.com/authsuite/authsuite/services/provider/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) provider.Store { return memstore.New() })
}

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestCopiesInAndOut: nothing a caller passed in or got back shares memory with the store.
func TestCopiesInAndOut(t *testing.T) {
	ctx := context.Background()
	s := memstore.New()
	defer s.Close()
	k := provider.ProviderKey{Type: "github", Name: "GitHub"}
	p := provider.Provider{ProviderKey: k, SealedSecret: []byte("secret"), UpdateTime: t0, Settings: provider.Settings{
		ClientID: "a", Scopes: []provider.ScopeOption{{Label: "l", Scope: "s"}}, Placeholders: []string{"p"},
		ValidateHeaders: []provider.Header{{Name: "h", Value: "v"}},
		Raw:             map[string]any{"CLIENT_ID": "a", "nested": map[string]any{"list": []any{"x"}}},
	}}
	must(t, s.PutProviders(ctx, []provider.Provider{p}))
	p.SealedSecret[0], p.Settings.Scopes[0].Scope, p.Settings.Placeholders[0] = 'X', "X", "X"
	p.Settings.ValidateHeaders[0].Value = "X"
	p.Settings.Raw["nested"].(map[string]any)["list"].([]any)[0] = "X"
	p.Settings.Raw["CLIENT_ID"] = "X"
	want := func() {
		t.Helper()
		got, err := s.GetProvider(ctx, k)
		must(t, err)
		if string(got.SealedSecret) != "secret" || got.Settings.Scopes[0].Scope != "s" || got.Settings.Placeholders[0] != "p" ||
			got.Settings.ValidateHeaders[0].Value != "v" || got.Settings.Raw["CLIENT_ID"] != "a" ||
			got.Settings.Raw["nested"].(map[string]any)["list"].([]any)[0] != "x" {
			t.Fatalf("stored provider changed through a caller's memory: %+v", got)
		}
		got.SealedSecret[0], got.Settings.Scopes[0].Scope, got.Settings.Placeholders[0] = 'Y', "Y", "Y"
		got.Settings.ValidateHeaders[0].Value = "Y"
		got.Settings.Raw["nested"].(map[string]any)["list"].([]any)[0] = "Y"
		got.Settings.Raw["CLIENT_ID"] = "Y"
	}
	want()
	want() // the first call's changes to its result must not show
	list, err := s.ListProviders(ctx)
	must(t, err)
	list[0].Settings.Raw["CLIENT_ID"] = "Z"
	want()

	c := provider.Connector{ID: "c1", Provider: k, Kind: provider.KindSession, Owner: "u", Status: provider.StatusActive,
		Scopes: []string{"repo"}, SealedGrant: []byte("grant"), CreateTime: t0, UpdateTime: t0}
	st := provider.AuthState{Hash: provider.HashState("s", "b"), SealedVerifier: []byte("verifier"), Expiry: t0}
	must(t, s.CreateConnector(ctx, c, st))
	c.Scopes[0], c.SealedGrant[0], st.SealedVerifier[0] = "X", 'X', 'X'
	wantConn := func() {
		t.Helper()
		got, err := s.GetConnector(ctx, "c1")
		must(t, err)
		if got.Scopes[0] != "repo" || string(got.SealedGrant) != "grant" {
			t.Fatalf("stored connector changed through a caller's memory: %+v", got)
		}
		got.Scopes[0], got.SealedGrant[0] = "Y", 'Y'
	}
	wantConn()
	wantConn()
	all, err := s.ListConnectors(ctx, provider.ConnectorFilter{})
	must(t, err)
	all[0].Scopes[0] = "Z"
	wantConn()
	// fn's argument is a copy, and what fn returns is copied before it is stored.
	var kept provider.Connector
	up, err := s.UpdateConnector(ctx, "c1", func(c provider.Connector) (provider.Connector, error) {
		c.Scopes[0] = "changed-in-fn"
		kept = c
		return c, nil
	})
	must(t, err)
	kept.Scopes[0], up.Scopes[0] = "X", "Y"
	if got, _ := s.GetConnector(ctx, "c1"); got.Scopes[0] != "changed-in-fn" {
		t.Fatalf("after UpdateConnector Scopes = %v", got.Scopes)
	}
	taken, err := s.TakeAuthState(ctx, provider.HashState("s", "b"))
	must(t, err)
	if string(taken.SealedVerifier) != "verifier" {
		t.Fatalf("stored state changed through a caller's memory: %+v", taken)
	}
}

// TestStoredFormMatchesBbolt: values read back are the ones bboltstore reads back from its JSON records:
// UTC times, JSON numbers in Settings.Raw, empty optional slices as nil.
func TestStoredFormMatchesBbolt(t *testing.T) {
	ctx := context.Background()
	bs, err := bboltstore.Open(filepath.Join(t.TempDir(), "provider.db"))
	must(t, err)
	defer bs.Close()
	ms := memstore.New()
	defer ms.Close()
	k := provider.ProviderKey{Type: "github", Name: "GitHub"}
	local := time.FixedZone("x", 3600)
	p := provider.Provider{ProviderKey: k, SealedSecret: []byte{}, UpdateTime: time.Now().In(local), Settings: provider.Settings{
		ClientID: "a", Scopes: []provider.ScopeOption{}, Raw: map[string]any{"n": 3, "l": []string{"a"}}}}
	c := provider.Connector{ID: "c1", Provider: k, Status: provider.StatusActive, Scopes: []string{}, SealedGrant: []byte{},
		CreateTime: time.Now().In(local), UpdateTime: t0}
	st := provider.AuthState{Hash: provider.HashState("s", "b"), SealedVerifier: []byte{}, Expiry: time.Now().In(local)}
	for _, s := range []provider.Store{bs, ms} {
		must(t, s.PutProviders(ctx, []provider.Provider{p}))
		must(t, s.CreateConnector(ctx, c, st))
	}
	bp, err := bs.GetProvider(ctx, k)
	must(t, err)
	mp, err := ms.GetProvider(ctx, k)
	must(t, err)
	if !reflect.DeepEqual(bp, mp) {
		t.Fatalf("provider read back:\nbbolt %#v\nmem   %#v", bp, mp)
	}
	bc, _ := bs.GetConnector(ctx, "c1")
	mc, _ := ms.GetConnector(ctx, "c1")
	if !reflect.DeepEqual(bc, mc) {
		t.Fatalf("connector read back:\nbbolt %#v\nmem   %#v", bc, mc)
	}
	bst, _ := bs.TakeAuthState(ctx, st.Hash)
	mst, _ := ms.TakeAuthState(ctx, st.Hash)
	if !reflect.DeepEqual(bst, mst) {
		t.Fatalf("state read back:\nbbolt %#v\nmem   %#v", bst, mst)
	}
	// A value JSON cannot encode is refused by both, and nothing is stored.
	bad := p
	bad.ProviderKey.Name, bad.Settings.Raw = "Bad", map[string]any{"ch": make(chan int)}
	for name, s := range map[string]provider.Store{"bbolt": bs, "mem": ms} {
		if err := s.PutProviders(ctx, []provider.Provider{bad}); err == nil {
			t.Errorf("%s stored an unencodable provider", name)
		}
		if _, err := s.GetProvider(ctx, bad.ProviderKey); !errors.Is(err, apierror.ErrNotFound) {
			t.Errorf("%s: refused provider = %v, want ErrNotFound", name, err)
		}
	}
}

func TestClosed(t *testing.T) {
	s := memstore.New()
	must(t, s.Close())
	must(t, s.Close())
	if _, err := s.ListProviders(context.Background()); !errors.Is(err, apierror.ErrUnavailable) {
		t.Fatalf("ListProviders after Close = %v, want ErrUnavailable", err)
	}
	if _, err := s.TakeAuthState(context.Background(), []byte("h")); !errors.Is(err, apierror.ErrUnavailable) {
		t.Fatalf("TakeAuthState after Close = %v, want ErrUnavailable", err)
	}
}

func TestCanceledContext(t *testing.T) {
	s := memstore.New()
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.PutProviders(ctx, []provider.Provider{{ProviderKey: provider.ProviderKey{Type: "a", Name: "b"}}}); !errors.Is(err, context.Canceled) {
		t.Fatalf("PutProviders with a canceled context = %v", err)
	}
	if list, _ := s.ListProviders(context.Background()); len(list) != 0 {
		t.Fatalf("a canceled PutProviders stored %v", list)
	}
}

// TestConcurrentUpdates: read-modify-write through UpdateConnector loses no update under concurrent
// writers, while readers change their copies (run with -race).
func TestConcurrentUpdates(t *testing.T) {
	ctx := context.Background()
	s := memstore.New()
	defer s.Close()
	k := provider.ProviderKey{Type: "a", Name: "b"}
	must(t, s.PutProviders(ctx, []provider.Provider{{ProviderKey: k}}))
	must(t, s.CreateConnector(ctx, provider.Connector{ID: "c", Provider: k, Status: provider.StatusActive}, provider.AuthState{}))
	const writers, each = 8, 50
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := range each {
				if _, err := s.UpdateConnector(ctx, "c", func(c provider.Connector) (provider.Connector, error) {
					c.Scopes = append(c.Scopes, fmt.Sprint(w, "-", i))
					return c, nil
				}); err != nil {
					t.Error(err)
				}
			}
		}()
		go func() {
			defer wg.Done()
			for range each {
				c, err := s.GetConnector(ctx, "c")
				if err != nil {
					t.Error(err)
				}
				for j := range c.Scopes {
					c.Scopes[j] = "mine"
				}
				if p, err := s.GetProvider(ctx, k); err != nil || p.Connectors != 1 {
					t.Errorf("GetProvider = %+v, %v", p, err)
				}
			}
		}()
	}
	wg.Wait()
	c, err := s.GetConnector(ctx, "c")
	must(t, err)
	if len(c.Scopes) != writers*each {
		t.Fatalf("%d updates stored, want %d", len(c.Scopes), writers*each)
	}
	for _, sc := range c.Scopes {
		if sc == "mine" {
			t.Fatal("a reader's change to its copy reached the store")
		}
	}
}
