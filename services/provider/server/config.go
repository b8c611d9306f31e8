package server

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"

	providerv1 "github.com/authsuite/authsuite/gen/authsuite/provider/v1"
	"github.com/authsuite/authsuite/internal/access"
	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/services/provider"
)

type configService struct {
	providerv1.UnimplementedProviderConfigServiceServer
	s *Server
}

// LoadOAuthConfiguration implements ThingWorx Flow's LoadOAuthConfiguration (docs/reference/providers.md#loadoauthconfiguration), all or nothing: every entry is
// validated, and every entry that would change a provider a connector uses is refused; any problem stores
// nothing and is answered with all problems. An entry equal to the stored provider (secret included) is
// "unchanged" and allowed even when the provider is in use, so the documented remedy (reload the file with
// Gmail-1 as it was plus a new Gmail-2) works. Loads take effect at once.
func (c *configService) LoadOAuthConfiguration(ctx context.Context, req *providerv1.LoadOAuthConfigurationRequest) (*providerv1.LoadOAuthConfigurationResponse, error) {
	s := c.s
	if _, err := s.admin(ctx, true); err != nil {
		return nil, err
	}
	var parsed []provider.Parsed
	var problems []provider.Problem
	switch {
	case req.GetOauthConfigurations() != nil && len(req.GetDocument()) > 0:
		return nil, apierror.Invalid("document", "give either the document or oauthConfigurations, not both")
	case len(req.GetDocument()) > 0:
		var err error
		parsed, problems, err = provider.ParseDocument(s.catalog, req.GetDocument())
		if err != nil {
			return nil, apierror.Invalid("document", "%s", err.Error())
		}
	case req.GetOauthConfigurations() != nil:
		parsed, problems = provider.ParseConfig(s.catalog, req.GetOauthConfigurations().AsMap())
	default:
		return nil, apierror.Invalid("oauthConfigurations", "is required: {<connector type>: {<provider name>: {...}}}, or send the file as document")
	}

	s.loadMu.Lock()
	defer s.loadMu.Unlock()
	now := s.now()
	var changed []provider.Provider
	var items []*providerv1.LoadedProvider
	invalid := len(problems) > 0
	for _, p := range parsed {
		action := "created"
		old, err := s.store.GetProvider(ctx, p.Provider.ProviderKey)
		switch {
		case errors.Is(err, apierror.ErrNotFound):
		case err != nil:
			return nil, err
		case s.sameProvider(old, p):
			action = "unchanged"
		default:
			action = "updated"
			if old.Connectors > 0 {
				problems = append(problems, inUseProblem(p.Provider.ProviderKey, old.Connectors))
			}
		}
		items = append(items, &providerv1.LoadedProvider{ConnectorType: p.Provider.Type, OauthProvider: p.Provider.Name, Action: action})
		if action != "unchanged" {
			np := p.Provider
			np.SealedSecret = s.keys.Seal([]byte(p.Secret), provider.SecretAD(np.ProviderKey))
			np.UpdateTime = now
			changed = append(changed, np)
		}
	}
	if len(problems) > 0 {
		provider.SortProblems(problems)
		return nil, loadErrorStatus(&provider.LoadError{Problems: problems, InUse: !invalid})
	}
	if len(changed) > 0 {
		err := s.store.PutProviders(ctx, changed)
		var inUse *provider.InUseError
		if errors.As(err, &inUse) { // a connector appeared since the check above
			for _, k := range inUse.Providers {
				problems = append(problems, inUseProblem(k, 1))
			}
			return nil, loadErrorStatus(&provider.LoadError{Problems: problems, InUse: true})
		}
		if err != nil {
			return nil, err
		}
	}
	for _, it := range items {
		if it.Action != "unchanged" {
			s.log.Info("oauth provider loaded", "connector_type", it.ConnectorType, "oauth_provider", it.OauthProvider, "action", it.Action)
		}
	}
	return &providerv1.LoadOAuthConfigurationResponse{Items: items}, nil
}

func inUseProblem(k provider.ProviderKey, n int) provider.Problem {
	return provider.Problem{Entry: k, Reason: fmt.Sprintf("is used by %d connector(s) and cannot be changed; load it under a new provider name, or delete the connectors first", n)}
}

// sameProvider reports whether a parsed entry equals the stored provider, comparing secrets in constant time.
func (s *Server) sameProvider(old provider.Provider, p provider.Parsed) bool {
	if !old.Settings.Equal(p.Provider.Settings) {
		return false
	}
	secret, err := s.keys.Open(old.SealedSecret, provider.SecretAD(old.ProviderKey))
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare(secret, []byte(p.Secret)) == 1
}

// GetOAuthConfiguration lists every loaded provider without secrets.
func (c *configService) GetOAuthConfiguration(ctx context.Context, _ *providerv1.GetOAuthConfigurationRequest) (*providerv1.GetOAuthConfigurationResponse, error) {
	s := c.s
	if _, err := s.admin(ctx, false); err != nil {
		return nil, err
	}
	ps, err := s.store.ListProviders(ctx)
	if err != nil {
		return nil, err
	}
	resp := &providerv1.GetOAuthConfigurationResponse{Items: make([]*providerv1.OAuthProvider, 0, len(ps))}
	for _, pr := range ps {
		resp.Items = append(resp.Items, s.toProto(pr))
	}
	return resp, nil
}

// DeleteOAuthConfiguration deletes one provider unless a connector uses it.
func (c *configService) DeleteOAuthConfiguration(ctx context.Context, req *providerv1.DeleteOAuthConfigurationRequest) (*providerv1.DeleteOAuthConfigurationResponse, error) {
	s := c.s
	if _, err := s.admin(ctx, true); err != nil {
		return nil, err
	}
	k := provider.ProviderKey{Type: req.GetConnectorName(), Name: req.GetOauthProvider()}
	if k.Type == "" {
		return nil, apierror.Invalid("connectorName", "is required")
	}
	if _, ok := s.catalog[k.Type]; !ok {
		return nil, apierror.Invalid("connectorName", "is not a known connector type")
	}
	if k.Name == "" {
		return nil, apierror.Invalid("oauthProvider", "is required")
	}
	s.loadMu.Lock()
	defer s.loadMu.Unlock()
	if err := s.store.DeleteProvider(ctx, k); err != nil {
		return nil, err
	}
	s.log.Info("oauth provider deleted", "connector_type", k.Type, "oauth_provider", k.Name)
	return &providerv1.DeleteOAuthConfigurationResponse{}, nil
}

// DeleteOAuthTokens drops the stored grants of a provider's connectors (of one owner, or all). The
// connectors stay, with status "revoked", until deleted; they still count as using the provider. userName
// is the owner's login name, resolved through the directory in the tenant tenantId or tenantCode names
// (else the caller's, under sudo the impersonated user's); "uid:<id>" names the user by id and
// "client:<client id>" a client's own connectors. An unknown user or tenant is NOT_FOUND and changes
// nothing.
func (c *configService) DeleteOAuthTokens(ctx context.Context, req *providerv1.DeleteOAuthTokensRequest) (*providerv1.DeleteOAuthTokensResponse, error) {
	s := c.s
	p, err := s.admin(ctx, true)
	if err != nil {
		return nil, err
	}
	if req.GetOauthProvider() == "" {
		return nil, apierror.Invalid("oauthProvider", "is required")
	}
	if req.UserName != nil && req.GetUserName() == "" {
		return nil, apierror.Invalid("userName", "must not be empty when given")
	}
	if req.TenantId != nil && req.TenantCode != nil {
		return nil, apierror.Invalid("tenantCode", "give tenantId or tenantCode, not both")
	}
	f := provider.ConnectorFilter{Name: req.GetOauthProvider(), Type: req.GetConnectorName(), TenantID: req.GetTenantId()}
	if req.TenantCode != nil {
		t, err := s.directory().Tenant(ctx, access.TenantRef{Code: req.GetTenantCode()})
		if errors.Is(err, apierror.ErrNotFound) {
			return nil, apierror.NotFound("no tenant with code %q", apierror.Clip(req.GetTenantCode(), 64))
		}
		if err != nil {
			return nil, err
		}
		f.TenantID = t.ID
	}
	if req.UserName != nil {
		tenant := f.TenantID
		if tenant == "" {
			tenant = p.TenantID
		}
		if f.Owner, err = s.resolveOwner(ctx, tenant, req.GetUserName()); err != nil {
			return nil, err
		}
		f.TenantID = tenant
	}
	ids, err := s.store.DropGrants(ctx, f, s.now())
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		s.cache.drop(id)
	}
	s.log.Info("oauth tokens deleted", "oauth_provider", f.Name, "count", len(ids))
	return &providerv1.DeleteOAuthTokensResponse{DeletedCount: int32(len(ids))}, nil
}

// resolveOwner turns DeleteOAuthTokens' userName into a connector owner of tenant: a login name (or
// "uid:<id>") through the directory, "client:<client id>" as it is.
func (s *Server) resolveOwner(ctx context.Context, tenant, userName string) (string, error) {
	if strings.HasPrefix(userName, "client:") {
		return userName, nil
	}
	sel := access.Selector{Kind: access.ByLoginName, Value: userName}
	if id, ok := strings.CutPrefix(userName, "uid:"); ok {
		sel = access.Selector{Kind: access.ByUID, Value: id}
	}
	if sel.Value == "" || len(sel.Value) > 256 {
		return "", apierror.Invalid("userName", "must be a login name, uid:<user id> or client:<client id>")
	}
	u, err := s.directory().User(ctx, tenant, sel)
	if errors.Is(err, apierror.ErrNotFound) {
		return "", apierror.NotFound("userName: no user with that %s in tenant %s", sel.Kind, tenant)
	}
	if err != nil {
		return "", err
	}
	return u.ID, nil
}

// directory is the registry's directory, or one that is always unavailable when the server has none.
func (s *Server) directory() access.Directory {
	if s.dir == nil {
		return noDirectory{}
	}
	return s.dir
}

type noDirectory struct{}

func (noDirectory) Tenant(context.Context, access.TenantRef) (access.Tenant, error) {
	return access.Tenant{}, apierror.ErrUnavailable
}

func (noDirectory) User(context.Context, string, access.Selector) (access.User, error) {
	return access.User{}, apierror.ErrUnavailable
}
