package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// TestOIDCWithStandardClients signs in with golang.org/x/oauth2 (PKCE) and verifies the ID token with
// github.com/coreos/go-oidc/v3 through discovery: login, consent (remembered), code exchange, ID token with
// nonce and at_hash, userinfo by scope, refresh with rotation, SSO for a second client, logout with a
// back-channel logout token.
func TestOIDCWithStandardClients(t *testing.T) {
	f := newSigninFixture(t)
	s := f.s
	ctx := context.Background()
	provider, err := oidc.NewProvider(ctx, s.base)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	var meta struct {
		EndSession string   `json:"end_session_endpoint"`
		Userinfo   string   `json:"userinfo_endpoint"`
		PKCE       []string `json:"code_challenge_methods_supported"`
		Grants     []string `json:"grant_types_supported"`
		BCL        bool     `json:"backchannel_logout_supported"`
	}
	provider.Claims(&meta)
	if meta.EndSession != s.base+"/connect/endsession" || meta.Userinfo != s.base+"/connect/userinfo" || !meta.BCL || len(meta.PKCE) != 1 {
		t.Fatalf("discovery: %+v", meta)
	}
	conf := oauth2.Config{
		ClientID: "web", ClientSecret: f.webSecret, Endpoint: provider.Endpoint(), RedirectURL: f.callback,
		Scopes: []string{oidc.ScopeOpenID, "profile", "email", oidc.ScopeOfflineAccess},
	}
	verifier := oauth2.GenerateVerifier()
	authURL := conf.AuthCodeURL("state-1", oauth2.S256ChallengeOption(verifier), oidc.Nonce("nonce-1"))

	b := newBrowser(t)
	start := time.Now()
	p := b.get(authURL)
	p = b.login(s.base, p, "alice", alicePassword)
	if !strings.Contains(p.body, "Remember my decision") || !strings.Contains(p.body, "offline_access") {
		t.Fatalf("consent page: %s", p.body)
	}
	p = b.consent(s.base, p, true, true)
	q := redirectParams(t, p, f.callback)
	if q.Get("state") != "state-1" || q.Get("iss") != s.base {
		t.Fatalf("callback parameters %v", q)
	}
	tok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	t.Logf("authorization-code round trip (authorize, login, consent, exchange): %v", time.Since(start))
	if tok.RefreshToken == "" || tok.Extra("id_token") == nil {
		t.Fatalf("token response without refresh or ID token: %+v", tok)
	}
	rawID := tok.Extra("id_token").(string)
	idt, err := provider.Verifier(&oidc.Config{ClientID: "web"}).Verify(ctx, rawID)
	if err != nil {
		t.Fatalf("ID token: %v", err)
	}
	if idt.Nonce != "nonce-1" || idt.Subject != f.aliceID || idt.AccessTokenHash == "" {
		t.Fatalf("ID token claims: nonce %q sub %q at_hash %q", idt.Nonce, idt.Subject, idt.AccessTokenHash)
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
		t.Fatalf("at_hash: %v", err)
	}
	var claims struct {
		AuthTime int64  `json:"auth_time"`
		SID      string `json:"sid"`
	}
	idt.Claims(&claims)
	if claims.AuthTime == 0 || claims.SID == "" {
		t.Fatalf("ID token lacks auth_time or sid: %+v", claims)
	}
	at := verifyAccessToken(t, s, tok.AccessToken)
	if at["sub"] != f.aliceID || at["client_id"] != "web" || at["tenant"] != f.tenantID || at["auth_time"] == nil {
		t.Fatalf("access token claims %v", at)
	}

	// userinfo by scope: profile and email granted, phone not.
	ui, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	var uc map[string]any
	ui.Claims(&uc)
	if uc["sub"] != f.aliceID || uc["name"] != "Alice Liddell" || uc["preferred_username"] != "alice" || uc["email"] != "alice@acme.example" {
		t.Fatalf("userinfo %v", uc)
	}
	if _, ok := uc["phone_number"]; ok {
		t.Fatal("phone_number released without the phone scope")
	}

	// Refresh: rotated on every use.
	expired := &oauth2.Token{RefreshToken: tok.RefreshToken, Expiry: time.Now().Add(-time.Hour)}
	refreshed, err := conf.TokenSource(ctx, expired).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if refreshed.RefreshToken == "" || refreshed.RefreshToken == tok.RefreshToken || refreshed.AccessToken == tok.AccessToken {
		t.Fatal("refresh did not rotate")
	}

	// The remembered consent is honoured: a second sign-in of web goes straight back with a code.
	p = b.get(conf.AuthCodeURL("state-2", oauth2.S256ChallengeOption(verifier)))
	redirectParams(t, p, f.callback)

	// SSO: another client signs in without the password form.
	spa := oauth2.Config{ClientID: "spa", Endpoint: provider.Endpoint(), RedirectURL: f.callback, Scopes: []string{oidc.ScopeOpenID, "profile"}}
	v2 := oauth2.GenerateVerifier()
	p = b.get(spa.AuthCodeURL("s", oauth2.S256ChallengeOption(v2), oidc.Nonce("n2")))
	q = redirectParams(t, p, f.callback)
	spaTok, err := spa.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(v2))
	if err != nil {
		t.Fatalf("spa exchange: %v", err)
	}
	spaID, err := provider.Verifier(&oidc.Config{ClientID: "spa"}).Verify(ctx, spaTok.Extra("id_token").(string))
	if err != nil || spaID.Subject != f.aliceID {
		t.Fatalf("spa ID token: %v", err)
	}
	var spaClaims struct {
		SID string `json:"sid"`
	}
	spaID.Claims(&spaClaims)
	if spaClaims.SID != claims.SID {
		t.Fatal("the second client's ID token is not of the same session")
	}

	// RP-initiated logout: back to the registered URI with state, and web's back-channel gets a logout token.
	p = b.get(s.base + "/connect/endsession?" + url.Values{
		"id_token_hint": {rawID}, "post_logout_redirect_uri": {f.rp.URL + "/bye"}, "state": {"bye-state"},
	}.Encode())
	if q := redirectParams(t, p, f.rp.URL+"/bye"); q.Get("state") != "bye-state" {
		t.Fatalf("logout redirect %q", p.location)
	}
	eventually(t, 5*time.Second, "back-channel logout token", func() bool { return len(f.logoutTokens()) == 1 })
	checkLogoutToken(t, s, f.logoutTokens()[0], claims.SID, f.aliceID)
	// The session is gone: prompt=none answers login_required.
	p = b.get(spa.AuthCodeURL("s3", oauth2.S256ChallengeOption(v2), oauth2.SetAuthURLParam("prompt", "none")))
	if q := redirectParams(t, p, f.callback); q.Get("error") != "login_required" || q.Get("state") != "s3" {
		t.Fatalf("after logout: %v", q)
	}
}

// checkLogoutToken verifies a logout token (Back-Channel Logout 1.0 §2.4, §2.6) with go-oidc's key set.
func checkLogoutToken(t *testing.T, s *suite, raw, sid, sub string) {
	t.Helper()
	ctx := context.Background()
	payload, err := oidc.NewRemoteKeySet(ctx, s.base+"/.well-known/openid-configuration/jwks").VerifySignature(ctx, raw)
	if err != nil {
		t.Fatalf("logout token signature: %v", err)
	}
	var c struct {
		Iss, Aud, Sub, Sid, Jti string
		Iat, Exp                int64
		Events                  map[string]map[string]any
		Nonce                   *string
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	if c.Iss != s.base || c.Aud != "web" || c.Sid != sid || c.Sub != sub || c.Jti == "" || c.Iat == 0 || c.Exp <= c.Iat || c.Nonce != nil {
		t.Fatalf("logout token claims %+v", c)
	}
	if _, ok := c.Events["http://schemas.openid.net/event/backchannel-logout"]; !ok {
		t.Fatalf("logout token events %v", c.Events)
	}
	hdr, _ := jsonSegment(raw, 0)
	if hdr["typ"] != "logout+jwt" {
		t.Fatalf("logout token typ %v", hdr["typ"])
	}
}

func jsonSegment(raw string, i int) (map[string]any, error) {
	parts := strings.Split(raw, ".")
	b, err := base64URLDecode(parts[i])
	if err != nil {
		return nil, err
	}
	var m map[string]any
	return m, json.Unmarshal(b, &m)
}

// TestCORS checks that only allowedCorsOrigins get CORS headers on the token, userinfo and discovery endpoints.
func TestCORS(t *testing.T) {
	f := newSigninFixture(t)
	for _, path := range []string{"/connect/token", "/connect/userinfo", "/.well-known/openid-configuration"} {
		req, _ := http.NewRequest(http.MethodOptions, f.s.base+path, nil)
		req.Header.Set("Origin", "https://web.example")
		req.Header.Set("Access-Control-Request-Method", "POST")
		r := f.s.do(req)
		if r.status != 204 || r.header.Get("Access-Control-Allow-Origin") != "https://web.example" {
			t.Fatalf("preflight %s: %d %v", path, r.status, r.header)
		}
		req.Header.Set("Origin", "https://evil.example")
		if r := f.s.do(req); r.header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("foreign origin allowed on %s", path)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, f.s.base+"/.well-known/openid-configuration", nil)
	req.Header.Set("Origin", "https://web.example")
	if r := f.s.do(req); r.status != 200 || r.header.Get("Access-Control-Allow-Origin") != "https://web.example" {
		t.Fatalf("discovery GET: %d %v", r.status, r.header)
	}
}
