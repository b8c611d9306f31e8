package e2e

import (
	"crypto/sha256"
	"encoding/base64"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

const alicePassword = "alice-password-123"

// signinFixture is a suite with tenant acme, users alice (password alicePassword) and bob (disabled), and
// the relying parties of the sign-in tests:
//   - web: confidential, code + refresh, requireConsent with remember, offline access, back-channel logout
//     to an httptest receiver, post-logout redirect, CORS origin https://web.example;
//   - spa: public (PKCE, no secret), no consent;
//   - legacy: confidential, allowRopc (password grant) with offline access;
//   - nopkce: confidential, allowNoPkce.
type signinFixture struct {
	s          *suite
	adminToken string
	tenantID   string
	aliceID    string
	webSecret  string
	ropcSecret string
	nopkceSec  string
	// rp is the relying parties' callback server; its handler records back-channel logout tokens.
	rp       *httptest.Server
	mu       sync.Mutex
	logouts  []string // logout_token values received
	callback string   // web's and spa's redirect URI
}

func newSigninFixture(t testing.TB) *signinFixture {
	t.Helper()
	return signinFixtureOn(t, startSuite(t))
}

// signinFixtureOn creates the fixture's tenant, users and clients on an already started suite s0.
func signinFixtureOn(t testing.TB, s0 *suite) *signinFixture {
	t.Helper()
	f := &signinFixture{s: s0}
	s := f.s
	f.rp = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/backchannel" {
			r.ParseForm()
			f.mu.Lock()
			f.logouts = append(f.logouts, r.PostForm.Get("logout_token"))
			f.mu.Unlock()
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(f.rp.Close)
	f.callback = f.rp.URL + "/callback"
	f.adminToken = clientToken(t, s, "admin", bootstrapSecret, "adminapi sudo")
	f.tenantID = expect(t, "tenant", s.call("POST", "/api/adminapi2/v1/tenants/", f.adminToken, map[string]any{"code": "acme", "name": "Acme"}), 201)["tenantId"].(string)
	base := "/api/adminapi2/v1/tenants/" + f.tenantID
	f.aliceID = expect(t, "alice", s.call("POST", base+"/users/", f.adminToken, map[string]any{
		"loginName": "alice", "email": "alice@acme.example", "mobile": "+15550100", "displayName": "Alice Liddell", "password": alicePassword,
	}), 201)["userId"].(string)
	expect(t, "bob", s.call("POST", base+"/users/", f.adminToken, map[string]any{
		"loginName": "bob", "password": "bob-password-123", "disabled": true,
	}), 201)
	client := func(body map[string]any) string {
		t.Helper()
		id := body["clientId"].(string)
		expect(t, "client "+id, s.call("POST", base+"/clients/", f.adminToken, body), 201)
		if body["requireClientSecret"] == false {
			return ""
		}
		return expect(t, "secret "+id, s.call("POST", base+"/clients/"+id+"/secrets/", f.adminToken, map[string]any{}), 201)["value"].(string)
	}
	f.webSecret = client(map[string]any{
		"clientId": "web", "clientName": "Web App", "allowedGrantTypes": []string{"authorization_code", "refresh_token"},
		"allowedScopes": []string{"openid", "profile", "email", "phone", "offline_access", "orders.read"}, "allowOfflineAccess": true,
		"redirectUris": []string{f.callback}, "requireConsent": true, "allowRememberConsent": true,
		"postLogoutRedirectUris": []string{f.rp.URL + "/bye"}, "backChannelLogoutUri": f.rp.URL + "/backchannel",
		"allowedCorsOrigins": []string{"https://web.example"}, "refreshTokenLifetime": 3600,
	})
	client(map[string]any{
		"clientId": "spa", "clientName": "Single Page", "requireClientSecret": false, "allowedGrantTypes": []string{"authorization_code"},
		"allowedScopes": []string{"openid", "profile", "orders.read"}, "redirectUris": []string{f.callback},
	})
	f.ropcSecret = client(map[string]any{
		"clientId": "legacy", "allowRopc": true, "allowOfflineAccess": true, "allowedGrantTypes": []string{"password", "refresh_token"},
		"allowedScopes": []string{"openid", "profile", "offline_access"},
	})
	f.nopkceSec = client(map[string]any{
		"clientId": "nopkce", "allowNoPkce": true, "allowedGrantTypes": []string{"authorization_code"},
		"allowedScopes": []string{"openid"}, "redirectUris": []string{f.callback},
	})
	// The token service learns new clients through its change feed; each request carries the revision of
	// the writes above (the suite's barrier), so a bogus code is refused (400: invalid_grant, or
	// unauthorized_client for legacy) rather than the client (401 invalid_client). The browser sends no
	// barrier: after this the token service has applied the writes.
	for id, secret := range map[string]string{"web": f.webSecret, "nopkce": f.nopkceSec, "legacy": f.ropcSecret} {
		expect(t, id+" known", s.form("/connect/token", "grant_type=authorization_code&code=x&redirect_uri=x", id, secret), 400)
	}
	return f
}

func (f *signinFixture) logoutTokens() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.logouts...)
}

// browser is a cookie-keeping HTTP client that does not follow redirects, playing the user's browser.
type browser struct {
	t      testing.TB
	client *http.Client
}

func newBrowser(t testing.TB) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, client: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// page is a fetched page or redirect.
type page struct {
	status   int
	location string
	body     string
	header   http.Header
}

func (b *browser) get(u string) page {
	b.t.Helper()
	resp, err := b.client.Get(u)
	if err != nil {
		b.t.Fatal(err)
	}
	return readPage(b.t, resp)
}

func (b *browser) post(u string, form url.Values) page {
	b.t.Helper()
	resp, err := b.client.PostForm(u, form)
	if err != nil {
		b.t.Fatal(err)
	}
	return readPage(b.t, resp)
}

func readPage(t testing.TB, resp *http.Response) page {
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return page{status: resp.StatusCode, location: resp.Header.Get("Location"), body: string(body), header: resp.Header}
}

var hiddenRE = regexp.MustCompile(`name="(interaction|csrf_token)" value="([^"]*)"`)

// hidden returns the form's interaction id and CSRF token.
func (p page) hidden(t testing.TB) url.Values {
	t.Helper()
	v := url.Values{}
	for _, m := range hiddenRE.FindAllStringSubmatch(p.body, -1) {
		v.Set(m[1], html.UnescapeString(m[2]))
	}
	if v.Get("interaction") == "" || v.Get("csrf_token") == "" {
		t.Fatalf("no form on the page (status %d): %s", p.status, p.body)
	}
	return v
}

func (p page) isLogin() bool   { return p.status == 200 && strings.Contains(p.body, `id="login"`) }
func (p page) isConsent() bool { return p.status == 200 && strings.Contains(p.body, `id="consent"`) }

// login submits the login form of p.
func (b *browser) login(base string, p page, user, password string) page {
	b.t.Helper()
	if !p.isLogin() {
		b.t.Fatalf("expected the login page, got status %d location %q: %s", p.status, p.location, p.body)
	}
	form := p.hidden(b.t)
	form.Set("username", user)
	form.Set("password", password)
	return b.post(base+"/connect/login", form)
}

// consent submits the consent form of p.
func (b *browser) consent(base string, p page, allow, remember bool) page {
	b.t.Helper()
	if !p.isConsent() {
		b.t.Fatalf("expected the consent page, got status %d location %q: %s", p.status, p.location, p.body)
	}
	form := p.hidden(b.t)
	form.Set("decision", map[bool]string{true: "allow", false: "deny"}[allow])
	if remember {
		form.Set("remember", "yes")
	}
	return b.post(base+"/connect/consent", form)
}

// redirectParams checks that p redirects to prefix and returns the redirect's query.
func redirectParams(t testing.TB, p page, prefix string) url.Values {
	t.Helper()
	if p.status != http.StatusFound && p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, prefix) {
		t.Fatalf("expected a redirect to %s, got status %d location %q body %s", prefix, p.status, p.location, p.body)
	}
	u, err := url.Parse(p.location)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

// pkce returns a verifier and its S256 challenge (RFC 7636 §4.1, §4.2).
func pkce() (verifier, challenge string) {
	verifier = base64.RawURLEncoding.EncodeToString([]byte(strings.Repeat("v", 40) + time.Now().String()))[:64]
	h := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(h[:])
}

// authorizeURL builds an authorization request.
func (f *signinFixture) authorizeURL(clientID, scope, state, nonce, challenge string, extra ...string) string {
	q := url.Values{"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {f.callback}, "scope": {scope}}
	if state != "" {
		q.Set("state", state)
	}
	if nonce != "" {
		q.Set("nonce", nonce)
	}
	if challenge != "" {
		q.Set("code_challenge", challenge)
		q.Set("code_challenge_method", "S256")
	}
	for i := 0; i+1 < len(extra); i += 2 {
		q.Set(extra[i], extra[i+1])
	}
	return f.s.base + "/connect/authorize?" + q.Encode()
}

// codeFor runs a full sign-in for client (login, consent when asked) in b and returns the code.
func (f *signinFixture) codeFor(t testing.TB, b *browser, clientID, scope, challenge string) string {
	t.Helper()
	p := b.get(f.authorizeURL(clientID, scope, "st", "n-1", challenge))
	if p.isLogin() {
		p = b.login(f.s.base, p, "alice", alicePassword)
	}
	if p.isConsent() {
		p = b.consent(f.s.base, p, true, false)
	}
	q := redirectParams(t, p, f.callback)
	if q.Get("code") == "" || q.Get("state") != "st" {
		t.Fatalf("redirect without code or state: %v", q)
	}
	return q.Get("code")
}

func base64URLDecode(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }
