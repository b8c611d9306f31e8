package server

import (
	"context"
	"slices"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/services/token/clients"
)

// UserInfo is the UserInfo endpoint (OIDC Core §5.3): the access token must be a live user token with scope
// openid (else invalid_token 401 / insufficient_scope 403, RFC 6750 §3.1); claims are released by scope
// (§5.4): profile → name, preferred_username, updated_at; email → email, email_verified; phone →
// phone_number, phone_number_verified (the user's emailVerified and phoneVerified); roles → roles, groups →
// groups, and the client's claim mappings and static claims as in its tokens. A disabled or deleted
// user's token answers invalid_token, and so does a token whose aud does not name the issuer (one issued
// for an API resource only).
func (s *Server) UserInfo(ctx context.Context, req *tokenv1.UserInfoRequest) (*tokenv1.UserInfoResponse, error) {
	if err := refuseSudo(ctx); err != nil {
		return nil, err
	}
	v, err := s.verifyOwnToken(req.GetAccessToken())
	if err != nil {
		return nil, apierror.OAuth(apierror.InvalidToken, "access token: %s", err.Error())
	}
	if err := s.requireBoundCert(ctx, v.claims); err != nil { // RFC 8705 §3
		return nil, err
	}
	uid := userID(v.claims)
	if uid == "" {
		return nil, apierror.OAuth(apierror.InvalidToken, "the access token was not issued to a user")
	}
	if !slices.Contains(v.scopes, ScopeOpenID) {
		return nil, apierror.OAuth(apierror.InsufficientScope, "the access token lacks the openid scope")
	}
	resp, err := s.reg.ResolveUser(ctx, &registryv1.ResolveUserRequest{Selector: "uid:" + uid, TenantId: v.claims.Tenant})
	switch status.Code(err) {
	case codes.OK:
	case codes.PermissionDenied, codes.NotFound:
		return nil, apierror.OAuth(apierror.InvalidToken, "the user is disabled or no longer exists")
	case codes.Unavailable:
		return nil, apierror.OAuth(apierror.TemporarilyUnavailable, "the user directory is unavailable; try again")
	default:
		return nil, err
	}
	// The directory may already hold a user created again under the token's user id (before the change
	// feed reached this service): that is another account, whose claims the token must not read.
	if resp.GetIncarnation() != v.claims.Incarnation {
		return nil, apierror.OAuth(apierror.InvalidToken, "the user is disabled or no longer exists")
	}
	u := resp.GetUser()
	out := &tokenv1.UserInfoResponse{Sub: uid, Tenant: v.claims.Tenant}
	has := func(sc string) bool { return slices.Contains(v.scopes, sc) }
	if has("profile") {
		out.Name = nonEmpty(u.GetDisplayName())
		out.PreferredUsername = nonEmpty(u.GetLoginName())
		if u.GetUpdateTime() != nil {
			out.UpdatedAt = new(u.GetUpdateTime().GetSeconds())
		}
	}
	if has("email") && u.GetEmail() != "" {
		out.Email, out.EmailVerified = new(u.GetEmail()), new(u.GetEmailVerified())
	}
	if has("phone") && u.GetMobile() != "" {
		out.PhoneNumber, out.PhoneNumberVerified = new(u.GetMobile()), new(u.GetPhoneVerified())
	}
	// roles, groups, claim mappings and static claims as in the tokens (claimsFor), from the user as the
	// directory holds it now.
	if cl, ok := s.cache.Get(v.claims.ClientID); ok {
		uc := claimsFor(&clients.Account{Roles: u.GetRoles(), Groups: u.GetGroups(), Attributes: u.GetAttributes()}, cl, v.scopes)
		out.Roles, out.Groups, out.Claims = uc.Roles, uc.Groups, uc.Extra
	}
	return out, nil
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// CheckCorsOrigin says whether origin is listed in some client's allowedCorsOrigins (from the local client
// cache; no I/O).
func (s *Server) CheckCorsOrigin(_ context.Context, req *tokenv1.CheckCorsOriginRequest) (*tokenv1.CheckCorsOriginResponse, error) {
	o := req.GetOrigin()
	return &tokenv1.CheckCorsOriginResponse{Allowed: o != "" && len(o) <= 512 && s.cache.HasCORSOrigin(o)}, nil
}
