package e2e

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

// The client settings for key- and certificate-based authentication, static claims, claim mappings and
// served resources, and users' groups and attributes, through the admin REST API as administrators use it.

// fieldsClient is a client as the admin API answers it, the new settings typed.
type fieldsClient struct {
	ClientID                              string              `json:"clientId"`
	RequireClientSecret                   bool                `json:"requireClientSecret"`
	AllowedGrantTypes                     []string            `json:"allowedGrantTypes"`
	TokenEndpointAuthMethod               string              `json:"tokenEndpointAuthMethod"`
	Jwks                                  *jose.JSONWebKeySet `json:"jwks"`
	JwksURI                               string              `json:"jwksUri"`
	TLSClientAuthSubjectDn                string              `json:"tlsClientAuthSubjectDn"`
	TLSClientCertificateBoundAccessTokens bool                `json:"tlsClientCertificateBoundAccessTokens"`
	Claims                                map[string]string   `json:"claims"`
	AlwaysSendClientClaims                bool                `json:"alwaysSendClientClaims"`
	ClaimMappings                         []struct {
		UserAttribute string `json:"userAttribute"`
		Claim         string `json:"claim"`
		Scope         string `json:"scope"`
	} `json:"claimMappings"`
	ServesResources []string `json:"servesResources"`
}

// fieldsUser is a user as the admin API answers it, groups and attributes typed.
type fieldsUser struct {
	UserID     string            `json:"userId"`
	LoginName  string            `json:"loginName"`
	Groups     []string          `json:"groups"`
	Attributes map[string]string `json:"attributes"`
}

func TestClientAuthMethodsAndClaims(t *testing.T) {
	s := startSuite(t)
	admin := clientToken(t, s, "admin", bootstrapSecret, "adminapi")
	tenant := expect(t, "tenant", s.call("POST", "/api/adminapi2/v1/tenants/", admin, map[string]any{"code": "fields"}), 201)["tenantId"].(string)
	clients := "/api/adminapi2/v1/tenants/" + tenant + "/clients/"

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := json.Marshal(jose.JSONWebKey{Key: &key.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"})
	if err != nil {
		t.Fatal(err)
	}
	var pubJWK map[string]any
	json.Unmarshal(pub, &pubJWK)
	priv, _ := json.Marshal(jose.JSONWebKey{Key: key, KeyID: "k1"})
	var privJWK map[string]any
	json.Unmarshal(priv, &privJWK)
	cc := []string{"client_credentials"}

	// Each authentication method, with what it needs; an answer always shows the method.
	for _, tc := range []struct {
		body        map[string]any
		method      string
		requireFlag bool
	}{
		{map[string]any{"clientId": "basic", "allowedGrantTypes": cc}, "client_secret_basic", true},
		{map[string]any{"clientId": "post", "allowedGrantTypes": cc, "tokenEndpointAuthMethod": "client_secret_post"}, "client_secret_post", true},
		{map[string]any{"clientId": "pkjwt", "allowedGrantTypes": cc, "tokenEndpointAuthMethod": "private_key_jwt",
			"jwks": map[string]any{"keys": []any{pubJWK}}}, "private_key_jwt", true},
		{map[string]any{"clientId": "pkjwt-uri", "allowedGrantTypes": cc, "tokenEndpointAuthMethod": "private_key_jwt",
			"jwksUri": "https://svc.example/.well-known/jwks.json"}, "private_key_jwt", true},
		{map[string]any{"clientId": "mtls", "allowedGrantTypes": cc, "tokenEndpointAuthMethod": "tls_client_auth",
			"tlsClientAuthSubjectDn": "CN=orders,O=Example\\, Inc.,C=DE", "tlsClientCertificateBoundAccessTokens": true}, "tls_client_auth", true},
		{map[string]any{"clientId": "selfsigned", "allowedGrantTypes": cc, "tokenEndpointAuthMethod": "self_signed_tls_client_auth",
			"jwks": map[string]any{"keys": []any{pubJWK}}}, "self_signed_tls_client_auth", true},
		{map[string]any{"clientId": "spa", "allowedGrantTypes": []string{"authorization_code"}, "redirectUris": []string{"https://spa.example/cb"},
			"tokenEndpointAuthMethod": "none"}, "none", false},
	} {
		c := decodeAs[fieldsClient](t, "create "+tc.body["clientId"].(string), s.call("POST", clients, admin, tc.body), 201)
		if c.TokenEndpointAuthMethod != tc.method || c.RequireClientSecret != tc.requireFlag {
			t.Errorf("%s: method %q requireClientSecret %v; want %q %v", c.ClientID, c.TokenEndpointAuthMethod, c.RequireClientSecret, tc.method, tc.requireFlag)
		}
		if _, ok := tc.body["jwks"]; ok && (c.Jwks == nil || len(c.Jwks.Keys) != 1 || c.Jwks.Keys[0].KeyID != "k1" || !c.Jwks.Keys[0].IsPublic()) {
			t.Errorf("%s: jwks answered as %+v", c.ClientID, c.Jwks)
		}
	}

	// Claims, mappings, served resources and token exchange on a key-authenticated service.
	svc := map[string]any{
		"clientId": "orders", "allowedScopes": []string{"billing.read"},
		"allowedGrantTypes":       []string{"client_credentials", "urn:ietf:params:oauth:grant-type:token-exchange"},
		"tokenEndpointAuthMethod": "private_key_jwt", "jwks": map[string]any{"keys": []any{pubJWK}},
		"claims":                 map[string]string{"service_role": "orders", "tier": "gold"},
		"alwaysSendClientClaims": true,
		"claimMappings": []map[string]string{
			{"userAttribute": "department", "claim": "dept", "scope": "profile"},
			{"userAttribute": "cost_center", "claim": "cost_center"},
		},
		"servesResources": []string{"HTTPS://Orders.Internal"},
	}
	created := decodeAs[fieldsClient](t, "create orders", s.call("POST", clients, admin, svc), 201)
	if created.Claims["service_role"] != "orders" || created.Claims["tier"] != "gold" || !created.AlwaysSendClientClaims ||
		len(created.ClaimMappings) != 2 || created.ClaimMappings[0].Claim != "dept" || created.ClaimMappings[0].Scope != "profile" ||
		created.ClaimMappings[1].UserAttribute != "cost_center" || len(created.ServesResources) != 1 ||
		created.ServesResources[0] != "https://orders.internal" {
		t.Fatalf("created orders: %+v", created)
	}
	before := s.call("GET", clients+"orders", admin, nil)
	expect(t, "get orders", before, 200)

	// Every invalid value: 400 naming the field, and the stored client is unchanged.
	for _, tc := range []struct {
		name, field string
		edit        func(b map[string]any)
	}{
		{"unknown method", "tokenEndpointAuthMethod", func(b map[string]any) { b["tokenEndpointAuthMethod"] = "client_secret_jwt" }},
		{"private_key_jwt without keys", "jwks", func(b map[string]any) { delete(b, "jwks") }},
		{"a private key", "jwks.keys[0]", func(b map[string]any) { b["jwks"] = map[string]any{"keys": []any{privJWK}} }},
		{"a symmetric key", "jwks.keys[0]", func(b map[string]any) {
			b["jwks"] = map[string]any{"keys": []any{map[string]any{"kty": "oct", "k": "c2VjcmV0"}}}
		}},
		{"not a JWK Set", "jwks.keys", func(b map[string]any) { b["jwks"] = pubJWK }},
		{"jwks and jwksUri", "jwksUri", func(b map[string]any) { b["jwksUri"] = "https://svc.example/jwks" }},
		{"an http jwksUri", "jwksUri", func(b map[string]any) { delete(b, "jwks"); b["jwksUri"] = "http://svc.example/jwks" }},
		{"none for a client with a secret", "tokenEndpointAuthMethod", func(b map[string]any) {
			b["tokenEndpointAuthMethod"], b["requireClientSecret"] = "none", true
		}},
		{"private_key_jwt with requireClientSecret false", "tokenEndpointAuthMethod", func(b map[string]any) {
			b["requireClientSecret"] = false
			b["allowedGrantTypes"] = []string{"authorization_code"}
			b["redirectUris"] = []string{"https://app.example/cb"}
		}},
		{"tls_client_auth without subject", "tlsClientAuthSubjectDn", func(b map[string]any) { b["tokenEndpointAuthMethod"] = "tls_client_auth" }},
		{"a malformed subject", "tlsClientAuthSubjectDn", func(b map[string]any) { b["tlsClientAuthSubjectDn"] = "CN=a;b" }},
		{"a reserved claim", "claims.sub", func(b map[string]any) { b["claims"] = map[string]string{"sub": "someone"} }},
		{"a bad claim name", "claims.a b", func(b map[string]any) { b["claims"] = map[string]string{"a b": "x"} }},
		{"a mapping to a reserved claim", "claimMappings[1].claim", func(b map[string]any) {
			b["claimMappings"] = []map[string]string{{"userAttribute": "a", "claim": "x"}, {"userAttribute": "b", "claim": "email"}}
		}},
		{"two mappings to one claim", "claimMappings[1].claim", func(b map[string]any) {
			b["claimMappings"] = []map[string]string{{"userAttribute": "a", "claim": "x"}, {"userAttribute": "b", "claim": "x"}}
		}},
		{"a served resource with a fragment", "servesResources[0]", func(b map[string]any) { b["servesResources"] = []string{"https://a.example/#f"} }},
	} {
		body := map[string]any{}
		for k, v := range svc {
			body[k] = v
		}
		tc.edit(body)
		e := decodeAs[apiError](t, tc.name, s.call("PUT", clients+"orders", admin, body), 400)
		if e.Field != tc.field {
			t.Errorf("%s: error %+v, want the field %q", tc.name, e, tc.field)
		}
		if after := s.call("GET", clients+"orders", admin, nil); !bytes.Equal(after.body, before.body) {
			t.Fatalf("%s: the refused update changed the client:\n%s\nwas\n%s", tc.name, after.body, before.body)
		}
		body["clientId"] = "orders2"
		if e := decodeAs[apiError](t, tc.name+" (create)", s.call("POST", clients, admin, body), 400); e.Field != tc.field {
			t.Errorf("%s (create): error %+v, want the field %q", tc.name, e, tc.field)
		}
	}
	expect(t, "no orders2", s.call("GET", clients+"orders2", admin, nil), 404)

	// An update replaces the settings: without them the client has none, shown as {} and [] (and no jwks).
	plain := decodeAs[map[string]json.RawMessage](t, "replace orders", s.call("PUT", clients+"orders", admin, map[string]any{
		"clientId": "orders", "allowedGrantTypes": cc,
	}), 200)
	for field, want := range map[string]string{"tokenEndpointAuthMethod": `"client_secret_basic"`, "claims": "{}",
		"claimMappings": "[]", "servesResources": "[]", "jwksUri": `""`, "alwaysSendClientClaims": "false"} {
		if got := string(plain[field]); got != want {
			t.Errorf("replaced client: %s = %s, want %s", field, got, want)
		}
	}
	if jwks, ok := plain["jwks"]; ok {
		t.Errorf("replaced client: jwks = %s, want it absent", jwks)
	}
}

func TestUserGroupsAndAttributesREST(t *testing.T) {
	s := startSuite(t)
	admin := clientToken(t, s, "admin", bootstrapSecret, "adminapi")
	tenant := expect(t, "tenant", s.call("POST", "/api/adminapi2/v1/tenants/", admin, map[string]any{"code": "groups"}), 201)["tenantId"].(string)
	users := "/api/adminapi2/v1/tenants/" + tenant + "/users/"
	u := decodeAs[fieldsUser](t, "create alice", s.call("POST", users, admin, map[string]any{
		"userId": "alice", "loginName": "alice", "groups": []string{"billing", "ops/eu"},
		"attributes": map[string]string{"department": "R&D", "cost_center": "4711"},
	}), 201)
	if len(u.Groups) != 2 || u.Groups[1] != "ops/eu" || u.Attributes["department"] != "R&D" || u.Attributes["cost_center"] != "4711" {
		t.Fatalf("created alice: %+v", u)
	}
	before := s.call("GET", users+"alice", admin, nil)
	for _, tc := range []struct {
		name, field string
		body        map[string]any
	}{
		{"duplicate group", "groups[1]", map[string]any{"loginName": "alice", "groups": []string{"a", "a"}}},
		{"empty group", "groups[0]", map[string]any{"loginName": "alice", "groups": []string{""}}},
		{"bad attribute key", "attributes.a/b", map[string]any{"loginName": "alice", "attributes": map[string]string{"a/b": "x"}}},
	} {
		if e := decodeAs[apiError](t, tc.name, s.call("PUT", users+"alice", admin, tc.body), 400); e.Field != tc.field {
			t.Errorf("%s: error %+v, want the field %q", tc.name, e, tc.field)
		}
		if after := s.call("GET", users+"alice", admin, nil); !bytes.Equal(after.body, before.body) {
			t.Fatalf("%s: the refused update changed the user:\n%s", tc.name, after.body)
		}
	}
	plain := decodeAs[map[string]json.RawMessage](t, "replace alice", s.call("PUT", users+"alice", admin, map[string]any{"loginName": "alice"}), 200)
	if string(plain["groups"]) != "[]" || string(plain["attributes"]) != "{}" {
		t.Fatalf("replaced alice: groups %s attributes %s", plain["groups"], plain["attributes"])
	}
}
