package e2e

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"
)

// Account lifecycle: a disabled, deleted or re-created user keeps nothing of the old account, and
// the token service learns it within a second through the registry's change feed.

// usersRP is a relying party "uweb" (code + refresh, no consent) whose back-channel logout receiver signals
// each logout token on a channel: ending a user's sessions is the event the tests wait for.
type usersRP struct {
	f       *signinFixture
	secret  string
	logouts chan string
}

func newUsersRP(t *testing.T, f *signinFixture) *usersRP {
	t.Helper()
	rp := &usersRP{f: f, logouts: make(chan string, 16)}
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err == nil {
			select {
			case rp.logouts <- r.PostForm.Get("logout_token"):
			default:
			}
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(recv.Close)
	base := "/api/adminapi2/v1/tenants/" + f.tenantID + "/clients/"
	expect(t, "client uweb", f.s.call("POST", base, f.adminToken, map[string]any{
		"clientId": "uweb", "allowedGrantTypes": []string{"authorization_code", "refresh_token"},
		"allowedScopes": []string{"openid", "profile", "offline_access"}, "allowOfflineAccess": true,
		"redirectUris": []string{f.callback}, "backChannelLogoutUri": recv.URL + "/backchannel",
	}), 201)
	var sec struct {
		Value string `json:"value"`
	}
	usersDecode(t, "secret", f.s.call("POST", base+"uweb/secrets/", f.adminToken, map[string]any{}), 201, &sec)
	rp.secret = sec.Value
	// The request carries the revision of the writes above (the suite's barrier): a bogus code is refused
	// as invalid_grant, not the client as invalid_client.
	expect(t, "uweb known", f.s.form("/connect/token", "grant_type=authorization_code&code=x&redirect_uri=x", "uweb", rp.secret), 400, "invalid_grant")
	return rp
}

// usersDecode checks r's status and decodes its JSON body into v, failing on any type mismatch.
func usersDecode(t *testing.T, what string, r response, status int, v any) {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: status %d, want %d; body %s", what, r.status, status, r.body)
	}
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("%s: body %s: %v", what, r.body, err)
	}
}

// usersTokens is the RFC 6749 §5.1 answer.
type usersTokens struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
	Scope        string `json:"scope"`
}

// usersOAuthError is the RFC 6749 §5.2 error body.
type usersOAuthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

func usersWantError(t *testing.T, what string, r response, status int, code string) {
	t.Helper()
	var e usersOAuthError
	usersDecode(t, what, r, status, &e)
	if e.Error != code {
		t.Fatalf("%s: error %q (%s), want %q", what, e.Error, e.Description, code)
	}
}

// userGrants is what a user holds before the account changes.
type userGrants struct {
	browser     *browser // holds the SSO session cookie
	code        string   // obtained in the session, not yet redeemed
	verifier    string
	sessionTok  usersTokens // from the code flow (uweb)
	passwordTok usersTokens // from the password grant (legacy), no session
}

// signInAlice gives alice an SSO session, tokens from it, a second code not yet redeemed, and tokens from
// the password grant; and checks they all work.
func (rp *usersRP) signInAlice(t *testing.T) userGrants {
	t.Helper()
	f := rp.f
	g := userGrants{browser: newBrowser(t)}
	verifier, challenge := pkce()
	code := f.codeFor(t, g.browser, "uweb", "openid profile offline_access", challenge)
	usersDecode(t, "code exchange", f.tokenForm("uweb", rp.secret, codeExchange(code, verifier, f.callback)), 200, &g.sessionTok)
	g.verifier, challenge = pkce()
	// The SSO session signs in again without a password.
	p := g.browser.get(f.authorizeURL("uweb", "openid offline_access", "st", "n-2", challenge))
	g.code = redirectParams(t, p, f.callback).Get("code")
	if g.code == "" {
		t.Fatalf("no code from the SSO session: %s", p.location)
	}
	usersDecode(t, "password grant", f.tokenForm("legacy", f.ropcSecret, url.Values{
		"grant_type": {"password"}, "username": {"alice"}, "password": {alicePassword}, "scope": {"openid offline_access"},
	}), 200, &g.passwordTok)
	for _, tok := range []string{g.sessionTok.AccessToken, g.passwordTok.AccessToken} {
		if !rp.introspectActive(t, tok) {
			t.Fatal("a fresh token is inactive")
		}
		rp.check(t, tok, 200)
		// The admin API authenticates through AuthenticateToken: a live token without adminapi is forbidden.
		expect(t, "admin API with a live user token", f.s.call("GET", "/api/adminapi2/v1/tenants/"+f.tenantID+"/users/", tok, nil), 403)
	}
	return g
}

func (rp *usersRP) introspectActive(t *testing.T, tok string) bool {
	t.Helper()
	var in struct {
		Active bool `json:"active"`
	}
	usersDecode(t, "introspect", rp.f.s.form("/connect/introspect", "token="+url.QueryEscape(tok), "uweb", rp.secret), 200, &in)
	return in.Active
}

func (rp *usersRP) check(t *testing.T, tok string, status int) {
	t.Helper()
	r := rp.f.s.call("GET", "/api/oauth2/server/tokens/check?token="+url.QueryEscape(tok), "", nil)
	if status == 200 {
		var c struct {
			AccessToken string `json:"access_token"`
			ExpiresIn   int64  `json:"expires_in"`
		}
		usersDecode(t, "check", r, 200, &c)
		return
	}
	usersWantError(t, "check", r, status, "invalid_token")
}

// awaitEnded waits for the back-channel logout that ending alice's session sends, at most a second after
// the change was answered: that is when the token service has applied it.
func (rp *usersRP) awaitEnded(t *testing.T, changed time.Time) {
	t.Helper()
	select {
	case tok := <-rp.logouts:
		if tok == "" {
			t.Fatal("back-channel logout without logout_token")
		}
		t.Logf("session ended %v after the change was answered", time.Since(changed))
	case <-time.After(time.Until(changed.Add(time.Second))):
		t.Fatal("alice's session was not ended within a second of the change")
	}
}

// assertLocked checks that nothing alice held before still works, and that it was so within a second of
// the change (the token checks run first).
func (rp *usersRP) assertLocked(t *testing.T, g userGrants, changed time.Time) {
	t.Helper()
	f := rp.f
	for _, tok := range []string{g.sessionTok.AccessToken, g.passwordTok.AccessToken} {
		rp.check(t, tok, 400)
		if rp.introspectActive(t, tok) {
			t.Fatal("introspection: an old token is active")
		}
		expect(t, "admin API (AuthenticateToken) with an old token", f.s.call("GET", "/api/adminapi2/v1/tenants/"+f.tenantID+"/users/", tok, nil), 401)
	}
	if d := time.Since(changed); d > time.Second {
		t.Errorf("old tokens were refused only %v after the change; want within 1 s", d)
	}
	usersWantError(t, "userinfo", f.s.call("GET", "/connect/userinfo", g.sessionTok.AccessToken, nil), 401, "invalid_token")
	p := g.browser.get(f.authorizeURL("uweb", "openid", "st", "n-3", usersChallenge()))
	if !p.isLogin() {
		t.Fatalf("authorize with the old session cookie: status %d location %q; want the login page", p.status, p.location)
	}
	usersWantError(t, "code obtained before the change", f.tokenForm("uweb", rp.secret, codeExchange(g.code, g.verifier, f.callback)), 400, "invalid_grant")
	usersWantError(t, "refresh (code flow family)", f.tokenForm("uweb", rp.secret, refreshGrant(g.sessionTok.RefreshToken, "")), 400, "invalid_grant")
	usersWantError(t, "refresh (password grant family)", f.tokenForm("legacy", f.ropcSecret, refreshGrant(g.passwordTok.RefreshToken, "")), 400, "invalid_grant")
}

func usersChallenge() string { _, c := pkce(); return c }

func (f *signinFixture) aliceURL() string {
	return "/api/adminapi2/v1/tenants/" + f.tenantID + "/users/" + f.aliceID
}

func (f *signinFixture) putAlice(t *testing.T, disabled bool) time.Time {
	t.Helper()
	expect(t, "PUT alice", f.s.call("PUT", f.aliceURL(), f.adminToken, map[string]any{
		"loginName": "alice", "email": "alice@acme.example", "mobile": "+15550100", "displayName": "Alice Liddell", "disabled": disabled,
	}), 200)
	return time.Now()
}

// TestDisabledUserLosesAccess (items 4, 17): disabling a user ends the SSO session (the login page shows
// again), fails a code obtained before, refreshes of both the code-flow and the password-grant families,
// and userinfo; check, introspection and AuthenticateToken refuse the access tokens within a second.
// Enabling the user again revives none of it, but the user can sign in afresh.
func TestDisabledUserLosesAccess(t *testing.T) {
	f := newSigninFixture(t)
	rp := newUsersRP(t, f)
	g := rp.signInAlice(t)

	changed := f.putAlice(t, true)
	rp.awaitEnded(t, changed)
	rp.assertLocked(t, g, changed)
	usersWantError(t, "password grant while disabled", f.tokenForm("legacy", f.ropcSecret, url.Values{
		"grant_type": {"password"}, "username": {"alice"}, "password": {alicePassword}, "scope": {"openid"},
	}), 400, "invalid_grant")

	// Enabled again: what was issued before the disable stays dead; a new sign-in works. Enabling sends no
	// event a test can see, so poll (bounded) until a fresh token is active: then the token service has
	// applied the change (and the second of the disable, in which nothing issued counts, is over).
	f.putAlice(t, false)
	eventually(t, 3*time.Second, "a fresh token of the enabled user is active", func() bool {
		var tok usersTokens
		usersDecode(t, "password grant after enabling", f.tokenForm("legacy", f.ropcSecret, url.Values{
			"grant_type": {"password"}, "username": {"alice"}, "password": {alicePassword}, "scope": {"openid"},
		}), 200, &tok)
		return rp.introspectActive(t, tok.AccessToken)
	})
	rp.assertLocked(t, g, time.Now())
	verifier, challenge := pkce()
	code := f.codeFor(t, newBrowser(t), "uweb", "openid offline_access", challenge)
	var fresh usersTokens
	usersDecode(t, "new sign-in after enabling", f.tokenForm("uweb", rp.secret, codeExchange(code, verifier, f.callback)), 200, &fresh)
	usersDecode(t, "refresh of the new family", f.tokenForm("uweb", rp.secret, refreshGrant(fresh.RefreshToken, "")), 200, &fresh)
}

// TestDeletedUserLosesAccess (items 4, 17): deleting a user ends everything the user held, as disabling does.
func TestDeletedUserLosesAccess(t *testing.T) {
	f := newSigninFixture(t)
	rp := newUsersRP(t, f)
	g := rp.signInAlice(t)

	expect(t, "DELETE alice", f.s.call("DELETE", f.aliceURL(), f.adminToken, nil), 200)
	changed := time.Now()
	rp.awaitEnded(t, changed)
	rp.assertLocked(t, g, changed)
}

// TestRecreatedUserIsAnotherAccount (item 9): a user deleted and created again with the same userId (and
// login name and password) is another account: the old account's session, code, access and refresh tokens
// stay dead, while the new account signs in and gets working tokens.
func TestRecreatedUserIsAnotherAccount(t *testing.T) {
	f := newSigninFixture(t)
	rp := newUsersRP(t, f)
	g := rp.signInAlice(t)

	expect(t, "DELETE alice", f.s.call("DELETE", f.aliceURL(), f.adminToken, nil), 200)
	changed := time.Now()
	var again struct {
		UserID string `json:"userId"`
	}
	usersDecode(t, "re-create alice", f.s.call("POST", "/api/adminapi2/v1/tenants/"+f.tenantID+"/users/", f.adminToken, map[string]any{
		"userId": f.aliceID, "loginName": "alice", "email": "alice@acme.example", "displayName": "Alice Again", "password": alicePassword,
	}), 201, &again)
	if again.UserID != f.aliceID {
		t.Fatalf("re-created user id %q, want %q", again.UserID, f.aliceID)
	}
	rp.awaitEnded(t, changed)
	rp.assertLocked(t, g, changed)

	// The new account works, and its tokens are its own.
	verifier, challenge := pkce()
	code := f.codeFor(t, newBrowser(t), "uweb", "openid profile offline_access", challenge)
	var fresh usersTokens
	usersDecode(t, "new account's code exchange", f.tokenForm("uweb", rp.secret, codeExchange(code, verifier, f.callback)), 200, &fresh)
	if !rp.introspectActive(t, fresh.AccessToken) {
		t.Fatal("the new account's token is inactive")
	}
	var ui struct {
		Sub  string `json:"sub"`
		Name string `json:"name"`
	}
	usersDecode(t, "new account's userinfo", f.s.call("GET", "/connect/userinfo", fresh.AccessToken, nil), 200, &ui)
	if ui.Sub != f.aliceID || ui.Name != "Alice Again" {
		t.Fatalf("userinfo of the new account: %+v", ui)
	}
	// The old tokens are still refused after the new account's activity.
	rp.assertLocked(t, g, time.Now())
}

// TestRecreatedUserDoesNotInheritConsent (item 9): a consent the old account remembered for a client is not
// the new account's: signing in to the same client shows the consent page again.
func TestRecreatedUserDoesNotInheritConsent(t *testing.T) {
	f := newSigninFixture(t)
	b := newBrowser(t)
	p := b.login(f.s.base, b.get(f.authorizeURL("web", "openid profile", "st", "n", usersChallenge())), "alice", alicePassword)
	redirectParams(t, b.consent(f.s.base, p, true, true), f.callback)
	// Remembered: the old account is not asked again.
	redirectParams(t, b.get(f.authorizeURL("web", "openid profile", "st", "n", usersChallenge())), f.callback)

	expect(t, "DELETE alice", f.s.call("DELETE", f.aliceURL(), f.adminToken, nil), 200)
	expect(t, "re-create alice", f.s.call("POST", "/api/adminapi2/v1/tenants/"+f.tenantID+"/users/", f.adminToken, map[string]any{
		"userId": f.aliceID, "loginName": "alice", "password": alicePassword,
	}), 201)
	nb := newBrowser(t)
	p = nb.get(f.authorizeURL("web", "openid profile", "st", "n", usersChallenge()))
	if p = nb.login(f.s.base, p, "alice", alicePassword); !p.isConsent() {
		t.Fatalf("the new account skipped consent (status %d location %q): it inherited the old account's", p.status, p.location)
	}
}
