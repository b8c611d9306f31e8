package server

import (
	"context"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	"github.com/authsuite/authsuite/internal/access"
	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/internal/bearer"
	"github.com/authsuite/authsuite/services/registry"
)

// principal is who an admin call is authorized as, per the suite's one rule (internal/access): the real
// caller, and under sudo the impersonated user whose roles and tenant decide.
type principal = access.Principal

// authorize resolves the caller of an admin call (docs/reference.md#authorization, docs/reference.md#sudo) with bearer.Resolve against the
// registry's own store, then requires an admin of tenantID or of the system tenant, or, when systemOnly
// (TenantService), an admin of the system tenant. Errors: UNAUTHENTICATED without a live token (or when its
// user no longer exists); PERMISSION_DENIED without scope adminapi or role tenant_admin, in another tenant,
// or for sudo that the rule refuses; NOT_FOUND for an unknown sudo user. The returned principal carries the
// real caller whenever the token verified, also with an error, so that the audit record can name it.
func (s *Server) authorize(ctx context.Context, tenantID string, systemOnly bool) (principal, error) {
	p, err := bearer.Resolve(ctx, s.auth, storeDirectory{s.store})
	if err != nil {
		return p, err
	}
	if systemOnly {
		return p, p.RequireSystemAdmin("manage tenants")
	}
	return p, p.RequireAdminOf(tenantID)
}

// storeDirectory is the registry store as the access.Directory of the rule.
type storeDirectory struct{ store registry.Store }

// Tenant implements access.Directory.
func (d storeDirectory) Tenant(ctx context.Context, ref access.TenantRef) (access.Tenant, error) {
	var (
		t   registry.Tenant
		err error
	)
	if ref.ID != "" {
		t, err = d.store.GetTenant(ctx, ref.ID)
	} else {
		t, err = d.store.GetTenantByCode(ctx, ref.Code)
	}
	if err != nil {
		return access.Tenant{}, err
	}
	return access.Tenant{ID: t.ID, Code: t.Code}, nil
}

// User implements access.Directory.
func (d storeDirectory) User(ctx context.Context, tenantID string, sel access.Selector) (access.User, error) {
	u, err := d.store.FindUser(ctx, tenantID, sel)
	if err != nil {
		return access.User{}, err
	}
	return access.User{ID: u.ID, TenantID: u.TenantID, LoginName: u.LoginName, Roles: u.Roles, Disabled: u.Disabled}, nil
}

// LookupTenant implements RegistryInternalService.LookupTenant: the tenant by id, else by code (the
// internal credential is checked by the gRPC server's interceptor).
func (is *internalService) LookupTenant(ctx context.Context, req *registryv1.LookupTenantRequest) (*registryv1.LookupTenantResponse, error) {
	if req.GetTenantId() == "" && req.GetTenantCode() == "" {
		return nil, apierror.Invalid("tenantId", "tenantId or tenantCode is required")
	}
	t, err := storeDirectory{is.s.store}.Tenant(ctx, access.TenantRef{ID: req.GetTenantId(), Code: req.GetTenantCode()})
	if err != nil {
		return nil, err
	}
	return &registryv1.LookupTenantResponse{TenantId: t.ID, TenantCode: t.Code}, nil
}
