package server

import (
	"context"
	"fmt"
	"net/http"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/access"
	"github.com/authsuite/authsuite/internal/apierror"
)

// GetToken is GET /api/oauth2/server/tokens (seed 003 §1.2.1): the client credentials grant with the
// credentials in the query. Errors are those of Token.
func (s *Server) GetToken(ctx context.Context, req *tokenv1.GetTokenRequest) (*tokenv1.GetTokenResponse, error) {
	switch req.GetGrantType() {
	case "":
		return nil, apierror.OAuth(apierror.InvalidRequest, "grant_type is required")
	case GrantClientCredentials:
	default:
		return nil, apierror.OAuth(apierror.UnsupportedGrantType, "grant_type must be client_credentials")
	}
	cl, err := s.authenticate(clientAuth{ClientID: req.GetClientId(), Secret: req.GetClientSecret()}, true)
	if err != nil {
		return nil, err
	}
	iss, err := s.clientCredentials(cl, req.GetScope())
	if err != nil {
		return nil, err
	}
	return toGetTokenResponse(iss), nil
}

// invalidToken is the check endpoint's answer for a bad token: HTTP 400 invalid_token (SPEC §3).
func invalidToken(err error) error {
	return apierror.OAuthWithStatus(http.StatusBadRequest, apierror.InvalidToken, "%s", err.Error())
}

// CheckToken is GET /api/oauth2/server/tokens/check (seed 003 §1.2.2). A live token answers its four
// fields with expires_in the seconds left; an expired, revoked or forged one answers 400 invalid_token.
// With sudo (seed 003 §1.3.2) the token must carry scope sudo (403 insufficient_scope otherwise, never a
// silent fallback), the user is resolved in the named tenant (or the token's own) through the registry
// (404 unknown, 403 disabled), a client of a non-system tenant may only reach its own tenant (403), and the
// answer describes the user (sub, loginName, tenant) and the acting client (act, RFC 8693 §4.1).
func (s *Server) CheckToken(ctx context.Context, req *tokenv1.CheckTokenRequest) (*tokenv1.CheckTokenResponse, error) {
	if req.GetToken() == "" {
		return nil, apierror.OAuthWithStatus(http.StatusBadRequest, apierror.InvalidRequest, "token is required")
	}
	v, err := s.verifyToken(req.GetToken())
	if err != nil {
		return nil, invalidToken(err)
	}
	resp := toCheckResponse(req.GetToken(), v, s.now())
	if req.GetSudo() == "" {
		return resp, nil
	}
	u, err := s.sudo(ctx, v, req.GetSudo(), req.GetTenantId(), req.GetTenantCode())
	if err != nil {
		return nil, err
	}
	withSudo(resp, v, u)
	return resp, nil
}

// sudo resolves the user a sudo request names and checks that the token may act as them.
func (s *Server) sudo(ctx context.Context, v *verified, selector, tenantID, tenantCode string) (*registryv1.User, error) {
	c := v.claims
	if !access.HasScope(v.scopes, access.ScopeSudo) {
		return nil, apierror.OAuth(apierror.InsufficientScope, "sudo requires a token with scope sudo")
	}
	sel, err := access.ParseSelector(selector)
	if err != nil {
		return nil, err
	}
	system := isSystemTenant(c.Tenant)
	callerTenant := c.Tenant
	if system {
		callerTenant = access.SystemTenant
	}
	// Refuse other tenants before asking the registry, so the answer does not reveal who exists there.
	if !system {
		callerCode := ""
		if cl, ok := s.cache.Get(c.ClientID); ok && cl.TenantID == c.Tenant {
			callerCode = cl.TenantCode
		}
		if (tenantID != "" && tenantID != c.Tenant) || (tenantCode != "" && tenantCode != callerCode) {
			return nil, apierror.PermissionDenied("sudo: a client of this tenant cannot act in another tenant")
		}
	}
	if tenantID == "" && tenantCode == "" {
		tenantID = c.Tenant
	}
	res, err := s.reg.ResolveUser(ctx, &registryv1.ResolveUserRequest{Selector: sel.String(), TenantId: tenantID, TenantCode: tenantCode})
	if err != nil {
		return nil, registryError(err)
	}
	u := res.GetUser()
	if u == nil {
		return nil, apierror.NotFound("sudo: user %s", sel.Kind)
	}
	if err := access.CheckSudoTenant(callerTenant, u.GetTenantId()); err != nil {
		return nil, err
	}
	if u.GetDisabled() {
		return nil, apierror.PermissionDenied("sudo: the user is disabled")
	}
	return u, nil
}

// registryError maps a failed registry call to the service's domain errors.
func registryError(err error) error {
	st, _ := status.FromError(err)
	switch st.Code() {
	case codes.NotFound:
		return apierror.NotFound("sudo: no such user in that tenant")
	case codes.InvalidArgument:
		return err // names the field; carries no secret
	case codes.Canceled, codes.DeadlineExceeded:
		return err
	}
	// Anything else (unreachable, misconfigured internal credential) is the suite's problem, not the caller's.
	return fmt.Errorf("sudo: registry: %s: %w", st.Code(), apierror.ErrUnavailable)
}

// RevokeToken is GET /api/oauth2/server/tokens/revoke (seed 003 §1.2.3): it revokes the token durably and
// answers code 0 "success"; an already expired or revoked token succeeds too. An empty token answers 400
// invalid_request and a forged or unparseable one 400 invalid_token (errors, never a non-zero code field).
func (s *Server) RevokeToken(ctx context.Context, req *tokenv1.RevokeTokenRequest) (*tokenv1.RevokeTokenResponse, error) {
	if req.GetToken() == "" {
		return nil, apierror.OAuthWithStatus(http.StatusBadRequest, apierror.InvalidRequest, "token is required")
	}
	v, err := s.verifyToken(req.GetToken())
	if v == nil {
		return nil, invalidToken(err)
	}
	if err == nil {
		if err := s.revoke(ctx, v); err != nil {
			return nil, err
		}
	}
	return &tokenv1.RevokeTokenResponse{Code: 0, Msg: "success"}, nil
}
