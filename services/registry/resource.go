package registry

import (
	"fmt"
	"slices"
	"time"

	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/internal/resourceuri"
)

// API resource bounds (docs/reference/admin-api.md, "API resources").
const (
	// MaxResourceIDLen bounds a resource indicator: it is the "aud" of every token issued for the resource.
	MaxResourceIDLen = resourceuri.MaxLen
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

// NormalizeResourceID returns the normal form of a resource indicator (resourceuri.Normalize): the form
// stored, answered, and compared byte for byte with the resource parameter of a request and with a token's
// "aud". It is idempotent, and a changed result always passes ValidateResourceID.
func NormalizeResourceID(raw string) string { return resourceuri.Normalize(raw) }

// ValidateResourceID checks a resource indicator (resourceuri.Validate: an absolute URI without fragment,
// RFC 8707 §2, in normal form). Errors name field.
func ValidateResourceID(field, raw string) error {
	if err := resourceuri.Validate(raw); err != nil {
		return apierror.Invalid(field, "%v", err)
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
