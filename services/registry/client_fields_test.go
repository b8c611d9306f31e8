package registry_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/internal/claimnames"
	"github.com/authsuite/authsuite/services/registry"
)

// fieldOf returns the field an error names, "" for nil, and fails the test for any other error.
func fieldOf(t *testing.T, err error) string {
	t.Helper()
	if err == nil {
		return ""
	}
	var fe *apierror.FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("error %v is not a field error", err)
	}
	return fe.Field
}

// jwkJSON renders the public JWK of key.
func jwkJSON(t testing.TB, key any, kid string) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKey{Key: key, KeyID: kid})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func jwks(keys ...json.RawMessage) []byte {
	b, _ := json.Marshal(map[string]any{"keys": keys})
	return b
}

var (
	ecKey, _         = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	edPub, edPriv, _ = ed25519.GenerateKey(rand.Reader)
)

func TestValidateJWKS(t *testing.T) {
	rsa2048, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	ec := jwkJSON(t, &ecKey.PublicKey, "ec")
	many := make([]json.RawMessage, 21)
	for i := range many {
		many[i] = jwkJSON(t, edPub, fmt.Sprint(i))
	}
	big := []byte(`{"keys":[` + string(ec) + `],"pad":"` + strings.Repeat("x", registry.MaxJWKSBytes) + `"}`)
	for _, tc := range []struct {
		name  string
		raw   []byte
		field string
	}{
		{"EC P-256, RSA 2048 and Ed25519", jwks(ec, jwkJSON(t, &rsa2048.PublicKey, "rsa"), jwkJSON(t, edPub, "")), ""},
		{"keys without kid", jwks(jwkJSON(t, edPub, ""), jwkJSON(t, &ecKey.PublicKey, "")), ""},
		{"private EC key", jwks(jwkJSON(t, ecKey, "ec")), "jwks.keys[0]"},
		{"private Ed25519 key", jwks(ec, jwkJSON(t, edPriv, "ed")), "jwks.keys[1]"},
		{"private RSA key", jwks(jwkJSON(t, rsa2048, "r")), "jwks.keys[0]"},
		{"symmetric key", jwks(json.RawMessage(`{"kty":"oct","k":"c2VjcmV0"}`)), "jwks.keys[0]"},
		{"RSA 1024", jwks(jwkJSON(t, &rsa1024.PublicKey, "r")), "jwks.keys[0]"},
		{"X25519", jwks(json.RawMessage(`{"kty":"OKP","crv":"X25519","x":"hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo"}`)), "jwks.keys[0]"},
		{"unknown kty", jwks(json.RawMessage(`{"kty":"XYZ"}`)), "jwks.keys[0]"},
		{"EC point not on the curve", jwks(json.RawMessage(`{"kty":"EC","crv":"P-256","x":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","y":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}`)), "jwks.keys[0]"},
		{"duplicate kid", jwks(ec, jwkJSON(t, edPub, "ec")), "jwks.keys[1]"},
		{"an encryption key", jwks(json.RawMessage(`{"kty":"OKP","crv":"Ed25519","use":"enc","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}`)), "jwks.keys[0]"},
		{"a signing key", jwks(json.RawMessage(`{"kty":"OKP","crv":"Ed25519","use":"sig","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}`)), ""},
		{"no keys", []byte(`{"keys":[]}`), "jwks.keys"},
		{"not a set", []byte(`{"kty":"EC"}`), "jwks.keys"},
		{"keys not a list", []byte(`{"keys":"x"}`), "jwks"},
		{"key not an object", []byte(`{"keys":[1]}`), "jwks.keys[0]"},
		{"21 keys", jwks(many...), "jwks.keys"},
		{"over 64 KiB", big, "jwks"},
	} {
		if got := fieldOf(t, registry.ValidateJWKS("jwks", tc.raw)); got != tc.field {
			t.Errorf("%s: error names %q, want %q (%v)", tc.name, got, tc.field, registry.ValidateJWKS("jwks", tc.raw))
		}
	}
}

func baseClient() registry.Client {
	c := registry.DefaultClient()
	c.ID = "svc"
	c.AllowedGrantTypes = []string{registry.GrantClientCredentials}
	return c
}

func TestValidateClientAuthentication(t *testing.T) {
	keys := jwks(jwkJSON(t, edPub, "k1"))
	for _, tc := range []struct {
		name  string
		edit  func(c *registry.Client)
		field string
	}{
		{"default", func(c *registry.Client) {}, ""},
		{"client_secret_post", func(c *registry.Client) { c.TokenEndpointAuthMethod = registry.AuthClientSecretPost }, ""},
		{"private_key_jwt with jwks", func(c *registry.Client) { c.TokenEndpointAuthMethod, c.JWKS = registry.AuthPrivateKeyJWT, keys }, ""},
		{"private_key_jwt with jwksUri", func(c *registry.Client) {
			c.TokenEndpointAuthMethod, c.JWKSURI = registry.AuthPrivateKeyJWT, "https://svc.example/jwks.json"
		}, ""},
		{"private_key_jwt without keys", func(c *registry.Client) { c.TokenEndpointAuthMethod = registry.AuthPrivateKeyJWT }, "jwks"},
		{"self-signed TLS without keys", func(c *registry.Client) { c.TokenEndpointAuthMethod = registry.AuthSelfSignedTLSClientAuth }, "jwks"},
		{"self-signed TLS with jwks", func(c *registry.Client) {
			c.TokenEndpointAuthMethod, c.JWKS, c.CertBoundAccessTokens = registry.AuthSelfSignedTLSClientAuth, keys, true
		}, ""},
		{"tls_client_auth", func(c *registry.Client) {
			c.TokenEndpointAuthMethod, c.TLSClientAuthSubjectDN = registry.AuthTLSClientAuth, "CN=svc,O=Example,C=DE"
		}, ""},
		{"tls_client_auth without subject", func(c *registry.Client) { c.TokenEndpointAuthMethod = registry.AuthTLSClientAuth }, "tlsClientAuthSubjectDn"},
		{"bad subject", func(c *registry.Client) {
			c.TokenEndpointAuthMethod, c.TLSClientAuthSubjectDN = registry.AuthTLSClientAuth, "CN=a;b"
		}, "tlsClientAuthSubjectDn"},
		{"both jwks and jwksUri", func(c *registry.Client) {
			c.TokenEndpointAuthMethod, c.JWKS, c.JWKSURI = registry.AuthPrivateKeyJWT, keys, "https://svc.example/jwks"
		}, "jwksUri"},
		{"http jwksUri", func(c *registry.Client) {
			c.TokenEndpointAuthMethod, c.JWKSURI = registry.AuthPrivateKeyJWT, "http://svc.example/jwks"
		}, "jwksUri"},
		{"jwksUri with userinfo", func(c *registry.Client) { c.JWKSURI = "https://u:p@svc.example/jwks" }, "jwksUri"},
		{"jwksUri with fragment", func(c *registry.Client) { c.JWKSURI = "https://svc.example/jwks#x" }, "jwksUri"},
		{"unknown method", func(c *registry.Client) { c.TokenEndpointAuthMethod = "client_secret_jwt" }, "tokenEndpointAuthMethod"},
		{"none with a secret required", func(c *registry.Client) { c.TokenEndpointAuthMethod = registry.AuthNone }, "tokenEndpointAuthMethod"},
		{"private_key_jwt for a public client", func(c *registry.Client) {
			c.TokenEndpointAuthMethod, c.JWKS, c.RequireClientSecret = registry.AuthPrivateKeyJWT, keys, false
			c.AllowedGrantTypes = []string{registry.GrantAuthorizationCode}
			c.RedirectURIs = []string{"https://app.example/cb"}
		}, "tokenEndpointAuthMethod"},
		{"token exchange", func(c *registry.Client) {
			c.AllowedGrantTypes = append(c.AllowedGrantTypes, registry.GrantTokenExchange)
			c.ServesResources = []string{"https://orders.internal"}
		}, ""},
		{"token exchange for a public client", func(c *registry.Client) {
			c.RequireClientSecret, c.TokenEndpointAuthMethod = false, registry.AuthNone
			c.AllowedGrantTypes = []string{registry.GrantTokenExchange}
		}, "allowedGrantTypes[0]"},
		{"served resource with a fragment", func(c *registry.Client) { c.ServesResources = []string{"https://a.example#x"} }, "servesResources[0]"},
		{"duplicate served resource", func(c *registry.Client) {
			c.ServesResources = []string{"https://a.example", "https://a.example"}
		}, "servesResources[1]"},
	} {
		c := baseClient()
		tc.edit(&c)
		if got := fieldOf(t, registry.ValidateClient(c)); got != tc.field {
			t.Errorf("%s: error names %q, want %q (%v)", tc.name, got, tc.field, registry.ValidateClient(c))
		}
	}
}

func TestResolveAuthMethod(t *testing.T) {
	for _, tc := range []struct {
		method, want    string
		require, stated bool
		wantRequire     bool
	}{
		{"", registry.AuthClientSecretBasic, true, false, true},
		{"", registry.AuthNone, false, true, false},
		{registry.AuthNone, registry.AuthNone, true, false, false}, // the flag follows the method
		{registry.AuthNone, registry.AuthNone, true, true, true},   // a stated flag is kept (and refused later)
		{registry.AuthPrivateKeyJWT, registry.AuthPrivateKeyJWT, false, false, true},
	} {
		c := registry.Client{TokenEndpointAuthMethod: tc.method, RequireClientSecret: tc.require}
		c.ResolveAuthMethod(tc.stated)
		if c.TokenEndpointAuthMethod != tc.want || c.RequireClientSecret != tc.wantRequire {
			t.Errorf("%+v: got method %q require %v", tc, c.TokenEndpointAuthMethod, c.RequireClientSecret)
		}
	}
	if m := (registry.Client{RequireClientSecret: true}).EffectiveAuthMethod(); m != registry.AuthClientSecretBasic {
		t.Errorf("a record without a method: %q", m)
	}
}

func TestValidateClientClaims(t *testing.T) {
	many := map[string]string{}
	for i := range 51 {
		many[fmt.Sprint("c", i)] = "v"
	}
	for _, tc := range []struct {
		name     string
		claims   map[string]string
		mappings []registry.ClaimMapping
		field    string
	}{
		{"static and mapped", map[string]string{"service_role": "billing", "x:y.z-1": ""},
			[]registry.ClaimMapping{{UserAttribute: "department", Claim: "dept", Scope: "profile"}, {UserAttribute: "cost_center", Claim: "cc"}}, ""},
		{"reserved static claim", map[string]string{"sub": "x"}, nil, "claims.sub"},
		{"reserved roles", map[string]string{"roles": "admin"}, nil, "claims.roles"},
		{"bad name", map[string]string{"a b": "x"}, nil, "claims.a b"},
		{"long name", map[string]string{strings.Repeat("a", 65): "x"}, nil, "claims." + strings.Repeat("a", 64) + "…"},
		{"long value", map[string]string{"a": strings.Repeat("x", 1025)}, nil, "claims.a"},
		{"invalid UTF-8", map[string]string{"a": "\xff"}, nil, "claims.a"},
		{"51 claims", many, nil, "claims"},
		{"mapping to a reserved claim", nil, []registry.ClaimMapping{{UserAttribute: "a", Claim: "email"}}, "claimMappings[0].claim"},
		{"mapping without attribute", nil, []registry.ClaimMapping{{Claim: "x"}}, "claimMappings[0].userAttribute"},
		{"mapping with a bad scope", nil, []registry.ClaimMapping{{UserAttribute: "a", Claim: "x", Scope: "a b"}}, "claimMappings[0].scope"},
		{"two mappings to one claim", nil, []registry.ClaimMapping{{UserAttribute: "a", Claim: "x"}, {UserAttribute: "b", Claim: "x"}}, "claimMappings[1].claim"},
		{"mapping to a static claim", map[string]string{"x": "1"}, []registry.ClaimMapping{{UserAttribute: "a", Claim: "x"}}, "claimMappings[0].claim"},
	} {
		c := baseClient()
		c.Claims, c.ClaimMappings = tc.claims, tc.mappings
		if got := fieldOf(t, registry.ValidateClient(c)); got != tc.field {
			t.Errorf("%s: error names %q, want %q", tc.name, got, tc.field)
		}
	}
	for _, name := range claimnames.All() {
		c := baseClient()
		c.Claims = map[string]string{name: "v"}
		if registry.ValidateClient(c) == nil {
			t.Errorf("reserved claim %q accepted", name)
		}
	}
}

func TestValidateUserGroupsAndAttributes(t *testing.T) {
	groups := make([]string, 101)
	for i := range groups {
		groups[i] = fmt.Sprint("g", i)
	}
	attrs := map[string]string{}
	for i := range 51 {
		attrs[fmt.Sprint("a", i)] = "v"
	}
	for _, tc := range []struct {
		name   string
		groups []string
		attrs  map[string]string
		field  string
	}{
		{"valid", []string{"Billing Team", "ops/eu", "Ärzte"}, map[string]string{"department": "R&D", "cost_center": "4711"}, ""},
		{"empty group", []string{""}, nil, "groups[0]"},
		{"control character", []string{"a\nb"}, nil, "groups[0]"},
		{"leading space", []string{" a"}, nil, "groups[0]"},
		{"long group", []string{strings.Repeat("g", 129)}, nil, "groups[0]"},
		{"duplicate group", []string{"a", "a"}, nil, "groups[1]"},
		{"101 groups", groups, nil, "groups"},
		{"bad key", nil, map[string]string{"a/b": "x"}, "attributes.a/b"},
		{"long value", nil, map[string]string{"k": strings.Repeat("v", 1025)}, "attributes.k"},
		{"51 attributes", nil, attrs, "attributes"},
	} {
		u := registry.User{ID: "u1", LoginName: "alice", Groups: tc.groups, Attributes: tc.attrs}
		if got := fieldOf(t, registry.ValidateUser(u)); got != tc.field {
			t.Errorf("%s: error names %q, want %q", tc.name, got, tc.field)
		}
	}
}

// BenchmarkValidateClientWithKeys: the cost a client write pays for checking a JWK Set of three keys (RSA
// 2048, EC P-256, Ed25519), 50 static claims and 50 claim mappings.
func BenchmarkValidateClientWithKeys(b *testing.B) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	c := baseClient()
	c.TokenEndpointAuthMethod = registry.AuthPrivateKeyJWT
	c.JWKS = jwks(jwkJSON(b, &rsaKey.PublicKey, "r"), jwkJSON(b, &ecKey.PublicKey, "e"), jwkJSON(b, edPub, "d"))
	c.Claims = map[string]string{}
	for i := range 50 {
		c.Claims[fmt.Sprint("static_", i)] = "value"
		c.ClaimMappings = append(c.ClaimMappings, registry.ClaimMapping{UserAttribute: fmt.Sprint("attr", i), Claim: fmt.Sprint("mapped_", i)})
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := registry.ValidateClient(c); err != nil {
			b.Fatal(err)
		}
	}
}
