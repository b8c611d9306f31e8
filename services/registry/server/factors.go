package server

import registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"

// factorService implements FactorInternalService: users' second factors, self-service changes and
// federated identities, for the token service.
type factorService struct {
	registryv1.UnimplementedFactorInternalServiceServer
	s *Server
}
