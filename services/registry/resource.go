package registry

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/authsuite/authsuite/internal/apierror"
)

// API resource bounds (docs/reference.md, "API resources").
const (
	// MaxResourceIDLen bounds a resource indicator: it is the "aud" of every token issued for the resource.
	MaxResourceIDLen = 512
	// MaxResourceScopes bounds the scopes one resource defines.
	MaxResourceScopes = 100
	// MaxResourceScopeLen bounds one of those scopes.
	MaxResourceScopeLen = 128
	// MinResourceTokenLifetime and MaxResourceTokenLifetime bound a resource's access token lifetime: at
	// least a minute, so a token survives the clock skew between servers and a call's round trip; at most a
	// day, since a resource lifetime exists to make tokens for a sensitive API shorter-lived than the client's.
	MinResourceTokenLifetime = 60 * time.Second
	MaxResourceTokenLifetime = 86400 * time.Second
)

// ReservedScopes are the scopes authsuite itself defines (OpenID Connect Core §5.4 and §11, and its own
// roles, groups, adminapi and sudo). No API resource may define one of them.
var ReservedScopes = []string{"openid", "profile", "email", "phone", "offline_access", "roles", "groups", "adminapi", "sudo"}

// IsReservedScope reports whether scope is one of ReservedScopes.
func IsReservedScope(scope string) bool { return slices.Contains(ReservedScopes, scope) }

// NormalizeResourceID returns the normal form of a resource indicator, the one stored and compared byte for
// byte with the resource parameter of a request (RFC 8707 §2) and with a token's "aud": the scheme and the
// host in lowercase (they are case-insensitive, RFC 3986 §6.2.2.1) and an http or https URI without its
// scheme's default port (RFC 3986 §6.2.3), so "HTTPS://Orders.Internal:443/v1" becomes
// "https://orders.internal/v1". The path, which is case-sensitive, is kept as it is, and an empty path stays
// empty. Anything that would still not be a valid resource indicator is returned unchanged for
// ValidateResourceID to refuse. It is idempotent, and a changed result always passes ValidateResourceID.
func NormalizeResourceID(raw string) string {
	norm := resourceNormalForm(raw)
	if norm == raw || ValidateResourceID("", norm) != nil {
		return raw
	}
	return norm
}

// resourceNormalForm lowercases raw's scheme and, after "//", its authority, and drops an empty or default
// port of http and https; it does not check raw.
func resourceNormalForm(raw string) string {
	scheme, rest, ok := strings.Cut(raw, ":")
	if !ok {
		return raw
	}
	scheme = asciiLower(scheme)
	auth, ok := strings.CutPrefix(rest, "//")
	if !ok {
		return scheme + ":" + rest
	}
	host, path := auth, ""
	if i := strings.IndexByte(auth, '/'); i >= 0 {
		host, path = auth[:i], auth[i:]
	}
	host = asciiLower(host)
	if i := strings.LastIndexByte(host, ':'); i > strings.LastIndexByte(host, ']') {
		if port := host[i+1:]; port == "" || port == defaultPorts[scheme] {
			host = host[:i]
		}
	}
	return scheme + "://" + host + path
}

// ValidateResourceID checks a resource indicator (RFC 8707 §2): an absolute URI (RFC 3986 §4.3) of at most
// MaxResourceIDLen bytes, in NormalizeResourceID's normal form, made only of the characters RFC 3986 §2
// allows (percent-encodings well formed), without a fragment (RFC 8707 §2: MUST NOT) and without a query
// (RFC 8707 §2: SHOULD NOT; refused here so that an audience is never confused with request parameters),
// without userinfo. An http or https URI has a host; any other scheme (urn:, for instance) has something
// after its colon. Errors name field.
func ValidateResourceID(field, raw string) error {
	if raw == "" {
		return apierror.Invalid(field, "is required: an absolute URI such as https://orders.internal (RFC 8707 §2)")
	}
	if len(raw) > MaxResourceIDLen {
		return apierror.Invalid(field, "must be at most %d bytes", MaxResourceIDLen)
	}
	if strings.Contains(raw, "#") {
		return apierror.Invalid(field, "must not contain a fragment (RFC 8707 §2)")
	}
	if strings.Contains(raw, "?") {
		return apierror.Invalid(field, "must not contain a query (RFC 8707 §2)")
	}
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c == '%':
			if i+2 >= len(raw) || !isHex(raw[i+1]) || !isHex(raw[i+2]) {
				return apierror.Invalid(field, "has a malformed percent-encoding (RFC 3986 §2.1)")
			}
		case !isURIChar(c):
			return apierror.Invalid(field, "may only contain the characters of a URI (RFC 3986 §2): percent-encode others")
		}
	}
	scheme, rest, ok := strings.Cut(raw, ":")
	if !ok || !validScheme(scheme) {
		return apierror.Invalid(field, "must be an absolute URI with a scheme, such as https://orders.internal (RFC 8707 §2)")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return apierror.Invalid(field, "not a valid URI")
	}
	if u.User != nil {
		return apierror.Invalid(field, "must not contain userinfo")
	}
	web := strings.EqualFold(scheme, "http") || strings.EqualFold(scheme, "https")
	if strings.HasPrefix(rest, "//") {
		if u.Host == "" || u.Hostname() == "" {
			return apierror.Invalid(field, "must name a host after //")
		}
		if err := validResourceHost(u.Hostname(), strings.HasPrefix(u.Host, "[")); err != "" {
			return apierror.Invalid(field, "%s", err)
		}
		if err := validPort(u.Port()); err != nil {
			return apierror.Invalid(field, "%v", err)
		}
	} else if web || rest == "" {
		return apierror.Invalid(field, "must be an absolute URI such as https://orders.internal (RFC 8707 §2)")
	}
	if norm := resourceNormalForm(raw); norm != raw {
		return apierror.Invalid(field, "must be in normal form %q: scheme and host in lowercase, no empty or default port", apierror.Clip(norm, 80))
	}
	return nil
}

// ValidateApiResource checks every setting of r (not TenantID, CreateTime and UpdateTime, which the server
// sets) and returns the first problem as an *apierror.FieldError naming the REST field: resourceId (see
// ValidateResourceID), displayName (at most 200 bytes, no control characters), scopes (1 to
// MaxResourceScopes RFC 6749 §3.3 scope-tokens of at most MaxResourceScopeLen characters, no duplicates and
// none of ReservedScopes) and accessTokenLifetime (zero, meaning the client's, or whole seconds from
// MinResourceTokenLifetime to MaxResourceTokenLifetime). It does not modify r and never panics.
func ValidateApiResource(r ApiResource) error {
	if err := ValidateResourceID("resourceId", r.ID); err != nil {
		return err
	}
	if err := validateText("displayName", r.DisplayName, maxNameLen); err != nil {
		return err
	}
	if len(r.Scopes) == 0 {
		return apierror.Invalid("scopes", "at least one scope is required")
	}
	if len(r.Scopes) > MaxResourceScopes {
		return apierror.Invalid("scopes", "at most %d scopes", MaxResourceScopes)
	}
	seen := make(map[string]bool, len(r.Scopes))
	for i, s := range r.Scopes {
		field := fmt.Sprintf("scopes[%d]", i)
		if len(s) > MaxResourceScopeLen {
			return apierror.Invalid(field, "must be 1 to %d characters", MaxResourceScopeLen)
		}
		if err := ValidateScopeToken(field, s); err != nil {
			return err
		}
		if IsReservedScope(s) {
			return apierror.Invalid(field, "%q is reserved by the server and cannot belong to an API resource", s)
		}
		if seen[s] {
			return apierror.Invalid(field, "duplicate scope %q", s)
		}
		seen[s] = true
	}
	if d := r.AccessTokenLifetime; d != 0 && (d < MinResourceTokenLifetime || d > MaxResourceTokenLifetime || d%time.Second != 0) {
		return apierror.Invalid("accessTokenLifetime", "must be unset or %d to %d seconds",
			int64(MinResourceTokenLifetime/time.Second), int64(MaxResourceTokenLifetime/time.Second))
	}
	return nil
}

// validResourceHost says what is wrong with the host of a resource indicator, or "": a bracketed IP address
// (RFC 3986 §3.2.2), or a name or IPv4 address of letters, digits, '-', '.', '_' and '~' (no
// percent-encoding, so that the host has one spelling).
func validResourceHost(host string, bracketed bool) string {
	if bracketed {
		if net.ParseIP(host) == nil || !strings.Contains(host, ":") {
			return "not a valid IPv6 address"
		}
		return ""
	}
	for i := 0; i < len(host); i++ {
		if c := host[i]; !isAlpha(c) && !isDigit(c) && c != '-' && c != '.' && c != '_' && c != '~' {
			return "the host must be a DNS name or an IP address (an internationalized name in its xn-- form)"
		}
	}
	return ""
}

// validScheme checks scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) (RFC 3986 §3.1).
func validScheme(s string) bool {
	if s == "" || !isAlpha(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isAlpha(c) && !isDigit(c) && c != '+' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

// isURIChar reports whether c may appear in a URI as it is: unreserved, gen-delims or sub-delims (RFC 3986
// §2.2, §2.3); '%' is checked apart.
func isURIChar(c byte) bool {
	return isAlpha(c) || isDigit(c) || strings.IndexByte("-._~:/?#[]@!$&'()*+,;=", c) >= 0
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isHex(c byte) bool   { return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// asciiLower lowercases the ASCII letters of s (a URI's scheme and host are ASCII, RFC 3986 §3.1, §3.2.2).
func asciiLower(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'A' && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, s)
}
