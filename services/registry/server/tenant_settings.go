package server

import (
	"slices"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	"github.com/authsuite/authsuite/services/registry"
)

// Conversion and write rules of a tenant's sign-in settings (TenantService). The SMTP password is
// write-only: it is sealed with the suite keyring (registry.SMTPPasswordAD) as soon as it is read, never
// returned by the admin API, and only FactorInternalService.GetSignInSettings opens it.

// invalidEnum is what an enum number outside the proto's values converts to, so that validation refuses it
// naming the field.
const invalidEnum = "unknown"

// signInFromProto reads the writable sign-in settings of a tenant and the SMTP password (nil when omitted).
// Identity providers are not part of the tenant message (IdentityProviderService manages them).
func signInFromProto(pb *registryv1.Tenant) (registry.SignInSettings, *string) {
	s := registry.SignInSettings{
		Branding: registry.Branding{
			DisplayName:  pb.GetBranding().GetDisplayName(),
			LogoDataURI:  pb.GetBranding().GetLogoDataUri(),
			PrimaryColor: pb.GetBranding().GetPrimaryColor(),
		},
		DefaultLocale:    pb.GetDefaultLocale(),
		SelfRegistration: pb.GetSelfRegistration(),
	}
	mfa := pb.GetMfaPolicy()
	s.MFA.Roles = slices.Clone(mfa.GetRoles())
	s.MFA.Passwordless = mfa.GetPasswordless()
	switch mfa.GetRequirement() {
	case registryv1.MfaPolicy_REQUIREMENT_UNSPECIFIED:
		s.MFA.Requirement = registry.MFAOptional
	case registryv1.MfaPolicy_REQUIREMENT_ROLES:
		s.MFA.Requirement = registry.MFARoles
	case registryv1.MfaPolicy_REQUIREMENT_ALL:
		s.MFA.Requirement = registry.MFAAll
	default:
		s.MFA.Requirement = invalidEnum
	}
	m := pb.GetSmtp()
	s.SMTP = registry.SMTPSettings{Host: m.GetHost(), Port: int(m.GetPort()), Username: m.GetUsername(), From: m.GetFrom()}
	if s.SMTP.Host != "" && s.SMTP.Port == 0 {
		s.SMTP.Port = registry.DefaultSMTPPort
	}
	switch m.GetSecurity() {
	case registryv1.SmtpSettings_SECURITY_UNSPECIFIED:
		s.SMTP.Security = registry.SMTPStartTLS
	case registryv1.SmtpSettings_SECURITY_TLS:
		s.SMTP.Security = registry.SMTPTLS
	case registryv1.SmtpSettings_SECURITY_NONE:
		s.SMTP.Security = registry.SMTPNone
	default:
		s.SMTP.Security = invalidEnum
	}
	if m != nil && m.Password != nil {
		pw := m.GetPassword()
		return s, &pw
	}
	return s, nil
}

// hasSignInSettings reports whether an update states any sign-in setting: a branding, MFA policy or SMTP
// object, a default locale or self-registration on. An update stating none keeps the stored settings.
func hasSignInSettings(pb *registryv1.Tenant) bool {
	return pb.GetBranding() != nil || pb.GetMfaPolicy() != nil || pb.GetSmtp() != nil || pb.GetDefaultLocale() != "" ||
		pb.GetSelfRegistration()
}

// signInToProto fills pb's sign-in settings from t. The SMTP password is left out unless withPassword (the
// internal answer), which the caller opens.
func signInToProto(pb *registryv1.Tenant, s registry.SignInSettings) {
	pb.Branding = &registryv1.TenantBranding{
		DisplayName: s.Branding.DisplayName, LogoDataUri: s.Branding.LogoDataURI, PrimaryColor: s.Branding.PrimaryColor,
	}
	pb.DefaultLocale = s.DefaultLocale
	if pb.DefaultLocale == "" {
		pb.DefaultLocale = "en"
	}
	pb.MfaPolicy = mfaToProto(s.MFA)
	pb.SelfRegistration = s.SelfRegistration
	pb.Smtp = smtpToProto(s.SMTP)
}

func mfaToProto(m registry.MFAPolicy) *registryv1.MfaPolicy {
	out := &registryv1.MfaPolicy{Roles: slices.Clone(m.Roles), Passwordless: m.Passwordless}
	if out.Roles == nil {
		out.Roles = []string{}
	}
	switch m.Requirement {
	case registry.MFARoles:
		out.Requirement = registryv1.MfaPolicy_REQUIREMENT_ROLES
	case registry.MFAAll:
		out.Requirement = registryv1.MfaPolicy_REQUIREMENT_ALL
	}
	return out
}

// smtpToProto converts SMTP settings without the password.
func smtpToProto(m registry.SMTPSettings) *registryv1.SmtpSettings {
	out := &registryv1.SmtpSettings{Host: m.Host, Port: int32(m.Port), Username: m.Username, From: m.From}
	switch m.Security {
	case registry.SMTPTLS:
		out.Security = registryv1.SmtpSettings_SECURITY_TLS
	case registry.SMTPNone:
		out.Security = registryv1.SmtpSettings_SECURITY_NONE
	}
	return out
}

// applySMTPPassword completes in's SMTP settings of tenantID with the password: a given one is checked and
// sealed (an empty one removes it); an omitted one is kept from old while the host and username stay the
// same (a password is never sent to another server or for another user than the one it was given for), and
// dropped otherwise. Errors name smtp.password.
func (s *Server) applySMTPPassword(tenantID string, in *registry.SignInSettings, pw *string, old registry.SMTPSettings) error {
	switch {
	case pw != nil && *pw == "":
		in.SMTP.SealedPassword = nil
	case pw != nil:
		if err := registry.ValidateSecretText("smtp.password", *pw, registry.MaxSMTPPasswordLen); err != nil {
			return err
		}
		in.SMTP.SealedPassword = s.keyring.Seal([]byte(*pw), registry.SMTPPasswordAD(tenantID))
	case in.SMTP.Username != "" && in.SMTP.Username == old.Username && in.SMTP.Host == old.Host:
		in.SMTP.SealedPassword = slices.Clone(old.SealedPassword)
	default:
		in.SMTP.SealedPassword = nil
	}
	return nil
}
