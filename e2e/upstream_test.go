package e2e

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	opsv1 "github.com/authsuite/authsuite/gen/authsuite/ops/v1"
)

// upstreamFixture is two authsuites: "up", an OpenID provider with tenant upco, users ursula and carol-up
// (verified e-mail addresses) and the confidential client "downstream"; and "down", the sign-in fixture
// (tenant acme, client spa, ...) with upco's authsuite added as the upstream provider "up" (users created
// just in time, linked by verified e-mail), and a user carol whose verified address is carol-up's.
type upstreamFixture struct {
	up, down     *suite
	f            *signinFixture
	upToken      string
	ursulaID     string
	carolID      string // down's carol
	carolUpID    string
	downProvider string // the provider's path on down's admin API
}

const (
	ursulaPassword = "ursula-password-123"
	carolPassword  = "carol-up-password-123"
)

func newUpstreamFixture(t testing.TB) *upstreamFixture {
	t.Helper()
	x := &upstreamFixture{up: startSuite(t)}
	x.f = newSigninFixture(t)
	x.down = x.f.s
	up := x.up
	x.upToken = clientToken(t, up, "admin", bootstrapSecret, "adminapi sudo")
	upco := expect(t, "upco", up.call("POST", "/api/adminapi2/v1/tenants/", x.upToken, map[string]any{"code": "upco", "name": "Up Co"}), 201)["tenantId"].(string)
	base := "/api/adminapi2/v1/tenants/" + upco
	x.ursulaID = expect(t, "ursula", up.call("POST", base+"/users/", x.upToken, map[string]any{
		"loginName": "ursula", "email": "ursula@up.example", "emailVerified": true, "displayName": "Ursula Up", "password": ursulaPassword,
	}), 201)["userId"].(string)
	x.carolUpID = expect(t, "carol-up", up.call("POST", base+"/users/", x.upToken, map[string]any{
		"loginName": "carol-up", "email": "carol@shared.example", "emailVerified": true, "password": carolPassword,
	}), 201)["userId"].(string)
	expect(t, "downstream client", up.call("POST", base+"/clients/", x.upToken, map[string]any{
		"clientId": "downstream", "clientName": "Acme sign-in", "allowedGrantTypes": []string{"authorization_code"},
		"allowedScopes": []string{"openid", "profile", "email"}, "redirectUris": []string{x.down.base + "/connect/upstream/callback"},
	}), 201)
	secret := expect(t, "downstream secret", up.call("POST", base+"/clients/downstream/secrets/", x.upToken, map[string]any{}), 201)["value"].(string)
	up.sync()

	dbase := "/api/adminapi2/v1/tenants/" + x.f.tenantID
	x.carolID = expect(t, "carol", x.down.call("POST", dbase+"/users/", x.f.adminToken, map[string]any{
		"loginName": "carol", "email": "carol@shared.example", "emailVerified": true, "password": "carol-password-123",
	}), 201)["userId"].(string)
	prov := expect(t, "identity provider", x.down.call("POST", dbase+"/identity-providers", x.f.adminToken, map[string]any{
		"providerId": "up", "displayName": "Up Co", "issuer": up.base, "clientId": "downstream", "clientSecret": secret,
		"scopes": []string{"openid", "email", "profile"}, "linkByEmail": true, "createUsers": true,
	}), 201)
	if _, leaked := prov["clientSecret"]; leaked || prov["redirectUri"] != x.down.base+"/connect/upstream/callback" {
		t.Fatalf("created provider %v", prov)
	}
	x.downProvider = dbase + "/identity-providers/up"
	x.down.sync()
	return x
}

// downCode completes a downstream sign-in that landed on spa's callback: the code is redeemed with x/oauth2
// and the ID token verified with go-oidc; it answers the ID token's claims.
func (x *upstreamFixture) downClaims(t testing.TB, landed, verifier, nonce string) map[string]any {
	t.Helper()
	u, err := url.Parse(landed)
	if err != nil || u.Query().Get("code") == "" {
		t.Fatalf("landed at %q", landed)
	}
	ctx := context.Background()
	provider, err := oidc.NewProvider(ctx, x.down.base)
	if err != nil {
		t.Fatal(err)
	}
	conf := oauth2.Config{ClientID: "spa", Endpoint: provider.Endpoint(), RedirectURL: x.f.callback, Scopes: []string{oidc.ScopeOpenID, "profile"}}
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
		t.Fatalf("nonce %q", idt.Nonce)
	}
	var c struct {
		AMR []string `json:"amr"`
		ACR string   `json:"acr"`
	}
	if err := idt.Claims(&c); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.AMR, []string{"fed"}) {
		t.Fatalf("amr %v, want [fed]", c.AMR)
	}
	return map[string]any{"sub": idt.Subject, "acr": c.ACR}
}

// spaAuthorize is an authorization request of spa at down, with PKCE and nonce, and its verifier.
func (x *upstreamFixture) spaAuthorize(nonce string, extra ...oauth2.AuthCodeOption) (authURL, verifier string) {
	verifier = oauth2.GenerateVerifier()
	conf := oauth2.Config{ClientID: "spa", Endpoint: oauth2.Endpoint{AuthURL: x.down.base + "/connect/authorize"}, RedirectURL: x.f.callback,
		Scopes: []string{oidc.ScopeOpenID, "profile"}}
	return conf.AuthCodeURL("st", append([]oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce)}, extra...)...), verifier
}

// federated returns the federated identities of down's user id (GET users/{id}).
func (x *upstreamFixture) federated(t *testing.T, userID string) []map[string]any {
	t.Helper()
	u := expect(t, "user "+userID, x.down.call("GET", "/api/adminapi2/v1/tenants/"+x.f.tenantID+"/users/"+userID, x.f.adminToken, nil), 200)
	var out []map[string]any
	list, _ := u["federatedIdentities"].([]any)
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			t.Fatalf("federatedIdentities entry %T", e)
		}
		out = append(out, m)
	}
	return out
}

// TestUpstreamBrowser: in Chromium, the downstream login page's "Sign in with Up Co" button leads to the
// upstream authsuite's login page; after the upstream password, the browser is back at the downstream
// client with a code whose ID token (go-oidc verified) says amr [fed]. The user was created just in time
// with the upstream sub as a federated identity.
func TestUpstreamBrowser(t *testing.T) {
	bin := chromium(t)
	x := newUpstreamFixture(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.Headless, chromedp.DisableGPU,
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.UserDataDir(t.TempDir()))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	bctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	if err := chromedp.Do(bctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	ctx, cancelT := context.WithTimeout(bctx, 60*time.Second)
	defer cancelT()

	authURL, verifier := x.spaAuthorize("n-up-1")
	start := time.Now()
	err := chromedp.Do(ctx,
		chromedp.Navigate(authURL),
		chromedp.WaitVisible("#upstream-up"),
	)
	if err != nil {
		t.Fatalf("downstream login page: %v", err)
	}
	label, err := chromedp.Run(ctx, chromedp.Text("#upstream-up"))
	if err != nil || label != "Sign in with Up Co" {
		t.Fatalf("button %q, %v", label, err)
	}
	if err := chromedp.Do(ctx, chromedp.Click("#upstream-up")); err != nil {
		t.Fatalf("click: %v", err)
	}
	if at, err := waitLocation(ctx, x.up.base+"/connect/authorize"); err != nil {
		t.Fatalf("not at the upstream authorization endpoint: %v (at %q)", err, at)
	}
	err = chromedp.Do(ctx,
		chromedp.WaitVisible("#login"),
		chromedp.SendKeys("#username", "ursula"),
		chromedp.SendKeys("#password", ursulaPassword),
		chromedp.Click("#submit"),
	)
	if err != nil {
		t.Fatalf("upstream login: %v", err)
	}
	landed, err := waitLocation(ctx, x.f.callback)
	if err != nil {
		t.Fatalf("back at the client: %v (at %q)", err, landed)
	}
	t.Logf("upstream sign-in in Chromium (two login pages, three redirects): %v", time.Since(start))
	c := x.downClaims(t, landed, verifier, "n-up-1")
	sub := c["sub"].(string)
	if sub == x.f.aliceID || sub == x.carolID || c["acr"] != "urn:authsuite:acr:pwd" {
		t.Fatalf("signed in as %v", c)
	}
	fed := x.federated(t, sub)
	if len(fed) != 1 || fed[0]["providerId"] != "up" || fed[0]["subject"] != x.ursulaID || fed[0]["email"] != "ursula@up.example" {
		t.Fatalf("federated identities %v", fed)
	}
	// The link is in the downstream's audit log (the provider and whether the user was created go to the
	// log line only).
	var linked *opsv1.AuditEvent
	eventually(t, 10*time.Second, "the federated_identity_linked audit event", func() bool {
		list, r := auditEvents(t, x.f.s, x.f.adminToken, "token", url.Values{"pageSize": {"1000"}})
		if list == nil {
			t.Fatalf("audit events: %d %s", r.status, r.body)
		}
		linked = find(list.GetItems(), "federated_identity_linked", sub)
		return linked != nil
	})
	if linked.GetOutcome() != "success" || linked.GetActor().GetClientId() != "spa" {
		t.Fatalf("federated_identity_linked event %v", linked)
	}

	// A second sign-in with prompt=login: the prompt is passed on, so the upstream asks for the password
	// again despite its session; the link is reused.
	authURL, verifier = x.spaAuthorize("n-up-2", oauth2.SetAuthURLParam("prompt", "login"))
	if err := chromedp.Do(ctx, chromedp.Navigate(authURL), chromedp.WaitVisible("#upstream-up"), chromedp.Click("#upstream-up")); err != nil {
		t.Fatalf("second sign-in: %v", err)
	}
	if at, err := waitLocation(ctx, x.up.base+"/connect/authorize"); err != nil || !strings.Contains(at, "prompt=login") {
		t.Fatalf("second sign-in not at the upstream with prompt=login: %v (at %q)", err, at)
	}
	err = chromedp.Do(ctx, chromedp.WaitVisible("#login"), chromedp.SendKeys("#username", "ursula"), chromedp.SendKeys("#password", ursulaPassword),
		chromedp.Click("#submit"))
	if err != nil {
		t.Fatalf("second sign-in, upstream login: %v", err)
	}
	landed, err = waitLocation(ctx, x.f.callback)
	if err != nil {
		t.Fatalf("second sign-in: %v (at %q)", err, landed)
	}
	if again := x.downClaims(t, landed, verifier, "n-up-2"); again["sub"] != sub {
		t.Fatalf("second sign-in as %v, first as %s", again, sub)
	}
	if fed := x.federated(t, sub); len(fed) != 1 {
		t.Fatalf("federated identities after the second sign-in %v", fed)
	}
}

var upstreamFormRE = regexp.MustCompile(`action="/connect/upstream/start"`)

// upstreamRoundTrip runs, in the cookie-keeping browser b, the downstream login page's upstream button and
// the upstream login as user; it answers the provider's redirect back (the downstream callback URL) without
// following it.
func (x *upstreamFixture) upstreamRoundTrip(t testing.TB, b *browser, authURL, user, password string) string {
	t.Helper()
	p := b.get(authURL)
	if !p.isLogin() || !upstreamFormRE.MatchString(p.body) {
		t.Fatalf("downstream login page without the upstream button: %d %s", p.status, p.body)
	}
	form := p.hidden(t)
	form.Set("provider_id", "up")
	p = b.post(x.down.base+"/connect/upstream/start", form)
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, x.up.base+"/connect/authorize?") {
		t.Fatalf("start: %d %q %s", p.status, p.location, p.body)
	}
	var binding *http.Cookie
	for _, c := range p.header.Values("Set-Cookie") {
		if strings.HasPrefix(c, "authsuite_upstream=") {
			binding, _ = http.ParseSetCookie(c)
		}
	}
	if binding == nil || !binding.HttpOnly || binding.SameSite != http.SameSiteLaxMode || binding.MaxAge != 600 || binding.Path != "/" {
		t.Fatalf("binding cookie %v", p.header.Values("Set-Cookie"))
	}
	au, _ := url.Parse(p.location)
	if au.Query().Get("code_challenge_method") != "S256" || au.Query().Get("nonce") == "" || au.Query().Get("client_id") != "downstream" {
		t.Fatalf("upstream authorization request %v", au.Query())
	}
	p = b.get(p.location)
	if p.isLogin() {
		p = b.login(x.up.base, p, user, password)
	}
	if (p.status != http.StatusFound && p.status != http.StatusSeeOther) || !strings.HasPrefix(p.location, x.down.base+"/connect/upstream/callback?") {
		t.Fatalf("upstream answered %d %q %s", p.status, p.location, p.body)
	}
	return p.location
}

// TestUpstreamLinkAndRefusals: a first upstream sign-in of carol-up, whose verified address is downstream
// carol's, signs carol in (linked by e-mail). The callback is bound to the browser that started it: another
// browser, a forged state or a replay is refused with the error page and no redirect.
func TestUpstreamLinkAndRefusals(t *testing.T) {
	x := newUpstreamFixture(t)
	b := newBrowser(t)
	authURL, verifier := x.spaAuthorize("n-carol")
	cb := x.upstreamRoundTrip(t, b, authURL, "carol-up", carolPassword)

	// Another browser (no binding cookie) with the real callback: refused, and nothing is used up.
	other := newBrowser(t)
	if p := other.get(cb); p.status < 400 || p.location != "" {
		t.Fatalf("callback in another browser: %d %q", p.status, p.location)
	}
	// A forged state in the right browser: refused.
	cu, _ := url.Parse(cb)
	forged := cu.Query()
	forged.Set("state", strings.Repeat("A", 43))
	if p := b.get(x.down.base + "/connect/upstream/callback?" + forged.Encode()); p.status < 400 || p.location != "" {
		t.Fatalf("forged state: %d %q", p.status, p.location)
	}
	// The real one.
	p := b.get(cb)
	q := redirectParams(t, p, x.f.callback)
	landed := x.f.callback + "?" + q.Encode()
	if c := x.downClaims(t, landed, verifier, "n-carol"); c["sub"] != x.carolID {
		t.Fatalf("carol-up signed in as %v, want carol %s", c, x.carolID)
	}
	if fed := x.federated(t, x.carolID); len(fed) != 1 || fed[0]["subject"] != x.carolUpID {
		t.Fatalf("carol's federated identities %v", fed)
	}
	// Replayed: refused.
	if p := b.get(cb); p.status < 400 || p.location != "" {
		t.Fatalf("replayed callback: %d %q", p.status, p.location)
	}

	// A disabled provider shows no button and its callbacks are refused.
	authURL, _ = x.spaAuthorize("n-off")
	b2 := newBrowser(t)
	cb = x.upstreamRoundTrip(t, b2, authURL, "ursula", ursulaPassword)
	prov := expect(t, "provider", x.down.call("GET", x.downProvider, x.f.adminToken, nil), 200)
	prov["disabled"] = true
	expect(t, "disable provider", x.down.call("PUT", x.downProvider, x.f.adminToken, prov), 200)
	x.down.sync()
	eventually(t, 15*time.Second, "the login page drops the disabled provider's button", func() bool {
		p := newBrowser(t).get(authURL)
		return p.isLogin() && !upstreamFormRE.MatchString(p.body)
	})
	p = b2.get(cb)
	if !p.isLogin() || p.location != "" || !strings.Contains(p.body, "cannot be reached") {
		t.Fatalf("callback of a disabled provider: %d %q %s", p.status, p.location, p.body)
	}
	for _, c := range p.header.Values("Set-Cookie") {
		if strings.HasPrefix(c, "authsuite_session=") {
			t.Fatalf("a session from a disabled provider: %s", c)
		}
	}
}

// BenchmarkUpstreamSignIn measures one whole brokered sign-in over loopback HTTP with the real binaries: the
// downstream login page, the button, the upstream authorization request, login page and password check,
// the callback (code redeemed at the upstream, ID token verified, identity linked, session started) and the
// redirect to the client. Each iteration is a new browser, so the upstream asks for the password each time.
func BenchmarkUpstreamSignIn(b *testing.B) {
	x := newUpstreamFixture(b)
	authURL, _ := x.spaAuthorize("n-bench")
	b.ResetTimer()
	for b.Loop() {
		br := newBrowser(b)
		cb := x.upstreamRoundTrip(b, br, authURL, "ursula", ursulaPassword)
		redirectParams(b, br.get(cb), x.f.callback)
	}
}
