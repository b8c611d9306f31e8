package server

import registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"

// identityProviderService implements IdentityProviderService: a tenant's upstream OpenID Connect providers.
type identityProviderService struct {
	registryv1.UnimplementedIdentityProviderServiceServer
	s *Server
}
