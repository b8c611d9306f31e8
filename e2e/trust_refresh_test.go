package e2e

import (
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
)

// tokenAnswer is a token endpoint answer (RFC 6749 §5.1), decoded with its JSON types.
type tokenAnswer struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	Scope        string `json:"scope"`
	RefreshToken string `json:"refresh_token"`
	IDToken      string `json:"id_token"`
	Error        string `json:"error"`
}

func decodeToken(t testing.TB, what string, r response, status int) tokenAnswer {
	t.Helper()
	var a tokenAnswer
	if err := json.Unmarshal(r.body, &a); err != nil {
		t.Fatalf("%s: body %q: %v", what, r.body, err)
	}
	if r.status != status {
		t.Fatalf("%s: status %d, want %d; body %s", what, r.status, status, r.body)
	}
	return a
}

// legacyTokens signs alice in through legacy's password grant with scope.
func (f *signinFixture) legacyTokens(t testing.TB, scope string) tokenAnswer {
	t.Helper()
	v := url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {alicePassword}, "scope": {scope}}
	return decodeToken(t, "password grant", f.tokenForm("legacy", f.ropcSecret, v), 200)
}

// putLegacy replaces legacy's registration with the fixture's, changed by mod, and checks with probe that
// the token service applies it: probe's requests carry the update's revision (the suite's barrier).
func (f *signinFixture) putLegacy(t testing.TB, mod func(map[string]any), probe func() bool) {
	t.Helper()
	body := map[string]any{
		"clientId": "legacy", "allowRopc": true, "allowOfflineAccess": true, "allowedGrantTypes": []string{"password", "refresh_token"},
		"allowedScopes": []string{"openid", "profile", "offline_access"},
	}
	mod(body)
	expect(t, "update legacy", f.s.call("PUT", "/api/adminapi2/v1/tenants/"+f.tenantID+"/clients/legacy", f.adminToken, body), 200)
	if !probe() {
		t.Fatal("the token service does not apply legacy's change")
	}
}

// scopeRefused probes whether a password grant for scope is now refused as invalid_scope (checked before
// any password, so it changes nothing).
func (f *signinFixture) scopeRefused(scope string) bool {
	v := url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"x"}, "scope": {scope}}
	r := f.tokenForm("legacy", f.ropcSecret, v)
	return r.status == 400 && strings.Contains(string(r.body), `"invalid_scope"`)
}

// TestRefreshFollowsClient (RFC 6749 §6): a refresh is checked against the client as it is
// now. A scope removed from the client leaves the family's next tokens (and stays removed when the scope
// comes back); asking for it is invalid_scope and changes nothing; without offline_access the family cannot
// refresh (invalid_grant); without the refresh_token grant the client cannot refresh (unauthorized_client)
// nor gets new refresh tokens. A refused refresh leaves the token usable.
func TestRefreshFollowsClient(t *testing.T) {
	f := newSigninFixture(t)
	tok := f.legacyTokens(t, "openid profile offline_access")
	if tok.RefreshToken == "" || tok.Scope != "openid profile offline_access" {
		t.Fatalf("password grant: %+v", tok)
	}
	refresh := func(what, rt, scope string, status int) tokenAnswer {
		t.Helper()
		return decodeToken(t, what, f.tokenForm("legacy", f.ropcSecret, refreshGrant(rt, scope)), status)
	}

	f.putLegacy(t, func(c map[string]any) { c["allowedScopes"] = []string{"openid", "offline_access"} },
		func() bool { return f.scopeRefused("profile") })
	r1 := refresh("refresh after profile was removed", tok.RefreshToken, "", 200)
	if r1.Scope != "openid offline_access" || r1.RefreshToken == "" {
		t.Fatalf("refresh after profile was removed: scope %q, refresh token %t; want openid offline_access", r1.Scope, r1.RefreshToken != "")
	}
	if claims := verifyAccessToken(t, f.s, r1.AccessToken); slices.Contains(strings.Fields(claims["scope"].(string)), "profile") {
		t.Fatalf("access token still carries profile: %v", claims["scope"])
	}
	if e := refresh("asking for the removed scope", r1.RefreshToken, "openid profile", 400); e.Error != "invalid_scope" {
		t.Fatalf("asking for the removed scope: error %q, want invalid_scope", e.Error)
	}
	if e := refresh("asking for a scope never granted", r1.RefreshToken, "email", 400); e.Error != "invalid_scope" {
		t.Fatalf("asking for a scope never granted: error %q, want invalid_scope", e.Error)
	}

	f.putLegacy(t, func(map[string]any) {}, func() bool { return !f.scopeRefused("profile") })
	r2 := refresh("refresh after profile came back", r1.RefreshToken, "", 200)
	if r2.Scope != "openid offline_access" {
		t.Fatalf("a scope given back to the client came back to an old family: %q", r2.Scope)
	}

	f.putLegacy(t, func(c map[string]any) { c["allowedScopes"] = []string{"openid", "profile"} },
		func() bool { return f.scopeRefused("offline_access") })
	if e := refresh("refresh without offline_access", r2.RefreshToken, "", 400); e.Error != "invalid_grant" {
		t.Fatalf("refresh after offline_access was removed: error %q, want invalid_grant", e.Error)
	}

	f.putLegacy(t, func(c map[string]any) { c["allowedGrantTypes"] = []string{"password"} }, func() bool {
		r := f.tokenForm("legacy", f.ropcSecret, refreshGrant("probe", ""))
		return strings.Contains(string(r.body), `"unauthorized_client"`)
	})
	if e := refresh("refresh without the grant", r2.RefreshToken, "", 400); e.Error != "unauthorized_client" {
		t.Fatalf("refresh after the refresh_token grant was removed: error %q, want unauthorized_client", e.Error)
	}
	if fresh := f.legacyTokens(t, "openid offline_access"); fresh.RefreshToken != "" {
		t.Fatal("a client without the refresh_token grant got a refresh token")
	}

	// Every refused refresh changed nothing: with the client restored, the family goes on.
	f.putLegacy(t, func(map[string]any) {}, func() bool {
		r := f.tokenForm("legacy", f.ropcSecret, refreshGrant("probe", ""))
		return strings.Contains(string(r.body), `"invalid_grant"`)
	})
	if r3 := refresh("refresh with the client restored", r2.RefreshToken, "", 200); r3.Scope != "openid offline_access" {
		t.Fatalf("refresh with the client restored: scope %q", r3.Scope)
	}
}

// TestRefreshRetryGetsSameSuccessor (RFC 9700 §4.14.2 with a retry window as Keycloak and
// Okta have): a client that lost a rotation's answer and presents the previous refresh token again gets the
// same successor, and the family lives on; concurrent presentations of one token all get that successor;
// an older token (the previous one's predecessor) is still a reuse that revokes the family.
func TestRefreshRetryGetsSameSuccessor(t *testing.T) {
	f := newSigninFixture(t)
	rt0 := f.legacyTokens(t, "openid offline_access").RefreshToken
	refresh := func(what, rt string, status int) tokenAnswer {
		t.Helper()
		return decodeToken(t, what, f.tokenForm("legacy", f.ropcSecret, refreshGrant(rt, "")), status)
	}
	r1 := refresh("first refresh (answer lost)", rt0, 200)
	retry := refresh("retry with the previous token", rt0, 200)
	if retry.RefreshToken != r1.RefreshToken || retry.AccessToken == "" || retry.Scope != "openid offline_access" {
		t.Fatalf("retry: refresh token same %t, scope %q", retry.RefreshToken == r1.RefreshToken, retry.Scope)
	}
	if !f.activeFor(t, "legacy", f.ropcSecret, r1.AccessToken) || !f.activeFor(t, "legacy", f.ropcSecret, retry.AccessToken) {
		t.Fatal("a retry revoked the family")
	}

	// Concurrent presentations of the current token: one rotation, everyone gets its successor.
	const n = 8
	answers := make([]response, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { answers[i] = f.tokenForm("legacy", f.ropcSecret, refreshGrant(r1.RefreshToken, "")) })
	}
	wg.Wait()
	var r2 string
	for i, a := range answers {
		got := decodeToken(t, "concurrent refresh", a, 200)
		if i == 0 {
			r2 = got.RefreshToken
		}
		if got.RefreshToken != r2 || r2 == "" || r2 == r1.RefreshToken {
			t.Fatalf("concurrent refreshes got different or no successors")
		}
	}

	// rt0 is two rotations back now: a reuse, which revokes the family.
	if e := refresh("a token older than the previous one", rt0, 400); e.Error != "invalid_grant" {
		t.Fatalf("older token: error %q, want invalid_grant", e.Error)
	}
	if e := refresh("the current token after the reuse", r2, 400); e.Error != "invalid_grant" {
		t.Fatalf("current token after a reuse: error %q, want invalid_grant", e.Error)
	}
	if f.activeFor(t, "legacy", f.ropcSecret, retry.AccessToken) {
		t.Fatal("access tokens of a revoked family are still active")
	}
}

// activeFor introspects tok as the client id.
func (f *signinFixture) activeFor(t testing.TB, id, secret, tok string) bool {
	t.Helper()
	var in struct {
		Active bool `json:"active"`
	}
	r := f.s.form("/connect/introspect", "token="+url.QueryEscape(tok), id, secret)
	if err := json.Unmarshal(r.body, &in); err != nil || r.status != 200 {
		t.Fatalf("introspect: status %d body %s", r.status, r.body)
	}
	return in.Active
}
