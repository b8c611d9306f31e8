package provider

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/authsuite/authsuite/internal/apierror"
)

// ProviderKey names a provider: a connector type (the outer key of the configuration file) and a provider
// name (the inner key).
type ProviderKey struct {
	Type string
	Name string
}

// String renders the key as ThingWorx Flow names entries: "google_gmail/Gmail-1".
func (k ProviderKey) String() string { return k.Type + "/" + k.Name }

// Provider is a loaded provider configuration. Settings holds every non-secret key as loaded; the secret
// (CLIENT_SECRET, or CONSUMER_SECRET for trello) is only in SealedSecret, sealed with SecretAD.
type Provider struct {
	ProviderKey
	Settings     Settings
	SealedSecret []byte
	UpdateTime   time.Time
	// Connectors is the number of connectors using the provider: pending connectors (authorization not
	// completed) do not count, so they never block changing or deleting it. Stores fill it on reads; it is
	// ignored on writes.
	Connectors int
}

// SecretAD is the additional data a provider's secret is sealed with: it binds the ciphertext to the
// provider's key, so a sealed secret copied onto another record does not open.
func SecretAD(k ProviderKey) []byte { return []byte("provider-secret\x00" + k.Type + "\x00" + k.Name) }

// Settings are the non-secret values of a provider entry, typed. Raw keeps the loaded JSON values of the
// same keys (for GetOAuthConfiguration), without the secret.
type Settings struct {
	ClientID        string         `json:"client_id"`
	BaseURL         string         `json:"base_url,omitempty"`
	PFIdPAdapterID  string         `json:"pf_idp_adapter_id,omitempty"`
	ResourceURL     string         `json:"resource_url,omitempty"`
	AuthURL         string         `json:"auth_url,omitempty"`
	TokenURL        string         `json:"token_url,omitempty"`
	RefreshURL      string         `json:"refresh_url,omitempty"`
	ValidateURL     string         `json:"validate_url,omitempty"`
	TenantID        string         `json:"tenant_id,omitempty"`
	LoginURL        string         `json:"login_url,omitempty"`
	ValidateHeaders []Header       `json:"validate_headers,omitempty"`
	Scopes          []ScopeOption  `json:"scopes,omitempty"`
	Placeholders    []string       `json:"placeholders,omitempty"`
	Raw             map[string]any `json:"raw,omitempty"`
}

// Header is one header of oauth2_validate_headers; "{access_token}" in Value is replaced by the token.
type Header struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// ScopeOption is one entry of oauth2_params_scope: a label and the scope value it stands for.
type ScopeOption struct {
	Label string `json:"label"`
	Scope string `json:"scope"`
}

// Equal reports whether two settings are the same configuration.
func (s Settings) Equal(o Settings) bool {
	return fmt.Sprint(s.canon()) == fmt.Sprint(o.canon())
}

func (s Settings) canon() []any {
	return []any{s.ClientID, s.BaseURL, s.PFIdPAdapterID, s.ResourceURL, s.AuthURL, s.TokenURL, s.RefreshURL,
		s.ValidateURL, s.ValidateHeaders, s.Scopes, s.Placeholders, s.TenantID, s.LoginURL}
}

// Kind says who may use a connector.
type Kind string

const (
	// KindSession is a connector of one user (or client): only its owner obtains its tokens. This is
	// ThingWorx Flow's per-user OAuth connection, the default.
	KindSession Kind = "session"
	// KindNamed is a shared connector: every caller of the owner's tenant sees it and may obtain its
	// access token; only the owner and administrators delete it.
	KindNamed Kind = "named"
)

// Status is a connector's life-cycle state.
type Status string

const (
	// StatusPending: authorization started, the provider has not redirected back yet. A pending connector
	// expires PendingTTL after its creation: it can no longer complete and is deleted by the sweeper.
	StatusPending Status = "pending"
	// StatusActive: a grant is stored.
	StatusActive Status = "active"
	// StatusFailed: the provider refused, or the code exchange or validation failed.
	StatusFailed Status = "failed"
	// StatusRevoked: the grant was dropped (DeleteOAuthTokens, or the provider refused a refresh).
	StatusRevoked Status = "revoked"
)

// PendingTTL is how long a connector may stay pending: an authorization not completed within it expires.
const PendingTTL = 15 * time.Minute

// Expired reports whether c is a pending connector older than PendingTTL at now.
func (c Connector) Expired(now time.Time) bool {
	return c.Status == StatusPending && !now.Before(c.CreateTime.Add(PendingTTL))
}

// Connector is a grant obtained from a provider for an owner. SealedGrant is the sealed JSON of a Grant
// (see GrantAD); it is nil unless Status is StatusActive.
type Connector struct {
	ID          string
	Provider    ProviderKey
	Kind        Kind
	TenantID    string
	Owner       string // user id, or "client:<client id>"
	Status      Status
	ReturnTo    string
	Subdomain   string
	ResourceURL string
	Scopes      []string
	Failure     string
	SealedGrant []byte
	CreateTime  time.Time
	UpdateTime  time.Time
	// RefreshHolder and RefreshUntil are the connector's refresh lease (see Store.ClaimRefresh): who is
	// refreshing its grant, and until when the lease holds. Both are zero when nobody holds it. Only
	// ClaimRefresh sets them; UpdateConnector stores what its function returns, so a function that starts
	// from the connector it is given keeps the lease, and the holder may clear both while it stores the new
	// grant.
	RefreshHolder string
	RefreshUntil  time.Time
}

// RefreshHeld reports whether c's refresh lease is held at now by someone other than holder.
func (c Connector) RefreshHeld(holder string, now time.Time) bool {
	return c.RefreshHolder != "" && c.RefreshHolder != holder && now.Before(c.RefreshUntil)
}

// Clone returns a deep copy of c (nil slices stay nil).
func (c Connector) Clone() Connector {
	if c.Scopes != nil {
		c.Scopes = append([]string{}, c.Scopes...)
	}
	if c.SealedGrant != nil {
		c.SealedGrant = append([]byte{}, c.SealedGrant...)
	}
	return c
}

// CheckLease refuses a refresh lease request with no holder, or one that would end at or before now.
func CheckLease(holder string, now, until time.Time) error {
	if holder == "" {
		return apierror.Invalid("holder", "is required")
	}
	if !until.After(now) {
		return apierror.Invalid("until", "must be after now")
	}
	return nil
}

// Change is one change a commit made to a provider store, as Store.Watch reports it. Exactly one field is
// set. Pending authorizations are not reported.
type Change struct {
	// Connector is a connector created or changed: its whole new state (the grant sealed, the lease included).
	Connector *Connector
	// DeletedConnector is the id of a deleted connector (deleted by DeleteConnector, by
	// SweepPendingConnectors, or, pending, with its provider).
	DeletedConnector string
	// Provider names a provider that was put or deleted; read it to learn which.
	Provider *ProviderKey
}

// Clone returns a deep copy of ch.
func (ch Change) Clone() Change {
	if ch.Connector != nil {
		c := ch.Connector.Clone()
		ch.Connector = &c
	}
	if ch.Provider != nil {
		k := *ch.Provider
		ch.Provider = &k
	}
	return ch
}

// GrantAD is the additional data a connector's grant is sealed with.
func GrantAD(connectorID string) []byte { return []byte("connector-grant\x00" + connectorID) }

// VerifierAD is the additional data a PKCE verifier is sealed with.
func VerifierAD(stateHash []byte) []byte { return append([]byte("pkce-verifier\x00"), stateHash...) }

// TemporarySecretAD is the additional data the shared secret of OAuth 1.0a temporary credentials (RFC 5849
// §2.1) is sealed with; it differs from VerifierAD, so neither opens as the other.
func TemporarySecretAD(tokenHash []byte) []byte {
	return append([]byte("oauth1-temporary-secret\x00"), tokenHash...)
}

// Grant is what a provider's token endpoint answered (RFC 6749 §5.1), kept sealed in Connector.SealedGrant.
// For OAuth 1.0a (RFC 5849 §2.3) AccessToken and TokenSecret are the token credentials, TokenType is
// TokenTypeOAuth1, ConsumerKey the client identifier they were issued to, and Expiry is zero.
type Grant struct {
	AccessToken  string    `json:"access_token"`
	RefreshToken string    `json:"refresh_token,omitempty"`
	TokenType    string    `json:"token_type,omitempty"`
	Expiry       time.Time `json:"expiry,omitzero"`
	Scope        string    `json:"scope,omitempty"`
	InstanceURL  string    `json:"instance_url,omitempty"`
	TokenSecret  string    `json:"token_secret,omitempty"`
	ConsumerKey  string    `json:"consumer_key,omitempty"`
}

// TokenTypeOAuth1 is the token type of OAuth 1.0a grants.
const TokenTypeOAuth1 = "OAuth1"

// AuthState is a pending authorization: the hash of what correlates the browser's next request (see
// below; never the value), the connector it completes, the sealed secret the return step needs (the PKCE
// verifier sealed with VerifierAD, or the temporary credentials' shared secret sealed with
// TemporarySecretAD; nil when there is none) and its expiry. Hash is one of:
//   - HashState(state, binding): an OAuth 2.0 authorization sent to the provider with state;
//   - HashTemporaryToken(oauth_token, binding): an OAuth 1.0a one, correlated by the temporary credentials;
//   - HashStartToken(start token): a client's connector waiting for its browser to start it.
//
// binding is the value of the binding cookie of the browser that started the flow. Because it is part of
// the key, a return from any other browser finds nothing and changes nothing (RFC 6749 §10.12, RFC 9700
// §4.7), and cannot use up the owner's state either.
type AuthState struct {
	Hash           []byte
	ConnectorID    string
	SealedVerifier []byte
	Expiry         time.Time
}

// HashState is the hash under which an OAuth 2.0 state value, started in the browser holding the binding
// cookie value binding, is stored.
func HashState(state, binding string) []byte { return hashKey("connector-state", state, binding) }

// HashTemporaryToken is the hash under which an OAuth 1.0a temporary credentials identifier (RFC 5849 §2.1
// oauth_token), started in the browser holding binding, is stored. It is domain-separated from HashState,
// so a state value presented as an oauth_token (or the reverse) never finds a pending authorization.
func HashTemporaryToken(token, binding string) []byte {
	return hashKey("oauth1-temporary-token", token, binding)
}

// HashStartToken is the hash under which a client's connector's single-use start token is stored.
func HashStartToken(token string) []byte { return hashKey("connector-start-token", token, "") }

// hashKey is SHA-256 over the purpose and the values, each preceded by its length, so no two different
// lists of values hash alike.
func hashKey(purpose string, values ...string) []byte {
	h := sha256.New()
	h.Write([]byte(purpose))
	for _, v := range values {
		h.Write(binary.BigEndian.AppendUint64(nil, uint64(len(v))))
		h.Write([]byte(v))
	}
	return h.Sum(nil)
}

// ConnectorFilter selects connectors; empty fields match everything.
type ConnectorFilter struct {
	TenantID string
	Owner    string
	Type     string
	Name     string
}

// Match reports whether c passes the filter.
func (f ConnectorFilter) Match(c Connector) bool {
	return (f.TenantID == "" || f.TenantID == c.TenantID) && (f.Owner == "" || f.Owner == c.Owner) &&
		(f.Type == "" || f.Type == c.Provider.Type) && (f.Name == "" || f.Name == c.Provider.Name)
}

// Problem is one offending entry of a load: the entry, the key (empty for the whole entry) and why.
type Problem struct {
	Entry  ProviderKey
	Key    string
	Reason string
}

// Field is the REST path of the problem: oauthConfigurations.<type>.<name>[.<key>].
func (p Problem) Field() string {
	f := "oauthConfigurations"
	if p.Entry.Type != "" {
		f += "." + p.Entry.Type
	}
	if p.Entry.Name != "" {
		f += "." + p.Entry.Name
	}
	if p.Key != "" {
		f += "." + p.Key
	}
	return f
}

// String renders the problem as "google_gmail/Gmail-1: CLIENT_ID is required".
func (p Problem) String() string {
	var b strings.Builder
	if p.Entry.Type != "" {
		b.WriteString(p.Entry.Type)
		if p.Entry.Name != "" {
			b.WriteString("/" + p.Entry.Name)
		}
		b.WriteString(": ")
	}
	if p.Key != "" {
		b.WriteString(p.Key + " ")
	}
	b.WriteString(p.Reason)
	return b.String()
}

// LoadError lists every offending entry of a rejected load; nothing of the load was stored. InUse is true
// when every problem is a provider in use (a precondition failure, not invalid input).
type LoadError struct {
	Problems []Problem
	InUse    bool
}

func (e *LoadError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.String()
	}
	what := "invalid OAuth configuration"
	if e.InUse {
		what = "OAuth configuration not loaded"
	}
	return fmt.Sprintf("%s, nothing was stored (%d problem(s)): %s", what, len(parts), strings.Join(parts, "; "))
}

// InUseError is returned by Store.PutProviders when it would change providers connectors use.
type InUseError struct {
	Providers []ProviderKey
}

func (e *InUseError) Error() string {
	names := make([]string, len(e.Providers))
	for i, k := range e.Providers {
		names[i] = k.String()
	}
	return "providers in use by connectors: " + strings.Join(names, ", ")
}

// SortProblems orders problems by entry, then key, so answers are deterministic.
func SortProblems(ps []Problem) {
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		if a.Entry != b.Entry {
			if a.Entry.Type != b.Entry.Type {
				return a.Entry.Type < b.Entry.Type
			}
			return a.Entry.Name < b.Entry.Name
		}
		return a.Key < b.Key
	})
}
