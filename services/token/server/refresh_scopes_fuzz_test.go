package server

import (
	"slices"
	"strings"
	"testing"

	"github.com/authsuite/authsuite/services/token/clients"
)

// FuzzRefreshScopes checks refreshScopes' guarantees (RFC 6749 §6 and the client's current registration):
// what it issues and keeps is always within both what was granted and what the client may still have, the
// family keeps offline_access or is refused, an explicit request is honoured exactly (deduplicated) or
// refused, and it never panics.
func FuzzRefreshScopes(f *testing.F) {
	f.Add("openid profile offline_access", "openid offline_access", "", true)
	f.Add("openid profile offline_access", "openid profile offline_access", "profile", true)
	f.Add("openid offline_access", "openid offline_access", "openid openid", false)
	f.Add("openid offline_access", "openid", "", true)
	f.Fuzz(func(t *testing.T, granted, allowed, requested string, offline bool) {
		cl := &clients.Client{Scopes: strings.Fields(allowed), AllowOfflineAccess: offline}
		g := strings.Fields(granted)
		ceiling, scopes, err := refreshScopes(cl, g, requested)
		if err != nil {
			if ceiling != nil || scopes != nil {
				t.Fatalf("refused with scopes %v %v", ceiling, scopes)
			}
			return
		}
		if !offline || !slices.Contains(ceiling, ScopeOfflineAccess) {
			t.Fatalf("family kept without offline access: ceiling %v (allowOfflineAccess %v)", ceiling, offline)
		}
		for _, sc := range ceiling {
			if !slices.Contains(g, sc) || !slices.Contains(cl.Scopes, sc) {
				t.Fatalf("ceiling scope %q outside granted %v or allowed %v", sc, g, cl.Scopes)
			}
		}
		for _, sc := range scopes {
			if !slices.Contains(ceiling, sc) {
				t.Fatalf("issued scope %q outside the ceiling %v", sc, ceiling)
			}
		}
		req := strings.Fields(requested)
		if len(req) > 0 {
			for _, sc := range req {
				if !slices.Contains(scopes, sc) {
					t.Fatalf("requested %q not issued: %v", sc, scopes)
				}
			}
			if len(scopes) > len(req) {
				t.Fatalf("issued %v for a request of %v", scopes, req)
			}
		} else if !slices.Equal(scopes, ceiling) {
			t.Fatalf("no request, issued %v instead of the ceiling %v", scopes, ceiling)
		}
		for i := range scopes {
			if slices.Contains(scopes[i+1:], scopes[i]) {
				t.Fatalf("duplicate scope in %v", scopes)
			}
		}
	})
}
