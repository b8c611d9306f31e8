package e2e

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// legacyCSRFToken is what an attacker can compute for a cookie of their choosing when the token is keyed
// by the cookie alone: HMAC-SHA-256(cookie, interaction).
func legacyCSRFToken(cookie, interaction string) string {
	m := hmac.New(sha256.New, []byte(cookie))
	m.Write([]byte(interaction))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// TestTrustCSRFBoundToInteraction: the login form's CSRF token is keyed by the server and
// bound to the interaction: a cookie and token pair an attacker planted is refused, a token of another
// interaction is refused, the genuine form works.
func TestTrustCSRFBoundToInteraction(t *testing.T) {
	f := newSigninFixture(t)
	s := f.s
	_, challenge := pkce()
	base, err := url.Parse(s.base + "/connect/login") // where the form is posted, whatever the cookie's path
	if err != nil {
		t.Fatal(err)
	}
	submit := func(b *browser, form url.Values) page {
		form.Set("username", "alice")
		form.Set("password", alicePassword)
		return b.post(s.base+"/connect/login", form)
	}
	refused := func(what string, p page) {
		t.Helper()
		if p.status != http.StatusForbidden || p.location != "" {
			t.Errorf("%s: status %d location %q, want 403 and no redirect", what, p.status, p.location)
		}
	}

	// The victim's browser gets a login page; the attacker plants a CSRF cookie of their choosing and
	// submits the page's interaction with a token computed from it.
	victim := newBrowser(t)
	p := victim.get(f.authorizeURL("spa", "openid", "st", "n-1", challenge))
	cookies := victim.client.Jar.Cookies(base)
	var csrfName string
	for _, c := range cookies {
		if strings.Contains(c.Name, "csrf") {
			csrfName = c.Name
		}
	}
	if csrfName == "" {
		t.Fatalf("no CSRF cookie set with the login page: %v", cookies)
	}
	planted := strings.Repeat("A", 43)
	attacker := newBrowser(t)
	attacker.client.Jar.SetCookies(base, []*http.Cookie{{Name: csrfName, Value: planted, Path: "/"}})
	form := p.hidden(t)
	form.Set("csrf_token", legacyCSRFToken(planted, form.Get("interaction")))
	refused("planted cookie and token", submit(attacker, form))

	// A token of another interaction of the same browser is refused.
	p2 := victim.get(f.authorizeURL("spa", "openid", "st2", "n-2", challenge))
	other := p2.hidden(t)
	mixed := url.Values{"interaction": {other.Get("interaction")}, "csrf_token": {p.hidden(t).Get("csrf_token")}}
	refused("token of another interaction", submit(victim, mixed))
	// A token without its cookie is refused.
	refused("token without the cookie", submit(newBrowser(t), p.hidden(t)))

	// The genuine form signs in.
	if q := redirectParams(t, submit(victim, p2.hidden(t)), f.callback); q.Get("code") == "" || q.Get("state") != "st2" {
		t.Fatalf("genuine login: %v", q)
	}
}
