package e2e

import (
	"net/url"
	"testing"
)

// webTokens runs a sign-in for web with scope and redeems the code.
func (f *signinFixture) webTokens(t *testing.T, scope string) map[string]any {
	t.Helper()
	verifier, ch := pkce()
	code := f.codeFor(t, newBrowser(t), "web", scope, ch)
	return expect(t, "exchange", f.tokenForm("web", f.webSecret, codeExchange(code, verifier, f.callback)), 200)
}

func refreshGrant(rt, scope string) url.Values {
	v := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
	if scope != "" {
		v.Set("scope", scope)
	}
	return v
}

// active introspects tok as web.
func (f *signinFixture) active(t *testing.T, tok string) bool {
	t.Helper()
	in := expect(t, "introspect", f.s.form("/connect/introspect", "token="+url.QueryEscape(tok), "web", f.webSecret), 200)
	return in["active"] == true
}

// TestRevokeRefreshToken (RFC 7009 §2): revoking a refresh token at /connect/revocation ends its family: the
// refresh grant fails invalid_grant and the access tokens issued from it introspect inactive. Another client
// gets unauthorized_client and changes nothing; token_type_hint is only a hint; unknown tokens answer 200.
func TestRevokeRefreshToken(t *testing.T) {
	f := newSigninFixture(t)
	tok := f.webTokens(t, "openid offline_access")
	rt, at := tok["refresh_token"].(string), tok["access_token"].(string)
	revoke := func(what, client, secret, token, hint string, status int, code ...string) {
		t.Helper()
		v := url.Values{"token": {token}}
		if hint != "" {
			v.Set("token_type_hint", hint)
		}
		expect(t, what, f.s.form("/connect/revocation", v.Encode(), client, secret), status, code...)
	}
	revoke("another client's refresh token", "legacy", f.ropcSecret, rt, "refresh_token", 400, "unauthorized_client")
	if !f.active(t, at) {
		t.Fatal("a refused revocation ended the family")
	}
	// A rotation keeps the family: revoking the newest refresh token ends the older access tokens too.
	r1 := expect(t, "refresh", f.tokenForm("web", f.webSecret, refreshGrant(rt, "")), 200)
	rt1, at1 := r1["refresh_token"].(string), r1["access_token"].(string)
	revoke("refresh token with a wrong hint", "web", f.webSecret, rt1, "access_token", 200)
	expect(t, "refresh after revocation", f.tokenForm("web", f.webSecret, refreshGrant(rt1, "")), 400, "invalid_grant")
	if f.active(t, at) || f.active(t, at1) {
		t.Fatal("access tokens of a revoked refresh token are still active")
	}
	revoke("already revoked", "web", f.webSecret, rt1, "refresh_token", 200)
	revoke("unknown token", "web", f.webSecret, "no-such-token", "refresh_token", 200)

	// Another family of the same user and client is untouched, and the hint refresh_token still finds an
	// access token.
	other := f.webTokens(t, "openid offline_access")
	revoke("access token with the refresh hint", "web", f.webSecret, other["access_token"].(string), "refresh_token", 200)
	if f.active(t, other["access_token"].(string)) {
		t.Fatal("access token revoked with token_type_hint=refresh_token is still active")
	}
	expect(t, "other family refreshes", f.tokenForm("web", f.webSecret, refreshGrant(other["refresh_token"].(string), "")), 200)
}

// TestRefreshWithNarrowerScope (RFC 6749 §6): a refresh asking for a narrower scope without offline_access
// still gets the rotated refresh token, which keeps the family's granted scopes as the ceiling; the family
// is not revoked as a reuse.
func TestRefreshWithNarrowerScope(t *testing.T) {
	f := newSigninFixture(t)
	tok := f.webTokens(t, "openid profile offline_access")
	r1 := expect(t, "narrowed refresh", f.tokenForm("web", f.webSecret, refreshGrant(tok["refresh_token"].(string), "openid")), 200)
	rt1, _ := r1["refresh_token"].(string)
	if r1["scope"] != "openid" || rt1 == "" {
		t.Fatalf("narrowed refresh answered scope %v, refresh token %t; want scope openid and a refresh token", r1["scope"], rt1 != "")
	}
	r2 := expect(t, "refresh with the rotated token", f.tokenForm("web", f.webSecret, refreshGrant(rt1, "")), 200)
	if r2["scope"] != "openid profile offline_access" || r2["refresh_token"] == nil {
		t.Fatalf("second refresh answered scope %v, refresh token %t; want the family's full scope", r2["scope"], r2["refresh_token"] != nil)
	}
	if !f.active(t, r1["access_token"].(string)) || !f.active(t, r2["access_token"].(string)) {
		t.Fatal("the family was revoked")
	}
	expect(t, "wider than the family", f.tokenForm("web", f.webSecret, refreshGrant(r2["refresh_token"].(string), "openid email")), 400, "invalid_scope")
}
