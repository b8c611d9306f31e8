package server

import tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"

// selfService implements SelfServiceService: password reset, e-mail verification and self-registration.
type selfService struct {
	tokenv1.UnimplementedSelfServiceServiceServer
	s *Server
}
