package server

import (
	"context"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/apistatus"
	"github.com/authsuite/authsuite/internal/grpctest"
	"github.com/authsuite/authsuite/internal/suitekey"
	"github.com/authsuite/authsuite/services/token"
	"github.com/authsuite/authsuite/services/token/bboltstore"
)

const (
	testIssuer = "http://127.0.0.1:8080"
	svcSecret  = "s3cret-value-for-svc"
)

var allGrants = []string{GrantClientCredentials}

type fakeClock struct{ ns atomic.Int64 }

func newClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Now().Truncate(time.Second).UnixNano())
	return c
}
func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// countingStore counts the store calls that write, to prove the hot paths do not.
type countingStore struct {
	token.Store
	writes atomic.Int64
}

func (c *countingStore) Revoke(ctx context.Context, r token.Revocation) error {
	c.writes.Add(1)
	return c.Store.Revoke(ctx, r)
}
func (c *countingStore) UpdateKeys(ctx context.Context, f func([]token.SigningKey) ([]token.SigningKey, error)) error {
	c.writes.Add(1)
	return c.Store.UpdateKeys(ctx, f)
}
func (c *countingStore) PutClientSnapshot(ctx context.Context, b []byte) error {
	c.writes.Add(1)
	return c.Store.PutClientSnapshot(ctx, b)
}
func (c *countingStore) SweepRevocations(ctx context.Context, t time.Time) (int, error) {
	c.writes.Add(1)
	return c.Store.SweepRevocations(ctx, t)
}

// env is a token server on loopback gRPC with a fake registry and bbolt in a temp dir.
type env struct {
	t       *testing.T
	kr      *suitekey.Keyring
	cred    string
	reg     *fakeRegistry
	regAddr string
	regStop func()
	dbPath  string
	// shared, when set, is the store every start uses instead of the bbolt file at dbPath: replicas over
	// one store value. The env does not close it.
	shared token.Store
	clock  *fakeClock

	st       *countingStore
	srv      *Server
	oauth    tokenv1.OAuthServiceClient
	simple   tokenv1.SimpleTokenServiceClient
	internal tokenv1.TokenInternalServiceClient
	stopRun  func()

	publicConn grpc.ClientConnInterface
	// browserConn carries the internal credential, which the browser-facing AuthorizeService requires
	// (the gateway presents its own credential; see internal/internalauth).
	browserConn grpc.ClientConnInterface
}

func newEnv(t *testing.T, mod ...func(*Deps)) *env {
	t.Helper()
	return newEnvOn(t, nil, mod...)
}

// newEnvOn is newEnv on the shared store st (nil: a bbolt file of its own).
func newEnvOn(t *testing.T, st token.Store, mod ...func(*Deps)) *env {
	t.Helper()
	kr, err := suitekey.New(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, kr: kr, cred: kr.InternalCredential(), reg: newFakeRegistry(kr),
		dbPath: filepath.Join(t.TempDir(), "token.db"), shared: st, clock: newClock()}
	e.regAddr, e.regStop = e.reg.serve(t, e.cred)
	e.reg.put(e.reg.record("svc", "default", allGrants, []string{"adminapi", "sudo", "openid", "read"}, 3600,
		secretSpec{id: "sec1", value: svcSecret}))
	e.start(mod...)
	return e
}

// replica starts another token server on e's store, registry, keyring and clock: a second replica of the
// service. e must run on a shared store (newEnvOn).
func (e *env) replica(mod ...func(*Deps)) *env {
	e.t.Helper()
	if e.shared == nil {
		e.t.Fatal("replica of an env without a shared store")
	}
	return e.replicaOn(e.shared, mod...)
}

// replicaOn is replica on st, another store value over the same data (another etcd client, say).
func (e *env) replicaOn(st token.Store, mod ...func(*Deps)) *env {
	e.t.Helper()
	r := &env{t: e.t, kr: e.kr, cred: e.cred, reg: e.reg, regAddr: e.regAddr, regStop: e.regStop, shared: st, clock: e.clock}
	r.start(mod...)
	return r
}

// start opens the store and starts a server (after stop, a restart over the same file).
func (e *env) start(mod ...func(*Deps)) {
	t := e.t
	t.Helper()
	var bs token.Store = e.shared
	if bs == nil {
		var err error
		if bs, err = bboltstore.Open(e.dbPath); err != nil {
			t.Fatal(err)
		}
	}
	e.st = &countingStore{Store: bs}
	deps := Deps{
		Store: e.st, Keyring: e.kr, Registry: registryv1.NewRegistryInternalServiceClient(grpctest.Dial(t, e.regAddr, e.cred)),
		Issuer: testIssuer + "/", Now: e.clock.Now, ReconnectMin: 20 * time.Millisecond, ReconnectMax: 100 * time.Millisecond,
		SecretUseFlushInterval: time.Hour, MaintenanceInterval: time.Hour,
	}
	for _, m := range mod {
		m(&deps)
	}
	var err error
	e.srv, err = New(deps)
	if err != nil {
		t.Fatal(err)
	}
	addr := grpctest.Serve(t, e.cred, e.srv.Register)
	public := grpctest.Dial(t, addr, "")
	e.publicConn = public
	e.browserConn = grpctest.Dial(t, addr, e.cred)
	e.oauth = tokenv1.NewOAuthServiceClient(public)
	e.simple = tokenv1.NewSimpleTokenServiceClient(public)
	e.internal = tokenv1.NewTokenInternalServiceClient(grpctest.Dial(t, addr, e.cred))
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { e.srv.Run(ctx) })
	var once sync.Once
	e.stopRun = func() {
		once.Do(func() {
			cancel()
			wg.Wait()
			if e.shared == nil {
				bs.Close()
			}
		})
	}
	t.Cleanup(e.stopRun)
	select {
	case <-e.srv.ReadyC():
	case <-time.After(10 * time.Second):
		t.Fatal("server never became ready")
	}
}

// awaitRegistry waits until the server's client view has applied every change the fake registry has made
// so far (its latest revision): an event, not a poll.
func (e *env) awaitRegistry() { e.t.Helper(); e.awaitRegistryWithin(5 * time.Second) }

// awaitRegistryWithin is awaitRegistry, failing the test unless the view applies it within d.
func (e *env) awaitRegistryWithin(d time.Duration) {
	e.t.Helper()
	rev := e.reg.revision()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if err := e.srv.cache.WaitRevision(ctx, rev); err != nil {
		e.t.Fatalf("registry revision %d not applied within %v (applied: %d): %v", rev, d, e.srv.cache.Revision(), err)
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		<-tick.C
	}
}

func creds(id, secret string) *tokenv1.ClientCredentials {
	return &tokenv1.ClientCredentials{ClientId: id, ClientSecret: secret}
}

func (e *env) token(id, secret, scope string) (*tokenv1.TokenResponse, error) {
	return e.oauth.Token(context.Background(), &tokenv1.TokenRequest{GrantType: GrantClientCredentials, Client: creds(id, secret), Scope: scope})
}

func (e *env) mustToken(id, secret, scope string) string {
	e.t.Helper()
	r, err := e.token(id, secret, scope)
	if err != nil {
		e.t.Fatalf("token for %s: %v", id, err)
	}
	return r.GetAccessToken()
}

func (e *env) check(tok string) (*tokenv1.CheckTokenResponse, error) {
	return e.simple.CheckToken(context.Background(), &tokenv1.CheckTokenRequest{Token: tok})
}

// wantOAuth asserts err is an OAuth error with code and HTTP status.
func wantOAuth(t *testing.T, err error, code string, httpStatus int) {
	t.Helper()
	if err == nil {
		t.Fatalf("succeeded; want %s", code)
	}
	info := apistatus.FromStatus(err)
	if info.OAuthCode != code || info.HTTPStatus != httpStatus {
		t.Fatalf("got %v (oauth %q, http %d); want %s %d", err, info.OAuthCode, info.HTTPStatus, code, httpStatus)
	}
}

// grpcDialPublic dials the env's token server without the internal credential.
func grpcDialPublic(t *testing.T, e *env) grpc.ClientConnInterface {
	t.Helper()
	return e.publicConn
}
