package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"
)

// accountBrowser is a Chromium on the sign-in fixture's suite (the console harness's browser).
func accountBrowser(f *signinFixture, t *testing.T) *consoleBrowser {
	t.Helper()
	return (&consoleFixture{t: t, s: f.s}).browser()
}

// accountSignIn signs alice in to the account page from its organisation-code page, with password.
func accountSignIn(b *consoleBrowser, password string) {
	b.t.Helper()
	b.open("/account")
	b.fill("#tenant", "acme")
	b.submit("#continue", "#login")
	b.fill("#username", "alice")
	b.fill("#password", password)
	b.submit("#submit", "#profile, #error")
}

// attr is the value of the attribute name of the first element matching sel.
func (b *consoleBrowser) attr(sel, name string) string {
	b.t.Helper()
	b.wait(sel)
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[string]("document.querySelector("+jsString(sel)+").getAttribute("+jsString(name)+") || ''"))
	if err != nil {
		b.t.Fatalf("attribute %s of %s: %v", name, sel, err)
	}
	return v
}

// count is how many elements match sel now.
func (b *consoleBrowser) count(sel string) int {
	b.t.Helper()
	n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int]("document.querySelectorAll("+jsString(sel)+").length"))
	if err != nil {
		b.t.Fatalf("count %s: %v", sel, err)
	}
	return n
}

// TestAccountPageChromium drives the account page in Chromium: sign in through the organisation-code page,
// remember a consent, see two sessions (two browsers) and end the other one (its cookie stops working),
// revoke the consent (the next authorization asks again and the client's refresh token is dead), change the
// password (the old one fails, the new one works), and enrol TOTP with a code computed here (the recovery
// codes show once).
func TestAccountPageChromium(t *testing.T) {
	f := newSigninFixture(t)
	b1 := accountBrowser(f, t)
	accountSignIn(b1, alicePassword)
	if got := b1.text("#login-name"); got != "alice" {
		t.Fatalf("login name on the page = %q", got)
	}
	if !strings.Contains(b1.text("#email"), "alice@acme.example") {
		t.Fatalf("e-mail on the page = %q", b1.text("#email"))
	}
	if csp := f.s.callWith(http.MethodGet, "/account", "", nil).header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "img-src data:") {
		t.Fatalf("account page CSP = %q", csp)
	}

	// A form with a forged CSRF token (posted from the page itself, with the browser's cookies) is refused
	// and ends nothing.
	ownSID := b1.attr("li.session", "data-sid")
	b1.postForm("/account/sessions/end", map[string]string{"sid": ownSID, "csrf_token": "forged"}, "#message")
	b1.open("/account")
	if b1.attr("li.session", "data-sid") != ownSID {
		t.Fatal("the session changed after a forged form")
	}

	// A remembered consent for web, and a refresh token of it.
	verifier, challenge := pkce()
	b1.run("authorize web", chromedp.Navigate(f.authorizeURL("web", "openid offline_access", "st", "n", challenge)), chromedp.WaitVisible(css("#consent")))
	b1.click("#remember")
	b1.markStale()
	b1.run("allow", chromedp.Click(css("#allow")))
	loc := waitAccountLocation(t, b1, f.callback)
	code := mustQuery(t, loc).Get("code")
	tok := expect(t, "code", f.s.form("/connect/token", url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {f.callback}, "code_verifier": {verifier}}.Encode(), "web", f.webSecret), 200)
	refresh, _ := tok["refresh_token"].(string)
	if refresh == "" {
		t.Fatalf("no refresh token: %v", tok)
	}

	// A second browser signs in: the first sees two sessions and ends the second's.
	b2 := accountBrowser(f, t)
	accountSignIn(b2, alicePassword)
	otherSID := b2.attr("li.session", "data-sid")
	b1.open("/account")
	if n := b1.count("li.session"); n != 2 {
		t.Fatalf("sessions listed = %d; want 2", n)
	}
	if b1.attr("li.session", "data-sid") == otherSID {
		t.Fatal("the other browser's session is listed first, as the current one")
	}
	if n := b1.count(`li.consent[data-client="web"]`); n != 1 {
		t.Fatalf("consents for web listed = %d; want 1", n)
	}
	b1.submit(`button[id="end-`+otherSID+`"]`, "#notice")
	if b1.count(`li.session[data-sid="`+otherSID+`"]`) != 0 {
		t.Fatal("the ended session is still listed")
	}
	b2.open("/account")
	b2.wait("#tenant-form") // its cookie names no session any more

	// Revoke the consent: the client's refresh token dies, the next authorization asks again.
	b1.submit(`button[id="revoke-web"]`, "#notice")
	expect(t, "refresh after revocation", f.s.form("/connect/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}.Encode(), "web", f.webSecret), 400, "invalid_grant")
	b1.run("authorize again", chromedp.Navigate(f.authorizeURL("web", "openid", "st", "n", challenge)), chromedp.WaitVisible(css("#consent")))

	// Change the password: a wrong current one is refused; then the old one fails and the new one works.
	b1.open("/account")
	b1.fill("#current_password", "not-the-password")
	b1.fill("#new_password", "a-brand-new-password-1")
	b1.submit("#change-password", "#error")
	b1.fill("#current_password", alicePassword)
	b1.fill("#new_password", "a-brand-new-password-1")
	b1.submit("#change-password", "#notice")
	h := newBrowser(t)
	p := h.login(f.s.base, h.get(f.s.base+"/account/signin?tenant=acme"), "alice", alicePassword)
	if !p.isLogin() {
		t.Fatalf("the old password still signs in: status %d location %q", p.status, p.location)
	}
	p = h.login(f.s.base, p, "alice", "a-brand-new-password-1")
	if p.status != http.StatusSeeOther && p.status != http.StatusFound || !strings.HasSuffix(p.location, "/account") {
		t.Fatalf("the new password: status %d location %q", p.status, p.location)
	}

	// TOTP: the QR code and key, a code computed here, recovery codes shown once.
	b1.submit("#totp-begin", "#totp-secret")
	if src := b1.attr("#totp-qr", "src"); !strings.HasPrefix(src, "data:image/png;base64,") {
		t.Fatalf("QR code src = %.40q", src)
	}
	secret := b1.text("#totp-secret")
	otp, err := totp.GenerateCode(secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	b1.fill("#totp-code", otp)
	b1.submit("#totp-confirm", "#recovery-codes")
	if n := b1.count("#recovery-codes li"); n < 8 {
		t.Fatalf("recovery codes shown = %d", n)
	}
	b1.open("/account")
	b1.wait("#totp-delete")
	if b1.has("#recovery-codes") {
		t.Fatal("the recovery codes are shown again")
	}
}

// waitAccountLocation waits until the browser's location starts with prefix (the relying party's callback).
func waitAccountLocation(t *testing.T, b *consoleBrowser, prefix string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	loc, err := waitLocation(ctx, prefix)
	if err != nil {
		t.Fatalf("wait for %s: %v (at %s)", prefix, err, loc)
	}
	return loc
}

func mustQuery(t *testing.T, loc string) url.Values {
	t.Helper()
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

// adminSessionList is the JSON of GET /api/adminapi2/v1/tenants/{t}/users/{u}/sessions.
type adminSessionList struct {
	Items []struct {
		Sid        string   `json:"sid"`
		TenantID   string   `json:"tenantId"`
		UserID     string   `json:"userId"`
		LoginName  string   `json:"loginName"`
		AuthTime   string   `json:"authTime"`
		ExpireTime string   `json:"expireTime"`
		ClientIDs  []string `json:"clientIds"`
		Amr        []string `json:"amr"`
	} `json:"items"`
	NextPageToken string `json:"nextPageToken"`
}

// TestAdminUserSessions: an administrator lists one user's sessions and ends them all over REST (typed
// JSON); the user's browsers are signed out; a second call ends none; bad input names the field.
func TestAdminUserSessions(t *testing.T) {
	f := newSigninFixture(t)
	var browsers []*browser
	for range 2 {
		h := newBrowser(t)
		p := h.login(f.s.base, h.get(f.s.base+"/account/signin?tenant=acme"), "alice", alicePassword)
		if !strings.HasSuffix(p.location, "/account") {
			t.Fatalf("sign-in: status %d location %q", p.status, p.location)
		}
		browsers = append(browsers, h)
	}
	path := "/api/adminapi2/v1/tenants/" + f.tenantID + "/users/" + f.aliceID + "/sessions"
	r := f.s.call(http.MethodGet, path, f.adminToken, nil)
	if r.status != http.StatusOK {
		t.Fatalf("GET sessions: %d %s", r.status, r.body)
	}
	var list adminSessionList
	if err := json.Unmarshal(r.body, &list); err != nil {
		t.Fatalf("session list JSON: %v: %s", err, r.body)
	}
	if len(list.Items) != 2 {
		t.Fatalf("alice's sessions = %d; want 2: %s", len(list.Items), r.body)
	}
	for _, s := range list.Items {
		if s.Sid == "" || s.UserID != f.aliceID || s.TenantID != f.tenantID {
			t.Fatalf("session item = %+v", s)
		}
		if !slices.Contains(s.Amr, "pwd") {
			t.Fatalf("session amr = %q; want pwd", s.Amr)
		}
		if _, err := time.Parse(time.RFC3339, s.AuthTime); err != nil {
			t.Fatalf("authTime %q: %v", s.AuthTime, err)
		}
	}
	r = f.s.call(http.MethodDelete, path, f.adminToken, nil)
	var ended struct {
		Ended int `json:"ended"`
	}
	if r.status != http.StatusOK || json.Unmarshal(r.body, &ended) != nil || ended.Ended != 2 {
		t.Fatalf("DELETE sessions: %d %s; want 200 with ended 2", r.status, r.body)
	}
	for _, h := range browsers {
		if p := h.get(f.s.base + "/account"); !strings.Contains(p.body, `id="tenant-form"`) {
			t.Fatalf("a browser of an ended session still sees the account page: %d", p.status)
		}
	}
	r = f.s.call(http.MethodDelete, path, f.adminToken, nil)
	if r.status != http.StatusOK || json.Unmarshal(r.body, &ended) != nil || ended.Ended != 0 {
		t.Fatalf("DELETE again: %d %s; want ended 0", r.status, r.body)
	}
	expect(t, "no token", f.s.call(http.MethodDelete, path, "", nil), http.StatusUnauthorized)
}

// BenchmarkAccountPage measures GET /account for a signed-in browser through the whole suite (gateway,
// token service, registry factors, session and consent listings), one request at a time and in parallel.
func BenchmarkAccountPage(b *testing.B) {
	f := newSigninFixture(b)
	h := newBrowser(b)
	p := h.login(f.s.base, h.get(f.s.base+"/account/signin?tenant=acme"), "alice", alicePassword)
	if !strings.HasSuffix(p.location, "/account") {
		b.Fatalf("sign-in: status %d location %q", p.status, p.location)
	}
	get := func() {
		resp, err := h.client.Get(f.s.base + "/account")
		if err != nil {
			b.Fatal(err)
		}
		pg := readPage(b, resp)
		if pg.status != http.StatusOK || !strings.Contains(pg.body, `id="profile"`) {
			b.Fatalf("GET /account: %d", pg.status)
		}
	}
	b.Run("serial", func(b *testing.B) {
		for b.Loop() {
			get()
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				get()
			}
		})
	})
}
