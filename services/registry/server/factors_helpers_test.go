package server_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	"github.com/authsuite/authsuite/internal/access"
	"github.com/authsuite/authsuite/internal/bearer"
	"github.com/authsuite/authsuite/internal/grpctest"
	"github.com/authsuite/authsuite/internal/suitekey"
	"github.com/authsuite/authsuite/services/registry"
	"github.com/authsuite/authsuite/services/registry/bboltstore"
	"github.com/authsuite/authsuite/services/registry/memstore"
	"github.com/authsuite/authsuite/services/registry/server"
)

// clock is a settable time source for the server.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fenv is a registry server with a settable clock, reached over loopback gRPC: the factor service with the
// internal credential (and without it), the user and identity provider services as admins.
type fenv struct {
	store   registry.Store
	keyring *suitekey.Keyring
	clock   *clock
	factors registryv1.FactorInternalServiceClient
	noCred  registryv1.FactorInternalServiceClient
	users   registryv1.UserServiceClient
	idps    registryv1.IdentityProviderServiceClient
}

// newFactorEnv starts a server on st (a fresh bbolt store when nil) with tenants default and acme and users
// alice (password "correct horse", verified alice@example.com) and bob (no password) in acme.
func newFactorEnv(t testing.TB, st registry.Store, publicURL string) *fenv {
	t.Helper()
	if st == nil {
		b, err := bboltstore.Open(filepath.Join(t.TempDir(), "registry.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		st = b
	}
	ctx := context.Background()
	for _, tn := range []registry.Tenant{{ID: access.SystemTenant, Code: "default"}, {ID: "acme", Code: "acme-code", Name: "Acme"}} {
		if _, err := st.CreateTenant(ctx, tn); err != nil {
			t.Fatal(err)
		}
	}
	alice := registry.User{ID: "alice", TenantID: "acme", LoginName: "alice", Email: "alice@example.com", EmailVerified: true,
		PasswordHash: registry.HashPassword("correct horse")}
	for _, u := range []registry.User{alice, {ID: "bob", TenantID: "acme", LoginName: "bob"}} {
		if _, err := st.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	e := &fenv{store: st, keyring: newKeyring(t), clock: &clock{t: time.Date(2030, 5, 6, 7, 8, 0, 0, time.UTC)}}
	auth := &fakeAuth{tokens: map[string]bearer.TokenInfo{
		tokSystem: {Subject: "admin", ClientID: "admin", TenantID: access.SystemTenant, Scopes: []string{"adminapi", "sudo"}},
		tokAcme:   {Subject: "acme-admin", ClientID: "acme-admin", TenantID: "acme", Scopes: []string{"adminapi"}},
	}}
	srv := server.New(server.Deps{Store: st, Keyring: e.keyring, Auth: auth, Now: e.clock.now, PublicURL: publicURL})
	cred := e.keyring.InternalCredential()
	addr := grpctest.Serve(t, cred, srv.Register)
	cc := grpctest.Dial(t, addr, cred)
	e.factors = registryv1.NewFactorInternalServiceClient(cc)
	e.noCred = registryv1.NewFactorInternalServiceClient(grpctest.Dial(t, addr, ""))
	e.users = registryv1.NewUserServiceClient(cc)
	e.idps = registryv1.NewIdentityProviderServiceClient(cc)
	return e
}

func newMemFactorEnv(t testing.TB) *fenv { return newFactorEnv(t, memstore.New(), "") }

// code is the TOTP code of secret at t (RFC 6238, SHA-1, 6 digits, 30 s), computed independently of the
// server's code path.
func code(t testing.TB, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// enrol enrols alice's TOTP at the clock's time and returns the key's secret and the recovery codes.
func (e *fenv) enrol(t testing.TB, user string) (string, []string) {
	t.Helper()
	ctx := context.Background()
	begin, err := e.factors.BeginTotpEnrollment(ctx, &registryv1.BeginTotpEnrollmentRequest{TenantId: "acme", UserId: user, IssuerLabel: "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	conf, err := e.factors.ConfirmTotpEnrollment(ctx, &registryv1.ConfirmTotpEnrollmentRequest{TenantId: "acme", UserId: user,
		Enrollment: begin.GetEnrollment(), Code: code(t, begin.GetSecret(), e.clock.now())})
	if err != nil {
		t.Fatal(err)
	}
	return begin.GetSecret(), conf.GetRecoveryCodes()
}
