package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// jwtClaims decodes the claims of a compact JWS without checking it (the tests check what the server did
// with it, not the token).
func jwtClaims(t testing.TB, tok string, out any) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %q", tok)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil || json.Unmarshal(b, out) != nil {
		t.Fatalf("claims of %q: %v", tok, err)
	}
}

type idTokenSID struct {
	Issuer  string `json:"iss"`
	Subject string `json:"sub"`
	SID     string `json:"sid"`
}

type logoutTokenClaims struct {
	Issuer   string                     `json:"iss"`
	Audience string                     `json:"aud"`
	Subject  string                     `json:"sub"`
	SID      string                     `json:"sid"`
	Events   map[string]json.RawMessage `json:"events"`
}

// serverGet is a relying party's server calling the end-session endpoint: a plain client, no cookie, no
// redirects followed.
func serverGet(t testing.TB, u string) page {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return page{status: resp.StatusCode, location: resp.Header.Get("Location"), body: string(body), header: resp.Header}
}

// TestLogoutByServerWithHint is oauth2-proxy's backend logout: the relying party's server calls
// /connect/endsession?id_token_hint=… without the browser's cookie. The session the hint's sid names ends:
// the page says so, the back-channel receiver gets a logout token with that sid, and the browser's next
// authorization request asks for the password again. The same hint again ends nothing and says so.
func TestLogoutByServerWithHint(t *testing.T) {
	ctx := newChromium(t)
	f := newSigninFixture(t)
	rp := newFormPostRP(t, f)
	conf := rp.oauth2Config(f.s)
	verifier := oauth2.GenerateVerifier()
	// Signed in with the default query response mode: the callback is a GET with the code in its query.
	p := chromiumFormPostSignIn(t, ctx, rp, conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)))
	cb, _ := url.ParseQuery(p.rawQuery)
	tok, err := conf.Exchange(ctx, cb.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	rawID, _ := tok.Extra("id_token").(string)
	var idt idTokenSID
	jwtClaims(t, rawID, &idt)
	if idt.SID == "" {
		t.Fatalf("ID token without sid: %+v", idt)
	}

	endsession := f.s.base + "/connect/endsession?" + url.Values{"id_token_hint": {rawID}}.Encode()
	if r := serverGet(t, endsession); r.status != 200 || !strings.Contains(r.body, "You have been signed out") {
		t.Fatalf("server-side logout: %d %q %s", r.status, r.location, r.body)
	}
	select {
	case lt := <-rp.logouts:
		var c logoutTokenClaims
		jwtClaims(t, lt, &c)
		if c.SID != idt.SID || c.Subject != idt.Subject || c.Audience != rp.clientID || c.Issuer != f.s.base ||
			c.Events["http://schemas.openid.net/event/backchannel-logout"] == nil {
			t.Fatalf("logout token claims %+v, want sid %q", c, idt.SID)
		}
	case <-ctx.Done():
		t.Fatal("no back-channel logout token")
	}
	// The browser still holds its cookie, but its session is gone: the password is asked again.
	if err := chromedp.Do(ctx, chromedp.Navigate(conf.AuthCodeURL("st2", oauth2.S256ChallengeOption(verifier))), chromedp.WaitVisible("#login")); err != nil {
		t.Fatalf("after the server-side logout the browser was not asked to sign in: %v", err)
	}
	// Nothing left to end: the page says so, and a registered post_logout_redirect_uri is still honoured.
	if r := serverGet(t, endsession); r.status != 200 || strings.Contains(r.body, "You have been signed out") || !strings.Contains(r.body, "not signed in") {
		t.Fatalf("second logout with the same hint: %d %s", r.status, r.body)
	}
	q := url.Values{"id_token_hint": {rawID}, "post_logout_redirect_uri": {rp.srv.URL + "/bye"}, "state": {"s-1"}}
	if r := serverGet(t, f.s.base+"/connect/endsession?"+q.Encode()); r.status != 302 || r.location != rp.srv.URL+"/bye?state=s-1" {
		t.Fatalf("redirect after logout: %d %q", r.status, r.location)
	}
}

// TestLogoutHintInvalidEndsNothing: a hint that is not an ID token of this issuer (forged signature, another
// issuer's key, an access token, garbage) is 400 invalid_request on an error page and ends no session, with
// or without the browser's cookie; no back-channel logout goes out.
func TestLogoutHintInvalidEndsNothing(t *testing.T) {
	f := newSigninFixture(t)
	b := newBrowser(t)
	ctx := context.Background()
	provider, err := oidc.NewProvider(ctx, f.s.base)
	if err != nil {
		t.Fatal(err)
	}
	verifier := oauth2.GenerateVerifier()
	conf := oauth2.Config{ClientID: "web", ClientSecret: f.webSecret, Endpoint: provider.Endpoint(), RedirectURL: f.callback, Scopes: []string{oidc.ScopeOpenID}}
	p := b.login(f.s.base, b.get(conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier))), "alice", alicePassword)
	p = b.consent(f.s.base, p, true, false)
	tok, err := conf.Exchange(ctx, redirectParams(t, p, f.callback).Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	rawID := tok.Extra("id_token").(string)
	var idt idTokenSID
	jwtClaims(t, rawID, &idt)

	parts := strings.Split(rawID, ".")
	sig := []byte(parts[2])
	if i := len(sig) / 2; sig[i] == 'A' {
		sig[i] = 'B'
	} else {
		sig[i] = 'A'
	}
	header, _ := base64.RawURLEncoding.DecodeString(parts[0])
	hints := map[string]string{
		"forged signature": parts[0] + "." + parts[1] + "." + string(sig),
		"other issuer":     otherIssuerToken(t, header, map[string]any{"iss": "https://other.example", "sub": idt.Subject, "aud": "web", "sid": idt.SID, "exp": 4102444800}),
		"other key":        otherIssuerToken(t, header, map[string]any{"iss": f.s.base, "sub": idt.Subject, "aud": "web", "sid": idt.SID, "exp": 4102444800}),
		"access token":     tok.AccessToken,
		"garbage":          "not-a-jwt",
		"alg none":         base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + ".",
	}
	for what, hint := range hints {
		u := f.s.base + "/connect/endsession?" + url.Values{"id_token_hint": {hint}}.Encode()
		for who, get := range map[string]func(string) page{"server": func(u string) page { return serverGet(t, u) }, "browser": b.get} {
			r := get(u)
			if r.status != 400 || r.location != "" || !strings.Contains(r.body, "invalid_request") {
				t.Fatalf("%s hint from the %s: %d %q %s", what, who, r.status, r.location, r.body)
			}
			if !f.signedIn(t, b) {
				t.Fatalf("%s hint from the %s ended the session", what, who)
			}
		}
	}
	if n := len(f.logoutTokens()); n != 0 {
		t.Fatalf("%d back-channel logout tokens sent for invalid hints", n)
	}
	// The genuine hint, to show the checks above could fail: it ends the session.
	if r := serverGet(t, f.s.base+"/connect/endsession?"+url.Values{"id_token_hint": {rawID}}.Encode()); r.status != 200 || f.signedIn(t, b) {
		t.Fatalf("genuine hint: %d %s", r.status, r.body)
	}
}

// otherIssuerToken signs claims with a fresh ES256 key under the given JOSE header (so it names the
// suite's key id): a token the suite never issued.
func otherIssuerToken(t testing.TB, header []byte, claims map[string]any) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	if err := json.Unmarshal(header, &h); err != nil {
		t.Fatal(err)
	}
	h["alg"] = "ES256"
	hb, _ := json.Marshal(h)
	cb, _ := json.Marshal(claims)
	input := base64.RawURLEncoding.EncodeToString(hb) + "." + base64.RawURLEncoding.EncodeToString(cb)
	sum := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, key, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}
