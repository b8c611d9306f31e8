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

// createConsoleClient gives the new tenant t its console client, right after the tenant was stored. When
// that fails the tenant is deleted again, so a tenant is never left without its console sign-in; a crash in
// between is repaired by EnsureConsoleClients at the next start. Without a public URL (a registry told
// none) nothing is created.
func (s *Server) createConsoleClient(ctx context.Context, t registry.Tenant) error {
	if s.publicURL == "" {
		return nil
	}
	_, err := s.store.CreateClient(ctx, registry.ConsoleClient(t, s.publicURL, t.CreateTime))
	if err == nil {
		return nil
	}
	if _, derr := s.store.DeleteTenant(context.WithoutCancel(ctx), t.ID); derr != nil {
		s.log.Error("a tenant without its console client is left behind", "tenant", t.ID, "err", derr)
	}
	if errors.Is(err, apierror.ErrAlreadyExists) {
		return apierror.AlreadyExists("client %q, the console client of the new tenant, is taken: choose another tenantId", clipID(registry.ConsoleClientID(t.ID)))
	}
	return err
}
