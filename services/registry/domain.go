package registry

import (
	"crypto/rand"
	"maps"
	"slices"
	"strings"
	"time"
)

// Tenant is an isolated set of clients and users. ID and Code are each unique across the registry.
type Tenant struct {
	ID         string
	Code       string
	Name       string
	CreateTime time.Time
	SignInSettings
}

// Client is an OAuth 2.0 client (RFC 6749 §2) with its secrets. ID is unique across all tenants.
// Lifetimes are whole seconds.
type Client struct {
	ID                               string
	Name                             string
	TenantID                         string
	AllowOfflineAccess               bool
	AllowRememberConsent             bool
	BackChannelLogoutSessionRequired bool
	BackChannelLogoutURI             string
	RequireClientSecret              bool
	RequireConsent                   bool
	AllowNoPKCE                      bool
	AllowROPC                        bool
	AllowedGrantTypes                []string
	AllowedCORSOrigins               []string
	AllowedScopes                    []string
	PostLogoutRedirectURIs           []string
	RedirectURIs                     []string
	RedirectURIPrefixMatching        bool
	AccessTokenLifetime              time.Duration
	RefreshTokenLifetime             time.Duration
	CreateTime                       time.Time
	UpdateTime                       time.Time
	// Secrets are the client's secrets, ordered by StartTime then ID. Only digests are kept.
	Secrets []Secret

	// TokenEndpointAuthMethod is how the client authenticates (RFC 7591 §2): one of the Auth* constants, or
	// "" in records written before methods existed, meaning the one RequireClientSecret implies
	// (EffectiveAuthMethod).
	TokenEndpointAuthMethod string
	// JWKS is the client's JWK Set (RFC 7517 §5) as JSON with members in sorted order and no insignificant
	// whitespace, nil when none; JWKSURI is an https URL of it instead. At most one of them is set.
	JWKS    []byte
	JWKSURI string
	// TLSClientAuthSubjectDN is the RFC 4514 subject the client's certificate must have for tls_client_auth,
	// as the administrator wrote it; it is compared by dn.Canonical.
	TLSClientAuthSubjectDN string
	// CertBoundAccessTokens binds access tokens issued over a connection with a client certificate to that
	// certificate (RFC 8705 §3).
	CertBoundAccessTokens bool
	// Claims are static claims of the client's own access tokens; AlwaysSendClaims adds them to the tokens
	// it obtains for users too.
	Claims           map[string]string
	AlwaysSendClaims bool
	// ClaimMappings put user attributes into the client's tokens, each under its own claim name.
	ClaimMappings []ClaimMapping
	// ServesResources are the API resource ids (absolute URIs) the client serves.
	ServesResources []string
}

// ClaimMapping releases the user attribute UserAttribute as the claim Claim in tokens issued to the client
// for a user, when Scope is granted (or always when Scope is "").
type ClaimMapping struct {
	UserAttribute string
	Claim         string
	Scope         string
}

// Client authentication methods (RFC 7591 §2 token_endpoint_auth_method, RFC 7523 §2.2, RFC 8705 §2).
// client_secret_basic and client_secret_post are stored as given; the token service accepts both ways of
// presenting the secret for either.
const (
	AuthClientSecretBasic       = "client_secret_basic"
	AuthClientSecretPost        = "client_secret_post"
	AuthPrivateKeyJWT           = "private_key_jwt"
	AuthTLSClientAuth           = "tls_client_auth"
	AuthSelfSignedTLSClientAuth = "self_signed_tls_client_auth"
	AuthNone                    = "none"
)

// EffectiveAuthMethod is the client's authentication method: TokenEndpointAuthMethod, or when that is
// empty client_secret_basic for a client that requires a secret and none otherwise.
func (c Client) EffectiveAuthMethod() string {
	switch {
	case c.TokenEndpointAuthMethod != "":
		return c.TokenEndpointAuthMethod
	case c.RequireClientSecret:
		return AuthClientSecretBasic
	}
	return AuthNone
}

// ResolveAuthMethod completes the authentication settings of a client read from a request: without a
// method, the one RequireClientSecret implies; with a method but without a stated requireClientSecret
// (requireStated false), RequireClientSecret follows the method (false for none, true otherwise). A stated
// flag is kept, so that a contradiction reaches ValidateClient and is refused.
func (c *Client) ResolveAuthMethod(requireStated bool) {
	if c.TokenEndpointAuthMethod == "" {
		c.TokenEndpointAuthMethod = c.EffectiveAuthMethod()
		return
	}
	if !requireStated {
		c.RequireClientSecret = c.TokenEndpointAuthMethod != AuthNone
	}
}

// Secret is one client secret as stored: a keyed digest (suitekey, purpose SecretDigestPurpose), never the
// value. It is usable only in [StartTime, Expiration).
type Secret struct {
	ID           string
	Description  string
	KeyID        string
	Digest       []byte
	ValueDisplay string
	StartTime    time.Time
	Expiration   time.Time
	// LastUsed is the zero time until the secret first authenticates its client.
	LastUsed time.Time
}

// SecretDigestPurpose is the suitekey.Digest purpose under which client secret values are hashed.
const SecretDigestPurpose = "client-secret"

// UsableAt reports whether the secret may authenticate its client at t: StartTime <= t < Expiration.
func (s Secret) UsableAt(t time.Time) bool {
	return !t.Before(s.StartTime) && t.Before(s.Expiration)
}

// SecretUse records that a secret authenticated its client at Time.
type SecretUse struct {
	ClientID string
	SecretID string
	Time     time.Time
}

// User is a person who can sign in to a tenant. PasswordHash is a PHC-style argon2id string (see
// HashPassword) or empty when the user has no password; it never leaves the service.
//
// Incarnation is a random value the store gives the account when it is created and that nothing changes
// afterwards. Sessions, codes and tokens are bound to it, so a user deleted and created again with the same
// ID (or in a tenant deleted and created again with the same ID) is another account and inherits none of
// them. This is chosen over forbidding the reuse of IDs (tombstones): tombstones would have to outlive
// tenant deletion and be kept forever, whereas a random value per account needs no memory of deleted
// accounts at all, and a full snapshot of the live accounts is all a watcher needs to resync. Accounts
// created before incarnations existed have "" (and any account created since has another value).
//
// DisableTime is when Disabled last turned true (zero if never): nothing issued to the account before it
// is good again after the account is enabled.
type User struct {
	ID           string
	TenantID     string
	LoginName    string
	Email        string
	Mobile       string
	DisplayName  string
	PasswordHash string
	Roles        []string
	Disabled     bool
	Incarnation  string
	DisableTime  time.Time
	CreateTime   time.Time
	UpdateTime   time.Time
	// EmailVerified and PhoneVerified say that Email and Mobile are verified (OpenID Connect Core §5.1
	// email_verified, phone_number_verified). Neither is true without its address (ValidateUser).
	EmailVerified bool
	PhoneVerified bool
	// Groups are the groups the user belongs to (the groups claim); Attributes are custom attributes that
	// clients' ClaimMappings release.
	Groups     []string
	Attributes map[string]string
	Factors
}

// Verification says which verification flags an update states; an unstated one follows KeepVerification.
type Verification struct {
	EmailStated, PhoneStated bool
}

// KeepVerification completes an update of old to u for the flags the update did not state: a flag is kept
// while its address stays the same (an e-mail address compared ignoring case, as the directory's uniqueness
// does) and reset to false when the address changes or is removed, so a new address is never taken for
// verified (Keycloak behaves alike). Stated flags are left as given.
func (u *User) KeepVerification(old User, v Verification) {
	if !v.EmailStated {
		u.EmailVerified = old.EmailVerified && u.Email != "" && strings.EqualFold(u.Email, old.Email)
	}
	if !v.PhoneStated {
		u.PhoneVerified = old.PhoneVerified && u.Mobile != "" && u.Mobile == old.Mobile
	}
}

// NewIncarnation returns a new account incarnation: 128 random bits (crypto/rand.Text), so two accounts
// never share one.
func NewIncarnation() string { return rand.Text() }

// HasRole reports whether the user holds role.
func (u User) HasRole(role string) bool { return slices.Contains(u.Roles, role) }

// VerifyPassword reports, in constant time for a given hash, whether password is the user's password. A user
// without a password verifies nothing.
func (u User) VerifyPassword(password string) bool {
	return VerifyPassword(u.PasswordHash, password)
}

// Clone returns a deep copy of c, so callers may modify slices without touching the original.
func (c Client) Clone() Client {
	c.AllowedGrantTypes = slices.Clone(c.AllowedGrantTypes)
	c.AllowedCORSOrigins = slices.Clone(c.AllowedCORSOrigins)
	c.AllowedScopes = slices.Clone(c.AllowedScopes)
	c.PostLogoutRedirectURIs = slices.Clone(c.PostLogoutRedirectURIs)
	c.RedirectURIs = slices.Clone(c.RedirectURIs)
	c.JWKS = slices.Clone(c.JWKS)
	c.Claims = maps.Clone(c.Claims)
	c.ClaimMappings = slices.Clone(c.ClaimMappings)
	c.ServesResources = slices.Clone(c.ServesResources)
	secrets := make([]Secret, len(c.Secrets))
	for i, s := range c.Secrets {
		s.Digest = slices.Clone(s.Digest)
		secrets[i] = s
	}
	if c.Secrets == nil {
		secrets = nil
	}
	c.Secrets = secrets
	return c
}

// Change is one change of a commit, as Store.Watch reports it. Exactly one field is set: Tenant, Client or
// User is the record as stored after a create or update (secrets included); DeletedTenant and DeletedClient
// are the IDs of deleted records; DeletedUser is the deleted user as it was, incarnation included; Resource
// is an API resource as stored after a create or update, and DeletedResource names a deleted one. A deleted
// tenant's clients, users and API resources are gone with it; their individual deletions may or may not be
// reported.
type Change struct {
	Tenant          *Tenant
	DeletedTenant   string
	Client          *Client
	DeletedClient   string
	User            *User
	DeletedUser     *User
	Resource        *ApiResource
	DeletedResource *ApiResourceRef
}

// Clone returns a deep copy of ch, so a watcher may keep or modify it without touching another's.
func (ch Change) Clone() Change {
	if ch.Tenant != nil {
		t := ch.Tenant.Clone()
		ch.Tenant = &t
	}
	if ch.Client != nil {
		c := ch.Client.Clone()
		ch.Client = &c
	}
	if ch.User != nil {
		u := ch.User.Clone()
		ch.User = &u
	}
	if ch.Resource != nil {
		r := ch.Resource.Clone()
		ch.Resource = &r
	}
	if ch.DeletedResource != nil {
		r := *ch.DeletedResource
		ch.DeletedResource = &r
	}
	if ch.DeletedUser != nil {
		u := ch.DeletedUser.Clone()
		ch.DeletedUser = &u
	}
	return ch
}

// Clone returns a deep copy of u, so callers may modify Roles, Groups or Attributes without touching the
// original.
func (u User) Clone() User {
	u.Roles = slices.Clone(u.Roles)
	u.Groups = slices.Clone(u.Groups)
	u.Attributes = maps.Clone(u.Attributes)
	u.Factors = u.Factors.Clone()
	return u
}

// ApiResource is a protected API of a tenant (RFC 8707 resource indicators). ID is an absolute URI, unique
// within the tenant; it is the audience of tokens issued for the resource's scopes. AccessTokenLifetime is
// whole seconds, zero meaning the client's.
type ApiResource struct {
	ID                  string
	TenantID            string
	DisplayName         string
	Scopes              []string
	AccessTokenLifetime time.Duration
	CreateTime          time.Time
	UpdateTime          time.Time
}

// ApiResourceRef names an API resource.
type ApiResourceRef struct {
	TenantID string
	ID       string
}

// Clone returns a deep copy of r.
func (r ApiResource) Clone() ApiResource {
	r.Scopes = slices.Clone(r.Scopes)
	return r
}
