package registry

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/internal/claimnames"
)

// ValidateTenantID checks a tenant id: 1 to 64 characters of [A-Za-z0-9._-]. Errors name "tenantId".
func ValidateTenantID(id string) error { return validateID("tenantId", id) }

// ValidateTenant checks a tenant: its id (see ValidateTenantID), a required code of [A-Za-z0-9._-]{1,64} and
// a name of at most 200 bytes. Errors name the REST field.
func ValidateTenant(t Tenant) error {
	if err := ValidateTenantID(t.ID); err != nil {
		return err
	}
	if err := validateID("code", t.Code); err != nil {
		return err
	}
	return validateText("name", t.Name, maxNameLen)
}

// User field bounds.
const (
	MinPasswordLen = 8    // NIST SP 800-63B §3.1.1.2
	MaxPasswordLen = 1024 // bounds the hashing work an attacker can ask for
)

// ValidateUserID checks a user id: 1 to 64 characters of [A-Za-z0-9._-]. Errors name "userId".
func ValidateUserID(id string) error { return validateID("userId", id) }

// ValidateUser checks a user's profile (not the password, see ValidatePassword): id, a required login name
// (1 to 200 bytes, no control characters or ':'), an optional email (local@domain, at most 254 bytes), an
// optional mobile number (an optional '+' and 3 to 20 digits), a display name of at most 200 bytes, roles
// of [A-Za-z0-9._:-]{1,64} without duplicates, groups and attributes (validateGroups, validateAttributes);
// emailVerified and phoneVerified only with their address. Errors name the REST field.
func ValidateUser(u User) error {
	if err := ValidateUserID(u.ID); err != nil {
		return err
	}
	if u.LoginName == "" {
		return apierror.Invalid("loginName", "is required")
	}
	if err := validateText("loginName", u.LoginName, maxNameLen); err != nil {
		return err
	}
	if strings.TrimSpace(u.LoginName) != u.LoginName {
		return apierror.Invalid("loginName", "must not start or end with spaces")
	}
	if strings.Contains(u.LoginName, ":") {
		return apierror.Invalid("loginName", "must not contain ':' (it separates the kind and value of a sudo selector)")
	}
	if u.Email != "" {
		local, domain, ok := strings.Cut(u.Email, "@")
		if !ok || local == "" || domain == "" || strings.Contains(domain, "@") || len(u.Email) > 254 ||
			strings.ContainsAny(u.Email, " <>()[],;\"\\") || strings.ContainsFunc(u.Email, unicode.IsControl) || !utf8.ValidString(u.Email) ||
			strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") {
			return apierror.Invalid("email", "not an e-mail address")
		}
	}
	if u.Mobile != "" {
		digits := strings.TrimPrefix(u.Mobile, "+")
		if len(digits) < 3 || len(digits) > 20 || strings.Trim(digits, "0123456789") != "" {
			return apierror.Invalid("mobile", "want an optional '+' and 3 to 20 digits")
		}
	}
	if u.EmailVerified && u.Email == "" {
		return apierror.Invalid("emailVerified", "cannot be true without an email")
	}
	if u.PhoneVerified && u.Mobile == "" {
		return apierror.Invalid("phoneVerified", "cannot be true without a mobile")
	}
	if err := validateText("displayName", u.DisplayName, maxNameLen); err != nil {
		return err
	}
	if err := validateGroups(u.Groups); err != nil {
		return err
	}
	if err := validateAttributes(u.Attributes); err != nil {
		return err
	}
	if len(u.Roles) > maxListLen {
		return apierror.Invalid("roles", "at most %d roles", maxListLen)
	}
	seen := map[string]bool{}
	for i, r := range u.Roles {
		field := fmt.Sprintf("roles[%d]", i)
		if r == "" || len(r) > 64 || strings.ContainsFunc(r, func(c rune) bool { return !isIDChar(c) && c != ':' }) {
			return apierror.Invalid(field, "must be 1 to 64 characters of letters, digits, '.', '_', ':' and '-'")
		}
		if seen[r] {
			return apierror.Invalid(field, "duplicate role")
		}
		seen[r] = true
	}
	return nil
}

// ValidatePassword checks a new password: 8 to 1024 bytes of valid UTF-8. The error names "password" and
// never quotes it.
func ValidatePassword(pw string) error {
	if len(pw) < MinPasswordLen || len(pw) > MaxPasswordLen || !utf8.ValidString(pw) {
		return apierror.Invalid("password", "must be %d to %d bytes of UTF-8", MinPasswordLen, MaxPasswordLen)
	}
	return nil
}

// Secret rules (docs/reference/admin-api.md#client-secrets).
const (
	DefaultSecretLifetime = 6 // months
	MinSecretLifetime     = 24 * time.Hour
	MaxSecretsPerClient   = 50
	// SecretClockSkew is tolerated on the expiration bounds, so that a caller computing "now + 1 day" on its
	// own clock is not refused for a few seconds of difference.
	SecretClockSkew = time.Minute
)

// SecretWindow resolves and checks a new secret's validity window at now. A zero start means now; a zero
// expiration means start + 6 months. The expiration must be between 1 day and 3 years after now (with
// SecretClockSkew of tolerance) and after the start. Errors name "startTime" or "expiration".
func SecretWindow(now, start, expiration time.Time) (time.Time, time.Time, error) {
	if start.IsZero() {
		start = now
	}
	if expiration.IsZero() {
		expiration = start.AddDate(0, DefaultSecretLifetime, 0)
	}
	if start.After(now.AddDate(3, 0, 0)) {
		return time.Time{}, time.Time{}, apierror.Invalid("startTime", "must be less than 3 years ahead")
	}
	if expiration.Before(now.Add(MinSecretLifetime-SecretClockSkew)) || expiration.After(now.AddDate(3, 0, 0).Add(SecretClockSkew)) {
		return time.Time{}, time.Time{}, apierror.Invalid("expiration", "must be between 1 day and 3 years ahead")
	}
	if !expiration.After(start) {
		return time.Time{}, time.Time{}, apierror.Invalid("expiration", "must be after startTime")
	}
	return start.UTC(), expiration.UTC(), nil
}

// NewSecretValue returns a new client secret value: 32 random bytes (256 bits) in unpadded base64url, and its
// display form (the first 3 characters).
func NewSecretValue() (value, display string) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	value = base64.RawURLEncoding.EncodeToString(b)
	return value, DisplayPrefix(value)
}

// DisplayPrefix is the part of a secret value that may be shown after creation: its first 3 characters.
func DisplayPrefix(value string) string {
	n := 0
	for i := range value {
		if n == 3 {
			return value[:i]
		}
		n++
	}
	return value
}

// NewID returns a random identifier (128 bits, lowercase hex), valid as a tenant, user or secret id.
func NewID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// EncodePageToken turns a store's next key into an opaque page token ("" stays "").
func EncodePageToken(next string) string {
	if next == "" {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString([]byte("k1:" + next))
}

// DecodePageToken reverses EncodePageToken. Errors name "pageToken".
func DecodePageToken(token string) (string, error) {
	if token == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(b) <= 3 || string(b[:3]) != "k1:" {
		return "", apierror.Invalid("pageToken", "not a page token from this listing")
	}
	return string(b[3:]), nil
}

// PageOptions turns a request's page_size and page_token into ListOptions: size 0 means 100, sizes above 1000
// mean 1000, negative sizes are invalid. Errors name "pageSize" or "pageToken".
func PageOptions(size int32, token string) (ListOptions, error) {
	if size < 0 {
		return ListOptions{}, apierror.Invalid("pageSize", "must not be negative")
	}
	after, err := DecodePageToken(token)
	if err != nil {
		return ListOptions{}, err
	}
	return ListOptions{Limit: int(size), After: after}, nil
}

// Bounds of the claims and attributes a client or user may carry.
const (
	MaxClientClaims    = 50
	MaxClaimMappings   = 50
	MaxUserGroups      = 100
	MaxUserAttributes  = 50
	MaxClaimValueLen   = 1024
	maxGroupLen        = 128
	maxServedResources = 50
	maxClaimNameLen    = 64
	maxResourceURILen  = 2000
)

// validClaimName reports whether s is 1 to 64 characters of [A-Za-z0-9_.:-]: the rule for claim names and
// for user attribute keys.
func validClaimName(s string) bool {
	if s == "" || len(s) > maxClaimNameLen {
		return false
	}
	for _, r := range s {
		if !isIDChar(r) && r != ':' {
			return false
		}
	}
	return true
}

// validateClaimName checks a claim name a client configures: validClaimName and not reserved
// (claimnames.Reserved), so configuration never replaces a claim authsuite sets itself.
func validateClaimName(field, name string) error {
	if !validClaimName(name) {
		return apierror.Invalid(field, "must be 1 to %d characters of letters, digits, '_', '.', ':' and '-'", maxClaimNameLen)
	}
	if claimnames.Reserved(name) {
		return apierror.Invalid(field, "%q is a claim authsuite sets itself and cannot be configured", name)
	}
	return nil
}

// validateClaimValue checks a configured claim or attribute value: at most 1024 bytes of UTF-8.
func validateClaimValue(field, v string) error {
	if len(v) > MaxClaimValueLen || !utf8.ValidString(v) {
		return apierror.Invalid(field, "must be at most %d bytes of UTF-8", MaxClaimValueLen)
	}
	return nil
}

// validateClaims checks a client's static claims: at most 50, names as validateClaimName, values as
// validateClaimValue. Errors name "claims.<name>" (or "claims" for the count); names are checked in sorted
// order, so the same input always names the same field.
func validateClaims(claims map[string]string) error {
	if len(claims) > MaxClientClaims {
		return apierror.Invalid("claims", "at most %d claims", MaxClientClaims)
	}
	for _, name := range slices.Sorted(maps.Keys(claims)) {
		field := "claims." + apierror.Clip(name, maxClaimNameLen)
		if err := validateClaimName(field, name); err != nil {
			return err
		}
		if err := validateClaimValue(field, claims[name]); err != nil {
			return err
		}
	}
	return nil
}

// validateClaimMappings checks a client's claim mappings: at most 50, each a user attribute key (the rule of
// user attribute keys), a claim name (validateClaimName) that no other mapping and no static claim gives,
// and an optional scope-token.
func validateClaimMappings(ms []ClaimMapping, claims map[string]string) error {
	if len(ms) > MaxClaimMappings {
		return apierror.Invalid("claimMappings", "at most %d mappings", MaxClaimMappings)
	}
	seen := make(map[string]bool, len(ms))
	for i, m := range ms {
		f := fmt.Sprintf("claimMappings[%d]", i)
		if !validClaimName(m.UserAttribute) {
			return apierror.Invalid(f+".userAttribute", "must be 1 to %d characters of letters, digits, '_', '.', ':' and '-'", maxClaimNameLen)
		}
		if err := validateClaimName(f+".claim", m.Claim); err != nil {
			return err
		}
		if seen[m.Claim] {
			return apierror.Invalid(f+".claim", "another mapping already gives the claim %q", m.Claim)
		}
		if _, ok := claims[m.Claim]; ok {
			return apierror.Invalid(f+".claim", "the static claim %q already has that name", m.Claim)
		}
		seen[m.Claim] = true
		if m.Scope != "" {
			if err := ValidateScopeToken(f+".scope", m.Scope); err != nil {
				return err
			}
		}
	}
	return nil
}

// validateGroups checks a user's groups: at most 100, each 1 to 128 printable characters (no control or
// space-only names), no duplicates.
func validateGroups(groups []string) error {
	if len(groups) > MaxUserGroups {
		return apierror.Invalid("groups", "at most %d groups", MaxUserGroups)
	}
	seen := make(map[string]bool, len(groups))
	for i, g := range groups {
		f := fmt.Sprintf("groups[%d]", i)
		if g == "" || len(g) > maxGroupLen || !utf8.ValidString(g) ||
			strings.ContainsFunc(g, func(r rune) bool { return !unicode.IsPrint(r) && r != ' ' }) || strings.TrimSpace(g) != g {
			return apierror.Invalid(f, "must be 1 to %d bytes of printable characters, without leading or trailing spaces", maxGroupLen)
		}
		if seen[g] {
			return apierror.Invalid(f, "duplicate group")
		}
		seen[g] = true
	}
	return nil
}

// validateAttributes checks a user's custom attributes: at most 50, keys of [A-Za-z0-9_.:-]{1,64}, values
// at most 1024 bytes of UTF-8. Errors name "attributes.<key>"; keys are checked in sorted order.
func validateAttributes(attrs map[string]string) error {
	if len(attrs) > MaxUserAttributes {
		return apierror.Invalid("attributes", "at most %d attributes", MaxUserAttributes)
	}
	for _, k := range slices.Sorted(maps.Keys(attrs)) {
		field := "attributes." + apierror.Clip(k, maxClaimNameLen)
		if !validClaimName(k) {
			return apierror.Invalid(field, "a key must be 1 to %d characters of letters, digits, '_', '.', ':' and '-'", maxClaimNameLen)
		}
		if err := validateClaimValue(field, attrs[k]); err != nil {
			return err
		}
	}
	return nil
}
