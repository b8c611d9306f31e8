package registry_test

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/authsuite/authsuite/internal/claimnames"
	"github.com/authsuite/authsuite/internal/jwksfetch"
	"github.com/authsuite/authsuite/services/registry"
)

// FuzzValidateJWKS: ValidateJWKS never panics, and a set it accepts has 1 to 20 keys, none with a private
// member, each of which go-jose reads as a public EC, RSA or Ed25519 key, with distinct kids.
func FuzzValidateJWKS(f *testing.F) {
	f.Add([]byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"a"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"oct","k":"AA"}]}`))
	f.Add([]byte(`{"keys":[]}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		if registry.ValidateJWKS("jwks", raw) != nil {
			return
		}
		var set struct {
			Keys []map[string]json.RawMessage `json:"keys"`
		}
		if err := json.Unmarshal(raw, &set); err != nil || len(set.Keys) == 0 || len(set.Keys) > registry.MaxJWKSKeys {
			t.Fatalf("accepted %q: %d keys, %v", raw, len(set.Keys), err)
		}
		var parsed jose.JSONWebKeySet
		if err := json.Unmarshal(raw, &parsed); err != nil || len(parsed.Keys) != len(set.Keys) {
			t.Fatalf("accepted %q, which go-jose reads as %d keys, %v", raw, len(parsed.Keys), err)
		}
		// Every key registered is one the token service uses.
		if used, err := jwksfetch.ParseSet(raw); err != nil || len(used) != len(parsed.Keys) {
			t.Fatalf("accepted %q, of which the token service uses %d keys (%v)", raw, len(used), err)
		}
		kids := map[string]bool{}
		for i, k := range parsed.Keys {
			for _, m := range []string{"d", "p", "q", "dp", "dq", "qi", "k", "oth"} {
				if _, ok := set.Keys[i][m]; ok {
					t.Fatalf("accepted key %d with member %q: %q", i, m, raw)
				}
			}
			if !k.IsPublic() || !k.Valid() || k.Use != "" && k.Use != "sig" {
				t.Fatalf("accepted key %d that is not a valid public signing key: %q", i, raw)
			}
			if k.KeyID != "" && kids[k.KeyID] {
				t.Fatalf("accepted duplicate kid %q", k.KeyID)
			}
			kids[k.KeyID] = true
		}
	})
}

// FuzzValidateClaimsAndAttributes: a client's static claims, a claim mapping, a user's group and attribute
// that validation accepts keep the documented rules (no reserved claim, bounded names and values).
func FuzzValidateClaimsAndAttributes(f *testing.F) {
	f.Add("service_role", "billing", "department", "dept", "profile", "Billing Team")
	f.Add("sub", "x", "a", "email", "", "")
	f.Add("a b", "\xff", "", "x", "a b", " g")
	f.Fuzz(func(t *testing.T, claim, value, attr, mapped, scope, group string) {
		c := baseClient()
		c.Claims = map[string]string{claim: value}
		c.ClaimMappings = []registry.ClaimMapping{{UserAttribute: attr, Claim: mapped, Scope: scope}}
		if registry.ValidateClient(c) == nil {
			for _, name := range []string{claim, mapped} {
				if claimnames.Reserved(name) || name == "" || len(name) > 64 || strings.ContainsAny(name, " \"\\/") {
					t.Fatalf("accepted claim name %q", name)
				}
			}
			if claim == mapped || len(value) > 1024 || !utf8.ValidString(value) || attr == "" || strings.ContainsAny(scope, " \"\\") {
				t.Fatalf("accepted claims %q=%q, mapping %q→%q scope %q", claim, value, attr, mapped, scope)
			}
		}
		u := registry.User{ID: "u1", LoginName: "alice", Groups: []string{group}, Attributes: map[string]string{attr: value}}
		if registry.ValidateUser(u) == nil {
			if group == "" || len(group) > 128 || !utf8.ValidString(group) || strings.TrimSpace(group) != group ||
				strings.ContainsAny(group, "\x00\n\r\t") || attr == "" || len(attr) > 64 || len(value) > 1024 {
				t.Fatalf("accepted group %q, attribute %q=%q", group, attr, value)
			}
		}
	})
}
