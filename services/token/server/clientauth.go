package server

import (
	"context"

	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/services/token/clients"
)

// clientAuth is the caller's client authentication (RFC 6749 §2.3.1).
type clientAuth struct {
	ClientID, Secret string
}

var errClientAuth = apierror.OAuth(apierror.InvalidClient, "client authentication failed")

// authenticate checks the caller's client credentials against the cache. Unknown clients and wrong,
// expired or not-yet-valid secrets fail alike with invalid_client (RFC 6749 §5.2), so the answer does not
// tell which. Public clients (no secret required) authenticate by client_id alone unless confidential is
// set. A successful secret is recorded for lastUsed, in memory only.
func (s *Server) authenticate(_ context.Context, a clientAuth, confidential bool) (*clients.Client, error) {
	if a.ClientID == "" {
		return nil, apierror.OAuth(apierror.InvalidClient, "client authentication required")
	}
	cl, ok := s.cache.Get(a.ClientID)
	if !ok {
		return nil, errClientAuth
	}
	now := s.now()
	if a.Secret == "" {
		if cl.RequireSecret || confidential {
			return nil, errClientAuth
		}
		return cl, nil
	}
	secretID, ok := cl.VerifySecret(s.kr, a.Secret, now)
	if !ok {
		return nil, errClientAuth
	}
	s.uses.Record(cl.ID, secretID, now)
	return cl, nil
}

// authFrom reads the client authentication of a request.
func authFrom(_ context.Context, c *tokenv1.ClientCredentials) clientAuth {
	return clientAuth{ClientID: c.GetClientId(), Secret: c.GetClientSecret()}
}
