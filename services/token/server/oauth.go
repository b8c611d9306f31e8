package server

import (
	"context"
	"errors"
	"slices"

	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/services/token"
	"github.com/authsuite/authsuite/services/token/clients"
)

// Token is the token endpoint (RFC 6749 §3.2): client_credentials (§4.4, confidential clients only),
// authorization_code (§4.1.3), refresh_token (§6) and password (§4.3, allowRopc clients only). Public
// clients authenticate by client_id alone for the grants that allow them. Errors are RFC 6749 §5.2 codes.
func (s *Server) Token(ctx context.Context, req *tokenv1.TokenRequest) (*tokenv1.TokenResponse, error) {
	if err := refuseSudo(ctx); err != nil {
		return nil, err
	}
	gt := req.GetGrantType()
	switch gt {
	case "":
		return nil, apierror.OAuth(apierror.InvalidRequest, "grant_type is required")
	case GrantClientCredentials, GrantAuthorizationCode, GrantRefreshToken, GrantPassword, GrantTokenExchange, GrantDeviceCode:
	default:
		return nil, apierror.OAuth(apierror.UnsupportedGrantType, "grant_type %q is not supported", clip(gt))
	}
	cl, err := s.authenticate(ctx, authFrom(ctx, req.GetClient()), gt == GrantClientCredentials || gt == GrantTokenExchange)
	if err != nil {
		return nil, err
	}
	switch gt {
	case GrantAuthorizationCode:
		return s.authorizationCode(ctx, cl, req)
	case GrantRefreshToken:
		return s.refreshToken(ctx, cl, req)
	case GrantPassword:
		return s.password(ctx, cl, req)
	case GrantTokenExchange:
		return s.tokenExchange(ctx, cl, req)
	case GrantDeviceCode:
		return s.deviceCodeGrant(ctx, cl, req)
	}
	iss, err := s.clientCredentials(ctx, cl, req.GetScope(), req.GetResource())
	if err != nil {
		return nil, err
	}
	return toTokenResponse(iss), nil
}

// Introspect is token introspection (RFC 7662 §2). The caller authenticates as a confidential client
// (§2.1). Both kinds of token are answered; token_type_hint (access_token or refresh_token) only decides
// which kind is looked up first (§2.1), the other is tried next:
//   - an access token (token_type "Bearer") is active while it verifies (signature, expiry, revocation, its
//     client and user still live) and belongs to the caller's tenant, or the caller is of the system tenant;
//   - a refresh token (token_type "refresh_token"), found by its stored digest with one store read and no
//     write, is active only to the client it was issued to (§4: a client must not learn about other
//     clients' tokens), while it is unused, unexpired and its family unrevoked, its user's account is live
//     and the client may still refresh it (refresh_token grant, offline access); scope is what a refresh
//     would grant now.
//
// With audience set, an access token is active only when its aud contains it (RFC 7519 §4.1.3), and a
// refresh token never is (it has no audience): a resource server learns whether the token is meant for it
// in the same call. An active access token's answer has aud (all audiences), cnf and the act chain.
//
// Anything else (invalid, expired, revoked, unknown) is answered with active=false only (§2.2).
func (s *Server) Introspect(ctx context.Context, req *tokenv1.IntrospectRequest) (*tokenv1.IntrospectResponse, error) {
	if err := refuseSudo(ctx); err != nil {
		return nil, err
	}
	caller, err := s.authenticate(ctx, authFrom(ctx, req.GetClient()), true)
	if err != nil {
		return nil, err
	}
	tok := req.GetToken()
	if tok == "" {
		return nil, apierror.OAuth(apierror.InvalidRequest, "token is required")
	}
	kinds := []func(context.Context, *clients.Client, string) (*tokenv1.IntrospectResponse, bool, error){
		s.introspectAccessToken, s.introspectRefreshToken,
	}
	if req.GetTokenTypeHint() == GrantRefreshToken {
		kinds[0], kinds[1] = kinds[1], kinds[0]
	}
	for _, introspect := range kinds {
		resp, found, err := introspect(ctx, caller, tok)
		if err != nil {
			return nil, err
		}
		if found {
			if aud := req.GetAudience(); aud != "" && resp.GetActive() && !slices.Contains(resp.GetAudiences(), aud) {
				return inactive(), nil
			}
			return resp, nil
		}
	}
	return inactive(), nil
}

// inactive is the whole answer about a token that is not active (RFC 7662 §2.2).
func inactive() *tokenv1.IntrospectResponse { return &tokenv1.IntrospectResponse{Active: false} }

// introspectAccessToken answers about tok when it is an access token of this issuer, reporting whether it
// was one.
func (s *Server) introspectAccessToken(_ context.Context, caller *clients.Client, tok string) (*tokenv1.IntrospectResponse, bool, error) {
	v, err := s.verifyToken(tok)
	switch {
	case v == nil:
		return nil, false, nil // not a token of ours: perhaps a refresh token
	case err != nil:
		return inactive(), true, nil // expired or revoked
	case v.claims.Tenant != caller.TenantID && !isSystemTenant(caller.TenantID):
		return inactive(), true, nil
	}
	return toIntrospectResponse(v.claims), true, nil
}

// introspectRefreshToken answers about tok when it is a stored refresh token, reporting whether it was one.
// It reads the store and writes nothing.
func (s *Server) introspectRefreshToken(ctx context.Context, caller *clients.Client, tok string) (*tokenv1.IntrospectResponse, bool, error) {
	if len(tok) > 128 {
		return nil, false, nil
	}
	rt, err := s.st.RefreshToken(ctx, digest(tok))
	switch {
	case errors.Is(err, token.ErrNotFound):
		return nil, false, nil
	case err != nil:
		return nil, false, err
	}
	if rt.ClientID != caller.ID || rt.Used || !s.now().Before(rt.Expiry) || s.revoked.has(familyKey(rt.FamilyID)) ||
		!caller.HasGrant(GrantRefreshToken) || !caller.AllowOfflineAccess ||
		s.accountLive(rt.TenantID, rt.UserID, rt.Incarnation, rt.AuthTime) != nil {
		return inactive(), true, nil
	}
	scopes, _, err := refreshScopes(caller, rt.Scopes, "")
	if err != nil {
		return inactive(), true, nil // offline_access was taken from the client: the family cannot refresh
	}
	return toRefreshIntrospectResponse(rt, scopes, s.issuer), true, nil
}

// Revoke is token revocation (RFC 7009 §2). The caller authenticates as a client (§2.1). An access token is
// revoked by its jti; a refresh token, found by its stored digest, revokes its whole family (its rotations and
// every access token issued from it, RFC 7009 §2.1 "SHOULD also invalidate all access tokens based on the
// same authorization grant"). token_type_hint only decides which kind is looked up first (§2.1). An invalid
// or unknown token, or one that is already expired or revoked, succeeds (§2.2); a token issued to another
// client answers unauthorized_client. The revocation is durable before the answer.
func (s *Server) Revoke(ctx context.Context, req *tokenv1.RevokeRequest) (*tokenv1.RevokeResponse, error) {
	if err := refuseSudo(ctx); err != nil {
		return nil, err
	}
	caller, err := s.authenticate(ctx, authFrom(ctx, req.GetClient()), false)
	if err != nil {
		return nil, err
	}
	tok := req.GetToken()
	if tok == "" {
		return nil, apierror.OAuth(apierror.InvalidRequest, "token is required")
	}
	kinds := []func(context.Context, *clients.Client, string) (bool, error){s.revokeAccessToken, s.revokeRefreshToken}
	if req.GetTokenTypeHint() == "refresh_token" {
		kinds[0], kinds[1] = kinds[1], kinds[0]
	}
	for _, revoke := range kinds {
		found, err := revoke(ctx, caller, tok)
		if err != nil {
			return nil, err
		}
		if found {
			break
		}
	}
	return &tokenv1.RevokeResponse{}, nil // revoked, or unknown (§2.2)
}

// revokeAccessToken revokes tok when it is an access token of this issuer, reporting whether it was one.
func (s *Server) revokeAccessToken(ctx context.Context, caller *clients.Client, tok string) (bool, error) {
	v, err := s.verifyToken(tok)
	switch {
	case errors.Is(err, errTokenInvalid):
		return false, nil
	case v == nil:
		return false, err
	case v.claims.ClientID != caller.ID:
		return true, apierror.OAuth(apierror.UnauthorizedClient, "the token was not issued to this client")
	case err != nil: // expired or already revoked
		return true, nil
	}
	return true, s.revoke(ctx, v)
}

// revokeRefreshToken revokes the family of tok when it is a stored refresh token (used or not), reporting
// whether it was one.
func (s *Server) revokeRefreshToken(ctx context.Context, caller *clients.Client, tok string) (bool, error) {
	if len(tok) > 128 {
		return false, nil
	}
	rt, err := s.st.RefreshToken(ctx, digest(tok))
	switch {
	case errors.Is(err, token.ErrNotFound):
		return false, nil
	case err != nil:
		return false, err
	case rt.ClientID != caller.ID:
		return true, apierror.OAuth(apierror.UnauthorizedClient, "the token was not issued to this client")
	case !s.now().Before(rt.Expiry) || s.revoked.has(familyKey(rt.FamilyID)):
		return true, nil // expired or already revoked
	}
	if err := s.revokeFamily(ctx, caller, rt.FamilyID); err != nil {
		return true, err
	}
	s.log.Info("audit", "event", "refresh_token_revoked", "client_id", caller.ID, "user_id", rt.UserID)
	return true, nil
}

// GetDiscovery returns the provider metadata (RFC 8414 §2, OpenID Connect Discovery 1.0 §3).
func (s *Server) GetDiscovery(context.Context, *tokenv1.GetDiscoveryRequest) (*tokenv1.GetDiscoveryResponse, error) {
	return s.discovery, nil
}

// GetJwks returns the public keys that verify tokens (RFC 7517 §5): the current key first, then retired
// keys until every token they signed has expired.
func (s *Server) GetJwks(context.Context, *tokenv1.GetJwksRequest) (*tokenv1.GetJwksResponse, error) {
	return toJwks(s.keys.publicKeys()), nil
}

func clip(s string) string { return apierror.Clip(s, 64) }
