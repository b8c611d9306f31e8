package registry

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/internal/dn"
)

// Grant types a client may be allowed (RFC 6749 §4.1, §4.3, §4.4, §6).
const (
	GrantClientCredentials = "client_credentials"
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	GrantPassword          = "password"
	// GrantTokenExchange is RFC 8693 §2.1 token exchange.
	GrantTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
	// GrantDeviceCode is the RFC 8628 §3.4 device authorization grant (public or confidential clients, §5.6).
	GrantDeviceCode = "urn:ietf:params:oauth:grant-type:device_code"
)

// Client defaults and bounds (docs/reference/admin-api.md#client-fields).
const (
	DefaultAccessTokenLifetime  = 86400 * time.Second
	MaxAccessTokenLifetime      = 31536000 * time.Second
	DefaultRefreshTokenLifetime = 2592000 * time.Second
	MaxRefreshTokenLifetime     = 94608000 * time.Second

	maxClientIDLen = 200
	maxNameLen     = 200
	maxURILen      = 2000
	maxListLen     = 100
)

// DefaultClient returns a client with every setting at its documented default: allowRememberConsent,
// backChannelLogoutSessionRequired and requireClientSecret true, everything else off, lifetimes 86400 s and
// 2592000 s. Request decoding starts from it and overlays what the caller set.
func DefaultClient() Client {
	return Client{
		AllowRememberConsent:             true,
		BackChannelLogoutSessionRequired: true,
		RequireClientSecret:              true,
		AccessTokenLifetime:              DefaultAccessTokenLifetime,
		RefreshTokenLifetime:             DefaultRefreshTokenLifetime,
	}
}

// ValidateClientID checks a client_id: 1 to 200 characters of [A-Za-z0-9._:-]. Errors name "clientId".
func ValidateClientID(id string) error {
	if id == "" || len(id) > maxClientIDLen {
		return apierror.Invalid("clientId", "must be 1 to %d characters", maxClientIDLen)
	}
	for _, r := range id {
		if !isIDChar(r) && r != ':' {
			return apierror.Invalid("clientId", "may only contain letters, digits, '.', '_', ':' and '-'")
		}
	}
	return nil
}

// ValidateClient checks every setting of c and returns the first problem as an *apierror.FieldError naming
// the REST field (e.g. "redirectUris[1]", "jwks.keys[0]", "claims.sub"). It does not modify c and never
// panics. An empty TokenEndpointAuthMethod stands for the one RequireClientSecret implies (a record written
// before methods existed); requests are completed by ResolveAuthMethod first.
func ValidateClient(c Client) error {
	if err := ValidateClientID(c.ID); err != nil {
		return err
	}
	if err := validateText("clientName", c.Name, maxNameLen); err != nil {
		return err
	}
	if len(c.AllowedGrantTypes) == 0 {
		return apierror.Invalid("allowedGrantTypes", "at least one grant type is required")
	}
	// Six grant types are known and none may repeat: a longer list is refused before it is walked.
	if len(c.AllowedGrantTypes) > 6 {
		return apierror.Invalid("allowedGrantTypes", "at most 6 grant types")
	}
	seen := map[string]bool{}
	for i, g := range c.AllowedGrantTypes {
		field := fmt.Sprintf("allowedGrantTypes[%d]", i)
		switch g {
		case GrantClientCredentials:
			// RFC 6749 §4.4: client credentials are only for confidential clients.
			if !c.RequireClientSecret {
				return apierror.Invalid(field, "client_credentials requires requireClientSecret: true (RFC 6749 §4.4)")
			}
		case GrantAuthorizationCode:
			// RFC 6749 §3.1.2.2: clients using the authorization endpoint register redirect URIs.
			if len(c.RedirectURIs) == 0 {
				return apierror.Invalid("redirectUris", "authorization_code requires at least one redirect URI (RFC 6749 §3.1.2.2)")
			}
		case GrantRefreshToken:
			if !c.AllowOfflineAccess {
				return apierror.Invalid(field, "refresh_token requires allowOfflineAccess: true")
			}
		case GrantPassword:
			if !c.AllowROPC {
				return apierror.Invalid(field, "password requires allowRopc: true")
			}
		case GrantTokenExchange:
			// RFC 8693 §2.1: the exchange is a request of a client the server can authenticate.
			if !c.RequireClientSecret {
				return apierror.Invalid(field, "token exchange requires a confidential client (requireClientSecret: true, RFC 8693 §2.1)")
			}
		case GrantDeviceCode:
		default:
			return apierror.Invalid(field, "unknown grant type %q: want client_credentials, authorization_code, refresh_token, password, %s or %s", apierror.Clip(g, 40), GrantTokenExchange, GrantDeviceCode)
		}
		if seen[g] {
			return apierror.Invalid(field, "duplicate grant type %q", g)
		}
		seen[g] = true
	}
	// RFC 9700 §2.1.1: public clients must use PKCE.
	if !c.RequireClientSecret && c.AllowNoPKCE {
		return apierror.Invalid("allowNoPkce", "a client without a secret must use PKCE (RFC 9700 §2.1.1)")
	}
	if err := validateList("redirectUris", c.RedirectURIs, ValidateRedirectURI); err != nil {
		return err
	}
	if err := validateList("postLogoutRedirectUris", c.PostLogoutRedirectURIs, ValidateRedirectURI); err != nil {
		return err
	}
	if c.BackChannelLogoutURI != "" {
		if err := ValidateRedirectURI("backChannelLogoutUri", c.BackChannelLogoutURI); err != nil {
			return err
		}
	}
	if err := validateList("allowedCorsOrigins", c.AllowedCORSOrigins, ValidateOrigin); err != nil {
		return err
	}
	if err := validateList("allowedScopes", c.AllowedScopes, ValidateScopeToken); err != nil {
		return err
	}
	if err := validateLifetime("accessTokenLifetime", c.AccessTokenLifetime, MaxAccessTokenLifetime); err != nil {
		return err
	}
	if err := validateLifetime("refreshTokenLifetime", c.RefreshTokenLifetime, MaxRefreshTokenLifetime); err != nil {
		return err
	}
	if err := validateClientAuth(c); err != nil {
		return err
	}
	if err := validateClaims(c.Claims); err != nil {
		return err
	}
	if err := validateClaimMappings(c.ClaimMappings, c.Claims); err != nil {
		return err
	}
	if len(c.ServesResources) > maxServedResources {
		return apierror.Invalid("servesResources", "at most %d entries", maxServedResources)
	}
	return validateList("servesResources", c.ServesResources, ValidateResourceID)
}

// validateClientAuth checks the authentication method and what it needs (RFC 7591 §2, RFC 7523 §2.2,
// RFC 8705 §2): none exactly for a client without a secret, keys for private_key_jwt and
// self_signed_tls_client_auth, a subject for tls_client_auth; jwks and jwksUri not both (RFC 7591 §2).
// An empty method stands for the one requireClientSecret implies.
func validateClientAuth(c Client) error {
	const field = "tokenEndpointAuthMethod"
	m := c.EffectiveAuthMethod()
	switch m {
	case AuthClientSecretBasic, AuthClientSecretPost, AuthPrivateKeyJWT, AuthTLSClientAuth, AuthSelfSignedTLSClientAuth:
		if !c.RequireClientSecret {
			return apierror.Invalid(field, "%s authenticates a confidential client: it contradicts requireClientSecret: false", m)
		}
	case AuthNone:
		if c.RequireClientSecret {
			return apierror.Invalid(field, "none is for public clients: it contradicts requireClientSecret: true")
		}
	default:
		return apierror.Invalid(field, "unknown method %q: want client_secret_basic, client_secret_post, private_key_jwt, tls_client_auth, self_signed_tls_client_auth or none", apierror.Clip(m, 40))
	}
	if c.JWKS != nil && c.JWKSURI != "" {
		return apierror.Invalid("jwksUri", "set jwks or jwksUri, not both (RFC 7591 §2)")
	}
	if c.JWKS != nil {
		if err := ValidateJWKS("jwks", c.JWKS); err != nil {
			return err
		}
	}
	if c.JWKSURI != "" {
		if err := ValidateJWKSURI("jwksUri", c.JWKSURI); err != nil {
			return err
		}
	}
	if c.TLSClientAuthSubjectDN != "" {
		rdns, err := dn.ParseDN(c.TLSClientAuthSubjectDN)
		if err != nil {
			return apierror.Invalid("tlsClientAuthSubjectDn", "not an RFC 4514 distinguished name: %v", err)
		}
		if len(rdns) == 0 {
			return apierror.Invalid("tlsClientAuthSubjectDn", "must not be empty")
		}
	}
	switch m {
	case AuthPrivateKeyJWT, AuthSelfSignedTLSClientAuth:
		if c.JWKS == nil && c.JWKSURI == "" {
			return apierror.Invalid("jwks", "%s needs the client's public keys: set jwks or jwksUri", m)
		}
	case AuthTLSClientAuth:
		if c.TLSClientAuthSubjectDN == "" {
			return apierror.Invalid("tlsClientAuthSubjectDn", "tls_client_auth needs the certificate's subject (RFC 8705 §2.1.2)")
		}
	}
	return nil
}

// ValidateJWKSURI checks where a client's JWK Set is fetched: a URI as ValidateRedirectURI accepts it (no
// fragment, no userinfo, at most 2000 bytes), and https (RFC 7591 §2 jwks_uri). Errors name field.
func ValidateJWKSURI(field, raw string) error {
	if err := ValidateRedirectURI(field, raw); err != nil {
		return err
	}
	if u, _ := url.Parse(raw); u == nil || !strings.EqualFold(u.Scheme, "https") {
		return apierror.Invalid(field, "must be an https URL")
	}
	return nil
}

func validateLifetime(field string, d, max time.Duration) error {
	if d < time.Second || d > max || d%time.Second != 0 {
		return apierror.Invalid(field, "must be 1 to %d seconds", int64(max/time.Second))
	}
	return nil
}

// validateList checks each element with check (which names the element's field) and rejects duplicates and
// lists longer than maxListLen.
func validateList(field string, items []string, check func(field, v string) error) error {
	if len(items) > maxListLen {
		return apierror.Invalid(field, "at most %d entries", maxListLen)
	}
	seen := make(map[string]bool, len(items))
	for i, v := range items {
		f := fmt.Sprintf("%s[%d]", field, i)
		if err := check(f, v); err != nil {
			return err
		}
		if seen[v] {
			return apierror.Invalid(f, "duplicate entry")
		}
		seen[v] = true
	}
	return nil
}

// forbiddenSchemes can run script or read local files when a browser is sent to them.
var forbiddenSchemes = map[string]bool{"javascript": true, "data": true, "vbscript": true, "file": true, "blob": true}

// ValidateRedirectURI checks a redirect URI (also used for post-logout and back-channel logout URIs): an
// absolute URI with a scheme and a host (RFC 6749 §3.1.2), no fragment (RFC 6749 §3.1.2), no userinfo, no
// whitespace or control characters, at most 2000 bytes, not a script or file scheme. Errors name field.
func ValidateRedirectURI(field, raw string) error {
	if raw == "" {
		return apierror.Invalid(field, "must not be empty")
	}
	if len(raw) > maxURILen {
		return apierror.Invalid(field, "must be at most %d bytes", maxURILen)
	}
	if !utf8.ValidString(raw) || strings.ContainsFunc(raw, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) || r == '\\' }) {
		return apierror.Invalid(field, "must not contain whitespace, control characters or backslashes")
	}
	if strings.Contains(raw, "#") {
		return apierror.Invalid(field, "must not contain a fragment (RFC 6749 §3.1.2)")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return apierror.Invalid(field, "not a valid URI")
	}
	if u.Scheme == "" || u.Opaque != "" || u.Host == "" || u.Hostname() == "" {
		return apierror.Invalid(field, "must be an absolute URI with a scheme and a host (RFC 6749 §3.1.2)")
	}
	if forbiddenSchemes[strings.ToLower(u.Scheme)] {
		return apierror.Invalid(field, "scheme %q is not allowed", u.Scheme)
	}
	if u.User != nil {
		return apierror.Invalid(field, "must not contain userinfo")
	}
	if err := validPort(u.Port()); err != nil {
		return apierror.Invalid(field, "%v", err)
	}
	return nil
}

func validPort(p string) error {
	if p == "" {
		return nil
	}
	n := 0
	for _, r := range p {
		if r < '0' || r > '9' {
			return fmt.Errorf("invalid port")
		}
		n = n*10 + int(r-'0')
		if n > 65535 {
			return fmt.Errorf("invalid port")
		}
	}
	return nil
}

// ValidateOrigin checks a CORS origin in the form browsers send it in the Origin header, the ASCII
// serialization of RFC 6454 §6.2: an http or https scheme and a host, both lowercase, and a port only when
// it is not the scheme's default; nothing else (no path, not even "/"). NormalizeOrigin turns the other
// spellings of the same origin into that form. Errors name field.
func ValidateOrigin(field, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || raw == "" || len(raw) > maxURILen {
		return apierror.Invalid(field, "not a valid origin: want scheme://host[:port]")
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Hostname() == "" || u.Opaque != "" {
		return apierror.Invalid(field, "must be an http or https origin: scheme://host[:port]")
	}
	if u.User != nil || u.Path != "" || u.RawQuery != "" || u.ForceQuery || strings.ContainsAny(raw, "#?\\ ") {
		return apierror.Invalid(field, "must be an origin without path, query, fragment or userinfo")
	}
	if err := validPort(u.Port()); err != nil {
		return apierror.Invalid(field, "%v", err)
	}
	if err := validOriginHost(u.Hostname(), strings.HasPrefix(u.Host, "[")); err != "" {
		return apierror.Invalid(field, "%s", err)
	}
	if raw != strings.ToLower(raw) {
		return apierror.Invalid(field, "must be lowercase, as browsers send it in the Origin header")
	}
	if u.Scheme+"://"+u.Host != raw {
		return apierror.Invalid(field, "must be exactly scheme://host[:port]")
	}
	if strings.HasSuffix(u.Host, ":") {
		return apierror.Invalid(field, "must not end in ':' without a port")
	}
	if p := u.Port(); len(p) > 1 && p[0] == '0' {
		return apierror.Invalid(field, "the port must be written without leading zeros, as browsers send it")
	}
	if u.Port() == defaultPorts[u.Scheme] {
		return apierror.Invalid(field, "must not name the default port %s: browsers leave it out (RFC 6454 §6.2)", u.Port())
	}
	return nil
}

var defaultPorts = map[string]string{"http": "80", "https": "443"}

// validOriginHost says what is wrong with the host of an origin, or "": an origin is compared whole with
// the Origin header, so the host must be one browsers can send: a bracketed IPv6 address, or ASCII letters,
// digits, '.', '-' and '_' (an IPv4 address, a DNS name, an internationalized name in its xn-- form).
func validOriginHost(host string, bracketed bool) string {
	if strings.Contains(host, "*") {
		return "wildcards are not supported: list each origin"
	}
	if bracketed {
		if ip := net.ParseIP(host); ip == nil || ip.To4() != nil && !strings.Contains(host, ":") {
			return "not a valid IPv6 address"
		}
		return ""
	}
	for i := 0; i < len(host); i++ {
		c := host[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return "the host must be a DNS name or an IP address in ASCII (an internationalized name in its xn-- form)"
		}
	}
	return ""
}

// NormalizeOrigin returns the serialization browsers send (RFC 6454 §6.2) of a CORS origin spelt otherwise:
// scheme and host in lowercase (they are case-insensitive, RFC 3986 §6.2.2.1) and without the scheme's
// default port, so "HTTPS://MyApp.MyDomain.com:443" becomes "https://myapp.mydomain.com". Anything else, and
// anything that would still not be a valid origin, is returned unchanged for ValidateOrigin to refuse. It is
// idempotent, and a changed result always passes ValidateOrigin.
func NormalizeOrigin(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return raw
	}
	scheme = strings.ToLower(scheme)
	host := strings.ToLower(rest)
	if i := strings.LastIndexByte(host, ':'); i > strings.LastIndexByte(host, ']') {
		port := host[i+1:]
		if port != "" {
			if port = strings.TrimLeft(port, "0"); port == "" {
				port = "0"
			}
		}
		if port == "" || port == defaultPorts[scheme] {
			host = host[:i]
		} else {
			host = host[:i+1] + port
		}
	}
	norm := scheme + "://" + host
	if norm == raw || ValidateOrigin("", norm) != nil {
		return raw
	}
	return norm
}

// NormalizeClient returns c with its CORS origins in the form browsers send them (NormalizeOrigin) and its
// served resources in their normal form (NormalizeResourceID); it is what is stored and answered. Redirect
// URIs are kept byte for byte: they are matched exactly (RFC 9700 §2.1), and their paths are case-sensitive
// (RFC 3986 §6.2.2.1).
func NormalizeClient(c Client) Client {
	if len(c.AllowedCORSOrigins) > 0 {
		origins := make([]string, len(c.AllowedCORSOrigins))
		for i, o := range c.AllowedCORSOrigins {
			origins[i] = NormalizeOrigin(o)
		}
		c.AllowedCORSOrigins = origins
	}
	if len(c.ServesResources) > 0 {
		served := make([]string, len(c.ServesResources))
		for i, r := range c.ServesResources {
			served[i] = NormalizeResourceID(r)
		}
		c.ServesResources = served
	}
	return c
}

// ValidateScopeToken checks one scope-token (RFC 6749 §3.3): 1*( %x21 / %x23-5B / %x5D-7E ), at most 200
// characters. Errors name field.
func ValidateScopeToken(field, s string) error {
	if s == "" || len(s) > 200 {
		return apierror.Invalid(field, "must be 1 to 200 characters")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c == 0x22 || c == 0x5c || c > 0x7e {
			return apierror.Invalid(field, "not a scope-token: printable ASCII without space, '\"' or '\\' (RFC 6749 §3.3)")
		}
	}
	return nil
}

// validateText checks a free-text field: valid UTF-8 without control characters, at most max bytes.
func validateText(field, s string, max int) error {
	if len(s) > max {
		return apierror.Invalid(field, "must be at most %d bytes", max)
	}
	if !utf8.ValidString(s) || strings.ContainsFunc(s, unicode.IsControl) {
		return apierror.Invalid(field, "must be valid UTF-8 without control characters")
	}
	return nil
}

func isIDChar(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-'
}

// validateID checks an identifier of [A-Za-z0-9._-]{1,64}.
func validateID(field, id string) error {
	if id == "" || len(id) > 64 {
		return apierror.Invalid(field, "must be 1 to 64 characters")
	}
	for _, r := range id {
		if !isIDChar(r) {
			return apierror.Invalid(field, "may only contain letters, digits, '.', '_' and '-'")
		}
	}
	return nil
}
