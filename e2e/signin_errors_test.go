package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// tokenForm posts a token request as client id with secret (HTTP Basic; body client_id when secret is "").
func (f *signinFixture) tokenForm(id, secret string, v url.Values) response {
	if secret == "" {
		v.Set("client_id", id)
		return f.s.form("/connect/token", v.Encode(), "", "")
	}
	return f.s.form("/connect/token", v.Encode(), id, secret)
}

func codeExchange(code, verifier, redirect string) url.Values {
	v := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}}
	if verifier != "" {
		v.Set("code_verifier", verifier)
	}
	return v
}

// TestAuthorizeErrors: a foreign redirect URI or unknown client is shown, never redirected; every other
// error is redirected with the exact RFC 6749 §4.1.2.1 / OIDC Core §3.1.2.6 code.
func TestAuthorizeErrors(t *testing.T) {
	f := newSigninFixture(t)
	s := f.s
	b := newBrowser(t)
	_, ch := pkce()
	page400 := func(what, u, code string) {
		t.Helper()
		p := b.get(u)
		if p.status != 400 || p.location != "" || !strings.Contains(p.body, code) {
			t.Fatalf("%s: status %d location %q body %s", what, p.status, p.location, p.body)
		}
		if p.header.Get("X-Frame-Options") != "DENY" || !strings.Contains(p.header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
			t.Fatalf("%s: page can be framed", what)
		}
	}
	page400("foreign redirect URI", strings.Replace(f.authorizeURL("web", "openid", "s", "", ch), url.QueryEscape(f.callback), url.QueryEscape("https://evil.example/cb"), 1), "invalid_request")
	page400("redirect URI prefix", strings.Replace(f.authorizeURL("web", "openid", "s", "", ch), url.QueryEscape(f.callback), url.QueryEscape(f.callback+"/more"), 1), "invalid_request")
	page400("unknown client", f.authorizeURL("ghost", "openid", "s", "", ch), "invalid_request")
	page400("no redirect URI", s.base+"/connect/authorize?response_type=code&client_id=web&scope=openid", "invalid_request")

	redirected := func(what, u, code string) {
		t.Helper()
		q := redirectParams(t, b.get(u), f.callback)
		if q.Get("error") != code || q.Get("state") != "s" || q.Get("code") != "" {
			t.Fatalf("%s: %v, want error %s", what, q, code)
		}
	}
	redirected("no PKCE", f.authorizeURL("web", "openid", "s", "", ""), "invalid_request")
	redirected("plain PKCE", f.authorizeURL("web", "openid", "s", "", "")+"&code_challenge="+ch+"&code_challenge_method=plain", "invalid_request")
	redirected("scope not allowed", f.authorizeURL("web", "openid admin", "s", "", ch), "invalid_scope")
	redirected("no scope", f.authorizeURL("web", "", "s", "", ch), "invalid_scope")
	redirected("offline_access not allowed", f.authorizeURL("spa", "openid offline_access", "s", "", ch), "invalid_scope")
	redirected("token response type", f.authorizeURL("web", "openid", "s", "", ch, "response_type", "token"), "unsupported_response_type")
	redirected("bad prompt", f.authorizeURL("web", "openid", "s", "", ch, "prompt", "none login"), "invalid_request")
	redirected("bad max_age", f.authorizeURL("web", "openid", "s", "", ch, "max_age", "-1"), "invalid_request")
	redirected("request object", f.authorizeURL("web", "openid", "s", "", ch, "request", "eyJ"), "request_not_supported")
	redirected("prompt=none without a session", f.authorizeURL("web", "openid", "s", "", ch, "prompt", "none"), "login_required")
	redirected("repeated parameter", f.authorizeURL("web", "openid", "s", "", ch)+"&scope=openid", "invalid_request")

	// POST works like GET (OIDC Core §3.1.2.1).
	p := b.post(s.base+"/connect/authorize", url.Values{"response_type": {"code"}, "client_id": {"web"}, "redirect_uri": {f.callback}, "scope": {"openid"}, "code_challenge": {ch}, "code_challenge_method": {"S256"}})
	if !p.isLogin() {
		t.Fatalf("POST authorize: %d %s", p.status, p.body)
	}
	// A forged CSRF token is refused, whatever the password.
	form := p.hidden(t)
	form.Set("csrf_token", "forged")
	form.Set("username", "alice")
	form.Set("password", alicePassword)
	if p := b.post(s.base+"/connect/login", form); p.status != http.StatusForbidden || p.location != "" {
		t.Fatalf("forged CSRF: %d %q", p.status, p.location)
	}
	// Consent denied: access_denied.
	p = b.login(s.base, b.get(f.authorizeURL("web", "openid", "s", "", ch)), "alice", alicePassword)
	if q := redirectParams(t, b.consent(s.base, p, false, false), f.callback); q.Get("error") != "access_denied" || q.Get("state") != "s" {
		t.Fatalf("denied: %v", q)
	}
	// With a session but no consent, prompt=none answers consent_required; prompt=login and max_age=0 ask
	// for the password again even though the session exists.
	redirected("prompt=none without consent", f.authorizeURL("web", "openid", "s", "", ch, "prompt", "none"), "consent_required")
	if p := b.get(f.authorizeURL("spa", "openid", "s", "", ch, "prompt", "login")); !p.isLogin() {
		t.Fatalf("prompt=login: %d %q", p.status, p.location)
	}
	if p := b.get(f.authorizeURL("spa", "openid", "s", "", ch, "max_age", "0")); !p.isLogin() {
		t.Fatalf("max_age=0: %d %q", p.status, p.location)
	}
	if p := b.get(f.authorizeURL("spa", "openid", "s", "", ch, "max_age", "3600")); p.isLogin() {
		t.Fatal("max_age=3600 asked for the password again")
	}
}

// TestCodeGrantErrors: wrong verifier, missing verifier, wrong redirect URI, another client, a replayed code
// (which also revokes what the first use issued), missing openid.
func TestCodeGrantErrors(t *testing.T) {
	f := newSigninFixture(t)
	b := newBrowser(t)
	verifier, ch := pkce()
	code := f.codeFor(t, b, "web", "openid offline_access", ch)

	expect(t, "wrong verifier", f.tokenForm("web", f.webSecret, codeExchange(code, strings.Repeat("w", 43), f.callback)), 400, "invalid_grant")
	expect(t, "malformed verifier", f.tokenForm("web", f.webSecret, codeExchange(code, "short", f.callback)), 400, "invalid_request")
	expect(t, "no verifier", f.tokenForm("web", f.webSecret, codeExchange(code, "", f.callback)), 400, "invalid_grant")
	expect(t, "other redirect URI", f.tokenForm("web", f.webSecret, codeExchange(code, verifier, f.callback+"x")), 400, "invalid_grant")
	expect(t, "other client", f.tokenForm("spa", "", codeExchange(code, verifier, f.callback)), 400, "invalid_grant")
	expect(t, "wrong secret", f.tokenForm("web", "nope", codeExchange(code, verifier, f.callback)), 401, "invalid_client")
	// Failed attempts do not burn the code: the right request still works, once.
	tok := expect(t, "exchange", f.tokenForm("web", f.webSecret, codeExchange(code, verifier, f.callback)), 200)
	at, rt := tok["access_token"].(string), tok["refresh_token"].(string)
	expect(t, "check before replay", f.s.call("GET", "/api/oauth2/server/tokens/check?token="+at, "", nil), 200)
	expect(t, "replayed code", f.tokenForm("web", f.webSecret, codeExchange(code, verifier, f.callback)), 400, "invalid_grant")
	expect(t, "access token after replay", f.s.call("GET", "/api/oauth2/server/tokens/check?token="+at, "", nil), 400, "invalid_token")
	expect(t, "refresh token after replay", f.tokenForm("web", f.webSecret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}), 400, "invalid_grant")
	f.s.restart() // the family revocation is durable
	expect(t, "access token after restart", f.s.call("GET", "/api/oauth2/server/tokens/check?token="+at, "", nil), 400, "invalid_token")

	// Without openid: a plain OAuth 2.0 token, no ID token, and userinfo refuses it.
	v2, ch2 := pkce()
	code = f.codeFor(t, newBrowser(t), "spa", "orders.read", ch2)
	tok = expect(t, "exchange without openid", f.tokenForm("spa", "", codeExchange(code, v2, f.callback)), 200)
	if _, ok := tok["id_token"]; ok {
		t.Fatal("an ID token without openid")
	}
	r := f.s.call("GET", "/connect/userinfo", tok["access_token"].(string), nil)
	expect(t, "userinfo without openid", r, 403, "insufficient_scope")
	if !strings.Contains(r.header.Get("WWW-Authenticate"), `error="insufficient_scope"`) {
		t.Fatalf("challenge %q", r.header.Get("WWW-Authenticate"))
	}
	expect(t, "userinfo with a client token", f.s.call("GET", "/connect/userinfo", f.adminToken, nil), 401, "invalid_token")
	expect(t, "userinfo without a token", f.s.call("GET", "/connect/userinfo", "", nil), 401, "invalid_token")

	// A client registered with allowNoPkce may omit PKCE; then sending a verifier is a downgrade attempt.
	code = f.codeFor(t, newBrowser(t), "nopkce", "openid", "")
	expect(t, "verifier without challenge", f.tokenForm("nopkce", f.nopkceSec, codeExchange(code, verifier, f.callback)), 400, "invalid_grant")
	expect(t, "no PKCE when allowed", f.tokenForm("nopkce", f.nopkceSec, codeExchange(code, "", f.callback)), 200)
}

// TestRefreshErrors: reuse of a rotated refresh token revokes the whole family (RFC 9700 §4.14.2),
// including the access tokens issued from it; another client cannot use it; a client without offline
// access gets no refresh token.
func TestRefreshErrors(t *testing.T) {
	f := newSigninFixture(t)
	verifier, ch := pkce()
	code := f.codeFor(t, newBrowser(t), "web", "openid offline_access", ch)
	tok := expect(t, "exchange", f.tokenForm("web", f.webSecret, codeExchange(code, verifier, f.callback)), 200)
	rt0 := tok["refresh_token"].(string)
	refresh := func(rt string) url.Values { return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}} }
	expect(t, "other client", f.tokenForm("legacy", f.ropcSecret, refresh(rt0)), 400, "invalid_grant")
	expect(t, "wider scope", f.tokenForm("web", f.webSecret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt0}, "scope": {"openid email"}}), 400, "invalid_scope")
	r1 := expect(t, "first refresh", f.tokenForm("web", f.webSecret, refresh(rt0)), 200)
	rt1 := r1["refresh_token"].(string)
	// Once rt1 has been used, rt0 is outside the retry grace (its successor is spent): reusing it is replay.
	r2 := expect(t, "second refresh", f.tokenForm("web", f.webSecret, refresh(rt1)), 200)
	rt2, at2 := r2["refresh_token"].(string), r2["access_token"].(string)
	expect(t, "reuse of a rotated token", f.tokenForm("web", f.webSecret, refresh(rt0)), 400, "invalid_grant")
	expect(t, "newest token after reuse", f.tokenForm("web", f.webSecret, refresh(rt2)), 400, "invalid_grant")
	expect(t, "access token after reuse", f.s.call("GET", "/api/oauth2/server/tokens/check?token="+at2, "", nil), 400, "invalid_token")
	expect(t, "unknown refresh token", f.tokenForm("web", f.webSecret, refresh("nope")), 400, "invalid_grant")
	expect(t, "spa may not refresh", f.tokenForm("spa", "", refresh(rt2)), 400, "unauthorized_client")
}

// TestLoginErrors: wrong password, disabled user, throttling to a lock with a clear message, and the
// password grant's rules.
func TestLoginErrors(t *testing.T) {
	f := newSigninFixture(t)
	s := f.s
	_, ch := pkce()
	b := newBrowser(t)
	p := b.get(f.authorizeURL("spa", "openid", "s", "", ch))
	p = b.login(s.base, p, "alice", "wrong-password")
	if !p.isLogin() || !strings.Contains(p.body, "The user name or password is not correct.") {
		t.Fatalf("wrong password: %s", p.body)
	}
	unknown := b.login(s.base, p, "nobody", "wrong-password")
	if !strings.Contains(unknown.body, "The user name or password is not correct.") {
		t.Fatalf("unknown user: %s", unknown.body)
	}
	p = b.login(s.base, unknown, "bob", "bob-password-123")
	if !p.isLogin() || !strings.Contains(p.body, "disabled") {
		t.Fatalf("disabled user: %s", p.body)
	}
	// Repeated failures for one account: first a wait, then a lock; even the right password is refused.
	for range 3 {
		p = b.login(s.base, p, "alice", "wrong-password")
	}
	if !strings.Contains(p.body, "Too many attempts") { // the page shows the catalogue text of login.throttled
		t.Fatalf("no throttling after 4 failures: %s", p.body)
	}
	p = b.login(s.base, p, "alice", alicePassword)
	if !p.isLogin() || !strings.Contains(p.body, "Wait") {
		t.Fatalf("the right password went through while throttled: %d %q", p.status, p.location)
	}

	// Password grant (allowRopc only).
	pw := func(id, secret, user, password string) response {
		return f.tokenForm(id, secret, url.Values{"grant_type": {"password"}, "username": {user}, "password": {password}, "scope": {"openid offline_access"}})
	}
	expect(t, "ropc disabled user", pw("legacy", f.ropcSecret, "bob", "bob-password-123"), 400, "invalid_grant")
	expect(t, "ropc not allowed", pw("web", f.webSecret, "alice", alicePassword), 400, "unauthorized_client")
	expect(t, "ropc while alice is throttled", pw("legacy", f.ropcSecret, "alice", alicePassword), 400, "invalid_grant")
}

// TestPasswordGrant: a client with allowRopc gets user tokens (ID token, refresh token) by password.
func TestPasswordGrant(t *testing.T) {
	f := newSigninFixture(t)
	tok := expect(t, "password grant", f.tokenForm("legacy", f.ropcSecret, url.Values{
		"grant_type": {"password"}, "username": {"alice@acme.example"}, "password": {alicePassword}, "scope": {"openid profile offline_access"},
	}), 200)
	if tok["id_token"] == nil || tok["refresh_token"] == nil {
		t.Fatalf("password grant answer %v", tok)
	}
	ui := expect(t, "userinfo", f.s.call("GET", "/connect/userinfo", tok["access_token"].(string), nil), 200)
	if ui["sub"] != f.aliceID || ui["preferred_username"] != "alice" || ui["email"] != nil {
		t.Fatalf("userinfo %v", ui)
	}
	expect(t, "wrong password", f.tokenForm("legacy", f.ropcSecret, url.Values{
		"grant_type": {"password"}, "username": {"alice"}, "password": {"nope-nope"},
	}), 400, "invalid_grant")
}

// TestEndSessionErrors: post_logout_redirect_uri must be registered; a bad id_token_hint is refused on a page.
func TestEndSessionErrors(t *testing.T) {
	f := newSigninFixture(t)
	b := newBrowser(t)
	for what, q := range map[string]url.Values{
		"unregistered post-logout URI":   {"client_id": {"web"}, "post_logout_redirect_uri": {"https://evil.example/"}},
		"post-logout URI without client": {"post_logout_redirect_uri": {f.rp.URL + "/bye"}},
		"forged id_token_hint":           {"id_token_hint": {"eyJhbGciOiJub25lIn0.e30."}},
	} {
		p := b.get(f.s.base + "/connect/endsession?" + q.Encode())
		if p.status != 400 || p.location != "" || !strings.Contains(p.body, "invalid_request") {
			t.Fatalf("%s: %d %q", what, p.status, p.location)
		}
	}
	if p := b.get(f.s.base + "/connect/endsession"); p.status != 200 || !strings.Contains(p.body, "not signed in") {
		t.Fatalf("plain logout: %d %s", p.status, p.body)
	}
}
