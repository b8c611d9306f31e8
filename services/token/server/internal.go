package server

import (
	"context"

	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/apierror"
)

// AuthenticateToken verifies a bearer access token for the other services (signature, expiry, revocation,
// and aud naming the issuer: a token issued only for an API resource is not good at authsuite's own APIs)
// and describes it; an invalid token answers UNAUTHENTICATED.
func (s *Server) AuthenticateToken(ctx context.Context, req *tokenv1.AuthenticateTokenRequest) (*tokenv1.AuthenticateTokenResponse, error) {
	v, err := s.verifyOwnToken(req.GetToken())
	if err != nil {
		return nil, apierror.Unauthenticated("access token: %s", err.Error())
	}
	return toAuthenticateResponse(v), nil
}

// ResolveSession resolves a browser's SSO session cookie to its user for the other services (the provider
// service authenticates a connector's owner at its start and return steps with it). It applies exactly the
// checks sign-in applies before reusing a session (currentSession: live, of the tenant); anything else
// answers UNAUTHENTICATED without saying why. The cookie is never logged.
func (s *Server) ResolveSession(ctx context.Context, req *tokenv1.ResolveSessionRequest) (*tokenv1.ResolveSessionResponse, error) {
	if req.GetTenantId() == "" {
		return nil, apierror.Invalid("tenant_id", "is required")
	}
	sess, err := s.currentSession(ctx, req.GetSessionCookie(), req.GetTenantId())
	if err != nil {
		return nil, err
	}
	if sess == nil {
		return nil, apierror.Unauthenticated("no live SSO session of tenant %s in this browser", apierror.Clip(req.GetTenantId(), 64))
	}
	return &tokenv1.ResolveSessionResponse{UserId: sess.UserID, TenantId: sess.TenantID}, nil
}
