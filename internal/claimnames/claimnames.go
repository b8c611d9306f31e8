// Package claimnames lists the claim names authsuite's tokens and userinfo answers set themselves, so that
// no configured claim (a client's static claims, a claim mapping) can replace or forge one of them. The
// registry refuses such names when a client is written, and the token service skips them when it issues, so
// the list lives in one place for both.
package claimnames

import "strings"

// reserved are the names of JWT (RFC 7519 §4.1, and the typ header some tokens repeat), OAuth access token
// (RFC 9068 §2.2, with entitlements of §7.2.1), token exchange (RFC 8693 §4), certificate binding (RFC 8705
// §3.1), OpenID Connect (Core §2, §5.1), logout token (Back-Channel Logout §2.4 events) and authsuite's own
// claims (tenant, fid, uinc, pjti, roles, groups).
var reserved = map[string]bool{
	"iss": true, "sub": true, "aud": true, "exp": true, "nbf": true, "iat": true, "jti": true,
	"client_id": true, "scope": true, "tenant": true, "act": true, "may_act": true, "cnf": true,
	"auth_time": true, "acr": true, "amr": true, "sid": true, "nonce": true, "azp": true,
	"at_hash": true, "c_hash": true, "fid": true, "uinc": true, "pjti": true, "roles": true, "groups": true,
	"email": true, "email_verified": true, "phone_number": true, "phone_number_verified": true,
	"name": true, "preferred_username": true, "updated_at": true,
	"events": true, "typ": true, "entitlements": true,
}

// Reserved reports whether name is a claim that only authsuite sets. JWT claim names are case-sensitive
// (RFC 7519 §4), but encoding/json and decoders like it match member names ignoring case (with Unicode
// simple folding), so a "SUB" or "ſub" written after "sub" would replace it for them: such names are
// reserved too, as the token service skips them when it signs.
func Reserved(name string) bool {
	if reserved[name] {
		return true
	}
	for r := range reserved {
		if strings.EqualFold(name, r) {
			return true
		}
	}
	return false
}

// All returns the reserved names, in no particular order, for documentation and tests.
func All() []string {
	out := make([]string, 0, len(reserved))
	for n := range reserved {
		out = append(out, n)
	}
	return out
}
