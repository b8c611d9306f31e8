package e2e

import (
	"bytes"
	"context"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// TestPasskeyBrowser drives Chromium with a virtual platform authenticator (CDP WebAuthn domain) through
// the whole passkey life: alice enrols a passkey on /account (a discoverable credential for the issuer's
// host, her user id as user handle); in a fresh browser session she signs in to spa with her password and
// the passkey as second factor; then, the tenant allowing it, with the passkey alone. Each time spa
// redeems the code with x/oauth2 and go-oidc verifies the ID token, whose amr says how she signed in
// (RFC 8176: pwd, hwk, user, mfa) and whose acr is urn:authsuite:acr:mfa.
func TestPasskeyBrowser(t *testing.T) {
	chromium(t)
	s := startLocalhostSuite(t)
	f := signinFixtureOn(t, s)
	// The tenant allows password-less passkey sign-in (a second factor stays optional).
	expect(t, "tenant policy", s.call("PUT", "/api/adminapi2/v1/tenants/"+f.tenantID, f.adminToken, map[string]any{
		"code": "acme", "name": "Acme", "mfaPolicy": map[string]any{"passwordless": true},
	}), 200)
	s.sync()
	b := (&consoleFixture{t: t, s: s, adminToken: f.adminToken}).browser()
	auth := virtualAuthenticator(t, b)

	// Enrol on the account page.
	b.open("/account")
	b.fill("#tenant", "acme")
	b.submit("#continue", "#login")
	b.fill("#username", "alice")
	b.fill("#password", alicePassword)
	b.submit("#submit", "#profile")
	b.wait("#passkey-none")
	b.submit("#add-passkey", "#passkey-create")
	b.fill("#passkey-name", "Laptop")
	b.submit("#passkey-create-button", "#passkey-list")
	if got := b.text("#passkey-list"); !strings.Contains(got, "Laptop") {
		t.Fatalf("passkey list %q", got)
	}
	creds := authenticatorCredentials(t, b, auth)
	if len(creds) != 1 || !creds[0].IsResidentCredential || creds[0].RpID != "localhost" || !bytes.Equal(creds[0].UserHandle, []byte(f.aliceID)) {
		t.Fatalf("authenticator holds %+v", creds)
	}
	user := expect(t, "alice", s.call("GET", "/api/adminapi2/v1/tenants/"+f.tenantID+"/users/"+f.aliceID, f.adminToken, nil), 200)
	if n, _ := user["passkeyCount"].(float64); n != 1 {
		t.Errorf("passkeyCount %v", user["passkeyCount"])
	}

	// Sign out (a new browser session) and sign in to spa: password, then the passkey as second factor.
	signOutBrowser(t, b)
	authURL, verifier := spaAuthorizeAt(s.base, f.callback, "n-2fa")
	b.run("authorize", chromedp.Navigate(authURL), chromedp.WaitVisible(css("#login")))
	b.fill("#username", "alice")
	b.fill("#password", alicePassword)
	b.submit("#submit", "#passkey-button")
	start := time.Now()
	b.run("passkey second factor", chromedp.Click(css("#passkey-button")))
	landed := waitLanded(t, b, f.callback)
	t.Logf("passkey second factor, click to callback: %v", time.Since(start))
	amr, acr := spaClaims(t, s.base, f.callback, landed, verifier, "n-2fa")
	for _, m := range []string{"pwd", "hwk", "mfa"} {
		if !slices.Contains(amr, m) {
			t.Errorf("password + passkey: amr %v lacks %s", amr, m)
		}
	}
	if acr != "urn:authsuite:acr:mfa" {
		t.Errorf("password + passkey: acr %q", acr)
	}

	// Password-less: the login page's passkey button alone.
	signOutBrowser(t, b)
	authURL, verifier = spaAuthorizeAt(s.base, f.callback, "n-pwless")
	b.run("authorize", chromedp.Navigate(authURL), chromedp.WaitVisible(css("#passkey-login-button")))
	start = time.Now()
	b.run("passkey sign-in", chromedp.Click(css("#passkey-login-button")))
	landed = waitLanded(t, b, f.callback)
	t.Logf("password-less passkey sign-in, click to callback: %v", time.Since(start))
	amr, acr = spaClaims(t, s.base, f.callback, landed, verifier, "n-pwless")
	if !slices.Equal(amr, []string{"hwk", "user", "mfa"}) || acr != "urn:authsuite:acr:mfa" {
		t.Fatalf("password-less: amr %v acr %q, want [hwk user mfa] urn:authsuite:acr:mfa", amr, acr)
	}
	// The authenticator's counter moved on with each use.
	if c := authenticatorCredentials(t, b, auth); len(c) != 1 || c[0].SignCount < 2 {
		t.Errorf("after two sign-ins the credential is %+v", c)
	}

	// An authenticator that does not verify the user cannot sign in password-less: the login page comes
	// back with the reason, in the page's language, and a new passkey button.
	signOutBrowser(t, b)
	badUV := true
	if _, err := chromedp.Call(b.ctx, webauthn.SetResponseOverrideBits, webauthn.SetResponseOverrideBitsParams{AuthenticatorID: auth, IsBadUV: &badUV}); err != nil {
		t.Fatalf("WebAuthn.setResponseOverrideBits: %v", err)
	}
	authURL, _ = spaAuthorizeAt(s.base, f.callback, "n-bad")
	b.run("authorize", chromedp.Navigate(authURL), chromedp.WaitVisible(css("#passkey-login-button")))
	b.submit("#passkey-login-button", "#error")
	if got := b.text("#error"); !strings.Contains(got, "passkey could not sign you in") {
		t.Errorf("refused passkey: %q", got)
	}
	b.wait("#passkey-login-button")
	if loc, _ := b.location(); strings.HasPrefix(loc, f.callback) {
		t.Fatal("signed in without user verification")
	}
}

// signOutBrowser ends the browser's sessions the way closing it would: every cookie is dropped.
func signOutBrowser(t *testing.T, b *consoleBrowser) {
	t.Helper()
	if _, err := chromedp.Call(b.ctx, network.ClearBrowserCookies, cdp.Empty{}); err != nil {
		t.Fatalf("clear cookies: %v", err)
	}
}

// spaAuthorizeAt is an authorization request of spa (PKCE S256, nonce) at the issuer base, and its verifier.
func spaAuthorizeAt(base, callback, nonce string) (authURL, verifier string) {
	verifier = oauth2.GenerateVerifier()
	conf := oauth2.Config{ClientID: "spa", Endpoint: oauth2.Endpoint{AuthURL: base + "/connect/authorize"}, RedirectURL: callback,
		Scopes: []string{oidc.ScopeOpenID, "profile"}}
	return conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce)), verifier
}

// waitLanded waits until the browser is at the callback and answers its URL.
func waitLanded(t *testing.T, b *consoleBrowser, callback string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	landed, err := waitLocation(ctx, callback)
	if err != nil {
		text, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string]("document.body ? document.body.innerText : ''"))
		t.Fatalf("never reached the callback: %v (at %q, showing %q)", err, landed, clipText(text, 400))
	}
	return landed
}

// spaClaims redeems the code of a landing at spa's callback with x/oauth2 and verifies the ID token with
// go-oidc (issuer, audience, signature, nonce); it answers the token's amr and acr.
func spaClaims(t *testing.T, base, callback, landed, verifier, nonce string) ([]string, string) {
	t.Helper()
	u, err := url.Parse(landed)
	if err != nil || u.Query().Get("code") == "" {
		t.Fatalf("landed at %q", landed)
	}
	ctx := context.Background()
	provider, err := oidc.NewProvider(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	conf := oauth2.Config{ClientID: "spa", Endpoint: provider.Endpoint(), RedirectURL: callback, Scopes: []string{oidc.ScopeOpenID, "profile"}}
	tok, err := conf.Exchange(ctx, u.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("code exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := provider.Verifier(&oidc.Config{ClientID: "spa"}).Verify(ctx, raw)
	if err != nil {
		t.Fatalf("ID token: %v", err)
	}
	if idt.Nonce != nonce {
		t.Fatalf("nonce %q, want %q", idt.Nonce, nonce)
	}
	var c struct {
		AMR []string `json:"amr"`
		ACR string   `json:"acr"`
	}
	if err := idt.Claims(&c); err != nil {
		t.Fatal(err)
	}
	return c.AMR, c.ACR
}
