package server

import (
	"context"

	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/services/token/clients"
)

// clientAuth is the caller's client authentication: a client_id with a secret (RFC 6749 §2.3.1), a JWT
// assertion (RFC 7523 §2.2), or a client_id alone (public clients, and TLS client certificates, RFC 8705 §2,
// which travel with the call rather than in the request). SecretOnly limits it to the first kind (the simple
// token API).
type clientAuth struct {
	ClientID, Secret         string
	AssertionType, Assertion string
	SecretOnly               bool
}

var errClientAuth = apierror.OAuth(apierror.InvalidClient, "client authentication failed")

// authenticate checks the caller's client authentication against the client's registered method
// (clients.Client.Method), and only that method (RFC 6749 §2.3: one method per request):
//   - a secret client (client_secret_basic, client_secret_post) with one of its valid secrets; a successful
//     secret is recorded for lastUsed, in memory only;
//   - a private_key_jwt client with a client assertion only (authenticateAssertion);
//   - a tls_client_auth or self_signed_tls_client_auth client with the call's client certificate and its
//     client_id (authenticateCertificate), never a secret;
//   - a public client (no secret required) by client_id alone, unless confidential is set.
//
// Sending both a secret and an assertion, or one half of an assertion, is invalid_request. Unknown clients,
// wrong or expired secrets and a credential of another method than the client's fail alike with
// invalid_client (RFC 6749 §5.2), so the answer does not tell which.
func (s *Server) authenticate(ctx context.Context, a clientAuth, confidential bool) (*clients.Client, error) {
	if a.Assertion != "" || a.AssertionType != "" {
		switch {
		case a.SecretOnly:
			return nil, apierror.OAuth(apierror.InvalidRequest, "client assertions are not accepted here: authenticate with client_id and client_secret")
		case a.Secret != "":
			return nil, apierror.OAuth(apierror.InvalidRequest, "send one client authentication: a client_secret or a client_assertion, not both (RFC 6749 §2.3)")
		case a.Assertion == "" || a.AssertionType == "":
			return nil, apierror.OAuth(apierror.InvalidRequest, "client_assertion and client_assertion_type go together (RFC 7521 §4.2)")
		case a.AssertionType != AssertionTypeJWTBearer:
			return nil, apierror.OAuth(apierror.InvalidRequest, "client_assertion_type must be %s (RFC 7523 §2.2)", AssertionTypeJWTBearer)
		}
		return s.authenticateAssertion(ctx, a.ClientID, a.Assertion)
	}
	if a.ClientID == "" {
		return nil, apierror.OAuth(apierror.InvalidClient, "client authentication required")
	}
	cl, ok := s.cache.Get(a.ClientID)
	if !ok {
		return nil, errClientAuth
	}
	switch cl.Method() {
	case clients.AuthPrivateKeyJWT:
		return nil, errClientAuth
	case clients.AuthTLS, clients.AuthSelfSignedTLS:
		if a.Secret != "" || a.SecretOnly {
			return nil, errClientAuth
		}
		return s.authenticateCertificate(ctx, cl)
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
	return clientAuth{ClientID: c.GetClientId(), Secret: c.GetClientSecret(),
		AssertionType: c.GetClientAssertionType(), Assertion: c.GetClientAssertion()}
}
