package server

// Conversion between the registry's domain types and the generated protobuf types: the only file of the
// service that knows both. Responses set every optional field, so REST answers show defaults
// ("requireClientSecret": true); passwords are never written out; a secret's value only when given.

import (
	"encoding/json"
	"maps"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/services/registry"
)

func timestamp(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// timeFromProto reads an optional timestamp: nil is the zero time; an out-of-range one is an error naming
// field.
func timeFromProto(field string, ts *timestamppb.Timestamp) (time.Time, error) {
	if ts == nil {
		return time.Time{}, nil
	}
	if err := ts.CheckValid(); err != nil {
		return time.Time{}, apierror.Invalid(field, "not a valid timestamp")
	}
	return ts.AsTime(), nil
}

func tenantToProto(t registry.Tenant) *registryv1.Tenant {
	pb := &registryv1.Tenant{TenantId: t.ID, Code: t.Code, Name: t.Name, CreateTime: timestamp(t.CreateTime)}
	signInToProto(pb, t.SignInSettings)
	return pb
}

// tenantFromProto reads the id, code and name of a tenant (signInFromProto reads its sign-in settings).
func tenantFromProto(pb *registryv1.Tenant) registry.Tenant {
	return registry.Tenant{ID: pb.GetTenantId(), Code: pb.GetCode(), Name: pb.GetName()}
}

// clientFromProto reads the writable settings of a client, starting from registry.DefaultClient so unset
// optional fields take their defaults, and completing the authentication method with
// registry.Client.ResolveAuthMethod. Lifetimes are seconds; out-of-range values are left for
// registry.ValidateClient to reject. The only error is a jwks that cannot be rendered as JSON.
func clientFromProto(pb *registryv1.Client) (registry.Client, error) {
	c := registry.DefaultClient()
	if pb == nil {
		c.ResolveAuthMethod(false)
		return c, nil
	}
	c.ID = pb.GetClientId()
	c.Name = pb.GetClientName()
	c.AllowOfflineAccess = pb.GetAllowOfflineAccess()
	if pb.AllowRememberConsent != nil {
		c.AllowRememberConsent = pb.GetAllowRememberConsent()
	}
	if pb.BackChannelLogoutSessionRequired != nil {
		c.BackChannelLogoutSessionRequired = pb.GetBackChannelLogoutSessionRequired()
	}
	c.BackChannelLogoutURI = pb.GetBackChannelLogoutUri()
	if pb.RequireClientSecret != nil {
		c.RequireClientSecret = pb.GetRequireClientSecret()
	}
	c.RequireConsent = pb.GetRequireConsent()
	c.AllowNoPKCE = pb.GetAllowNoPkce()
	c.AllowROPC = pb.GetAllowRopc()
	c.AllowedGrantTypes = slices.Clone(pb.GetAllowedGrantTypes())
	c.AllowedCORSOrigins = slices.Clone(pb.GetAllowedCorsOrigins())
	c.AllowedScopes = slices.Clone(pb.GetAllowedScopes())
	c.PostLogoutRedirectURIs = slices.Clone(pb.GetPostLogoutRedirectUris())
	c.RedirectURIs = slices.Clone(pb.GetRedirectUris())
	c.RedirectURIPrefixMatching = pb.GetRedirectUriPrefixMatching()
	if pb.AccessTokenLifetime != nil {
		c.AccessTokenLifetime = time.Duration(pb.GetAccessTokenLifetime()) * time.Second
	}
	if pb.RefreshTokenLifetime != nil {
		c.RefreshTokenLifetime = time.Duration(pb.GetRefreshTokenLifetime()) * time.Second
	}
	c.TokenEndpointAuthMethod = pb.GetTokenEndpointAuthMethod()
	c.ResolveAuthMethod(pb.RequireClientSecret != nil)
	if pb.GetJwks() != nil {
		b, err := structJSON(pb.GetJwks())
		if err != nil {
			return c, apierror.Invalid("jwks", "not a JSON object")
		}
		c.JWKS = b
	}
	c.JWKSURI = pb.GetJwksUri()
	c.TLSClientAuthSubjectDN = pb.GetTlsClientAuthSubjectDn()
	c.CertBoundAccessTokens = pb.GetTlsClientCertificateBoundAccessTokens()
	if len(pb.GetClaims()) > 0 {
		c.Claims = maps.Clone(pb.GetClaims())
	}
	c.AlwaysSendClaims = pb.GetAlwaysSendClientClaims()
	for _, m := range pb.GetClaimMappings() {
		c.ClaimMappings = append(c.ClaimMappings, registry.ClaimMapping{UserAttribute: m.GetUserAttribute(), Claim: m.GetClaim(), Scope: m.GetScope()})
	}
	c.ServesResources = slices.Clone(pb.GetServesResources())
	return c, nil
}

// structJSON renders a Struct as canonical JSON: members sorted by name (encoding/json's order for maps),
// no insignificant whitespace, so one JWK Set is always stored as the same bytes.
func structJSON(s *structpb.Struct) ([]byte, error) {
	return json.Marshal(s.AsMap())
}

// jsonStruct reads stored canonical JSON back into the Struct the API answers with; nil for none.
func jsonStruct(b []byte) *structpb.Struct {
	if b == nil {
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil
	}
	s, err := structpb.NewStruct(m)
	if err != nil {
		return nil
	}
	return s
}

func clientToProto(c registry.Client) *registryv1.Client {
	return &registryv1.Client{
		ClientId:                         c.ID,
		ClientName:                       c.Name,
		TenantId:                         c.TenantID,
		AllowOfflineAccess:               c.AllowOfflineAccess,
		AllowRememberConsent:             proto.Bool(c.AllowRememberConsent),
		BackChannelLogoutSessionRequired: proto.Bool(c.BackChannelLogoutSessionRequired),
		BackChannelLogoutUri:             c.BackChannelLogoutURI,
		RequireClientSecret:              proto.Bool(c.RequireClientSecret),
		RequireConsent:                   c.RequireConsent,
		AllowNoPkce:                      c.AllowNoPKCE,
		AllowRopc:                        c.AllowROPC,
		AllowedGrantTypes:                nonNil(c.AllowedGrantTypes),
		AllowedCorsOrigins:               nonNil(c.AllowedCORSOrigins),
		AllowedScopes:                    nonNil(c.AllowedScopes),
		PostLogoutRedirectUris:           nonNil(c.PostLogoutRedirectURIs),
		RedirectUris:                     nonNil(c.RedirectURIs),
		RedirectUriPrefixMatching:        c.RedirectURIPrefixMatching,
		AccessTokenLifetime:              proto.Int32(int32(c.AccessTokenLifetime / time.Second)),
		RefreshTokenLifetime:             proto.Int32(int32(c.RefreshTokenLifetime / time.Second)),
		CreateTime:                       timestamp(c.CreateTime),
		UpdateTime:                       timestamp(c.UpdateTime),

		TokenEndpointAuthMethod:               c.EffectiveAuthMethod(),
		Jwks:                                  jsonStruct(c.JWKS),
		JwksUri:                               c.JWKSURI,
		TlsClientAuthSubjectDn:                c.TLSClientAuthSubjectDN,
		TlsClientCertificateBoundAccessTokens: c.CertBoundAccessTokens,
		Claims:                                nonNilMap(c.Claims),
		AlwaysSendClientClaims:                c.AlwaysSendClaims,
		ClaimMappings:                         claimMappingsToProto(c.ClaimMappings),
		ServesResources:                       nonNil(c.ServesResources),
	}
}

func claimMappingsToProto(ms []registry.ClaimMapping) []*registryv1.ClaimMapping {
	out := make([]*registryv1.ClaimMapping, 0, len(ms))
	for _, m := range ms {
		out = append(out, &registryv1.ClaimMapping{UserAttribute: m.UserAttribute, Claim: m.Claim, Scope: m.Scope})
	}
	return out
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return maps.Clone(m)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return slices.Clone(s)
}

// secretToProto describes a stored secret; value is set only for the CreateClientSecret response.
func secretToProto(s registry.Secret, value *string) *registryv1.ClientSecret {
	return &registryv1.ClientSecret{
		SecretId:     s.ID,
		Description:  s.Description,
		Value:        value,
		ValueDisplay: s.ValueDisplay,
		StartTime:    timestamp(s.StartTime),
		Expiration:   timestamp(s.Expiration),
		LastUsed:     timestamp(s.LastUsed),
	}
}

// clientRecord is what the token service's client cache receives: settings, secret digests, tenant code.
func clientRecord(c registry.Client, tenantCode string) *registryv1.ClientRecord {
	rec := &registryv1.ClientRecord{Client: clientToProto(c), TenantCode: tenantCode}
	for _, s := range c.Secrets {
		rec.Secrets = append(rec.Secrets, &registryv1.SecretDigest{
			SecretId:   s.ID,
			Digest:     slices.Clone(s.Digest),
			KeyId:      s.KeyID,
			StartTime:  timestamp(s.StartTime),
			Expiration: timestamp(s.Expiration),
		})
	}
	return rec
}

// userFromProto reads a user's writable profile and, separately, the password when one is given.
func userFromProto(pb *registryv1.User) (u registry.User, password *string) {
	if pb == nil {
		return registry.User{}, nil
	}
	u = registry.User{
		ID:            pb.GetUserId(),
		LoginName:     pb.GetLoginName(),
		Email:         pb.GetEmail(),
		Mobile:        pb.GetMobile(),
		DisplayName:   pb.GetDisplayName(),
		Roles:         slices.Clone(pb.GetRoles()),
		Disabled:      pb.GetDisabled(),
		EmailVerified: pb.GetEmailVerified(),
		PhoneVerified: pb.GetPhoneVerified(),
		Groups:        slices.Clone(pb.GetGroups()),
	}
	if len(pb.GetAttributes()) > 0 {
		u.Attributes = maps.Clone(pb.GetAttributes())
	}
	return u, pb.Password
}

// verificationFromProto says which verification flags a user message states (registry.KeepVerification).
func verificationFromProto(pb *registryv1.User) registry.Verification {
	return registry.Verification{EmailStated: pb.EmailVerified != nil, PhoneStated: pb.PhoneVerified != nil}
}

// userToProto describes a user; the password (hash) is never included.
func userToProto(u registry.User) *registryv1.User {
	return &registryv1.User{
		UserId:      u.ID,
		TenantId:    u.TenantID,
		LoginName:   u.LoginName,
		Email:       u.Email,
		Mobile:      u.Mobile,
		DisplayName: u.DisplayName,
		Roles:       nonNil(u.Roles),
		Disabled:    u.Disabled,
		CreateTime:  timestamp(u.CreateTime),
		UpdateTime:  timestamp(u.UpdateTime),

		EmailVerified: new(u.EmailVerified),
		PhoneVerified: new(u.PhoneVerified),
		Groups:        nonNil(u.Groups),
		Attributes:    nonNilMap(u.Attributes),

		TotpEnrolled:        u.TOTP.Enrolled(),
		PasskeyCount:        int32(len(u.Passkeys)),
		FederatedIdentities: federatedToProto(u.FederatedIdentities),
	}
}

func secretUsesFromProto(uses []*registryv1.SecretUse) ([]registry.SecretUse, error) {
	out := make([]registry.SecretUse, 0, len(uses))
	for _, u := range uses {
		t, err := timeFromProto("uses.usedTime", u.GetUsedTime())
		if err != nil {
			return nil, err
		}
		if t.IsZero() {
			return nil, apierror.Invalid("uses.usedTime", "is required")
		}
		out = append(out, registry.SecretUse{ClientID: u.GetClientId(), SecretID: u.GetSecretId(), Time: t})
	}
	return out, nil
}

// userRecord is the part of a user the token service needs to end a disabled, deleted or re-created
// account's sign-ins, and what it releases in tokens and userinfo without asking the registry per token
// (the addresses with their verification, login and display name, roles, groups, attributes): never the
// password hash.
func userRecord(u registry.User) *registryv1.UserRecord {
	r := &registryv1.UserRecord{
		TenantId: u.TenantID, UserId: u.ID, Incarnation: u.Incarnation, Disabled: u.Disabled,
		Email: u.Email, EmailVerified: u.EmailVerified, Mobile: u.Mobile, PhoneVerified: u.PhoneVerified,
		LoginName: u.LoginName, DisplayName: u.DisplayName, Roles: slices.Clone(u.Roles),
		Groups: slices.Clone(u.Groups), Attributes: maps.Clone(u.Attributes),
	}
	if !u.DisableTime.IsZero() {
		r.DisableTime = timestamppb.New(u.DisableTime)
	}
	return r
}
