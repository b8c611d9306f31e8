package memstore

import (
	"maps"
	"slices"
	"time"

	"github.com/authsuite/authsuite/services/registry"
	"github.com/authsuite/authsuite/services/registry/internal/signinrec"
)

// Record forms of the domain types. They are private and hold nothing shared with a caller: every value is
// copied field by field (slices and byte slices cloned) when it enters the store and again when it leaves, so
// neither side can change the other's memory. The conversions normalise the way the bbolt store's encoding
// does, so both backends answer alike: lifetimes are whole seconds (truncated), empty lists read back as nil,
// and times lose their monotonic clock reading.

type tenantRec struct {
	id, code, name string
	createTime     time.Time
	signIn         signinrec.Tenant
}

func tenantToRec(t registry.Tenant) *tenantRec {
	return &tenantRec{id: t.ID, code: t.Code, name: t.Name, createTime: wall(t.CreateTime), signIn: signinrec.FromTenant(t.SignInSettings)}
}

func (r *tenantRec) domain() registry.Tenant {
	return registry.Tenant{ID: r.id, Code: r.code, Name: r.name, CreateTime: r.createTime, SignInSettings: r.signIn.Domain()}
}

type secretRec struct {
	id, description, keyID string
	digest                 []byte
	valueDisplay           string
	startTime, expiration  time.Time
	lastUsed               time.Time
}

type clientRec struct {
	id, name, tenantID               string
	allowOfflineAccess               bool
	allowRememberConsent             bool
	backChannelLogoutSessionRequired bool
	backChannelLogoutURI             string
	requireClientSecret              bool
	requireConsent                   bool
	allowNoPKCE                      bool
	allowROPC                        bool
	allowedGrantTypes                []string
	allowedCORSOrigins               []string
	allowedScopes                    []string
	postLogoutRedirectURIs           []string
	redirectURIs                     []string
	redirectURIPrefixMatching        bool
	accessTokenLifetimeSeconds       int64
	refreshTokenLifetimeSeconds      int64
	createTime, updateTime           time.Time
	secrets                          []secretRec
	tokenEndpointAuthMethod          string
	jwks                             []byte
	jwksURI                          string
	tlsClientAuthSubjectDN           string
	certBoundAccessTokens            bool
	claims                           map[string]string
	alwaysSendClaims                 bool
	claimMappings                    []registry.ClaimMapping
	servesResources                  []string
}

func clientToRec(c registry.Client) *clientRec {
	r := &clientRec{
		id: c.ID, name: c.Name, tenantID: c.TenantID,
		allowOfflineAccess: c.AllowOfflineAccess, allowRememberConsent: c.AllowRememberConsent,
		backChannelLogoutSessionRequired: c.BackChannelLogoutSessionRequired,
		backChannelLogoutURI:             c.BackChannelLogoutURI,
		requireClientSecret:              c.RequireClientSecret, requireConsent: c.RequireConsent,
		allowNoPKCE: c.AllowNoPKCE, allowROPC: c.AllowROPC,
		allowedGrantTypes:           strs(c.AllowedGrantTypes),
		allowedCORSOrigins:          strs(c.AllowedCORSOrigins),
		allowedScopes:               strs(c.AllowedScopes),
		postLogoutRedirectURIs:      strs(c.PostLogoutRedirectURIs),
		redirectURIs:                strs(c.RedirectURIs),
		redirectURIPrefixMatching:   c.RedirectURIPrefixMatching,
		accessTokenLifetimeSeconds:  int64(c.AccessTokenLifetime / time.Second),
		refreshTokenLifetimeSeconds: int64(c.RefreshTokenLifetime / time.Second),
		createTime:                  wall(c.CreateTime), updateTime: wall(c.UpdateTime),
		tokenEndpointAuthMethod: c.TokenEndpointAuthMethod, jwks: bytesOrNil(c.JWKS), jwksURI: c.JWKSURI,
		tlsClientAuthSubjectDN: c.TLSClientAuthSubjectDN, certBoundAccessTokens: c.CertBoundAccessTokens,
		claims: strMap(c.Claims), alwaysSendClaims: c.AlwaysSendClaims,
		claimMappings: mappings(c.ClaimMappings), servesResources: strs(c.ServesResources),
	}
	for _, s := range c.Secrets {
		r.secrets = append(r.secrets, secretRec{
			id: s.ID, description: s.Description, keyID: s.KeyID, digest: slices.Clone(s.Digest),
			valueDisplay: s.ValueDisplay, startTime: wall(s.StartTime), expiration: wall(s.Expiration),
			lastUsed: wall(s.LastUsed),
		})
	}
	return r
}

func (r *clientRec) domain() registry.Client {
	c := registry.Client{
		ID: r.id, Name: r.name, TenantID: r.tenantID,
		AllowOfflineAccess: r.allowOfflineAccess, AllowRememberConsent: r.allowRememberConsent,
		BackChannelLogoutSessionRequired: r.backChannelLogoutSessionRequired,
		BackChannelLogoutURI:             r.backChannelLogoutURI,
		RequireClientSecret:              r.requireClientSecret, RequireConsent: r.requireConsent,
		AllowNoPKCE: r.allowNoPKCE, AllowROPC: r.allowROPC,
		AllowedGrantTypes:         strs(r.allowedGrantTypes),
		AllowedCORSOrigins:        strs(r.allowedCORSOrigins),
		AllowedScopes:             strs(r.allowedScopes),
		PostLogoutRedirectURIs:    strs(r.postLogoutRedirectURIs),
		RedirectURIs:              strs(r.redirectURIs),
		RedirectURIPrefixMatching: r.redirectURIPrefixMatching,
		AccessTokenLifetime:       time.Duration(r.accessTokenLifetimeSeconds) * time.Second,
		RefreshTokenLifetime:      time.Duration(r.refreshTokenLifetimeSeconds) * time.Second,
		CreateTime:                r.createTime, UpdateTime: r.updateTime,
		TokenEndpointAuthMethod: r.tokenEndpointAuthMethod, JWKS: bytesOrNil(r.jwks), JWKSURI: r.jwksURI,
		TLSClientAuthSubjectDN: r.tlsClientAuthSubjectDN, CertBoundAccessTokens: r.certBoundAccessTokens,
		Claims: strMap(r.claims), AlwaysSendClaims: r.alwaysSendClaims,
		ClaimMappings: mappings(r.claimMappings), ServesResources: strs(r.servesResources),
	}
	for _, s := range r.secrets {
		c.Secrets = append(c.Secrets, registry.Secret{
			ID: s.id, Description: s.description, KeyID: s.keyID, Digest: slices.Clone(s.digest),
			ValueDisplay: s.valueDisplay, StartTime: s.startTime, Expiration: s.expiration, LastUsed: s.lastUsed,
		})
	}
	return c
}

type userRec struct {
	id, tenantID                 string
	loginName, email, mobile     string
	displayName, passwordHash    string
	roles                        []string
	disabled                     bool
	incarnation                  string
	disableTime                  time.Time
	createTime, updateTime       time.Time
	emailVerified, phoneVerified bool
	groups                       []string
	attributes                   map[string]string
	factors                      signinrec.User
}

func userToRec(u registry.User) *userRec {
	return &userRec{
		id: u.ID, tenantID: u.TenantID, loginName: u.LoginName, email: u.Email, mobile: u.Mobile,
		displayName: u.DisplayName, passwordHash: u.PasswordHash, roles: strs(u.Roles), disabled: u.Disabled,
		incarnation: u.Incarnation, disableTime: wall(u.DisableTime),
		createTime: wall(u.CreateTime), updateTime: wall(u.UpdateTime),
		emailVerified: u.EmailVerified, phoneVerified: u.PhoneVerified,
		groups: strs(u.Groups), attributes: strMap(u.Attributes), factors: signinrec.FromUser(u.Factors),
	}
}

func (r *userRec) domain() registry.User {
	return registry.User{
		ID: r.id, TenantID: r.tenantID, LoginName: r.loginName, Email: r.email, Mobile: r.mobile,
		DisplayName: r.displayName, PasswordHash: r.passwordHash, Roles: strs(r.roles), Disabled: r.disabled,
		Incarnation: r.incarnation, DisableTime: r.disableTime, CreateTime: r.createTime, UpdateTime: r.updateTime,
		EmailVerified: r.emailVerified, PhoneVerified: r.phoneVerified,
		Groups: strs(r.groups), Attributes: strMap(r.attributes), Factors: r.factors.Domain(),
	}
}

// strs returns a copy of s, nil when s is empty.
func strs(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return slices.Clone(s)
}

// strMap returns a copy of m, nil when m is empty (as the bbolt store's omitempty reads it back).
func strMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return maps.Clone(m)
}

// bytesOrNil returns a copy of b, nil when b is empty.
func bytesOrNil(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return slices.Clone(b)
}

func mappings(ms []registry.ClaimMapping) []registry.ClaimMapping {
	if len(ms) == 0 {
		return nil
	}
	return slices.Clone(ms)
}

// wall drops t's monotonic clock reading, which a stored time cannot keep.
func wall(t time.Time) time.Time { return t.Round(0) }
