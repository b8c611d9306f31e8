package etcdstore

import (
	"encoding/json"
	"time"

	"github.com/authsuite/authsuite/services/registry"
	"github.com/authsuite/authsuite/services/registry/internal/signinrec"
)

// Stored forms of the domain types (JSON values of etcd keys). They are private so the stored format changes
// only deliberately and never by a domain refactoring. Records that belong to a tenant carry the tenant's
// generation (TenantGen): a record is part of the registry only while its tenant exists with that generation
// (see the package comment).

type storedTenant struct {
	ID         string    `json:"id"`
	Code       string    `json:"code"`
	Name       string    `json:"name,omitempty"`
	CreateTime time.Time `json:"create_time"`
	Gen        string    `json:"gen"`
	// Absent in records written before sign-in settings existed.
	signinrec.Tenant
}

func tenantToStored(t registry.Tenant) storedTenant {
	return storedTenant{ID: t.ID, Code: t.Code, Name: t.Name, CreateTime: t.CreateTime, Tenant: signinrec.FromTenant(t.SignInSettings)}
}

func (s storedTenant) domain() registry.Tenant {
	return registry.Tenant{ID: s.ID, Code: s.Code, Name: s.Name, CreateTime: s.CreateTime, SignInSettings: s.Tenant.Domain()}
}

type storedSecret struct {
	ID           string    `json:"id"`
	Description  string    `json:"description,omitempty"`
	KeyID        string    `json:"key_id"`
	Digest       []byte    `json:"digest"`
	ValueDisplay string    `json:"value_display"`
	StartTime    time.Time `json:"start_time"`
	Expiration   time.Time `json:"expiration"`
	LastUsed     time.Time `json:"last_used,omitzero"`
}

type storedClient struct {
	ID                               string         `json:"id"`
	Name                             string         `json:"name,omitempty"`
	TenantID                         string         `json:"tenant_id"`
	AllowOfflineAccess               bool           `json:"allow_offline_access"`
	AllowRememberConsent             bool           `json:"allow_remember_consent"`
	BackChannelLogoutSessionRequired bool           `json:"back_channel_logout_session_required"`
	BackChannelLogoutURI             string         `json:"back_channel_logout_uri,omitempty"`
	RequireClientSecret              bool           `json:"require_client_secret"`
	RequireConsent                   bool           `json:"require_consent"`
	AllowNoPKCE                      bool           `json:"allow_no_pkce"`
	AllowROPC                        bool           `json:"allow_ropc"`
	AllowedGrantTypes                []string       `json:"allowed_grant_types,omitempty"`
	AllowedCORSOrigins               []string       `json:"allowed_cors_origins,omitempty"`
	AllowedScopes                    []string       `json:"allowed_scopes,omitempty"`
	PostLogoutRedirectURIs           []string       `json:"post_logout_redirect_uris,omitempty"`
	RedirectURIs                     []string       `json:"redirect_uris,omitempty"`
	RedirectURIPrefixMatching        bool           `json:"redirect_uri_prefix_matching"`
	AccessTokenLifetimeSeconds       int64          `json:"access_token_lifetime_s"`
	RefreshTokenLifetimeSeconds      int64          `json:"refresh_token_lifetime_s"`
	CreateTime                       time.Time      `json:"create_time"`
	UpdateTime                       time.Time      `json:"update_time"`
	Secrets                          []storedSecret `json:"secrets,omitempty"`
	// Absent in records written before these settings existed: the zero values are the settings such a
	// client had (the method "" is the one RequireClientSecret implies).
	TokenEndpointAuthMethod string               `json:"token_endpoint_auth_method,omitempty"`
	JWKS                    json.RawMessage      `json:"jwks,omitempty"`
	JWKSURI                 string               `json:"jwks_uri,omitempty"`
	TLSClientAuthSubjectDN  string               `json:"tls_client_auth_subject_dn,omitempty"`
	CertBoundAccessTokens   bool                 `json:"cert_bound_access_tokens,omitempty"`
	Claims                  map[string]string    `json:"claims,omitempty"`
	AlwaysSendClaims        bool                 `json:"always_send_claims,omitempty"`
	ClaimMappings           []storedClaimMapping `json:"claim_mappings,omitempty"`
	ServesResources         []string             `json:"serves_resources,omitempty"`
	TenantGen               string               `json:"tenant_gen"`
}

func clientToStored(c registry.Client) storedClient {
	s := storedClient{
		ID: c.ID, Name: c.Name, TenantID: c.TenantID,
		AllowOfflineAccess: c.AllowOfflineAccess, AllowRememberConsent: c.AllowRememberConsent,
		BackChannelLogoutSessionRequired: c.BackChannelLogoutSessionRequired,
		BackChannelLogoutURI:             c.BackChannelLogoutURI,
		RequireClientSecret:              c.RequireClientSecret, RequireConsent: c.RequireConsent,
		AllowNoPKCE: c.AllowNoPKCE, AllowROPC: c.AllowROPC,
		AllowedGrantTypes: c.AllowedGrantTypes, AllowedCORSOrigins: c.AllowedCORSOrigins,
		AllowedScopes: c.AllowedScopes, PostLogoutRedirectURIs: c.PostLogoutRedirectURIs,
		RedirectURIs: c.RedirectURIs, RedirectURIPrefixMatching: c.RedirectURIPrefixMatching,
		AccessTokenLifetimeSeconds:  int64(c.AccessTokenLifetime / time.Second),
		RefreshTokenLifetimeSeconds: int64(c.RefreshTokenLifetime / time.Second),
		CreateTime:                  c.CreateTime, UpdateTime: c.UpdateTime,
		TokenEndpointAuthMethod: c.TokenEndpointAuthMethod, JWKS: json.RawMessage(c.JWKS), JWKSURI: c.JWKSURI,
		TLSClientAuthSubjectDN: c.TLSClientAuthSubjectDN, CertBoundAccessTokens: c.CertBoundAccessTokens,
		Claims: c.Claims, AlwaysSendClaims: c.AlwaysSendClaims, ServesResources: c.ServesResources,
	}
	for _, m := range c.ClaimMappings {
		s.ClaimMappings = append(s.ClaimMappings, storedClaimMapping(m))
	}
	for _, sec := range c.Secrets {
		s.Secrets = append(s.Secrets, storedSecret{
			ID: sec.ID, Description: sec.Description, KeyID: sec.KeyID, Digest: sec.Digest,
			ValueDisplay: sec.ValueDisplay, StartTime: sec.StartTime, Expiration: sec.Expiration, LastUsed: sec.LastUsed,
		})
	}
	return s
}

func (s storedClient) domain() registry.Client {
	c := registry.Client{
		ID: s.ID, Name: s.Name, TenantID: s.TenantID,
		AllowOfflineAccess: s.AllowOfflineAccess, AllowRememberConsent: s.AllowRememberConsent,
		BackChannelLogoutSessionRequired: s.BackChannelLogoutSessionRequired,
		BackChannelLogoutURI:             s.BackChannelLogoutURI,
		RequireClientSecret:              s.RequireClientSecret, RequireConsent: s.RequireConsent,
		AllowNoPKCE: s.AllowNoPKCE, AllowROPC: s.AllowROPC,
		AllowedGrantTypes: s.AllowedGrantTypes, AllowedCORSOrigins: s.AllowedCORSOrigins,
		AllowedScopes: s.AllowedScopes, PostLogoutRedirectURIs: s.PostLogoutRedirectURIs,
		RedirectURIs: s.RedirectURIs, RedirectURIPrefixMatching: s.RedirectURIPrefixMatching,
		AccessTokenLifetime:  time.Duration(s.AccessTokenLifetimeSeconds) * time.Second,
		RefreshTokenLifetime: time.Duration(s.RefreshTokenLifetimeSeconds) * time.Second,
		CreateTime:           s.CreateTime, UpdateTime: s.UpdateTime,
		TokenEndpointAuthMethod: s.TokenEndpointAuthMethod, JWKSURI: s.JWKSURI,
		TLSClientAuthSubjectDN: s.TLSClientAuthSubjectDN, CertBoundAccessTokens: s.CertBoundAccessTokens,
		Claims: s.Claims, AlwaysSendClaims: s.AlwaysSendClaims, ServesResources: s.ServesResources,
	}
	if len(s.JWKS) > 0 {
		c.JWKS = []byte(s.JWKS)
	}
	for _, m := range s.ClaimMappings {
		c.ClaimMappings = append(c.ClaimMappings, registry.ClaimMapping(m))
	}
	for _, sec := range s.Secrets {
		c.Secrets = append(c.Secrets, registry.Secret{
			ID: sec.ID, Description: sec.Description, KeyID: sec.KeyID, Digest: sec.Digest,
			ValueDisplay: sec.ValueDisplay, StartTime: sec.StartTime, Expiration: sec.Expiration, LastUsed: sec.LastUsed,
		})
	}
	return c
}

// storedClaimMapping is a registry.ClaimMapping as stored.
type storedClaimMapping struct {
	UserAttribute string `json:"user_attribute"`
	Claim         string `json:"claim"`
	Scope         string `json:"scope,omitempty"`
}

type storedUser struct {
	ID           string    `json:"id"`
	TenantID     string    `json:"tenant_id"`
	LoginName    string    `json:"login_name"`
	Email        string    `json:"email,omitempty"`
	Mobile       string    `json:"mobile,omitempty"`
	DisplayName  string    `json:"display_name,omitempty"`
	PasswordHash string    `json:"password_hash,omitempty"`
	Roles        []string  `json:"roles,omitempty"`
	Disabled     bool      `json:"disabled"`
	Incarnation  string    `json:"incarnation,omitempty"`
	DisableTime  time.Time `json:"disable_time,omitzero"`
	CreateTime   time.Time `json:"create_time"`
	UpdateTime   time.Time `json:"update_time"`
	// Absent (false) in records written before verification was kept.
	EmailVerified bool   `json:"email_verified,omitempty"`
	PhoneVerified bool   `json:"phone_verified,omitempty"`
	TenantGen     string `json:"tenant_gen"`
	// Absent in records written before groups and attributes existed.
	Groups     []string          `json:"groups,omitempty"`
	Attributes map[string]string `json:"attributes,omitempty"`
	// Absent in records written before second factors and federated identities existed.
	signinrec.User
}

// storedIndex is the value of a unique user index key (login name, email, mobile): the user it names.
type storedIndex struct {
	UserID    string `json:"uid"`
	TenantGen string `json:"tenant_gen"`
}

func userToStored(u registry.User) storedUser {
	return storedUser{
		ID: u.ID, TenantID: u.TenantID, LoginName: u.LoginName, Email: u.Email, Mobile: u.Mobile,
		DisplayName: u.DisplayName, PasswordHash: u.PasswordHash, Roles: u.Roles, Disabled: u.Disabled,
		Incarnation: u.Incarnation, DisableTime: u.DisableTime, CreateTime: u.CreateTime, UpdateTime: u.UpdateTime,
		EmailVerified: u.EmailVerified, PhoneVerified: u.PhoneVerified,
		Groups: u.Groups, Attributes: u.Attributes, User: signinrec.FromUser(u.Factors),
	}
}

func (s storedUser) domain() registry.User {
	return registry.User{
		ID: s.ID, TenantID: s.TenantID, LoginName: s.LoginName, Email: s.Email, Mobile: s.Mobile,
		DisplayName: s.DisplayName, PasswordHash: s.PasswordHash, Roles: s.Roles, Disabled: s.Disabled,
		Incarnation: s.Incarnation, DisableTime: s.DisableTime, CreateTime: s.CreateTime, UpdateTime: s.UpdateTime,
		EmailVerified: s.EmailVerified, PhoneVerified: s.PhoneVerified,
		Groups: s.Groups, Attributes: s.Attributes, Factors: s.User.Domain(),
	}
}
