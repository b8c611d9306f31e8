package server

import (
	"context"

	"github.com/authsuite/authsuite/services/token/clients"
	"github.com/authsuite/authsuite/services/token/jwt"
)

// certConfirmation is the cnf claim (RFC 8705 §3.1) of an access token issued to cl in the call ctx: the
// thumbprint of the client certificate the caller presented when cl binds its tokens, nil otherwise.
func (s *Server) certConfirmation(_ context.Context, _ *clients.Client) *jwt.Confirmation {
	return nil
}
