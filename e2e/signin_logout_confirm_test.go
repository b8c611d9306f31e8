package e2e

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

// signInWeb signs b in for web and returns the ID token.
func (f *signinFixture) signInWeb(t *testing.T, b *browser) string {
	t.Helper()
	verifier, ch := pkce()
	code := f.codeFor(t, b, "web", "openid", ch)
	tok := expect(t, "exchange", f.tokenForm("web", f.webSecret, codeExchange(code, verifier, f.callback)), 200)
	return tok["id_token"].(string)
}

// signedIn reports whether b still has an SSO session: spa (no consent) with prompt=none gets a code.
func (f *signinFixture) signedIn(t *testing.T, b *browser) bool {
	t.Helper()
	_, ch := pkce()
	q := redirectParams(t, b.get(f.authorizeURL("spa", "openid", "probe", "", ch, "prompt", "none")), f.callback)
	switch {
	case q.Get("code") != "":
		return true
	case q.Get("error") == "login_required":
		return false
	}
	t.Fatalf("prompt=none answered %v", q)
	return false
}

func (p page) isLogoutConfirmation() bool {
	return p.status == 200 && strings.Contains(p.body, `id="logout"`)
}

func (b *browser) answerLogout(base string, p page, decision string) page {
	b.t.Helper()
	if !p.isLogoutConfirmation() {
		b.t.Fatalf("expected the logout confirmation, got status %d location %q: %s", p.status, p.location, p.body)
	}
	form := p.hidden(b.t)
	form.Set("decision", decision)
	return b.post(base+"/connect/endsession/confirm", form)
}

// TestLogoutNeedsConfirmation (RP-Initiated Logout 1.0 §2): without an id_token_hint of the browser's session,
// /connect/endsession only asks; nothing ends until the user confirms by a CSRF-protected POST. "No" keeps
// the session; "Yes" ends it, sends back-channel logout and redirects to the validated URI with state.
func TestLogoutNeedsConfirmation(t *testing.T) {
	f := newSigninFixture(t)
	s := f.s
	b := newBrowser(t)
	f.signInWeb(t, b)

	// A bare GET (an <img> on any page could send it) ends nothing.
	p := b.get(s.base + "/connect/endsession")
	if !p.isLogoutConfirmation() || p.header.Get("X-Frame-Options") != "DENY" || strings.Contains(p.body, "<script") {
		t.Fatalf("bare endsession: %d %q %s", p.status, p.location, p.body)
	}
	if !f.signedIn(t, b) {
		t.Fatal("a bare GET /connect/endsession ended the session")
	}
	if p := b.answerLogout(s.base, p, "no"); p.status != 200 || !strings.Contains(p.body, "still signed in") {
		t.Fatalf("answer no: %d %s", p.status, p.body)
	}
	if !f.signedIn(t, b) {
		t.Fatal("answering no ended the session")
	}
	// An answered confirmation cannot be replayed.
	if p := b.answerLogout(s.base, p, "yes"); p.status == 200 || p.location != "" || !f.signedIn(t, b) {
		t.Fatalf("replayed confirmation: %d %q", p.status, p.location)
	}

	q := url.Values{"client_id": {"web"}, "post_logout_redirect_uri": {f.rp.URL + "/bye"}, "state": {"bye-state"}}
	p = b.get(s.base + "/connect/endsession?" + q.Encode())
	// A form without the browser's CSRF token is refused.
	forged := p.hidden(t)
	forged.Set("csrf_token", "forged")
	forged.Set("decision", "yes")
	if r := b.post(s.base+"/connect/endsession/confirm", forged); r.status != 403 || !f.signedIn(t, b) {
		t.Fatalf("forged confirmation: %d", r.status)
	}
	if len(f.logoutTokens()) != 0 {
		t.Fatal("back-channel logout sent before confirmation")
	}
	p = b.answerLogout(s.base, p, "yes")
	if r := redirectParams(t, p, f.rp.URL+"/bye"); r.Get("state") != "bye-state" || p.status != 303 {
		t.Fatalf("after yes: %d %q", p.status, p.location)
	}
	if f.signedIn(t, b) {
		t.Fatal("the session survived a confirmed logout")
	}
	eventually(t, 5*time.Second, "back-channel logout token", func() bool { return len(f.logoutTokens()) == 1 })

	// Confirmed without a post_logout_redirect_uri: the signed-out page.
	f.signInWeb(t, b)
	p = b.answerLogout(s.base, b.get(s.base+"/connect/endsession"), "yes")
	if p.status != 200 || !strings.Contains(p.body, "signed out") || f.signedIn(t, b) {
		t.Fatalf("confirmed bare logout: %d %s", p.status, p.body)
	}
}

// TestLogoutWithMatchingHint: an id_token_hint of the browser's own session logs out at once; a hint of
// another session (another browser) ends that session, but the browser's own only after it confirms.
func TestLogoutWithMatchingHint(t *testing.T) {
	f := newSigninFixture(t)
	s := f.s
	b1, b2 := newBrowser(t), newBrowser(t)
	idt1 := f.signInWeb(t, b1)
	idt2 := f.signInWeb(t, b2)
	q := func(hint string) string {
		return s.base + "/connect/endsession?" + url.Values{
			"id_token_hint": {hint}, "post_logout_redirect_uri": {f.rp.URL + "/bye"}, "state": {"st"},
		}.Encode()
	}
	if p := b2.get(q(idt1)); !p.isLogoutConfirmation() || !f.signedIn(t, b2) {
		t.Fatalf("hint of another session: %d %q", p.status, p.location)
	}
	if f.signedIn(t, b1) {
		t.Fatal("the session the hint names survived")
	}
	p := b2.get(q(idt2))
	if r := redirectParams(t, p, f.rp.URL+"/bye"); r.Get("state") != "st" || f.signedIn(t, b2) {
		t.Fatalf("matching hint: %d %q", p.status, p.location)
	}
}
