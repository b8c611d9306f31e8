// Package access is the authorization of the whole suite: the vocabulary (the system tenant, the scopes and
// roles the admin API and sudo rely on, the sudo selector of docs/reference.md#sudo) and the one rule every service
// applies (Resolve and Principal, in rule.go). It is pure: the facts it needs come through Directory.
package access

import (
	"strings"

	"github.com/authsuite/authsuite/internal/apierror"
)

const (
	// SystemTenant is the tenant created at bootstrap; its administrators may act in every tenant.
	SystemTenant = "default"
	// ScopeAdminAPI grants the admin API.
	ScopeAdminAPI = "adminapi"
	// ScopeSudo allows acting as a user with sudo=….
	ScopeSudo = "sudo"
	// RoleTenantAdmin lets a user administer their tenant through the admin API.
	RoleTenantAdmin = "tenant_admin"
)

// SelectorKind says which user attribute a sudo selector matches.
type SelectorKind string

// The selector kinds of docs/reference.md#sudo. "username:" is the deprecated spelling of loginName.
const (
	ByUID       SelectorKind = "uid"
	ByLoginName SelectorKind = "loginName"
	ByEmail     SelectorKind = "email"
	ByMobile    SelectorKind = "mobile"
)

// Selector names a user: sudo=uid:42 is Selector{ByUID, "42"}.
type Selector struct {
	Kind  SelectorKind
	Value string
}

// String renders the selector in its canonical form.
func (s Selector) String() string { return string(s.Kind) + ":" + s.Value }

// ParseSelector parses a sudo value. Errors are *apierror.FieldError naming "sudo".
func ParseSelector(s string) (Selector, error) {
	prefix, value, ok := strings.Cut(s, ":")
	if !ok {
		return Selector{}, apierror.Invalid("sudo", "want uid:, loginName:, email: or mobile: followed by a value")
	}
	var kind SelectorKind
	switch prefix {
	case "uid":
		kind = ByUID
	case "loginName", "username":
		kind = ByLoginName
	case "email":
		kind = ByEmail
	case "mobile":
		kind = ByMobile
	default:
		return Selector{}, apierror.Invalid("sudo", "unknown selector %q: want uid, loginName, email or mobile", apierror.Clip(prefix, 32))
	}
	if value == "" || len(value) > 256 || strings.ContainsAny(value, "\x00\r\n") {
		return Selector{}, apierror.Invalid("sudo", "the %s value must be 1 to 256 printable characters", kind)
	}
	return Selector{Kind: kind, Value: value}, nil
}

// HasScope reports whether scope is among scopes.
func HasScope(scopes []string, scope string) bool {
	for _, s := range scopes {
		if s == scope {
			return true
		}
	}
	return false
}

// gRPC metadata keys under which the gateway forwards the caller's credentials and sudo request. The
// gateway sets them from `Authorization: Bearer …` or `?access_token=`, and from `?sudo=`, `?tenantId=`,
// `?tenantCode=` (when sudo is given); gRPC callers set them directly. Text metadata carries printable ASCII
// only, so each sudo key may also be sent in its binary form (the key + BinarySuffix, any UTF-8), which wins
// over the text form; the gateway always uses it, so a login name like 张三 reaches the services intact.
const (
	// BinarySuffix marks a gRPC binary metadata key (PROTOCOL-HTTP2 "Binary-Header").
	BinarySuffix = "-bin"

	MDAuthorization  = "authorization"
	MDSudo           = "authsuite-sudo"
	MDSudoTenantID   = "authsuite-sudo-tenant-id"
	MDSudoTenantCode = "authsuite-sudo-tenant-code"
)
