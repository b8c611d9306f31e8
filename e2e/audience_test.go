package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// accessTokenPayload is an access token's payload as a resource server decodes it; aud stays raw so its
// JSON type (a string for one audience, an array for several, RFC 7519 §4.1.3) can be checked.
type accessTokenPayload struct {
	Aud    json.RawMessage `json:"aud"`
	Sub    string          `json:"sub"`
	Scope  string          `json:"scope"`
	Exp    int64           `json:"exp"`
	Iat    int64           `json:"iat"`
	Roles  []string        `json:"roles"`
	Groups []string        `json:"groups"`
}

func decodePayload(t *testing.T, raw string) accessTokenPayload {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %q", raw)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var p accessTokenPayload
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatalf("typed decode of %s: %v", b, err)
	}
	return p
}

// audString and audArray decode aud as exactly a string or exactly an array.
func audString(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatalf("aud %s is not a string", raw)
	}
	return s
}

func audArray(t *testing.T, raw json.RawMessage) []string {
	t.Helper()
	var l []string
	if err := json.Unmarshal(raw, &l); err != nil {
		t.Fatalf("aud %s is not an array of strings", raw)
	}
	return l
}

// TestAudiencesThroughREST: an API resource created through the admin API makes the audience of the
// tokens issued for its scopes (RFC 8707): client_credentials with and without resource, an unknown
// resource refused with invalid_target, introspection answering aud by its JSON type and honouring an
// expected audience, the admin API refusing a token meant only for the resource; and a code flow whose ID
// token go-oidc verifies, carrying the user's roles and groups, which userinfo answers too.
func TestAudiencesThroughREST(t *testing.T) {
	f := newSigninFixture(t)
	s := f.s
	ctx := context.Background()
	base := "/api/adminapi2/v1/tenants/" + f.tenantID
	const orders = "https://orders.internal"
	expect(t, "resource", s.call("POST", base+"/resources/", f.adminToken, map[string]any{
		"resourceId": orders, "displayName": "Orders", "scopes": []string{"orders.read"}, "accessTokenLifetime": 300,
	}), 201)
	expect(t, "service client", s.call("POST", base+"/clients/", f.adminToken, map[string]any{
		"clientId": "reporter", "allowedGrantTypes": []string{"client_credentials"}, "allowedScopes": []string{"orders.read", "reports"},
	}), 201)
	secret := expect(t, "service secret", s.call("POST", base+"/clients/reporter/secrets/", f.adminToken, map[string]any{}), 201)["value"].(string)

	token := func(body string, status int, code ...string) map[string]any {
		t.Helper()
		return expect(t, "token "+body, s.form("/connect/token", "grant_type=client_credentials&"+body, "reporter", secret), status, code...)
	}
	// Only the resource's scope: aud is the resource, as a string; the resource's lifetime applies.
	r := token("scope=orders.read", 200)
	p := decodePayload(t, r["access_token"].(string))
	if audString(t, p.Aud) != orders || p.Exp-p.Iat != 300 || r["expires_in"] != float64(300) {
		t.Fatalf("orders.read token: aud %s, lifetime %d, %v", p.Aud, p.Exp-p.Iat, r["expires_in"])
	}
	ordersOnly := r["access_token"].(string)
	// An issuer scope too: aud is an array of the resource and the issuer.
	p = decodePayload(t, token("scope=orders.read+reports", 200)["access_token"].(string))
	if got := audArray(t, p.Aud); !slices.Equal(got, []string{orders, s.base}) {
		t.Fatalf("aud %v", got)
	}
	// With resource: the client's scopes of that resource.
	r = token("resource="+url.QueryEscape(orders), 200)
	p = decodePayload(t, r["access_token"].(string))
	if audString(t, p.Aud) != orders || p.Scope != "orders.read" {
		t.Fatalf("resource token: aud %s scope %q", p.Aud, p.Scope)
	}
	token("resource="+url.QueryEscape("https://unknown.internal"), 400, "invalid_target")
	token("resource=orders", 400, "invalid_target")
	token("resource="+url.QueryEscape(orders)+"&scope=reports+orders.read+unknown", 400, "invalid_scope")

	// Introspection: aud a string; with an expected audience, active only when the token names it.
	intro := func(extra string) map[string]any {
		t.Helper()
		return expect(t, "introspect", s.form("/connect/introspect", "token="+url.QueryEscape(ordersOnly)+extra, "reporter", secret), 200)
	}
	if in := intro(""); in["active"] != true || in["aud"] != orders {
		t.Fatalf("introspection %v", in)
	} else if _, ok := in["audiences"]; ok {
		t.Fatalf("introspection has an audiences member: %v", in)
	}
	if in := intro("&audience=" + url.QueryEscape(orders)); in["active"] != true {
		t.Fatalf("introspection for orders %v", in)
	}
	if in := intro("&audience=" + url.QueryEscape("https://other.internal")); len(in) != 1 || in["active"] != false {
		t.Fatalf("introspection for another audience %v", in)
	}
	// The admin API is authsuite's own: a token meant only for orders is refused there.
	if r := s.call("GET", base+"/resources/", ordersOnly, nil); r.status != http.StatusUnauthorized {
		t.Fatalf("admin API with a resource-only token: %d %s", r.status, r.body)
	}

	// Code flow: carol has roles and groups; the ID token, verified by go-oidc, carries them.
	expect(t, "carol", s.call("POST", base+"/users/", f.adminToken, map[string]any{
		"loginName": "carol", "password": "carol-password-1", "roles": []string{"orders:buyer", "auditor"}, "groups": []string{"emea", "sales"},
	}), 201)
	expect(t, "roles client", s.call("POST", base+"/clients/", f.adminToken, map[string]any{
		"clientId": "shop", "allowedGrantTypes": []string{"authorization_code"}, "redirectUris": []string{f.callback},
		"allowedScopes": []string{"openid", "roles", "groups", "orders.read"},
	}), 201)
	shopSecret := expect(t, "shop secret", s.call("POST", base+"/clients/shop/secrets/", f.adminToken, map[string]any{}), 201)["value"].(string)
	provider, err := oidc.NewProvider(ctx, s.base)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	conf := oauth2.Config{ClientID: "shop", ClientSecret: shopSecret, Endpoint: provider.Endpoint(), RedirectURL: f.callback,
		Scopes: []string{oidc.ScopeOpenID, "roles", "groups", "orders.read"}}
	verifier := oauth2.GenerateVerifier()
	b := newBrowser(t)
	pg := b.get(conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier), oidc.Nonce("n-1"), oauth2.SetAuthURLParam("resource", orders)))
	pg = b.login(s.base, pg, "carol", "carol-password-1")
	q := redirectParams(t, pg, f.callback)
	tok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	idt, err := provider.Verifier(&oidc.Config{ClientID: "shop"}).Verify(ctx, tok.Extra("id_token").(string))
	if err != nil {
		t.Fatalf("go-oidc refused the ID token: %v", err)
	}
	var claims struct {
		Roles  []string `json:"roles"`
		Groups []string `json:"groups"`
	}
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(claims.Roles, []string{"orders:buyer", "auditor"}) || !slices.Equal(claims.Groups, []string{"emea", "sales"}) || idt.Nonce != "n-1" {
		t.Fatalf("ID token roles %v groups %v nonce %q", claims.Roles, claims.Groups, idt.Nonce)
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
		t.Fatalf("at_hash: %v", err)
	}
	p = decodePayload(t, tok.AccessToken)
	if got := audArray(t, p.Aud); !slices.Equal(got, []string{orders, s.base}) || !slices.Equal(p.Roles, claims.Roles) || !slices.Equal(p.Groups, claims.Groups) {
		t.Fatalf("access token aud %v roles %v groups %v", got, p.Roles, p.Groups)
	}
	verifyAccessToken(t, s, tok.AccessToken)
	// userinfo releases them by the same scopes, as JSON arrays.
	ui, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	var uc struct {
		Roles  []string `json:"roles"`
		Groups []string `json:"groups"`
	}
	if err := ui.Claims(&uc); err != nil || !slices.Equal(uc.Roles, claims.Roles) || !slices.Equal(uc.Groups, claims.Groups) {
		t.Fatalf("userinfo roles %v groups %v: %v", uc.Roles, uc.Groups, err)
	}
}
