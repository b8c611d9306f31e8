// Package clients keeps the token service's local copy of the registry's OAuth clients: a cache fed by the
// registry's WatchClients stream (reconnecting with backoff and resyncing after every reconnect), persisted
// in the token store so that a restart during a registry outage still knows every client, and a recorder
// that reports secret uses back to the registry in batches. The cache knows the registry revision it has
// applied, so a request can wait until a registry write it was told about is visible (Cache.WaitRevision).
// Nothing on the request path calls the network or writes to disk.
package clients

import (
	"crypto/hmac"
	"time"

	"github.com/authsuite/authsuite/internal/suitekey"
)

// Client is what the token service knows about an OAuth client (RFC 6749 §2). A *Client handed out by the
// Cache is never modified afterwards; changes replace it.
type Client struct {
	ID                               string        `json:"id"`
	Name                             string        `json:"name,omitempty"`
	TenantID                         string        `json:"tenant_id"`
	TenantCode                       string        `json:"tenant_code"`
	GrantTypes                       []string      `json:"grant_types,omitempty"`
	Scopes                           []string      `json:"scopes,omitempty"`
	AccessTokenLifetime              time.Duration `json:"access_token_lifetime"`
	RefreshTokenLifetime             time.Duration `json:"refresh_token_lifetime"`
	RequireSecret                    bool          `json:"require_secret"`
	AllowOfflineAccess               bool          `json:"allow_offline_access,omitempty"`
	AllowRememberConsent             bool          `json:"allow_remember_consent,omitempty"`
	RequireConsent                   bool          `json:"require_consent,omitempty"`
	AllowNoPKCE                      bool          `json:"allow_no_pkce,omitempty"`
	AllowROPC                        bool          `json:"allow_ropc,omitempty"`
	RedirectURIs                     []string      `json:"redirect_uris,omitempty"`
	RedirectURIPrefixMatching        bool          `json:"redirect_uri_prefix_matching,omitempty"`
	PostLogoutRedirectURIs           []string      `json:"post_logout_redirect_uris,omitempty"`
	BackChannelLogoutURI             string        `json:"back_channel_logout_uri,omitempty"`
	BackChannelLogoutSessionRequired bool          `json:"back_channel_logout_session_required,omitempty"`
	CORSOrigins                      []string      `json:"cors_origins,omitempty"`
	Secrets                          []Secret      `json:"secrets,omitempty"`

	// AuthMethod is how the client authenticates (registry token_endpoint_auth_method), never empty:
	// AuthSecret, AuthPrivateKeyJWT, AuthTLS, AuthSelfSignedTLS or AuthNone.
	AuthMethod string `json:"auth_method,omitempty"`
	// JWKS is the client's JWK Set as JSON (RFC 7517 §5), or nil; JWKSURI is where to fetch it instead.
	JWKS    []byte `json:"jwks,omitempty"`
	JWKSURI string `json:"jwks_uri,omitempty"`
	// TLSSubjectDN is the certificate subject tls_client_auth requires (RFC 8705 §2.1.2).
	TLSSubjectDN string `json:"tls_subject_dn,omitempty"`
	// CertBoundTokens: access tokens issued over a connection with a client certificate are bound to it
	// (RFC 8705 §3).
	CertBoundTokens bool `json:"cert_bound_tokens,omitempty"`
	// Claims are static claims of the client's own tokens; AlwaysSendClaims adds them to user tokens too.
	Claims           map[string]string `json:"claims,omitempty"`
	AlwaysSendClaims bool              `json:"always_send_claims,omitempty"`
	// ClaimMappings put user attributes into the client's tokens.
	ClaimMappings []ClaimMapping `json:"claim_mappings,omitempty"`
	// ServesResources are the API resources the client serves: it may exchange tokens for them (RFC 8693).
	ServesResources []string `json:"serves_resources,omitempty"`
}

// Client authentication methods (RFC 7591 §2 token_endpoint_auth_method, RFC 8705 §2).
const (
	AuthSecret        = "client_secret_basic" // client_secret_post is accepted alike
	AuthPrivateKeyJWT = "private_key_jwt"
	AuthTLS           = "tls_client_auth"
	AuthSelfSignedTLS = "self_signed_tls_client_auth"
	AuthNone          = "none"
)

// ClaimMapping puts the user attribute Attribute into tokens as the claim Claim, when Scope (if set) is
// granted.
type ClaimMapping struct {
	Attribute string `json:"attribute"`
	Claim     string `json:"claim"`
	Scope     string `json:"scope,omitempty"`
}

// Secret is a client secret as the registry stores it: a keyed digest (suitekey purpose "client-secret"),
// never the value.
type Secret struct {
	ID        string    `json:"id"`
	KeyID     string    `json:"key_id"`
	Digest    []byte    `json:"digest"`
	NotBefore time.Time `json:"not_before,omitzero"`
	NotAfter  time.Time `json:"not_after,omitzero"` // zero: no expiry
}

// DigestPurpose is the suitekey purpose of client secret digests.
const DigestPurpose = "client-secret"

// MaxSecretLen bounds the secrets VerifySecret hashes; longer input never matches.
const MaxSecretLen = 1024

// HasGrant reports whether the client may use grant type g.
func (c *Client) HasGrant(g string) bool {
	for _, v := range c.GrantTypes {
		if v == g {
			return true
		}
	}
	return false
}

// VerifySecret reports which of the client's secrets equals value and is valid at now (NotBefore ≤ now <
// NotAfter), comparing keyed digests in constant time (RFC 6749 §2.3.1): it computes one MAC of value per key
// id (secrets made under one master key share it) and compares it with hmac.Equal against every valid secret
// of that key id. It never logs or keeps value.
func (c *Client) VerifySecret(kr *suitekey.Keyring, value string, now time.Time) (secretID string, ok bool) {
	if value == "" || len(value) > MaxSecretLen {
		return "", false
	}
	v := []byte(value)
	// Key ids seen so far and their MACs of value; clients have a few secrets under one or two keys.
	var ids [2]string
	var sums [2][]byte
	seen := 0
	for _, s := range c.Secrets {
		if now.Before(s.NotBefore) || (!s.NotAfter.IsZero() && !now.Before(s.NotAfter)) {
			continue
		}
		var sum []byte
		for i := range min(seen, len(ids)) {
			if ids[i] == s.KeyID {
				sum = sums[i]
				break
			}
		}
		if sum == nil {
			if sum = kr.MAC(DigestPurpose, s.KeyID, v); sum == nil {
				continue // unknown key id
			}
			if seen < len(ids) {
				ids[seen], sums[seen] = s.KeyID, sum
			}
			seen++
		}
		if hmac.Equal(sum, s.Digest) {
			return s.ID, true
		}
	}
	return "", false
}

// Method is the client's authentication method: AuthMethod, or for a client persisted before methods
// existed (AuthMethod empty) the one its RequireSecret implies.
func (c *Client) Method() string {
	switch {
	case c.AuthMethod != "":
		return c.AuthMethod
	case c.RequireSecret:
		return AuthSecret
	}
	return AuthNone
}
