package server

import (
	"context"

	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/services/token/clients"
)

// GrantTokenExchange is the token exchange grant type (RFC 8693 §2.1).
const GrantTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"

// tokenExchange is the token exchange grant (RFC 8693).
func (s *Server) tokenExchange(_ context.Context, _ *clients.Client, _ *tokenv1.TokenRequest) (*tokenv1.TokenResponse, error) {
	return nil, apierror.OAuth(apierror.UnsupportedGrantType, "grant_type %q is not supported", GrantTokenExchange)
}
