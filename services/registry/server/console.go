package server

import (
	"context"
	"errors"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/services/registry"
)

// consoleService implements ConsoleService: before a sign-in, the gateway's admin console asks which client
// signs a tenant's administrators in. Only the gateway may call it (browser-facing); it needs no token.
type consoleService struct {
	registryv1.UnimplementedConsoleServiceServer
	s *Server
}

func (cs *consoleService) FindConsoleClient(ctx context.Context, req *registryv1.FindConsoleClientRequest) (*registryv1.FindConsoleClientResponse, error) {
	code := req.GetTenantCode()
	if err := registry.ValidateTenant(registry.Tenant{ID: "x", Code: code}); err != nil {
		return nil, err
	}
	t, err := cs.s.store.GetTenantByCode(ctx, code)
	if err != nil {
		return nil, err
	}
	id := registry.ConsoleClientID(t.ID)
	c, err := cs.s.store.GetClient(ctx, id)
	if err != nil || c.TenantID != t.ID {
		return nil, apierror.NotFound("the console client of tenant %q", clipID(code))
	}
	return &registryv1.FindConsoleClientResponse{TenantId: t.ID, ClientId: id}, nil
}

// createTenant stores the new tenant t with its admin console client in one store write
// (Store.CreateTenantWithClients), so no tenant is ever without its console sign-in. Without a public URL
// (a registry told none) the tenant is created alone.
func (s *Server) createTenant(ctx context.Context, t registry.Tenant) (registry.Tenant, error) {
	if s.publicURL == "" {
		return s.store.CreateTenant(ctx, t)
	}
	console := registry.ConsoleClient(t, s.publicURL, t.CreateTime)
	// Name the taken console client id plainly (the store's answer would say only "already exists").
	if c, err := s.store.GetClient(ctx, console.ID); err == nil && c.TenantID != t.ID {
		if _, err := s.store.GetTenant(ctx, t.ID); errors.Is(err, apierror.ErrNotFound) {
			return registry.Tenant{}, apierror.AlreadyExists("tenantId: client %q, the console client the tenant needs, is taken: choose another tenantId", clipID(console.ID))
		}
	}
	return s.store.CreateTenantWithClients(ctx, t, []registry.Client{console})
}

// reservedClientID refuses, for a client of tenantID, an id of the console clients' form other than that
// tenant's own console client's: "console.<another tenant>" would take that tenant's console sign-in away,
// or a future tenant's.
func reservedClientID(id, tenantID string) error {
	if registry.IsConsoleClientID(id) && id != registry.ConsoleClientID(tenantID) {
		return apierror.Invalid("clientId", "%q is reserved: ids %q and %q… name the admin console client of a tenant", clipID(id), registry.SystemConsoleClientID, registry.ConsoleClientPrefix)
	}
	return nil
}
