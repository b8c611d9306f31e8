package server

import (
	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/i18n"
	"github.com/authsuite/authsuite/services/token/jwt"
)

// discoveryDocument is the provider metadata (RFC 8414 §2, OpenID Connect Discovery 1.0 §3) with every
// endpoint under the issuer, at the IdentityServer paths (docs/reference/oauth.md#endpoints). The
// certificate methods (RFC 8705 §2) and certificate-bound tokens (§3.3) are advertised only when client
// certificates can reach the service (certs), tls_client_auth only when client CAs are configured too
// (clientCA).
func discoveryDocument(issuer string, alg jwt.Alg, clientCA, certs bool) *tokenv1.GetDiscoveryResponse {
	// OpenID Connect Core §9, RFC 7523 §2.2, RFC 8705 §2.
	authMethods := []string{"client_secret_basic", "client_secret_post", "private_key_jwt"}
	if certs && clientCA {
		authMethods = append(authMethods, "tls_client_auth")
	}
	if certs {
		authMethods = append(authMethods, "self_signed_tls_client_auth")
	}
	assertionAlgs := make([]string, len(AssertionAlgs))
	for i, a := range AssertionAlgs {
		assertionAlgs[i] = string(a)
	}
	return &tokenv1.GetDiscoveryResponse{
		Issuer:                                    issuer,
		AuthorizationEndpoint:                     issuer + "/connect/authorize",
		TokenEndpoint:                             issuer + "/connect/token",
		UserinfoEndpoint:                          issuer + "/connect/userinfo",
		JwksUri:                                   issuer + "/.well-known/openid-configuration/jwks",
		IntrospectionEndpoint:                     issuer + "/connect/introspect",
		RevocationEndpoint:                        issuer + "/connect/revocation",
		EndSessionEndpoint:                        issuer + "/connect/endsession",
		ScopesSupported:                           []string{"openid", "profile", "email", "phone", "offline_access", "roles", "groups", "adminapi", "sudo"},
		ResponseTypesSupported:                    []string{"code"},
		ResponseModesSupported:                    ResponseModesSupported,
		GrantTypesSupported:                       []string{GrantClientCredentials, GrantAuthorizationCode, GrantRefreshToken, GrantPassword, GrantTokenExchange, GrantDeviceCode},
		SubjectTypesSupported:                     []string{"public"},
		IdTokenSigningAlgValuesSupported:          []string{string(alg)},
		TokenEndpointAuthMethodsSupported:         append([]string{"none"}, authMethods...), // "none": public clients, PKCE
		IntrospectionEndpointAuthMethodsSupported: authMethods,
		RevocationEndpointAuthMethodsSupported:    authMethods,
		CodeChallengeMethodsSupported:             []string{"S256"},
		// Algorithms of private_key_jwt client assertions (OpenID Connect Discovery 1.0 §3).
		TokenEndpointAuthSigningAlgValuesSupported: assertionAlgs,
		// Access tokens issued over TLS with a client certificate can be bound to it (RFC 8705 §3.3).
		TlsClientCertificateBoundAccessTokens: certs,
		ClaimsSupported: []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "sid", "at_hash",
			"name", "preferred_username", "updated_at", "email", "email_verified", "phone_number", "phone_number_verified", "tenant", "roles", "groups",
			"amr", "acr"}, // OIDC Core §2; the acr classes are ACRValuesSupported (acr.go)
		BackchannelLogoutSupported:        true,
		BackchannelLogoutSessionSupported: true,
		// Authorization responses carry iss (RFC 9207 §2), so clients can tell issuers apart.
		AuthorizationResponseIssParameterSupported: true,
		DeviceAuthorizationEndpoint:                issuer + DeviceAuthorizationPath,
		AcrValuesSupported:                         ACRValuesSupported,
		UiLocalesSupported:                         i18n.Locales,
	}
}
