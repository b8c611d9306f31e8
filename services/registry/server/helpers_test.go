package server_test

import (
	"context"
	"crypto/rand"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	"github.com/authsuite/authsuite/internal/access"
	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/internal/apistatus"
	"github.com/authsuite/authsuite/internal/bearer"
	"github.com/authsuite/authsuite/internal/grpctest"
	"github.com/authsuite/authsuite/internal/internalauth"
	"github.com/authsuite/authsuite/internal/suitekey"
	"github.com/authsuite/authsuite/services/registry"
	"github.com/authsuite/authsuite/services/registry/bboltstore"
	"github.com/authsuite/authsuite/services/registry/server"
)

// fakeAuth is a hand-written Authenticator: tokens are looked up in a map.
type fakeAuth struct {
	mu     sync.Mutex
	tokens map[string]bearer.TokenInfo
}

func (f *fakeAuth) Authenticate(_ context.Context, token string) (bearer.TokenInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	info, ok := f.tokens[token]
	if !ok {
		return bearer.TokenInfo{}, apierror.Unauthenticated("invalid token")
	}
	return info, nil
}

func (f *fakeAuth) set(token string, info bearer.TokenInfo) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tokens[token] = info
}

// Tokens every env knows.
const (
	tokSystem     = "tok-system"      // client admin of the system tenant: adminapi sudo
	tokAcme       = "tok-acme"        // client acme-admin of tenant acme: adminapi
	tokAcmeSudo   = "tok-acme-sudo"   // client acme-admin of tenant acme: adminapi sudo
	tokNoAdmin    = "tok-noadmin"     // client of the system tenant without adminapi
	tokSystemNoSu = "tok-system-nosu" // client of the system tenant: adminapi only
)

type env struct {
	store    registry.Store
	keyring  *suitekey.Keyring
	auth     *fakeAuth
	addr     string
	cred     string
	tenants  registryv1.TenantServiceClient
	clients  registryv1.ClientServiceClient
	users    registryv1.UserServiceClient
	internal registryv1.RegistryInternalServiceClient
	// noCred is the internal service over a connection without the internal credential.
	noCred registryv1.RegistryInternalServiceClient
	logs   *syncBuffer
	srv    *server.Server
}

type syncBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	return len(p), nil
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

func newKeyring(t testing.TB) *suitekey.Keyring {
	raw := make([]byte, suitekey.KeySize)
	rand.Read(raw)
	kr, err := suitekey.New(raw)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// newEnv starts a registry server over loopback gRPC with tenants default (code default) and acme (code
// acme-code) and the fake tokens above.
func newEnv(t testing.TB) *env {
	t.Helper()
	st, err := bboltstore.Open(filepath.Join(t.TempDir(), "registry.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return newEnvOn(t, st, newKeyring(t), true)
}

// newEnvOn starts a registry server over loopback gRPC on st with keyring kr and the fake tokens above; when
// seed is set it first creates the tenants newEnv creates. Two envs on one store are two replicas.
func newEnvOn(t testing.TB, st registry.Store, kr *suitekey.Keyring, seed bool) *env {
	t.Helper()
	e := &env{store: st, keyring: kr, logs: &syncBuffer{}}
	e.auth = &fakeAuth{tokens: map[string]bearer.TokenInfo{
		tokSystem:     {Subject: "admin", ClientID: "admin", TenantID: access.SystemTenant, Scopes: []string{"adminapi", "sudo"}},
		tokSystemNoSu: {Subject: "ops", ClientID: "ops", TenantID: access.SystemTenant, Scopes: []string{"adminapi"}},
		tokAcme:       {Subject: "acme-admin", ClientID: "acme-admin", TenantID: "acme", Scopes: []string{"adminapi"}},
		tokAcmeSudo:   {Subject: "acme-admin", ClientID: "acme-admin", TenantID: "acme", Scopes: []string{"adminapi", "sudo"}},
		tokNoAdmin:    {Subject: "app", ClientID: "app", TenantID: access.SystemTenant, Scopes: []string{"openid"}},
	}}
	ctx := context.Background()
	for _, tn := range []registry.Tenant{{ID: access.SystemTenant, Code: "default", Name: "System"}, {ID: "acme", Code: "acme-code", Name: "Acme"}} {
		if !seed {
			break
		}
		if _, err := st.CreateTenant(ctx, tn); err != nil {
			t.Fatal(err)
		}
	}
	srv := server.New(server.Deps{
		Store: st, Keyring: e.keyring, Auth: e.auth,
		Log: slog.New(slog.NewJSONHandler(e.logs, nil)),
	})
	e.srv = srv
	e.cred = e.keyring.InternalCredential()
	e.addr = grpctest.Serve(t, e.cred, srv.Register)
	cc := grpctest.Dial(t, e.addr, e.cred)
	e.tenants = registryv1.NewTenantServiceClient(cc)
	e.clients = registryv1.NewClientServiceClient(cc)
	e.users = registryv1.NewUserServiceClient(cc)
	e.internal = registryv1.NewRegistryInternalServiceClient(cc)
	e.noCred = registryv1.NewRegistryInternalServiceClient(grpctest.Dial(t, e.addr, ""))
	return e
}

// as returns a context carrying the bearer token and extra metadata pairs.
func as(token string, kv ...string) context.Context {
	ctx := context.Background()
	if token != "" {
		kv = append([]string{access.MDAuthorization, "Bearer " + token}, kv...)
	}
	return metadata.AppendToOutgoingContext(ctx, kv...)
}

// validClient is a client that passes every rule.
func validClient(id string) *registryv1.Client {
	return &registryv1.Client{
		ClientId:           id,
		ClientName:         "App " + id,
		AllowedGrantTypes:  []string{"authorization_code", "client_credentials"},
		RedirectUris:       []string{"https://app.example/cb", "http://127.0.0.1:8080/cb"},
		AllowedScopes:      []string{"openid", "permissions", "publicapi.all"},
		AllowedCorsOrigins: []string{"https://app.example"},
	}
}

func (e *env) createClient(t testing.TB, tenant, id string) *registryv1.Client {
	t.Helper()
	resp, err := e.clients.CreateClient(as(tokSystem), &registryv1.CreateClientRequest{TenantId: tenant, Client: validClient(id)})
	if err != nil {
		t.Fatalf("CreateClient(%s/%s): %v", tenant, id, err)
	}
	return resp.GetClient()
}

func (e *env) createUser(t testing.TB, tenant string, u *registryv1.User) *registryv1.User {
	t.Helper()
	resp, err := e.users.CreateUser(as(tokSystem), &registryv1.CreateUserRequest{TenantId: tenant, User: u})
	if err != nil {
		t.Fatalf("CreateUser(%s/%s): %v", tenant, u.GetLoginName(), err)
	}
	return resp.GetUser()
}

func wantCode(t testing.TB, err error, code codes.Code) {
	t.Helper()
	if got := apistatus.FromStatus(err).Code; got != code {
		t.Fatalf("got %v (%v), want %v", got, err, code)
	}
}

func wantField(t testing.TB, err error, field string) {
	t.Helper()
	info := apistatus.FromStatus(err)
	if info.Code != codes.InvalidArgument || info.Field != field {
		t.Fatalf("got %v field %q (%v), want InvalidArgument naming %q", info.Code, info.Field, err, field)
	}
}

var _ grpc.ServiceRegistrar = (*grpc.Server)(nil)

func insecureCreds() credentials.TransportCredentials { return insecure.NewCredentials() }

func internalCreds(cred string) credentials.PerRPCCredentials { return internalauth.Credentials(cred) }
