package registry

import (
	"encoding/base64"
	"fmt"
	"maps"
	"net/mail"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/authsuite/authsuite/internal/apierror"
)

// Sign-in settings bounds.
const (
	MaxLogoBytes          = 48 << 10 // decoded size of a logo
	MaxBrandNameLen       = 100      // characters
	MaxMFARoles           = 20
	MaxSMTPPasswordLen    = 1024
	MaxProviderSecretLen  = 1024
	MaxProviderScopes     = 20
	MaxProviderNameLen    = 100 // characters
	MaxFederatedSubject   = 255 // bytes (OpenID Connect Core §2: sub is at most 255 ASCII characters)
	DefaultSMTPPort       = 587
	maxSMTPFieldLen       = 320
	maxIssuerLen          = 2000
	maxProviderClientID   = 255
	maxClaimMappingSource = 200
)

var (
	colorRE      = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)
	providerIDRE = regexp.MustCompile(`^[a-z0-9-]{1,64}$`)
	// logoTypes are the image types a logo may have. SVG is refused: it can carry script and external
	// references, and pages embed the logo.
	logoTypes = []string{"image/png", "image/jpeg", "image/gif", "image/webp"}
	// ClaimMappingKeys are the user fields an upstream claim may fill.
	ClaimMappingKeys = []string{"login_name", "email", "display_name"}
)

// ValidateSignInSettings checks a tenant's sign-in settings as the admin API sets them (not the identity
// providers, see ValidateIdentityProvider): a branded name of at most 100 characters, a logo data URI
// (ValidateLogo), a colour "#rrggbb", a default locale of Locales, an MFA requirement with at most 20 valid
// roles (at least one for MFARoles), SMTP settings (ValidateSMTP), and self-registration only with a mail
// server (addresses must be verifiable). Errors name the REST field.
func ValidateSignInSettings(s SignInSettings) error {
	b := s.Branding
	if utf8.RuneCountInString(b.DisplayName) > MaxBrandNameLen {
		return apierror.Invalid("branding.displayName", "must be at most %d characters", MaxBrandNameLen)
	}
	if err := validateText("branding.displayName", b.DisplayName, 4*MaxBrandNameLen); err != nil {
		return err
	}
	if err := ValidateLogo("branding.logoDataUri", b.LogoDataURI); err != nil {
		return err
	}
	if b.PrimaryColor != "" && !colorRE.MatchString(b.PrimaryColor) {
		return apierror.Invalid("branding.primaryColor", "want a colour #rrggbb")
	}
	if s.DefaultLocale != "" && !slices.Contains(Locales, s.DefaultLocale) {
		return apierror.Invalid("defaultLocale", "want one of %s", strings.Join(Locales, ", "))
	}
	switch s.MFA.Requirement {
	case MFAOptional, MFAAll:
	case MFARoles:
		if len(s.MFA.Roles) == 0 {
			return apierror.Invalid("mfaPolicy.roles", "name at least one role when the requirement is REQUIREMENT_ROLES")
		}
	default:
		return apierror.Invalid("mfaPolicy.requirement", "unknown requirement")
	}
	if len(s.MFA.Roles) > MaxMFARoles {
		return apierror.Invalid("mfaPolicy.roles", "at most %d roles", MaxMFARoles)
	}
	seen := map[string]bool{}
	for i, r := range s.MFA.Roles {
		field := fmt.Sprintf("mfaPolicy.roles[%d]", i)
		if r == "" || len(r) > 64 || strings.ContainsFunc(r, func(c rune) bool { return !isIDChar(c) && c != ':' }) {
			return apierror.Invalid(field, "must be 1 to 64 characters of letters, digits, '.', '_', ':' and '-'")
		}
		if seen[r] {
			return apierror.Invalid(field, "duplicate role")
		}
		seen[r] = true
	}
	if err := ValidateSMTP(s.SMTP); err != nil {
		return err
	}
	if s.SelfRegistration && s.SMTP.Host == "" {
		return apierror.Invalid("selfRegistration", "needs smtp: a self-registered user's e-mail address is verified by mail")
	}
	return nil
}

// ValidateLogo checks a logo: "" or a data URI (RFC 2397) of type image/png, image/jpeg, image/gif or
// image/webp, base64-encoded, whose decoded content is 1 byte to 48 KiB. Errors name field.
func ValidateLogo(field, uri string) error {
	if uri == "" {
		return nil
	}
	if len(uri) > 2*MaxLogoBytes {
		return apierror.Invalid(field, "at most %d KiB", MaxLogoBytes>>10)
	}
	rest, ok := strings.CutPrefix(uri, "data:")
	if !ok {
		return apierror.Invalid(field, "want a data URI (data:image/png;base64,...)")
	}
	mediaType, data, ok := strings.Cut(rest, ",")
	if !ok {
		return apierror.Invalid(field, "want a data URI (data:image/png;base64,...)")
	}
	typ, ok := strings.CutSuffix(strings.ToLower(mediaType), ";base64")
	if !ok {
		return apierror.Invalid(field, "the data must be base64 (;base64,)")
	}
	if !slices.Contains(logoTypes, typ) {
		return apierror.Invalid(field, "want image/png, image/jpeg, image/gif or image/webp (SVG is refused)")
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(data)
	if err != nil {
		return apierror.Invalid(field, "not valid base64")
	}
	if len(raw) == 0 || len(raw) > MaxLogoBytes {
		return apierror.Invalid(field, "the image must be 1 byte to %d KiB", MaxLogoBytes>>10)
	}
	return nil
}

// ValidateSMTP checks SMTP settings: all empty (no mail), or a host name or IP address (no scheme, port or
// path), a port 0 (DefaultSMTPPort) to 65535, a known security mode (SMTPNone only for a loopback host: a
// password or link must not cross a network in clear), a user name of at most 320 bytes without control
// characters (none with SMTPNone: authentication needs TLS), and a From address net/mail parses. A password
// without a user name is refused. Errors name the REST field.
func ValidateSMTP(m SMTPSettings) error {
	if m.Host == "" {
		if m.Port != 0 || m.Security != "" || m.Username != "" || len(m.SealedPassword) > 0 || m.From != "" {
			return apierror.Invalid("smtp.host", "is required when other smtp settings are given")
		}
		return nil
	}
	if !validHost(m.Host) {
		return apierror.Invalid("smtp.host", "want a host name or IP address")
	}
	if m.Port < 0 || m.Port > 65535 {
		return apierror.Invalid("smtp.port", "must be 1 to 65535")
	}
	switch m.Security {
	case SMTPStartTLS, SMTPTLS:
	case SMTPNone:
		if !IsLoopbackHost(m.Host) {
			return apierror.Invalid("smtp.security", "SECURITY_NONE is only allowed for a loopback host (localhost, 127.0.0.0/8, ::1)")
		}
	default:
		return apierror.Invalid("smtp.security", "unknown security mode")
	}
	if err := validateText("smtp.username", m.Username, maxSMTPFieldLen); err != nil {
		return err
	}
	if len(m.SealedPassword) > 0 && m.Username == "" {
		return apierror.Invalid("smtp.password", "needs a username")
	}
	if m.Security == SMTPNone && m.Username != "" {
		// The mailer authenticates only inside TLS (internal/mail): such settings could never send.
		return apierror.Invalid("smtp.username", "SMTP authentication needs TLS: use SECURITY_STARTTLS or SECURITY_TLS, or no username")
	}
	if m.From == "" {
		return apierror.Invalid("smtp.from", "is required")
	}
	if err := validateText("smtp.from", m.From, maxSMTPFieldLen); err != nil {
		return err
	}
	if _, err := mail.ParseAddress(m.From); err != nil {
		return apierror.Invalid("smtp.from", "not a mail address (e.g. \"Example <no-reply@example.com>\")")
	}
	return nil
}

// ValidateSecretText checks a write-only secret (an SMTP password, a client secret): 1 to max bytes of
// UTF-8 without NUL. Errors name field and never quote the value.
func ValidateSecretText(field, s string, max int) error {
	if s == "" || len(s) > max || !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
		return apierror.Invalid(field, "must be 1 to %d bytes of UTF-8", max)
	}
	return nil
}

// validHost reports whether h is a DNS name (labels of letters, digits, '-' and '_', at most 253 bytes) or
// an IP address (IPv6 without brackets).
func validHost(h string) bool {
	if _, err := netip.ParseAddr(h); err == nil {
		return !strings.Contains(h, "%")
	}
	if len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// IsLoopbackHost reports whether host (without port or brackets) is localhost or a loopback address.
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// ValidateProviderID checks an upstream provider id: 1 to 64 of a-z, 0-9 and '-'. Errors name field.
func ValidateProviderID(field, id string) error {
	if !providerIDRE.MatchString(id) {
		return apierror.Invalid(field, "must be 1 to 64 characters of a-z, 0-9 and '-'")
	}
	return nil
}

// ValidateIdentityProvider checks an upstream provider (field names under "provider."): its id
// (ValidateProviderID), a display name of 1 to 100 characters, an issuer (ValidateIssuer), a client id of 1
// to 255 bytes, at most 20 scope tokens without duplicates, and a claim mapping whose keys are
// ClaimMappingKeys and whose values are claim names.
func ValidateIdentityProvider(p IdentityProvider) error {
	if err := ValidateProviderID("provider.providerId", p.ID); err != nil {
		return err
	}
	if n := utf8.RuneCountInString(p.DisplayName); n < 1 || n > MaxProviderNameLen {
		return apierror.Invalid("provider.displayName", "must be 1 to %d characters", MaxProviderNameLen)
	}
	if err := validateText("provider.displayName", p.DisplayName, 4*MaxProviderNameLen); err != nil {
		return err
	}
	if err := ValidateIssuer("provider.issuer", p.Issuer); err != nil {
		return err
	}
	if p.ClientID == "" {
		return apierror.Invalid("provider.clientId", "is required")
	}
	if err := validateText("provider.clientId", p.ClientID, maxProviderClientID); err != nil {
		return err
	}
	if len(p.Scopes) > MaxProviderScopes {
		return apierror.Invalid("provider.scopes", "at most %d scopes", MaxProviderScopes)
	}
	if err := validateList("provider.scopes", p.Scopes, ValidateScopeToken); err != nil {
		return err
	}
	for _, k := range slices.Sorted(maps.Keys(p.ClaimMapping)) {
		field := "provider.claimMapping[" + k + "]"
		if !slices.Contains(ClaimMappingKeys, k) {
			return apierror.Invalid("provider.claimMapping", "unknown key %q: want login_name, email or display_name", apierror.Clip(k, 40))
		}
		if v := p.ClaimMapping[k]; v == "" || len(v) > maxClaimMappingSource || !utf8.ValidString(v) ||
			strings.ContainsFunc(v, func(r rune) bool { return r < 0x21 || r == 0x7f }) {
			return apierror.Invalid(field, "must be a claim name of 1 to %d bytes without spaces or control characters", maxClaimMappingSource)
		}
	}
	return nil
}

// ValidateIssuer checks an upstream issuer (OpenID Connect Discovery §2 / RFC 8414 §2): an absolute https URL
// (http only for a loopback host), with a host, without userinfo, query or fragment, at most 2000 bytes.
func ValidateIssuer(field, raw string) error {
	if raw == "" || len(raw) > maxIssuerLen || strings.ContainsFunc(raw, func(r rune) bool { return r <= 0x20 || r == 0x7f }) {
		return apierror.Invalid(field, "want an https URL of at most %d bytes", maxIssuerLen)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return apierror.Invalid(field, "want an absolute https URL")
	}
	host := u.Hostname()
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && IsLoopbackHost(host):
	default:
		return apierror.Invalid(field, "must be https (http only for a loopback host)")
	}
	if u.User != nil {
		return apierror.Invalid(field, "must not contain userinfo")
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(raw, "#") {
		return apierror.Invalid(field, "must not have a query or fragment")
	}
	if !validHost(host) {
		return apierror.Invalid(field, "not a valid host")
	}
	if p := u.Port(); p != "" {
		if validPort(p) != nil {
			return apierror.Invalid(field, "not a valid port")
		}
	}
	return nil
}

// ValidateFederatedIdentity checks a link to an upstream identity: a provider id (ValidateProviderID) and a
// subject of 1 to 255 bytes of UTF-8 without NUL.
func ValidateFederatedIdentity(fi FederatedIdentity) error {
	if err := ValidateProviderID("providerId", fi.ProviderID); err != nil {
		return err
	}
	if fi.Subject == "" || len(fi.Subject) > MaxFederatedSubject || !utf8.ValidString(fi.Subject) || strings.ContainsRune(fi.Subject, 0) {
		return apierror.Invalid("subject", "must be 1 to %d bytes of UTF-8", MaxFederatedSubject)
	}
	return nil
}
