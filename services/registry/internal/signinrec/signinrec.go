// Package signinrec holds the stored forms of tenants' sign-in settings and users' factors, shared by the
// registry's backends: the bbolt and etcd stores embed them in their tenant and user records (their fields
// become members of the record's JSON object), and the memory store keeps them too, so that every backend
// normalises alike (empty lists read back nil, times as whole seconds in UTC).
//
// Every field is omitted when zero, so records written before these settings existed read back as the zero
// settings, and records without any setting are byte for byte what they were.
package signinrec

import (
	"maps"
	"slices"
	"time"

	"github.com/authsuite/authsuite/services/registry"
)

// Tenant is the stored form of registry.SignInSettings.
type Tenant struct {
	BrandName         string     `json:"brand_name,omitempty"`
	BrandLogo         string     `json:"brand_logo,omitempty"`
	BrandColor        string     `json:"brand_color,omitempty"`
	DefaultLocale     string     `json:"default_locale,omitempty"`
	MFARequirement    string     `json:"mfa_requirement,omitempty"`
	MFARoles          []string   `json:"mfa_roles,omitempty"`
	MFAPasswordless   bool       `json:"mfa_passwordless,omitempty"`
	SelfRegistration  bool       `json:"self_registration,omitempty"`
	SMTP              *SMTP      `json:"smtp,omitempty"`
	IdentityProviders []Provider `json:"identity_providers,omitempty"`
}

// SMTP is the stored form of registry.SMTPSettings.
type SMTP struct {
	Host           string `json:"host,omitempty"`
	Port           int    `json:"port,omitempty"`
	Security       string `json:"security,omitempty"`
	Username       string `json:"username,omitempty"`
	SealedPassword []byte `json:"sealed_password,omitempty"`
	From           string `json:"from,omitempty"`
}

// Provider is the stored form of registry.IdentityProvider.
type Provider struct {
	ID                 string            `json:"id"`
	DisplayName        string            `json:"display_name,omitempty"`
	Issuer             string            `json:"issuer"`
	ClientID           string            `json:"client_id"`
	SealedClientSecret []byte            `json:"sealed_client_secret,omitempty"`
	Scopes             []string          `json:"scopes,omitempty"`
	ClaimMapping       map[string]string `json:"claim_mapping,omitempty"`
	LinkByEmail        bool              `json:"link_by_email,omitempty"`
	CreateUsers        bool              `json:"create_users,omitempty"`
	Disabled           bool              `json:"disabled,omitempty"`
	CreateTime         int64             `json:"create_time,omitempty"`
	UpdateTime         int64             `json:"update_time,omitempty"`
}

// User is the stored form of registry.Factors.
type User struct {
	TOTPSealed          []byte          `json:"totp_sealed,omitempty"`
	TOTPLastStep        int64           `json:"totp_last_step,omitempty"`
	TOTPEnrollTime      int64           `json:"totp_enroll_time,omitempty"`
	RecoveryCodes       []RecoveryCode  `json:"recovery_codes,omitempty"`
	Passkeys            []Passkey       `json:"passkeys,omitempty"`
	FederatedIdentities []FederatedLink `json:"federated_identities,omitempty"`
}

// RecoveryCode is the stored form of registry.RecoveryCode.
type RecoveryCode struct {
	KeyID  string `json:"key_id"`
	Digest []byte `json:"digest"`
}

// Passkey is the stored form of registry.Passkey.
type Passkey struct {
	CredentialID    []byte   `json:"credential_id"`
	PublicKey       []byte   `json:"public_key"`
	AttestationType string   `json:"attestation_type,omitempty"`
	AAGUID          []byte   `json:"aaguid,omitempty"`
	SignCount       uint32   `json:"sign_count,omitempty"`
	Transports      []string `json:"transports,omitempty"`
	BackupEligible  bool     `json:"backup_eligible,omitempty"`
	BackupState     bool     `json:"backup_state,omitempty"`
	UserVerified    bool     `json:"user_verified,omitempty"`
	Name            string   `json:"name"`
	CreateTime      int64    `json:"create_time,omitempty"`
	LastUsedTime    int64    `json:"last_used_time,omitempty"`
}

// FederatedLink is the stored form of registry.FederatedIdentity.
type FederatedLink struct {
	ProviderID string `json:"provider_id"`
	Subject    string `json:"subject"`
	Email      string `json:"email,omitempty"`
}

// FromTenant returns the stored form of s; it shares no memory with s.
func FromTenant(s registry.SignInSettings) Tenant {
	t := Tenant{
		BrandName: s.Branding.DisplayName, BrandLogo: s.Branding.LogoDataURI, BrandColor: s.Branding.PrimaryColor,
		DefaultLocale: s.DefaultLocale, MFARequirement: s.MFA.Requirement, MFARoles: strs(s.MFA.Roles),
		MFAPasswordless: s.MFA.Passwordless, SelfRegistration: s.SelfRegistration,
	}
	if m := s.SMTP; m.Host != "" || m.Port != 0 || m.Security != "" || m.Username != "" || len(m.SealedPassword) > 0 || m.From != "" {
		t.SMTP = &SMTP{Host: m.Host, Port: m.Port, Security: m.Security, Username: m.Username,
			SealedPassword: bytesOrNil(m.SealedPassword), From: m.From}
	}
	for _, p := range s.IdentityProviders {
		t.IdentityProviders = append(t.IdentityProviders, Provider{
			ID: p.ID, DisplayName: p.DisplayName, Issuer: p.Issuer, ClientID: p.ClientID,
			SealedClientSecret: bytesOrNil(p.SealedClientSecret), Scopes: strs(p.Scopes),
			ClaimMapping: strMap(p.ClaimMapping), LinkByEmail: p.LinkByEmail, CreateUsers: p.CreateUsers,
			Disabled: p.Disabled, CreateTime: unix(p.CreateTime), UpdateTime: unix(p.UpdateTime),
		})
	}
	return t
}

// Domain returns the settings t stores; they share no memory with t.
func (t Tenant) Domain() registry.SignInSettings {
	s := registry.SignInSettings{
		Branding:      registry.Branding{DisplayName: t.BrandName, LogoDataURI: t.BrandLogo, PrimaryColor: t.BrandColor},
		DefaultLocale: t.DefaultLocale,
		MFA: registry.MFAPolicy{Requirement: t.MFARequirement, Roles: strs(t.MFARoles),
			Passwordless: t.MFAPasswordless},
		SelfRegistration: t.SelfRegistration,
	}
	if m := t.SMTP; m != nil {
		s.SMTP = registry.SMTPSettings{Host: m.Host, Port: m.Port, Security: m.Security, Username: m.Username,
			SealedPassword: bytesOrNil(m.SealedPassword), From: m.From}
	}
	for _, p := range t.IdentityProviders {
		s.IdentityProviders = append(s.IdentityProviders, registry.IdentityProvider{
			ID: p.ID, DisplayName: p.DisplayName, Issuer: p.Issuer, ClientID: p.ClientID,
			SealedClientSecret: bytesOrNil(p.SealedClientSecret), Scopes: strs(p.Scopes),
			ClaimMapping: strMap(p.ClaimMapping), LinkByEmail: p.LinkByEmail, CreateUsers: p.CreateUsers,
			Disabled: p.Disabled, CreateTime: fromUnix(p.CreateTime), UpdateTime: fromUnix(p.UpdateTime),
		})
	}
	return s
}

// FromUser returns the stored form of f; it shares no memory with f.
func FromUser(f registry.Factors) User {
	u := User{TOTPSealed: bytesOrNil(f.TOTP.Sealed), TOTPLastStep: f.TOTP.LastStep, TOTPEnrollTime: unix(f.TOTP.EnrollTime)}
	for _, c := range f.RecoveryCodes {
		u.RecoveryCodes = append(u.RecoveryCodes, RecoveryCode{KeyID: c.KeyID, Digest: slices.Clone(c.Digest)})
	}
	for _, p := range f.Passkeys {
		u.Passkeys = append(u.Passkeys, Passkey{
			CredentialID: slices.Clone(p.CredentialID), PublicKey: slices.Clone(p.PublicKey),
			AttestationType: p.AttestationType, AAGUID: bytesOrNil(p.AAGUID), SignCount: p.SignCount,
			Transports: strs(p.Transports), BackupEligible: p.BackupEligible, BackupState: p.BackupState,
			UserVerified: p.UserVerified, Name: p.Name, CreateTime: unix(p.CreateTime), LastUsedTime: unix(p.LastUsedTime),
		})
	}
	for _, fi := range f.FederatedIdentities {
		u.FederatedIdentities = append(u.FederatedIdentities, FederatedLink(fi))
	}
	return u
}

// Domain returns the factors u stores; they share no memory with u.
func (u User) Domain() registry.Factors {
	f := registry.Factors{TOTP: registry.TOTP{Sealed: bytesOrNil(u.TOTPSealed), LastStep: u.TOTPLastStep,
		EnrollTime: fromUnix(u.TOTPEnrollTime)}}
	for _, c := range u.RecoveryCodes {
		f.RecoveryCodes = append(f.RecoveryCodes, registry.RecoveryCode{KeyID: c.KeyID, Digest: slices.Clone(c.Digest)})
	}
	for _, p := range u.Passkeys {
		f.Passkeys = append(f.Passkeys, registry.Passkey{
			CredentialID: slices.Clone(p.CredentialID), PublicKey: slices.Clone(p.PublicKey),
			AttestationType: p.AttestationType, AAGUID: bytesOrNil(p.AAGUID), SignCount: p.SignCount,
			Transports: strs(p.Transports), BackupEligible: p.BackupEligible, BackupState: p.BackupState,
			UserVerified: p.UserVerified, Name: p.Name, CreateTime: fromUnix(p.CreateTime), LastUsedTime: fromUnix(p.LastUsedTime),
		})
	}
	for _, fi := range u.FederatedIdentities {
		f.FederatedIdentities = append(f.FederatedIdentities, registry.FederatedIdentity(fi))
	}
	return f
}

// Normalize returns the settings as a store reads them back (see the package comment).
func Normalize(s registry.SignInSettings) registry.SignInSettings { return FromTenant(s).Domain() }

// NormalizeFactors returns the factors as a store reads them back.
func NormalizeFactors(f registry.Factors) registry.Factors { return FromUser(f).Domain() }

func unix(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

func fromUnix(s int64) time.Time {
	if s == 0 {
		return time.Time{}
	}
	return time.Unix(s, 0).UTC()
}

func strs(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return slices.Clone(s)
}

func strMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return maps.Clone(m)
}

func bytesOrNil(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return slices.Clone(b)
}
