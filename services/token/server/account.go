package server

import (
	"context"

	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/services/token"
	"github.com/authsuite/authsuite/services/token/clients"
)

// accountService implements AccountService, the self-service account page.
type accountService struct {
	tokenv1.UnimplementedAccountServiceServer
	s *Server
}

// accountClient is the stand-in client of a sign-in to tenantID's account page (token.PurposeAccount): it
// names the page, asks no consent and receives no code.
func (s *Server) accountClient(tenantID string) *clients.Client {
	return &clients.Client{TenantID: tenantID, Name: "Account"}
}

// finishAccount completes a sign-in to the account page: the session is started; the browser goes to
// /account.
func (s *Server) finishAccount(ctx context.Context, in *token.Interaction, sess *token.Session) (*tokenv1.Step, error) {
	if in.ID != nil {
		if err := s.st.DeleteInteraction(ctx, in.ID); err != nil {
			return nil, err
		}
	}
	return s.redirectStep(s.issuer + "/account"), nil
}
