package registry

import (
	"maps"
	"slices"
	"time"
)

// SignInSettings are a tenant's sign-in settings: how its pages look, who needs a second factor, whether
// people may register themselves, the mail server of its links and its upstream identity providers. Every
// field's zero value is the behaviour of a tenant created before the settings existed.
type SignInSettings struct {
	Branding Branding
	// DefaultLocale is the page language when neither ui_locales nor Accept-Language match: one of
	// Locales, "" meaning "en".
	DefaultLocale    string
	MFA              MFAPolicy
	SelfRegistration bool
	SMTP             SMTPSettings
	// IdentityProviders are the tenant's upstream OpenID Connect providers, ordered by ID, at most
	// MaxIdentityProviders. They live in the tenant record, so a tenant's deletion takes them along.
	IdentityProviders []IdentityProvider
}

// Locales are the page languages a tenant may choose as its default.
var Locales = []string{"en", "zh-Hans", "zh-Hant"}

// Branding is how a tenant's pages look. Empty fields mean the defaults.
type Branding struct {
	DisplayName  string
	LogoDataURI  string
	PrimaryColor string
}

// MFA requirements (MFAPolicy.Requirement).
const (
	MFAOptional = ""      // users who enrolled a factor are asked for it
	MFARoles    = "roles" // required for users holding one of MFAPolicy.Roles
	MFAAll      = "all"   // required for everyone
)

// MFAPolicy says who must present a second factor.
type MFAPolicy struct {
	Requirement  string
	Roles        []string
	Passwordless bool
}

// SMTP security modes (SMTPSettings.Security).
const (
	SMTPStartTLS = ""     // STARTTLS, required
	SMTPTLS      = "tls"  // TLS from the first byte (RFC 8314)
	SMTPNone     = "none" // plain text, loopback hosts only
)

// SMTPSettings is the mail server of a tenant's links. Host "" means the tenant sends no mail.
// SealedPassword is the SMTP AUTH password sealed with the suite keyring (SMTPPasswordAD), nil when none.
type SMTPSettings struct {
	Host           string
	Port           int
	Security       string
	Username       string
	SealedPassword []byte
	From           string
}

// MaxIdentityProviders is how many upstream providers a tenant may have.
const MaxIdentityProviders = 20

// IdentityProvider is an upstream OpenID Connect provider of a tenant. SealedClientSecret is its client
// secret sealed with the suite keyring (IdentityProviderSecretAD), nil when none.
type IdentityProvider struct {
	ID                 string
	DisplayName        string
	Issuer             string
	ClientID           string
	SealedClientSecret []byte
	Scopes             []string
	ClaimMapping       map[string]string
	LinkByEmail        bool
	CreateUsers        bool
	Disabled           bool
	CreateTime         time.Time
	UpdateTime         time.Time
}

// SMTPPasswordAD is the additional data a tenant's SMTP password is sealed with: it binds the sealed value to
// its tenant and purpose, so it cannot be moved to another tenant or field.
func SMTPPasswordAD(tenantID string) []byte { return []byte("authsuite smtp-password\x00" + tenantID) }

// IdentityProviderSecretAD is the additional data of an upstream provider's sealed client secret.
func IdentityProviderSecretAD(tenantID, providerID string) []byte {
	return []byte("authsuite upstream-secret\x00" + tenantID + "\x00" + providerID)
}

// IdentityProvider returns the tenant's provider id and whether it has one.
func (t Tenant) IdentityProvider(id string) (IdentityProvider, bool) {
	for _, p := range t.IdentityProviders {
		if p.ID == id {
			return p.Clone(), true
		}
	}
	return IdentityProvider{}, false
}

// Clone returns a deep copy of p.
func (p IdentityProvider) Clone() IdentityProvider {
	p.SealedClientSecret = slices.Clone(p.SealedClientSecret)
	p.Scopes = slices.Clone(p.Scopes)
	p.ClaimMapping = maps.Clone(p.ClaimMapping)
	return p
}

// Clone returns a deep copy of s.
func (s SignInSettings) Clone() SignInSettings {
	s.MFA.Roles = slices.Clone(s.MFA.Roles)
	s.SMTP.SealedPassword = slices.Clone(s.SMTP.SealedPassword)
	if s.IdentityProviders != nil {
		ps := make([]IdentityProvider, len(s.IdentityProviders))
		for i, p := range s.IdentityProviders {
			ps[i] = p.Clone()
		}
		s.IdentityProviders = ps
	}
	return s
}

// Clone returns a deep copy of t, so callers may modify its settings without touching the original.
func (t Tenant) Clone() Tenant {
	t.SignInSettings = t.SignInSettings.Clone()
	return t
}
