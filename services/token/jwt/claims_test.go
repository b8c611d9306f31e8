package jwt

import (
	"encoding/base64"
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// payloadOf decodes the claims part of a compact JWS without checking anything.
func payloadOf(t testing.TB, tok string) []byte {
	t.Helper()
	parts := strings.Split(tok, ".")
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestClaimsRolesGroupsExtraRoundTrip: roles, groups and extra claims are top-level members of the
// payload (typed: arrays of strings, strings), Verify reads them back, aud with several members is an
// array, and an extra claim named like a registered one never overwrites it.
func TestClaimsRolesGroupsExtraRoundTrip(t *testing.T) {
	k, err := Generate(ES256)
	if err != nil {
		t.Fatal(err)
	}
	c := testClaims()
	c.Audience = Audience{"https://orders.internal", "https://billing.internal"}
	c.Roles, c.Groups = []string{"admin", "auditor"}, []string{"ops"}
	c.Extra = map[string]string{"department": "sales", "svc_role": "reader", "sub": "forged", "aud": "x", "roles": "y", "": "empty",
		// encoding/json matches member names case-insensitively (with Unicode folding): these would replace
		// sub and exp for such decoders if written after them.
		"SUB": "forged", "\u017fub": "forged", "Exp": "1"}
	tok, err := k.Sign(c)
	if err != nil {
		t.Fatal(err)
	}
	var typed struct {
		Sub        string   `json:"sub"`
		Aud        []string `json:"aud"`
		Roles      []string `json:"roles"`
		Groups     []string `json:"groups"`
		Department string   `json:"department"`
		SvcRole    string   `json:"svc_role"`
	}
	if err := json.Unmarshal(payloadOf(t, tok), &typed); err != nil {
		t.Fatalf("typed decode of %s: %v", payloadOf(t, tok), err)
	}
	if typed.Sub != "svc" || len(typed.Aud) != 2 || !slices.Equal(typed.Roles, c.Roles) || !slices.Equal(typed.Groups, c.Groups) ||
		typed.Department != "sales" || typed.SvcRole != "reader" {
		t.Fatalf("payload %s decoded as %+v", payloadOf(t, tok), typed)
	}
	got, err := Verify(tok, lookupOf(k))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"department": "sales", "svc_role": "reader"}
	if got.Subject != "svc" || !slices.Equal(got.Roles, c.Roles) || !slices.Equal(got.Groups, c.Groups) || !maps.Equal(got.Extra, want) ||
		!reflect.DeepEqual(got.Audience, c.Audience) {
		t.Fatalf("verified %+v", got)
	}
}

// TestClaimsWithoutExtraUnchanged: a token without roles, groups or extra claims has exactly the members
// it had before they existed.
func TestClaimsWithoutExtraUnchanged(t *testing.T) {
	k, _ := Generate(EdDSA)
	tok, err := k.Sign(testClaims())
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(payloadOf(t, tok), &m); err != nil {
		t.Fatal(err)
	}
	keys := slices.Sorted(maps.Keys(m))
	if !slices.Equal(keys, []string{"aud", "client_id", "exp", "iat", "iss", "jti", "scope", "sub", "tenant"}) {
		t.Fatalf("members %v", keys)
	}
	got, err := Verify(tok, lookupOf(k))
	if err != nil || got.Extra != nil || got.Roles != nil {
		t.Fatalf("verified %+v, %v", got, err)
	}
}

// FuzzClaimsExtra: whatever the names and values, signing never lets an extra claim replace a registered
// one, the payload stays one valid JSON object, and Verify returns exactly the unregistered extra claims.
func FuzzClaimsExtra(f *testing.F) {
	f.Add("department", "sales", "sub", "forged")
	f.Add("", "", "exp", "1")
	f.Add("a\"b", "\u2028\x00", "roles", "[]")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		valid := func(s string) bool { b, _ := json.Marshal(s); var r string; _ = json.Unmarshal(b, &r); return r == s }
		if !valid(k1) || !valid(v1) || !valid(k2) || !valid(v2) {
			return // encoding/json replaces invalid UTF-8: not a value the services produce
		}
		c := testClaims()
		c.Extra = map[string]string{k1: v1, k2: v2}
		tok, err := fuzzKeys[1].Sign(c)
		if err != nil {
			t.Fatal(err)
		}
		if len(tok) > MaxTokenSize {
			return
		}
		got, err := Verify(tok, lookupOf(fuzzKeys[1]))
		if err != nil {
			t.Fatalf("verify: %v", err)
		}
		if got.Subject != c.Subject || got.Expiry != c.Expiry || got.Scope != c.Scope || !reflect.DeepEqual(got.Audience, c.Audience) {
			t.Fatalf("registered claims changed: %+v", got)
		}
		want := map[string]string{}
		for k, v := range c.Extra {
			if k != "" && !IsRegisteredClaim(k) {
				want[k] = v
			}
		}
		if len(want) == 0 {
			want = nil
		}
		if !maps.Equal(got.Extra, want) {
			t.Fatalf("extra %v, want %v", got.Extra, want)
		}
	})
}

// BenchmarkSignES256WithClaims is BenchmarkSignES256 for a token with roles, groups and two extra claims
// (the spliced members); BenchmarkSignES256 is the same token without them.
func BenchmarkSignES256WithClaims(b *testing.B) {
	k, err := Generate(ES256)
	if err != nil {
		b.Fatal(err)
	}
	c := testClaims()
	c.Roles, c.Groups = []string{"admin", "auditor"}, []string{"ops"}
	c.Extra = map[string]string{"department": "sales", "svc_role": "reader"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.Sign(c); err != nil {
			b.Fatal(err)
		}
	}
}
