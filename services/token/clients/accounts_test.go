package clients

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	"github.com/authsuite/authsuite/internal/suitekey"
	"github.com/authsuite/authsuite/services/token"
	"github.com/authsuite/authsuite/services/token/bboltstore"
)

// scriptStream plays events to the cache; before handing out event i+1 it calls before(i+1), when event i
// has been applied in full (the cache handles an event before asking for the next).
type scriptStream struct {
	grpc.ClientStream
	events []*registryv1.WatchClientsResponse
	next   int
	before func(i int)
}

func (s *scriptStream) Recv() (*registryv1.WatchClientsResponse, error) {
	if s.before != nil {
		s.before(s.next)
	}
	if s.next >= len(s.events) {
		return nil, io.EOF
	}
	s.next++
	return s.events[s.next-1], nil
}

// scriptRegistry answers each WatchClients with the next stream of streams, and blocks when there is none.
type scriptRegistry struct {
	registryv1.RegistryInternalServiceClient
	streams chan *scriptStream
}

func (r *scriptRegistry) WatchClients(ctx context.Context, _ *registryv1.WatchClientsRequest, _ ...grpc.CallOption) (grpc.ServerStreamingClient[registryv1.WatchClientsResponse], error) {
	select {
	case s := <-r.streams:
		return s, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

var t0 = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

func userEv(tenant, user, inc string, disabled bool, disableTime time.Time) *registryv1.WatchClientsResponse {
	r := &registryv1.UserRecord{TenantId: tenant, UserId: user, Incarnation: inc, Disabled: disabled}
	if !disableTime.IsZero() {
		r.DisableTime = timestamppb.New(disableTime)
	}
	return &registryv1.WatchClientsResponse{Event: &registryv1.WatchClientsResponse_UserUpsert{UserUpsert: r}}
}

func deletedUserEv(tenant, user, inc string) *registryv1.WatchClientsResponse {
	return &registryv1.WatchClientsResponse{Event: &registryv1.WatchClientsResponse_DeletedUser{DeletedUser: &registryv1.UserRef{TenantId: tenant, UserId: user, Incarnation: inc}}}
}

func deletedTenantEv(tenant string) *registryv1.WatchClientsResponse {
	return &registryv1.WatchClientsResponse{Event: &registryv1.WatchClientsResponse_DeletedTenantId{DeletedTenantId: tenant}}
}

func syncedEv(users bool) *registryv1.WatchClientsResponse {
	return &registryv1.WatchClientsResponse{Event: &registryv1.WatchClientsResponse_Synced{Synced: true}, UsersSynced: users}
}

func openTokenStore(t testing.TB, path string) token.Store {
	t.Helper()
	st, err := bboltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func testKeyring(t testing.TB) *suitekey.Keyring {
	kr, err := suitekey.New(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// sameAccounts compares ended account lists in any order.
func sameAccounts(got, want []token.Account) bool {
	cmp := func(a, b token.Account) int {
		switch {
		case a.TenantID+"/"+a.UserID+"/"+a.Incarnation < b.TenantID+"/"+b.UserID+"/"+b.Incarnation:
			return -1
		case a == b:
			return 0
		}
		return 1
	}
	got, want = slices.Clone(got), slices.Clone(want)
	slices.SortFunc(got, cmp)
	slices.SortFunc(want, cmp)
	return slices.Equal(got, want)
}

// TestAccountViewEventsAndResync: user events change CheckAccount at once and report the accounts they end
// (disable, deletion, tenant deletion); a resync after a broken stream ends the accounts deleted or
// re-created meanwhile, and only those; the view survives a restart through the persisted snapshot, so a
// deleted user stays refused while the registry is unreachable.
func TestAccountViewEventsAndResync(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token.db")
	st := openTokenStore(t, path)
	kr := testKeyring(t)
	reg := &scriptRegistry{streams: make(chan *scriptStream, 2)}
	ended := make(chan []token.Account, 16)
	c := NewCache(Config{Registry: reg, Store: st, Keyring: kr, ReconnectMin: time.Millisecond, ReconnectMax: time.Millisecond,
		AccountsEnded: func(_ context.Context, a []token.Account) { ended <- a }})
	t1, t2 := t0.Add(time.Hour), t0.Add(2*time.Hour)
	check := func(what, tenant, user, inc string, issued time.Time, want error) {
		t.Helper()
		if got := c.CheckAccount(tenant, user, inc, issued); got != want {
			t.Fatalf("%s: CheckAccount(%s/%s/%s, %v) = %v, want %v", what, tenant, user, inc, issued, got, want)
		}
	}
	if c.CheckAccount("t", "nobody", "", t0) != nil || c.AccountsReady() {
		t.Fatal("before any snapshot the view must not refuse (it knows no account)")
	}
	var failures []string
	s1 := &scriptStream{events: []*registryv1.WatchClientsResponse{
		userEv("t", "a", "a1", false, time.Time{}),
		userEv("t", "b", "b1", false, time.Time{}),
		userEv("t", "c", "c1", true, t0),
		userEv("t2", "d", "d1", false, time.Time{}),
		syncedEv(true),
		userEv("t", "a", "a1", true, t1), // disabled
		deletedUserEv("t", "c", "c1"),
		deletedTenantEv("t2"),
	}}
	s1.before = func(i int) {
		wantEnded := map[int][]token.Account{
			6: {{TenantID: "t", UserID: "a", Incarnation: "a1"}},
			7: {{TenantID: "t", UserID: "c", Incarnation: "c1"}},
			8: {{TenantID: "t2", UserID: "d", Incarnation: "d1"}},
		}
		if i < 6 {
			return
		}
		select {
		case got := <-ended:
			if !sameAccounts(got, wantEnded[i]) {
				failures = append(failures, fmt.Sprintf("before event %d: ended %v, want %v", i, got, wantEnded[i]))
			}
		default:
			failures = append(failures, fmt.Sprintf("before event %d: nothing ended, want %v", i, wantEnded[i]))
		}
	}
	reg.streams <- s1
	// Stream 2, after the reconnect: b was re-created and a enabled again while disconnected.
	s2 := &scriptStream{events: []*registryv1.WatchClientsResponse{
		userEv("t", "a", "a1", false, t1),
		userEv("t", "b", "b2", false, time.Time{}),
		syncedEv(true),
	}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	select {
	case <-c.ReadyC():
	case <-time.After(5 * time.Second):
		t.Fatal("not ready")
	}
	// Wait for the last event of stream 1 to be handled (it ends the tenant's accounts).
	synced := make(chan struct{})
	s2.before = func(i int) {
		if i == 0 {
			close(synced)
		}
	}
	reg.streams <- s2
	select {
	case <-synced:
	case <-time.After(5 * time.Second):
		t.Fatal("no reconnect")
	}
	if len(failures) > 0 {
		t.Fatal(failures)
	}
	select {
	case got := <-ended:
		if !sameAccounts(got, []token.Account{{TenantID: "t", UserID: "b", Incarnation: "b1"}}) {
			t.Fatalf("resync ended %v; want only b's old incarnation", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the resync ended nothing")
	}
	check("re-created b, old token", "t", "b", "b1", t2, ErrAccountGone)
	check("re-created b, new token", "t", "b", "b2", t2, nil)
	check("a: issued before the disable", "t", "a", "a1", t0, ErrAccountDisabled)
	check("a: issued in the second of the disable", "t", "a", "a1", t1, ErrAccountDisabled)
	check("a: issued after enabling", "t", "a", "a1", t1.Add(time.Second), nil)
	check("deleted c", "t", "c", "c1", t2, ErrAccountGone)
	check("deleted tenant", "t2", "d", "d1", t2, ErrAccountGone)
	check("unknown", "t", "zed", "", t2, ErrAccountGone)

	// Restart while the registry is unreachable: the persisted snapshot keeps refusing.
	if err := c.Persist(context.Background()); err != nil {
		t.Fatal(err)
	}
	c2 := NewCache(Config{Registry: &scriptRegistry{}, Store: st, Keyring: kr})
	if err := c2.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !c2.AccountsReady() {
		t.Fatal("the persisted snapshot lost the account list")
	}
	c = c2
	check("restart: re-created b, old token", "t", "b", "b1", t2, ErrAccountGone)
	check("restart: a before the disable", "t", "a", "a1", t0, ErrAccountDisabled)
	check("restart: a after enabling", "t", "a", "a1", t2, nil)
	check("restart: deleted c", "t", "c", "c1", t2, ErrAccountGone)
}

// TestAccountViewWithoutUserEvents: a registry whose snapshot does not say users_synced (one that predates
// user events) leaves the account list incomplete, so nobody is refused for being unknown.
func TestAccountViewWithoutUserEvents(t *testing.T) {
	st := openTokenStore(t, filepath.Join(t.TempDir(), "token.db"))
	reg := &scriptRegistry{streams: make(chan *scriptStream, 1)}
	c := NewCache(Config{Registry: reg, Store: st, Keyring: testKeyring(t)})
	reg.streams <- &scriptStream{events: []*registryv1.WatchClientsResponse{syncedEv(false)}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if synced, _ := c.watchOnce(ctx); !synced {
		t.Fatal("not synced")
	}
	if c.AccountsReady() || c.CheckAccount("t", "u", "", t0) != nil {
		t.Fatal("an incomplete account list refused a user")
	}
}

// TestAwaitAccount: a sign-in of a just-created account waits until the view lists that incarnation (and
// not for another one), returns at once when the view holds no complete list, and gives up with ctx.
func TestAwaitAccount(t *testing.T) {
	c := NewCache(Config{})
	if err := c.AwaitAccount(context.Background(), "t", "u", "i1"); err != nil {
		t.Fatalf("without an account list: %v", err)
	}
	c.replace(map[string]*Client{}, map[accountKey]*Account{})
	done := make(chan error, 1)
	go func() { done <- c.AwaitAccount(context.Background(), "t", "u", "i1") }()
	other := &Account{TenantID: "t", UserID: "u", Incarnation: "i0"}
	c.applyAccount(other.key(), other)
	select {
	case err := <-done:
		t.Fatalf("returned (%v) for another incarnation", err)
	default:
	}
	a := &Account{TenantID: "t", UserID: "u", Incarnation: "i1"}
	c.applyAccount(a.key(), a)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("not woken by the account's arrival")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.AwaitAccount(ctx, "t", "nobody", "x"); err != context.Canceled {
		t.Fatalf("with a cancelled ctx: %v", err)
	}
}

// TestAccountChangesPersistCoalesced: a burst of account changes is written once, after AccountPersistDelay;
// a change still waiting for its delay is written when the cache stops.
func TestAccountChangesPersistCoalesced(t *testing.T) {
	st := openTokenStore(t, filepath.Join(t.TempDir(), "token.db"))
	kr := testKeyring(t)
	c := NewCache(Config{Registry: &scriptRegistry{}, Store: st, Keyring: kr, PersistDelay: time.Millisecond, AccountPersistDelay: 500 * time.Millisecond})
	c.replace(map[string]*Client{}, map[accountKey]*Account{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.persistLoop(ctx); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for c.Writes() == 0 { // the resync's own write
		if time.Now().After(deadline) {
			t.Fatal("resync not persisted")
		}
		time.Sleep(time.Millisecond)
	}
	for i := range 100 {
		a := &Account{TenantID: "t", UserID: fmt.Sprint("u", i), Incarnation: "i"}
		c.applyAccount(a.key(), a)
	}
	for c.Writes() < 2 {
		if time.Now().After(deadline) {
			t.Fatal("account burst not persisted")
		}
		time.Sleep(time.Millisecond)
	}
	if w := c.Writes(); w != 2 {
		t.Fatalf("%d snapshot writes for one burst of 100 account changes; want 1", w-1)
	}
	last := &Account{TenantID: "t", UserID: "late", Incarnation: "i"}
	c.applyAccount(last.key(), last)
	cancel()
	<-done
	c2 := NewCache(Config{Store: st, Keyring: kr})
	if err := c2.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c2.CheckAccount("t", "late", "i", t0) != nil || c2.CheckAccount("t", "u99", "i", t0) != nil {
		t.Fatal("account changes pending at shutdown were not persisted")
	}
}
