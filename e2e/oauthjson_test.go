package e2e

import (
	"context"
	"encoding/json"
	"net/url"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// Typed views of every OAuth/OIDC JSON answer, as clients decode them: a 64-bit value written as a JSON
// string (protojson's default) fails to decode into these int64 fields.
type (
	typedToken struct {
		AccessToken  string `json:"access_token"`
		TokenType    string `json:"token_type"`
		ExpiresIn    int64  `json:"expires_in"`
		Scope        string `json:"scope"`
		RefreshToken string `json:"refresh_token"`
		IDToken      string `json:"id_token"`
	}
	typedError struct {
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description"`
	}
	// typedIntrospection is RFC 7662 §2.2.
	typedIntrospection struct {
		Active    bool   `json:"active"`
		Scope     string `json:"scope"`
		ClientID  string `json:"client_id"`
		TokenType string `json:"token_type"`
		Exp       int64  `json:"exp"`
		Iat       int64  `json:"iat"`
		Sub       string `json:"sub"`
		Iss       string `json:"iss"`
	}
	// typedUserInfo is OIDC Core §5.1.
	typedUserInfo struct {
		Sub                 string `json:"sub"`
		Name                string `json:"name"`
		PreferredUsername   string `json:"preferred_username"`
		UpdatedAt           int64  `json:"updated_at"`
		Email               string `json:"email"`
		EmailVerified       bool   `json:"email_verified"`
		PhoneNumber         string `json:"phone_number"`
		PhoneNumberVerified bool   `json:"phone_number_verified"`
	}
	typedDiscovery struct {
		Issuer                string   `json:"issuer"`
		TokenEndpoint         string   `json:"token_endpoint"`
		IntrospectionEndpoint string   `json:"introspection_endpoint"`
		UserinfoEndpoint      string   `json:"userinfo_endpoint"`
		JwksURI               string   `json:"jwks_uri"`
		ScopesSupported       []string `json:"scopes_supported"`
		ClaimsSupported       []string `json:"claims_supported"`
		BackchannelLogout     bool     `json:"backchannel_logout_supported"`
	}
	typedJWKS struct {
		Keys []struct {
			Kty string `json:"kty"`
			Kid string `json:"kid"`
			Use string `json:"use"`
			Alg string `json:"alg"`
		} `json:"keys"`
	}
)

// decodeTyped decodes an answer into its typed view, failing on any type mismatch.
func decodeTyped(t *testing.T, what string, r response, status int, v any) {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: status %d, want %d: %s", what, r.status, status, r.body)
	}
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("%s: %s does not decode into %T: %v", what, r.body, v, err)
	}
}

// TestOAuthJSONTyped decodes every OAuth/OIDC JSON answer into typed structs: token, token error,
// introspection of active and inactive access and refresh tokens, userinfo (also through go-oidc's typed
// UserInfo), discovery and JWKS. exp, iat and updated_at must be JSON numbers (RFC 7662 §2.2, OIDC Core
// §5.1), and email_verified / phone_number_verified, in userinfo and the ID token, follow the user's
// emailVerified / phoneVerified.
func TestOAuthJSONTyped(t *testing.T) {
	f := newSigninFixture(t)
	s := f.s
	tenantPath := "/api/adminapi2/v1/tenants/" + f.tenantID

	// A password-grant client with every user scope, and alice's addresses marked verified.
	expect(t, "client", s.call("POST", tenantPath+"/clients/", f.adminToken, map[string]any{
		"clientId": "typed", "allowRopc": true, "allowOfflineAccess": true, "allowedGrantTypes": []string{"password", "refresh_token"},
		"allowedScopes": []string{"openid", "profile", "email", "phone", "offline_access"},
	}), 201)
	secret := expect(t, "secret", s.call("POST", tenantPath+"/clients/typed/secrets/", f.adminToken, map[string]any{}), 201)["value"].(string)
	expect(t, "verify alice", s.call("PUT", tenantPath+"/users/"+f.aliceID, f.adminToken, map[string]any{
		"loginName": "alice", "email": "alice@acme.example", "mobile": "+15550100", "displayName": "Alice Liddell",
		"emailVerified": true, "phoneVerified": true,
	}), 200)

	ctx := context.Background()
	provider, err := oidc.NewProvider(ctx, s.base)
	if err != nil {
		t.Fatal(err)
	}
	verifier := provider.Verifier(&oidc.Config{ClientID: "typed"})
	// The ID token's address claims come from the token service's account view, which the registry's change
	// feed updates just after the PUT above; the request carries the PUT's revision (the suite's barrier).
	var tok typedToken
	var idc struct {
		Email               string `json:"email"`
		EmailVerified       bool   `json:"email_verified"`
		PhoneNumber         string `json:"phone_number"`
		PhoneNumberVerified bool   `json:"phone_number_verified"`
	}
	r := s.form("/connect/token", "grant_type=password&scope=openid+profile+email+phone+offline_access&username=alice&password="+url.QueryEscape(alicePassword), "typed", secret)
	decodeTyped(t, "token", r, 200, &tok)
	idt, err := verifier.Verify(ctx, tok.IDToken)
	if err != nil {
		t.Fatalf("ID token: %v", err)
	}
	if err := idt.Claims(&idc); err != nil {
		t.Fatalf("ID token claims: %v", err)
	}
	if !idc.EmailVerified || !idc.PhoneNumberVerified {
		t.Fatalf("ID token without the verified addresses: %+v", idc)
	}
	if tok.TokenType != "Bearer" || tok.ExpiresIn <= 0 || tok.RefreshToken == "" || tok.IDToken == "" {
		t.Fatalf("token answer %+v", tok)
	}
	if idc.Email != "alice@acme.example" || idc.PhoneNumber != "+15550100" {
		t.Fatalf("ID token address claims %+v", idc)
	}

	var te typedError
	decodeTyped(t, "token error", s.form("/connect/token", "grant_type=password&username=alice&password=wrong-password-1", "typed", secret), 400, &te)
	if te.Error != "invalid_grant" || te.ErrorDescription == "" {
		t.Fatalf("token error %+v", te)
	}

	introspect := func(what, token, hint string) typedIntrospection {
		t.Helper()
		var in typedIntrospection
		decodeTyped(t, what, s.form("/connect/introspect", "token="+url.QueryEscape(token)+"&token_type_hint="+hint, "typed", secret), 200, &in)
		return in
	}
	now := time.Now().Unix()
	if in := introspect("access token", tok.AccessToken, "access_token"); !in.Active || in.ClientID != "typed" || in.Sub != f.aliceID ||
		in.Exp < now || in.Iat > now+5 || in.Iat < now-60 || in.TokenType != "Bearer" {
		t.Fatalf("active access token: %+v", in)
	}
	for _, hint := range []string{"refresh_token", "access_token"} {
		if in := introspect("refresh token", tok.RefreshToken, hint); !in.Active || in.ClientID != "typed" || in.Sub != f.aliceID ||
			in.TokenType != "refresh_token" || in.Exp < now || in.Iat == 0 || in.Scope != "openid profile email phone offline_access" {
			t.Fatalf("active refresh token (hint %s): %+v", hint, in)
		}
	}
	if in := introspect("unknown token", "not-a-token", "refresh_token"); in.Active {
		t.Fatalf("unknown token: %+v", in)
	}

	// userinfo, by hand and through go-oidc's typed decode.
	var ui typedUserInfo
	req := s.call("GET", "/connect/userinfo", tok.AccessToken, nil)
	decodeTyped(t, "userinfo", req, 200, &ui)
	if ui.Sub != f.aliceID || ui.UpdatedAt < now-60 || !ui.EmailVerified || !ui.PhoneNumberVerified || ui.Email != "alice@acme.example" {
		t.Fatalf("userinfo %+v", ui)
	}
	info, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: tok.AccessToken}))
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		UpdatedAt           int64 `json:"updated_at"`
		EmailVerified       bool  `json:"email_verified"`
		PhoneNumberVerified bool  `json:"phone_number_verified"`
	}
	if err := info.Claims(&claims); err != nil {
		t.Fatalf("go-oidc typed userinfo claims: %v", err)
	}
	if claims.UpdatedAt != ui.UpdatedAt || !claims.EmailVerified || !claims.PhoneNumberVerified || !info.EmailVerified || info.Email != "alice@acme.example" {
		t.Fatalf("go-oidc userinfo %+v, claims %+v", info, claims)
	}

	// A new address without the flag is no longer verified (the flag was for the old one).
	expect(t, "new address", s.call("PUT", tenantPath+"/users/"+f.aliceID, f.adminToken, map[string]any{
		"loginName": "alice", "email": "alice@new.example", "mobile": "+15550100", "displayName": "Alice Liddell",
	}), 200)
	decodeTyped(t, "userinfo after the address changed", s.call("GET", "/connect/userinfo", tok.AccessToken, nil), 200, &ui)
	if ui.Email != "alice@new.example" || ui.EmailVerified || !ui.PhoneNumberVerified {
		t.Fatalf("userinfo after the e-mail address changed: %+v", ui)
	}

	// Revoked: both kinds are inactive.
	if r := s.form("/connect/revocation", "token="+url.QueryEscape(tok.RefreshToken), "typed", secret); r.status != 200 {
		t.Fatalf("revocation: %d %s", r.status, r.body)
	}
	for _, kind := range []struct{ what, token string }{{"revoked refresh token", tok.RefreshToken}, {"access token of a revoked family", tok.AccessToken}} {
		if in := introspect(kind.what, kind.token, ""); in.Active || in.ClientID != "" || in.Exp != 0 {
			t.Fatalf("%s: %+v", kind.what, in)
		}
	}

	var d typedDiscovery
	decodeTyped(t, "discovery", s.call("GET", "/.well-known/openid-configuration", "", nil), 200, &d)
	if d.Issuer != s.base || d.IntrospectionEndpoint == "" || d.JwksURI == "" {
		t.Fatalf("discovery %+v", d)
	}
	var k typedJWKS
	decodeTyped(t, "jwks", s.call("GET", "/.well-known/openid-configuration/jwks", "", nil), 200, &k)
	if len(k.Keys) == 0 || k.Keys[0].Kid == "" || k.Keys[0].Use != "sig" {
		t.Fatalf("jwks %+v", k)
	}
}
