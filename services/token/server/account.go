package server

import tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"

// accountService implements AccountService, the self-service account page.
type accountService struct {
	tokenv1.UnimplementedAccountServiceServer
	s *Server
}
