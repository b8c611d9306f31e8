package server

import (
	"context"
	"maps"
	"slices"
	"strings"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/services/registry"
)

// identityProviderService implements IdentityProviderService: a tenant's upstream OpenID Connect providers,
// kept in the tenant record (at most registry.MaxIdentityProviders). Callers are administrators of the
// tenant or of the system tenant, as for API resources. Client secrets are write-only: sealed on input
// (registry.IdentityProviderSecretAD) and never answered.
type identityProviderService struct {
	registryv1.UnimplementedIdentityProviderServiceServer
	s *Server
}

// upstreamCallbackPath is where upstream providers send users back (the token service serves it).
const upstreamCallbackPath = "/connect/upstream/callback"

// upstreamRedirectURI is the redirect URI to register at every upstream provider, "" when the registry does
// not know the suite's public URL.
func (s *Server) upstreamRedirectURI() string {
	if s.publicURL == "" {
		return ""
	}
	return strings.TrimSuffix(s.publicURL, "/") + upstreamCallbackPath
}

// providerToProto converts a provider without its secret.
func (s *Server) providerToProto(tenantID string, p registry.IdentityProvider) *registryv1.UpstreamProvider {
	return &registryv1.UpstreamProvider{
		ProviderId: p.ID, TenantId: tenantID, DisplayName: p.DisplayName, Issuer: p.Issuer, ClientId: p.ClientID,
		Scopes: nonNil(p.Scopes), ClaimMapping: nonNilMap(p.ClaimMapping), LinkByEmail: p.LinkByEmail,
		CreateUsers: p.CreateUsers, Disabled: p.Disabled, RedirectUri: s.upstreamRedirectURI(),
	}
}

// providerFromProto reads a provider's writable fields; the id comes from the caller, the secret apart
// (nil when omitted).
func providerFromProto(id string, pb *registryv1.UpstreamProvider) (registry.IdentityProvider, *string) {
	p := registry.IdentityProvider{
		ID: id, DisplayName: pb.GetDisplayName(), Issuer: pb.GetIssuer(), ClientID: pb.GetClientId(),
		Scopes: slices.Clone(pb.GetScopes()), ClaimMapping: maps.Clone(pb.GetClaimMapping()),
		LinkByEmail: pb.GetLinkByEmail(), CreateUsers: pb.GetCreateUsers(), Disabled: pb.GetDisabled(),
	}
	if pb != nil && pb.ClientSecret != nil {
		secret := pb.GetClientSecret()
		return p, &secret
	}
	return p, nil
}

// sealSecret checks and seals a given client secret; "" removes it.
func (s *Server) sealProviderSecret(tenantID, id string, secret *string) ([]byte, error) {
	if *secret == "" {
		return nil, nil
	}
	if err := registry.ValidateSecretText("provider.clientSecret", *secret, registry.MaxProviderSecretLen); err != nil {
		return nil, err
	}
	return s.keyring.Seal([]byte(*secret), registry.IdentityProviderSecretAD(tenantID, id)), nil
}

func (ips *identityProviderService) CreateIdentityProvider(ctx context.Context, req *registryv1.CreateIdentityProviderRequest) (resp *registryv1.CreateIdentityProviderResponse, err error) {
	err = ips.s.adminWrite(ctx, req.GetTenantId(), false, func(principal) error {
		if req.GetProvider() == nil {
			return apierror.Invalid("provider", "is required")
		}
		p, secret := providerFromProto(req.GetProvider().GetProviderId(), req.GetProvider())
		if err := registry.ValidateIdentityProvider(p); err != nil {
			return err
		}
		if secret != nil {
			sealed, err := ips.s.sealProviderSecret(req.GetTenantId(), p.ID, secret)
			if err != nil {
				return err
			}
			p.SealedClientSecret = sealed
		}
		now := ips.s.now().UTC()
		p.CreateTime, p.UpdateTime = now, now
		_, err := ips.s.store.UpdateTenant(ctx, req.GetTenantId(), func(t registry.Tenant) (registry.Tenant, error) {
			if _, ok := t.IdentityProvider(p.ID); ok {
				return t, apierror.AlreadyExists("identity provider %q in tenant %q", p.ID, t.ID)
			}
			if len(t.IdentityProviders) >= registry.MaxIdentityProviders {
				return t, apierror.FailedPrecondition("at most %d identity providers per tenant", registry.MaxIdentityProviders)
			}
			t.IdentityProviders = append(slices.Clone(t.IdentityProviders), p)
			slices.SortFunc(t.IdentityProviders, func(a, b registry.IdentityProvider) int { return strings.Compare(a.ID, b.ID) })
			return t, nil
		})
		if err != nil {
			return err
		}
		resp = &registryv1.CreateIdentityProviderResponse{Provider: ips.s.providerToProto(req.GetTenantId(), p)}
		return nil
	})
	return resp, err
}

func (ips *identityProviderService) ListIdentityProviders(ctx context.Context, req *registryv1.ListIdentityProvidersRequest) (resp *registryv1.ListIdentityProvidersResponse, err error) {
	err = ips.s.admin(ctx, req.GetTenantId(), false, func(principal) error {
		t, err := ips.s.store.GetTenant(ctx, req.GetTenantId())
		if err != nil {
			return err
		}
		resp = &registryv1.ListIdentityProvidersResponse{Items: []*registryv1.UpstreamProvider{}}
		for _, p := range t.IdentityProviders {
			resp.Items = append(resp.Items, ips.s.providerToProto(t.ID, p))
		}
		return nil
	})
	return resp, err
}

func (ips *identityProviderService) GetIdentityProvider(ctx context.Context, req *registryv1.GetIdentityProviderRequest) (resp *registryv1.GetIdentityProviderResponse, err error) {
	err = ips.s.admin(ctx, req.GetTenantId(), false, func(principal) error {
		t, err := ips.s.store.GetTenant(ctx, req.GetTenantId())
		if err != nil {
			return err
		}
		p, ok := t.IdentityProvider(req.GetProviderId())
		if !ok {
			return apierror.NotFound("identity provider %q in tenant %q", clipID(req.GetProviderId()), t.ID)
		}
		resp = &registryv1.GetIdentityProviderResponse{Provider: ips.s.providerToProto(t.ID, p)}
		return nil
	})
	return resp, err
}

func (ips *identityProviderService) UpdateIdentityProvider(ctx context.Context, req *registryv1.UpdateIdentityProviderRequest) (resp *registryv1.UpdateIdentityProviderResponse, err error) {
	err = ips.s.adminWrite(ctx, req.GetTenantId(), false, func(principal) error {
		if req.GetProvider() == nil {
			return apierror.Invalid("provider", "is required")
		}
		if id := req.GetProvider().GetProviderId(); id != "" && id != req.GetProviderId() {
			return apierror.Invalid("provider.providerId", "the body's providerId must match the path")
		}
		in, secret := providerFromProto(req.GetProviderId(), req.GetProvider())
		if err := registry.ValidateIdentityProvider(in); err != nil {
			return err
		}
		var sealed []byte
		if secret != nil {
			var err error
			if sealed, err = ips.s.sealProviderSecret(req.GetTenantId(), in.ID, secret); err != nil {
				return err
			}
		}
		now := ips.s.now().UTC()
		var out registry.IdentityProvider
		_, err := ips.s.store.UpdateTenant(ctx, req.GetTenantId(), func(t registry.Tenant) (registry.Tenant, error) {
			i := slices.IndexFunc(t.IdentityProviders, func(p registry.IdentityProvider) bool { return p.ID == in.ID })
			if i < 0 {
				return t, apierror.NotFound("identity provider %q in tenant %q", clipID(in.ID), t.ID)
			}
			old := t.IdentityProviders[i]
			next := in.Clone()
			next.CreateTime, next.UpdateTime = old.CreateTime, now
			// An omitted secret is kept while the issuer and client id stay: it is never sent to another
			// provider or for another client than the one it was given for.
			if old.Issuer == next.Issuer && old.ClientID == next.ClientID {
				next.SealedClientSecret = slices.Clone(old.SealedClientSecret)
			}
			if secret != nil {
				next.SealedClientSecret = slices.Clone(sealed)
			}
			t.IdentityProviders = slices.Clone(t.IdentityProviders)
			t.IdentityProviders[i] = next
			out = next
			return t, nil
		})
		if err != nil {
			return err
		}
		resp = &registryv1.UpdateIdentityProviderResponse{Provider: ips.s.providerToProto(req.GetTenantId(), out)}
		return nil
	})
	return resp, err
}

func (ips *identityProviderService) DeleteIdentityProvider(ctx context.Context, req *registryv1.DeleteIdentityProviderRequest) (resp *registryv1.DeleteIdentityProviderResponse, err error) {
	err = ips.s.adminWrite(ctx, req.GetTenantId(), false, func(principal) error {
		_, err := ips.s.store.UpdateTenant(ctx, req.GetTenantId(), func(t registry.Tenant) (registry.Tenant, error) {
			i := slices.IndexFunc(t.IdentityProviders, func(p registry.IdentityProvider) bool { return p.ID == req.GetProviderId() })
			if i < 0 {
				return t, apierror.NotFound("identity provider %q in tenant %q", clipID(req.GetProviderId()), t.ID)
			}
			t.IdentityProviders = slices.Delete(slices.Clone(t.IdentityProviders), i, i+1)
			return t, nil
		})
		if err != nil {
			return err
		}
		resp = &registryv1.DeleteIdentityProviderResponse{}
		return nil
	})
	return resp, err
}
