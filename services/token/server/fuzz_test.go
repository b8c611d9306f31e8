package server

import (
	"strings"
	"testing"

	"github.com/authsuite/authsuite/services/token/clients"
)

// FuzzGrantScopes checks the scope rules on arbitrary requests: never a panic, and whatever is granted is a
// duplicate-free subset of the client's allowed scopes without openid or offline_access.
func FuzzGrantScopes(f *testing.F) {
	for _, s := range []string{"", "read", "read read", "openid", "a\tb", "\"", "read\x00", strings.Repeat("x ", 3000)} {
		f.Add(s)
	}
	cl := &clients.Client{ID: "c", Scopes: []string{"read", "write", "openid", "offline_access", "sudo"}}
	f.Fuzz(func(t *testing.T, req string) {
		got, err := grantScopes(cl, req)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, s := range got {
			if seen[s] || s == ScopeOpenID || s == ScopeOfflineAccess || !validScopeToken(s) {
				t.Fatalf("granted %q for %q", got, req)
			}
			seen[s] = true
			if !strings.Contains(" read write sudo ", " "+s+" ") {
				t.Fatalf("granted %q not allowed", s)
			}
		}
	})
}
