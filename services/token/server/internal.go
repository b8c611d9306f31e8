package server

import (
	"context"

	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/apierror"
)

// AuthenticateToken verifies a bearer access token for the other services (signature, expiry, revocation)
// and describes it; an invalid token answers UNAUTHENTICATED.
func (s *Server) AuthenticateToken(ctx context.Context, req *tokenv1.AuthenticateTokenRequest) (*tokenv1.AuthenticateTokenResponse, error) {
	v, err := s.verifyToken(req.GetToken())
	if err != nil {
		return nil, apierror.Unauthenticated("access token: %s", err.Error())
	}
	return toAuthenticateResponse(v), nil
}
