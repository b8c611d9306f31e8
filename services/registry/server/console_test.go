package server_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"

	"google.golang.org/grpc/codes"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	"github.com/authsuite/authsuite/internal/grpctest"
	"github.com/authsuite/authsuite/services/registry"
	"github.com/authsuite/authsuite/services/registry/bboltstore"
	"github.com/authsuite/authsuite/services/registry/server"
)

// consoleEnv is newEnv's registry with a public URL: new tenants get their admin console client.
func consoleEnv(t *testing.T) (*env, registryv1.ConsoleServiceClient) {
	t.Helper()
	st, err := bboltstore.Open(filepath.Join(t.TempDir(), "registry.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := newEnvOn(t, st, newKeyring(t), true)
	srv := server.New(server.Deps{Store: st, Keyring: e.keyring, Auth: e.auth, Log: slog.New(slog.DiscardHandler), PublicURL: "https://id.example"})
	cc := grpctest.Dial(t, grpctest.Serve(t, e.cred, srv.Register), e.cred)
	e.tenants = registryv1.NewTenantServiceClient(cc)
	e.clients = registryv1.NewClientServiceClient(cc)
	return e, registryv1.NewConsoleServiceClient(cc)
}

func TestCreateTenantCreatesItsConsoleClient(t *testing.T) {
	e, console := consoleEnv(t)
	ctx := context.Background()
	resp, err := e.tenants.CreateTenant(as(tokSystem), &registryv1.CreateTenantRequest{Tenant: &registryv1.Tenant{TenantId: "globex", Code: "globex-code", Name: "Globex"}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := e.store.GetClient(ctx, "console.globex")
	if err != nil || c.TenantID != "globex" || c.RequireClientSecret || c.RedirectURIs[0] != "https://id.example/console/callback" {
		t.Fatalf("console client %+v, %v", c, err)
	}
	if err := registry.ValidateClient(c); err != nil {
		t.Fatal(err)
	}
	found, err := console.FindConsoleClient(ctx, &registryv1.FindConsoleClientRequest{TenantCode: "globex-code"})
	if err != nil || found.GetClientId() != "console.globex" || found.GetTenantId() != resp.GetTenant().GetTenantId() {
		t.Fatalf("FindConsoleClient: %v, %v", found, err)
	}
	for _, code := range []string{"nope", "", "bad code"} {
		_, err := console.FindConsoleClient(ctx, &registryv1.FindConsoleClientRequest{TenantCode: code})
		if code == "nope" {
			wantCode(t, err, codes.NotFound)
		} else {
			wantCode(t, err, codes.InvalidArgument)
		}
	}

	// The console client's id is taken by a client of another tenant: the tenant is refused whole.
	if _, err := e.store.CreateClient(ctx, func() registry.Client {
		c := registry.ConsoleClient(registry.Tenant{ID: "acme"}, "https://id.example", c.CreateTime)
		c.ID = "console.initech"
		return c
	}()); err != nil {
		t.Fatal(err)
	}
	_, err = e.tenants.CreateTenant(as(tokSystem), &registryv1.CreateTenantRequest{Tenant: &registryv1.Tenant{TenantId: "initech", Code: "initech", Name: "Initech"}})
	wantCode(t, err, codes.AlreadyExists)
	if _, err := e.store.GetTenant(ctx, "initech"); err == nil {
		t.Fatal("the tenant was stored without its console client")
	}
}

func TestConsoleClientIDsAreReserved(t *testing.T) {
	e := newEnv(t)
	for id, want := range map[string]codes.Code{
		"console":        codes.InvalidArgument, // the system tenant's
		"console.other":  codes.InvalidArgument, // another (or a future) tenant's
		"console.acme":   codes.OK,              // acme's own, e.g. made again after a delete
		"consoles":       codes.OK,
		"my.console.app": codes.OK,
	} {
		c := validClient(id)
		_, err := e.clients.CreateClient(as(tokAcme), &registryv1.CreateClientRequest{TenantId: "acme", Client: c})
		if want == codes.OK {
			if err != nil {
				t.Errorf("%s: %v", id, err)
			}
			continue
		}
		wantCode(t, err, want)
		wantField(t, err, "clientId")
	}
}
