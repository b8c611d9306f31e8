package e2e

import (
	"context"
	"encoding/json"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// rpPost is one request the relying party's callback received.
type rpPost struct {
	method, contentType, rawQuery string
	form                          url.Values
}

// formPostRP is a relying party with a form_post callback (/callback) and a back-channel logout receiver
// (/backchannel); what they receive arrives on the channels, so tests wait on events.
type formPostRP struct {
	srv      *httptest.Server
	posts    chan rpPost
	logouts  chan string
	clientID string
	secret   string
}

func (rp *formPostRP) callback() string { return rp.srv.URL + "/callback" }

// newFormPostRP starts the relying party and registers it in f's tenant as client "fp": confidential,
// authorization code with PKCE, consent required (not rememberable), back-channel logout, post-logout
// redirect to /bye.
func newFormPostRP(t testing.TB, f *signinFixture) *formPostRP {
	t.Helper()
	rp := &formPostRP{posts: make(chan rpPost, 16), logouts: make(chan string, 16), clientID: "fp"}
	rp.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/callback":
			r.ParseForm()
			rp.posts <- rpPost{method: r.Method, contentType: r.Header.Get("Content-Type"), rawQuery: r.URL.RawQuery, form: r.PostForm}
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte(`<!doctype html><h1 id="landed">landed</h1>`))
		case "/backchannel":
			r.ParseForm()
			rp.logouts <- r.PostForm.Get("logout_token")
		}
	}))
	t.Cleanup(rp.srv.Close)
	s := f.s
	base := "/api/adminapi2/v1/tenants/" + f.tenantID
	expect(t, "client fp", s.call("POST", base+"/clients/", f.adminToken, map[string]any{
		"clientId": rp.clientID, "clientName": "Form Post App", "allowedGrantTypes": []string{"authorization_code"},
		"allowedScopes": []string{"openid", "profile"}, "redirectUris": []string{rp.callback()}, "requireConsent": true,
		"postLogoutRedirectUris": []string{rp.srv.URL + "/bye"}, "backChannelLogoutUri": rp.srv.URL + "/backchannel",
	}), 201)
	var sec struct {
		Value string `json:"value"`
	}
	r := s.call("POST", base+"/clients/"+rp.clientID+"/secrets/", f.adminToken, map[string]any{})
	if r.status != 201 || json.Unmarshal(r.body, &sec) != nil || sec.Value == "" {
		t.Fatalf("secret: %d %s", r.status, r.body)
	}
	rp.secret = sec.Value
	// The request carries the revision of the writes above (the suite's barrier): a bogus code is refused
	// as invalid_grant, not the client as invalid_client.
	expect(t, "fp known", s.form("/connect/token", "grant_type=authorization_code&code=x&redirect_uri=x", rp.clientID, rp.secret), 400, "invalid_grant")
	return rp
}

// oauth2Config is the relying party's x/oauth2 configuration.
func (rp *formPostRP) oauth2Config(s *suite) oauth2.Config {
	return oauth2.Config{
		ClientID: rp.clientID, ClientSecret: rp.secret, RedirectURL: rp.callback(), Scopes: []string{oidc.ScopeOpenID, "profile"},
		Endpoint: oauth2.Endpoint{AuthURL: s.base + "/connect/authorize", TokenURL: s.base + "/connect/token", AuthStyle: oauth2.AuthStyleInHeader},
	}
}

// nextPost waits for the relying party's next callback request.
func (rp *formPostRP) nextPost(t testing.TB, ctx context.Context) rpPost {
	t.Helper()
	select {
	case p := <-rp.posts:
		return p
	case <-ctx.Done():
		t.Fatal("the relying party's callback received nothing")
	}
	return rpPost{}
}

// newChromium starts a headless Chromium and returns a context of its first tab with a 90 s budget.
func newChromium(t *testing.T) context.Context {
	t.Helper()
	bin := chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.Headless, chromedp.DisableGPU,
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.UserDataDir(t.TempDir()))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	bctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	// The first call starts the browser and must not carry a timeout (it would stop the browser).
	if err := chromedp.Do(bctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	ctx, cancelT := context.WithTimeout(bctx, 90*time.Second)
	t.Cleanup(cancelT)
	return ctx
}

// chromiumFormPostSignIn signs alice in through Chromium (login page, consent page, then the redirect or,
// with response_mode=form_post in authURL, the auto-submitted form) and returns what the relying party's
// callback received.
func chromiumFormPostSignIn(t *testing.T, ctx context.Context, rp *formPostRP, authURL string) rpPost {
	t.Helper()
	err := chromedp.Do(ctx,
		chromedp.Navigate(authURL),
		chromedp.WaitVisible("#login"),
		chromedp.SendKeys("#username", "alice"),
		chromedp.SendKeys("#password", alicePassword),
		chromedp.Click("#submit"),
		chromedp.WaitVisible("#consent"),
		chromedp.Click("#allow"),
	)
	if err != nil {
		t.Fatalf("browser sign-in: %v", err)
	}
	p := rp.nextPost(t, ctx)
	if err := chromedp.Do(ctx, chromedp.WaitVisible("#landed")); err != nil {
		t.Fatalf("the browser did not land on the relying party: %v", err)
	}
	return p
}

// TestFormPostBrowser (OAuth 2.0 Form Post Response Mode): a real browser, after the login and consent
// pages, POSTs code, state and iss to the redirect URI, nothing of it in the URL, and the code redeems with
// x/oauth2. An error (prompt=none needing consent) is POSTed the same way.
func TestFormPostBrowser(t *testing.T) {
	ctx := newChromium(t)
	f := newSigninFixture(t)
	rp := newFormPostRP(t, f)
	conf := rp.oauth2Config(f.s)
	verifier := oauth2.GenerateVerifier()
	state := `st "<&>' é`
	authURL := conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oidc.Nonce("n-fp"), oauth2.SetAuthURLParam("response_mode", "form_post"))

	p := chromiumFormPostSignIn(t, ctx, rp, authURL)
	if p.method != http.MethodPost || !strings.HasPrefix(p.contentType, "application/x-www-form-urlencoded") || p.rawQuery != "" {
		t.Fatalf("callback: %s %q query %q", p.method, p.contentType, p.rawQuery)
	}
	if p.form.Get("state") != state || p.form.Get("iss") != f.s.base || p.form.Get("code") == "" {
		t.Fatalf("posted parameters %v", p.form)
	}
	tok, err := conf.Exchange(ctx, p.form.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if id, _ := tok.Extra("id_token").(string); id == "" || tok.AccessToken == "" {
		t.Fatalf("token response: %+v", tok)
	}

	// The user did not ask to remember consent: prompt=none gets consent_required, POSTed as well.
	authURL = conf.AuthCodeURL("st-2", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("response_mode", "form_post"),
		oauth2.SetAuthURLParam("prompt", "none"))
	if err := chromedp.Do(ctx, chromedp.Navigate(authURL)); err != nil {
		t.Fatalf("navigate: %v", err)
	}
	p = rp.nextPost(t, ctx)
	if p.method != http.MethodPost || p.form.Get("error") != "consent_required" || p.form.Get("state") != "st-2" || p.form.Get("code") != "" {
		t.Fatalf("prompt=none: %s %v", p.method, p.form)
	}
}

var formInputRE = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)">`)

// formPostParams returns the hidden fields of a form_post page.
func formPostParams(t testing.TB, p page) url.Values {
	t.Helper()
	if p.status != 200 || !strings.Contains(p.body, `id="formpost"`) {
		t.Fatalf("expected the form_post page, got %d %q: %s", p.status, p.location, p.body)
	}
	v := url.Values{}
	for _, m := range formInputRE.FindAllStringSubmatch(p.body, -1) {
		v.Add(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	return v
}

// TestFormPostModes: discovery advertises query and form_post; response_mode=query redirects; an unknown
// mode is invalid_request in the query of the (valid) redirect URI; a form_post page is never cached and
// runs no script but its own; the mode survives the sealed login step and the stored consent step.
func TestFormPostModes(t *testing.T) {
	f := newSigninFixture(t)
	s := f.s
	rp := newFormPostRP(t, f)
	var meta struct {
		ResponseModes []string `json:"response_modes_supported"`
	}
	r := s.call("GET", "/.well-known/openid-configuration", "", nil)
	if err := json.Unmarshal(r.body, &meta); err != nil || strings.Join(meta.ResponseModes, " ") != "query form_post" {
		t.Fatalf("discovery response_modes_supported %v (%v)", meta.ResponseModes, err)
	}
	_, ch := pkce()
	authz := func(extra ...string) string {
		q := url.Values{"response_type": {"code"}, "client_id": {rp.clientID}, "redirect_uri": {rp.callback()}, "scope": {"openid"},
			"state": {"st"}, "code_challenge": {ch}, "code_challenge_method": {"S256"}}
		for i := 0; i+1 < len(extra); i += 2 {
			q.Set(extra[i], extra[i+1])
		}
		return s.base + "/connect/authorize?" + q.Encode()
	}
	b := newBrowser(t)
	for _, mode := range []string{"fragment", "FORM_POST", "web_message"} {
		q := redirectParams(t, b.get(authz("response_mode", mode)), rp.callback())
		if q.Get("error") != "invalid_request" || q.Get("state") != "st" {
			t.Fatalf("response_mode=%s: %v", mode, q)
		}
	}
	// An invalid redirect URI is never answered at it, whatever the mode.
	if p := b.get(strings.Replace(authz("response_mode", "form_post"), url.QueryEscape(rp.callback()), url.QueryEscape(rp.srv.URL+"/evil"), 1)); p.status != 400 || strings.Contains(p.body, "<form") {
		t.Fatalf("unregistered redirect URI with form_post: %d %s", p.status, p.body)
	}
	if p := b.get(authz("response_mode", "query")); !p.isLogin() {
		t.Fatalf("response_mode=query: %d %q", p.status, p.location)
	}
	// Not signed in, prompt=none: login_required, as a form.
	p := b.get(authz("response_mode", "form_post", "prompt", "none"))
	v := formPostParams(t, p)
	if v.Get("error") != "login_required" || v.Get("state") != "st" || v.Get("iss") != s.base {
		t.Fatalf("prompt=none form: %v", v)
	}
	csp := p.header.Get("Content-Security-Policy")
	if p.header.Get("Cache-Control") != "no-store" || !regexp.MustCompile(`(^|; )script-src 'sha256-[A-Za-z0-9+/]{43}='(;|$)`).MatchString(csp) ||
		!strings.Contains(csp, "form-action "+rp.srv.URL) || !strings.Contains(p.body, "<noscript>") {
		t.Fatalf("form_post page headers %v", p.header)
	}
	if !strings.Contains(p.body, `action="`+rp.callback()+`"`) {
		t.Fatalf("form action: %s", p.body)
	}
	// Through the login (sealed interaction) and consent (stored interaction) pages.
	p = b.login(s.base, b.get(authz("response_mode", "form_post")), "alice", alicePassword)
	p = b.consent(s.base, p, true, false)
	if v := formPostParams(t, p); v.Get("code") == "" || v.Get("state") != "st" {
		t.Fatalf("after consent: %v", v)
	}
}
