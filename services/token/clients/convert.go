package clients

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
)

// Registry defaults for optional client settings (registry client.proto).
const (
	defaultAccessTokenLifetime  = 86400 * time.Second
	defaultRefreshTokenLifetime = 2592000 * time.Second
)

// fromRecord converts a registry ClientRecord; it is the only place that reads registry types.
func fromRecord(r *registryv1.ClientRecord) (*Client, error) {
	pc := r.GetClient()
	if pc.GetClientId() == "" {
		return nil, errors.New("client record without client_id")
	}
	c := &Client{
		ID:                               pc.GetClientId(),
		Name:                             pc.GetClientName(),
		TenantID:                         pc.GetTenantId(),
		TenantCode:                       r.GetTenantCode(),
		GrantTypes:                       slices.Clone(pc.GetAllowedGrantTypes()),
		Scopes:                           slices.Clone(pc.GetAllowedScopes()),
		AccessTokenLifetime:              defaultAccessTokenLifetime,
		RefreshTokenLifetime:             defaultRefreshTokenLifetime,
		RequireSecret:                    true,
		AllowOfflineAccess:               pc.GetAllowOfflineAccess(),
		AllowRememberConsent:             true,
		RequireConsent:                   pc.GetRequireConsent(),
		AllowNoPKCE:                      pc.GetAllowNoPkce(),
		AllowROPC:                        pc.GetAllowRopc(),
		RedirectURIs:                     slices.Clone(pc.GetRedirectUris()),
		RedirectURIPrefixMatching:        pc.GetRedirectUriPrefixMatching(),
		PostLogoutRedirectURIs:           slices.Clone(pc.GetPostLogoutRedirectUris()),
		BackChannelLogoutURI:             pc.GetBackChannelLogoutUri(),
		BackChannelLogoutSessionRequired: true,
		CORSOrigins:                      slices.Clone(pc.GetAllowedCorsOrigins()),
	}
	if pc.AccessTokenLifetime != nil && pc.GetAccessTokenLifetime() > 0 {
		c.AccessTokenLifetime = time.Duration(pc.GetAccessTokenLifetime()) * time.Second
	}
	if pc.RefreshTokenLifetime != nil && pc.GetRefreshTokenLifetime() > 0 {
		c.RefreshTokenLifetime = time.Duration(pc.GetRefreshTokenLifetime()) * time.Second
	}
	if pc.RequireClientSecret != nil {
		c.RequireSecret = pc.GetRequireClientSecret()
	}
	if pc.AllowRememberConsent != nil {
		c.AllowRememberConsent = pc.GetAllowRememberConsent()
	}
	if pc.BackChannelLogoutSessionRequired != nil {
		c.BackChannelLogoutSessionRequired = pc.GetBackChannelLogoutSessionRequired()
	}
	c.AuthMethod = pc.GetTokenEndpointAuthMethod()
	if c.AuthMethod == "" {
		c.AuthMethod = AuthNone
		if c.RequireSecret {
			c.AuthMethod = AuthSecret
		}
	}
	if j := pc.GetJwks(); j != nil {
		b, err := protojson.Marshal(j)
		if err != nil {
			return nil, fmt.Errorf("client %q: jwks: %w", c.ID, err)
		}
		c.JWKS = b
	}
	c.JWKSURI = pc.GetJwksUri()
	c.TLSSubjectDN = pc.GetTlsClientAuthSubjectDn()
	c.CertBoundTokens = pc.GetTlsClientCertificateBoundAccessTokens()
	if len(pc.GetClaims()) > 0 {
		c.Claims = maps.Clone(pc.GetClaims())
	}
	c.AlwaysSendClaims = pc.GetAlwaysSendClientClaims()
	for _, m := range pc.GetClaimMappings() {
		c.ClaimMappings = append(c.ClaimMappings, ClaimMapping{Attribute: m.GetUserAttribute(), Claim: m.GetClaim(), Scope: m.GetScope()})
	}
	c.ServesResources = slices.Clone(pc.GetServesResources())
	for _, s := range r.GetSecrets() {
		sec := Secret{ID: s.GetSecretId(), KeyID: s.GetKeyId(), Digest: slices.Clone(s.GetDigest())}
		if s.StartTime != nil {
			sec.NotBefore = s.GetStartTime().AsTime()
		}
		if s.Expiration != nil {
			sec.NotAfter = s.GetExpiration().AsTime()
		}
		c.Secrets = append(c.Secrets, sec)
	}
	return c, nil
}
