package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// mailFixture is a suite whose tenant acme sends mail to a real SMTP server process and allows
// self-registration; alice (alice@acme.example) is its user.
type mailFixture struct {
	*consoleFixture
	box      *mailbox
	tenantID string
	aliceID  string
}

func newMailFixture(t *testing.T) *mailFixture {
	t.Helper()
	f := &mailFixture{box: startMailbox(t), consoleFixture: newConsoleFixture(t)}
	f.tenantID = expect(t, "tenant", f.s.call("POST", "/api/adminapi2/v1/tenants/", f.adminToken, map[string]any{
		"code": "acme", "name": "Acme", "smtp": f.box.settings(), "selfRegistration": true,
	}), 201)["tenantId"].(string)
	f.aliceID = expect(t, "alice", f.s.call("POST", "/api/adminapi2/v1/tenants/"+f.tenantID+"/users/", f.adminToken, map[string]any{
		"loginName": "alice", "email": "alice@acme.example", "displayName": "Alice", "password": "alice-old-password-1",
	}), 201)["userId"].(string)
	f.s.sync()
	return f
}

// adminUser is the admin API's user, decoded into the fields these tests check (typed).
type adminUser struct {
	UserID        string `json:"userId"`
	LoginName     string `json:"loginName"`
	Email         string `json:"email"`
	EmailVerified bool   `json:"emailVerified"`
}

func (f *mailFixture) user(t *testing.T, id string) adminUser {
	t.Helper()
	r := f.s.call("GET", "/api/adminapi2/v1/tenants/"+f.tenantID+"/users/"+id, f.adminToken, nil)
	if r.status != http.StatusOK {
		t.Fatalf("GET user %s: %d %s", id, r.status, r.body)
	}
	var u adminUser
	if err := json.Unmarshal([]byte(r.body), &u); err != nil {
		t.Fatalf("user JSON %s: %v", r.body, err)
	}
	return u
}

// TestMailPasswordReset: in Chromium, "Forgot password?" on the login page mails a reset link (in the page's
// language) to a real SMTP server; the link sets a new password once; the new password signs in; then the
// account page mails a verification link whose confirmation marks the address verified (emailVerified over
// the admin API), once.
func TestMailPasswordReset(t *testing.T) {
	f := newMailFixture(t)
	b := f.browser()

	b.open("/account/signin?tenant=acme&ui_locales=zh-Hans")
	b.wait("#login")
	b.submit("#forgot", "form#forgot")
	if got := b.value("#tenant"); got != f.tenantID {
		t.Fatalf("organisation prefilled with %q, want %q", got, f.tenantID)
	}
	b.fill("#login", "alice")
	b.submit("#submit", "#message")

	m := f.box.next()
	if len(m.to) != 1 || m.to[0] != "alice@acme.example" || !strings.Contains(m.subject, "密码") {
		t.Fatalf("reset mail to %q subject %q", m.to, m.subject)
	}
	link := m.link(t, f.s.base+"/account/reset")

	b.open(strings.TrimPrefix(link, f.s.base))
	b.wait("#reset")
	b.fill("#new_password", "alice-new-password-2")
	b.fill("#repeat_password", "alice-new-password-2")
	b.submit("#submit", "#message")

	// The link is used up.
	b.open(strings.TrimPrefix(link, f.s.base))
	b.wait("#message")
	if b.has("#reset") {
		t.Fatal("a used reset link shows the form again")
	}

	// The new password signs in to the account page.
	b.open("/account/signin?tenant=acme")
	b.fill("#username", "alice")
	b.fill("#password", "alice-new-password-2")
	b.submit("#submit", "#login-name")
	if got := b.text("#login-name"); got != "alice" {
		t.Fatalf("account page of %q", got)
	}
	if f.user(t, f.aliceID).EmailVerified {
		t.Fatal("verified before the link was followed")
	}

	// E-mail verification from the account page.
	b.submit("#send-verification", "#notice")
	v := f.box.next()
	vlink := v.link(t, f.s.base+"/account/verify-email")
	b.open(strings.TrimPrefix(vlink, f.s.base))
	b.wait("#verify")
	if f.user(t, f.aliceID).EmailVerified {
		t.Fatal("opening the link (GET) verified the address: a mail scanner would")
	}
	b.submit("#submit", "#message")
	if !strings.Contains(b.text("#message"), "alice@acme.example") {
		t.Fatalf("confirmation page: %q", b.text("#message"))
	}
	if !f.user(t, f.aliceID).EmailVerified {
		t.Fatal("emailVerified is not true after the link")
	}
	// Used up: the second confirmation fails.
	b.open(strings.TrimPrefix(vlink, f.s.base))
	b.wait("#verify")
	b.submit("#submit", "#message")
	if strings.Contains(b.text("#message"), "alice@acme.example") {
		t.Fatal("a used verification link confirmed again")
	}
}

// TestMailSelfRegistration: on a tenant that allows it, "Create an account" on the login page creates a
// user who is signed in at once and gets a verification mail.
func TestMailSelfRegistration(t *testing.T) {
	f := newMailFixture(t)
	b := f.browser()
	b.open("/account/signin?tenant=acme")
	b.wait("#login")
	b.submit("#register", "form#register")
	b.fill("#login_name", "erin")
	b.fill("#email", "erin@acme.example")
	b.fill("#display_name", "Erin 李")
	b.fill("#password", "erins-password-1")
	b.fill("#repeat_password", "erins-password-1")
	b.submit("#submit", "#login-name")
	if got := b.text("#login-name"); got != "erin" {
		t.Fatalf("signed in as %q", got)
	}
	m := f.box.next()
	if len(m.to) != 1 || m.to[0] != "erin@acme.example" {
		t.Fatalf("verification mail to %q", m.to)
	}
	m.link(t, f.s.base+"/account/verify-email")

	// A taken login name shows the form again with its message.
	b2 := f.browser()
	b2.open("/account/signin?tenant=acme")
	b2.submit("#register", "form#register")
	b2.fill("#login_name", "alice")
	b2.fill("#email", "someone@acme.example")
	b2.fill("#password", "another-password-1")
	b2.fill("#repeat_password", "another-password-1")
	b2.submit("#submit", "#error")
	if !b2.has("form#register") {
		t.Fatal("the registration form is not shown again")
	}
}

// value is the current value of the input sel.
func (b *consoleBrowser) value(sel string) string {
	b.t.Helper()
	b.wait(sel)
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[string]("document.querySelector("+jsString(sel)+").value"))
	if err != nil {
		b.t.Fatalf("value of %s: %v", sel, err)
	}
	return v
}

var csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

func csrfOf(t *testing.T, p page) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no CSRF token on the page (status %d): %s", p.status, clipText(p.body, 400))
	}
	return m[1]
}

// TestMailForgotAnswersAlike: over HTTP, the forgot-password form answers a known and an unknown login with
// the same page, refuses a post without its CSRF token, slows a network down with 429 after its budget;
// links that do not verify show no form; opening a verification link changes nothing.
func TestMailForgotAnswersAlike(t *testing.T) {
	f := newMailFixture(t)
	b := newBrowser(t)
	base := f.s.base
	form := b.get(base + "/account/forgot?tenant=acme&ui_locales=zh-Hant")
	if form.status != 200 || !strings.Contains(form.header.Get("Content-Security-Policy"), "default-src 'none'") ||
		form.header.Get("Cache-Control") != "no-store" || !strings.Contains(form.body, `lang="zh-Hant"`) {
		t.Fatalf("forgot page: %d %v", form.status, form.header)
	}
	csrf := csrfOf(t, form)
	post := func(login, token string) page {
		return b.post(base+"/account/forgot", url.Values{"tenant": {"acme"}, "login": {login}, "csrf_token": {token}, "ui_locales": {"zh-Hant"}})
	}
	if p := post("alice", ""); p.status != http.StatusForbidden {
		t.Fatalf("without CSRF: %d", p.status)
	}
	unknown, known := post("nobody", csrf), post("alice", csrf)
	if unknown.status != 200 || known.status != 200 || unknown.body != known.body {
		t.Fatalf("answers differ: %d %d\n%s\n%s", unknown.status, known.status, unknown.body, known.body)
	}
	m := f.box.next()
	if m.to[0] != "alice@acme.example" || !strings.Contains(m.subject, "密碼") {
		t.Fatalf("mail to %q: %q", m.to, m.subject)
	}
	link := m.link(t, base+"/account/reset")
	// A tampered link shows no form; a post with another form's CSRF token is refused.
	if p := b.get(link + "x"); p.status != http.StatusBadRequest || strings.Contains(p.body, `id="reset"`) {
		t.Fatalf("tampered link: %d", p.status)
	}
	tok := strings.TrimPrefix(link, base+"/account/reset?token=")
	tok, _ = url.QueryUnescape(tok)
	if p := b.post(base+"/account/reset", url.Values{"token": {tok}, "csrf_token": {csrf}, "new_password": {"x-password-123"},
		"repeat_password": {"x-password-123"}}); p.status != http.StatusForbidden {
		t.Fatalf("reset with the forgot form's CSRF token: %d", p.status)
	}
	// A verification page renders without using anything up; a bad token fails on the button.
	vp := b.get(base + "/account/verify-email?token=bogus.token.value")
	if vp.status != 200 || !strings.Contains(vp.body, `id="verify"`) {
		t.Fatalf("verify page: %d", vp.status)
	}
	if p := b.post(base+"/account/verify-email", url.Values{"token": {"bogus.token.value"}, "csrf_token": {csrfOf(t, vp)}}); p.status != http.StatusBadRequest {
		t.Fatalf("bogus verification: %d", p.status)
	}
	// The network's budget (10 requests, 2 used) runs out: 429 with the form again.
	var last page
	for range 9 {
		last = post("nobody", csrf)
	}
	if last.status != http.StatusTooManyRequests || !strings.Contains(last.body, `id="forgot"`) {
		t.Fatalf("beyond the budget: %d %s", last.status, clipText(last.body, 300))
	}
}
