package server

import (
	"context"
	"errors"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	"github.com/authsuite/authsuite/internal/access"
	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/services/registry"
)

// tenantService implements TenantService: system-tenant principals only.
type tenantService struct {
	registryv1.UnimplementedTenantServiceServer
	s *Server
}

func (ts *tenantService) CreateTenant(ctx context.Context, req *registryv1.CreateTenantRequest) (resp *registryv1.CreateTenantResponse, err error) {
	err = ts.s.adminWrite(ctx, req.GetTenant().GetTenantId(), true, func(principal) error {
		t := tenantFromProto(req.GetTenant())
		if t.ID == "" {
			t.ID = registry.NewID()
		}
		if err := registry.ValidateTenant(t); err != nil {
			return err
		}
		settings, pw := signInFromProto(req.GetTenant())
		if err := ts.s.applySMTPPassword(t.ID, &settings, pw, registry.SMTPSettings{}); err != nil {
			return err
		}
		if err := registry.ValidateSignInSettings(settings); err != nil {
			return err
		}
		t.SignInSettings = settings
		t.CreateTime = ts.s.now().UTC()
		t, err := ts.s.createTenant(ctx, t)
		if err != nil {
			return err
		}
		resp = &registryv1.CreateTenantResponse{Tenant: tenantToProto(t)}
		return nil
	})
	return resp, err
}

func (ts *tenantService) ListTenants(ctx context.Context, req *registryv1.ListTenantsRequest) (resp *registryv1.ListTenantsResponse, err error) {
	err = ts.s.admin(ctx, "", true, func(principal) error {
		opts, err := registry.PageOptions(req.GetPageSize(), req.GetPageToken())
		if err != nil {
			return err
		}
		items, next, err := ts.s.store.ListTenants(ctx, opts)
		if err != nil {
			return err
		}
		resp = &registryv1.ListTenantsResponse{Items: []*registryv1.Tenant{}, NextPageToken: registry.EncodePageToken(next)}
		for _, t := range items {
			resp.Items = append(resp.Items, tenantToProto(t))
		}
		return nil
	})
	return resp, err
}

func (ts *tenantService) GetTenant(ctx context.Context, req *registryv1.GetTenantRequest) (resp *registryv1.GetTenantResponse, err error) {
	err = ts.s.admin(ctx, req.GetTenantId(), true, func(principal) error {
		t, err := ts.s.store.GetTenant(ctx, req.GetTenantId())
		if err != nil {
			return err
		}
		resp = &registryv1.GetTenantResponse{Tenant: tenantToProto(t)}
		return nil
	})
	return resp, err
}

func (ts *tenantService) UpdateTenant(ctx context.Context, req *registryv1.UpdateTenantRequest) (resp *registryv1.UpdateTenantResponse, err error) {
	err = ts.s.adminWrite(ctx, req.GetTenantId(), true, func(principal) error {
		in := tenantFromProto(req.GetTenant())
		if in.ID != "" && in.ID != req.GetTenantId() {
			return apierror.Invalid("tenantId", "the body's tenantId must match the path")
		}
		in.ID = req.GetTenantId()
		if err := registry.ValidateTenant(in); err != nil {
			if fe := (*apierror.FieldError)(nil); errors.As(err, &fe) && fe.Field == "tenantId" {
				return apierror.NotFound("tenant %q", clipID(in.ID))
			}
			return err
		}
		settings, pw := signInFromProto(req.GetTenant())
		// A code change changes every client record's tenant_code: the client feed re-sends the tenant's
		// clients when it sees the change.
		t, err := ts.s.store.UpdateTenant(ctx, in.ID, func(old registry.Tenant) (registry.Tenant, error) {
			// Bootstrap, configuration and operators find the system tenant by its code "default" too:
			// keep it stable (the system tenant is decided by id alone, so a rename would only confuse).
			if old.ID == access.SystemTenant && in.Code != old.Code {
				return old, apierror.FailedPrecondition("code: the code of the system tenant %q cannot change", access.SystemTenant)
			}
			// A request without any sign-in setting (older clients, the console's rename) keeps them all;
			// otherwise they are replaced. The identity providers are IdentityProviderService's.
			if !hasSignInSettings(req.GetTenant()) {
				old.Code, old.Name = in.Code, in.Name
				return old, nil
			}
			next := settings.Clone()
			if err := ts.s.applySMTPPassword(old.ID, &next, pw, old.SMTP); err != nil {
				return old, err
			}
			if err := registry.ValidateSignInSettings(next); err != nil {
				return old, err
			}
			next.IdentityProviders = old.IdentityProviders
			old.Code, old.Name, old.SignInSettings = in.Code, in.Name, next
			return old, nil
		})
		if err != nil {
			return err
		}
		resp = &registryv1.UpdateTenantResponse{Tenant: tenantToProto(t)}
		return nil
	})
	return resp, err
}

func (ts *tenantService) DeleteTenant(ctx context.Context, req *registryv1.DeleteTenantRequest) (resp *registryv1.DeleteTenantResponse, err error) {
	err = ts.s.adminWrite(ctx, req.GetTenantId(), true, func(principal) error {
		if req.GetTenantId() == access.SystemTenant {
			return apierror.FailedPrecondition("the system tenant %q cannot be deleted", access.SystemTenant)
		}
		if _, err := ts.s.store.DeleteTenant(ctx, req.GetTenantId()); err != nil {
			return err
		}
		resp = &registryv1.DeleteTenantResponse{}
		return nil
	})
	return resp, err
}

func clipID(s string) string { return apierror.Clip(s, 64) }
