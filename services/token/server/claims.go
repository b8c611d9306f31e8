package server

import (
	"encoding/json"
	"slices"

	"github.com/authsuite/authsuite/services/token/clients"
	"github.com/authsuite/authsuite/services/token/jwt"
)

// Identity scopes that release the user's roles and groups (IdentityServer identity-resource semantics).
const (
	ScopeRoles  = "roles"
	ScopeGroups = "groups"
)

// clientClaims are the client's static claims (registry client claims) for its tokens, nil when it has
// none. Registered claim names are left out here and again when signing (jwt.IsRegisteredClaim).
func clientClaims(cl *clients.Client) map[string]string {
	if len(cl.Claims) == 0 {
		return nil
	}
	out := make(map[string]string, len(cl.Claims))
	for k, v := range cl.Claims {
		if k != "" && !jwt.IsRegisteredClaim(k) {
			out[k] = v
		}
	}
	return out
}

// userClaims are the claims a user's tokens (access token, ID token, userinfo) carry beyond the registered
// ones, as the account view holds the user now (no cached copy: a change of roles reaches the next token):
// roles and groups when their scopes are granted, the client's claim mappings (a user attribute under the
// mapping's claim name, when the mapping's scope, if any, is granted and the user has the attribute), and
// the client's static claims when it always sends them. A mapping wins over a static claim of the same
// name; registered claim names are never produced. a may be nil (the view does not list the account): then
// only static claims remain.
type userClaims struct {
	Roles, Groups []string
	Extra         map[string]string
}

// claimsFor computes userClaims for the account a, the client cl and the granted scopes.
func claimsFor(a *clients.Account, cl *clients.Client, scopes []string) userClaims {
	var uc userClaims
	if cl.AlwaysSendClaims {
		uc.Extra = clientClaims(cl)
	}
	if a == nil {
		return uc
	}
	if slices.Contains(scopes, ScopeRoles) && len(a.Roles) > 0 {
		uc.Roles = a.Roles
	}
	if slices.Contains(scopes, ScopeGroups) && len(a.Groups) > 0 {
		uc.Groups = a.Groups
	}
	for _, m := range cl.ClaimMappings {
		if m.Claim == "" || jwt.IsRegisteredClaim(m.Claim) || (m.Scope != "" && !slices.Contains(scopes, m.Scope)) {
			continue
		}
		v, ok := a.Attributes[m.Attribute]
		if !ok {
			continue
		}
		if uc.Extra == nil {
			uc.Extra = map[string]string{}
		}
		uc.Extra[m.Claim] = v
	}
	return uc
}

// idTokenWithExtra is an ID token's claims with the mapped and static claims as further top-level
// members: registered claim names (jwt.IsRegisteredClaim) are never written from extra, so nothing can
// overwrite iss, sub, aud, nonce or the like.
type idTokenWithExtra struct {
	claims *idTokenClaims
	extra  map[string]string
}

// MarshalJSON writes the claims, then the extra members in name order.
func (t idTokenWithExtra) MarshalJSON() ([]byte, error) {
	b, err := json.Marshal(t.claims)
	if err != nil || len(t.extra) == 0 {
		return b, err
	}
	keys := make([]string, 0, len(t.extra))
	for k := range t.extra {
		if k != "" && !jwt.IsRegisteredClaim(k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	b = b[:len(b)-1] // drop '}'; the object always has iss
	for _, k := range keys {
		kb, _ := json.Marshal(k)
		vb, _ := json.Marshal(t.extra[k])
		b = append(append(append(append(b, ','), kb...), ':'), vb...)
	}
	return append(b, '}'), nil
}
