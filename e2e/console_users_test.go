package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The console's users, sessions, signing keys and audit pages, driven in Chromium against the real suite.

// loginFails signs in to tenantCode's console as login with password and waits for the login page's own
// refusal (#error): the user could not sign in.
func (b *consoleBrowser) loginFails(tenantCode, login, password string) string {
	b.t.Helper()
	b.open("/console/")
	b.fill("#f-tenant", tenantCode)
	b.submit("#continue", "#login")
	b.fill("#username", login)
	b.fill("#password", password)
	b.markStale()
	b.run("sign in as "+login, chromedp.Click(css("#submit")), chromedp.WaitVisible(css(fresh("#error, #user, #forbidden"))))
	if !b.has("#error") {
		b.t.Fatalf("%s signed in with %q (at %s)", login, password, b.path())
	}
	return b.text("#error")
}

// TestConsoleUsers: a system administrator creates a user in a tenant through the users page (a bad address
// first: the API's message next to the field), edits roles, groups and attributes (a duplicate role first),
// resets the password (the old one stops working, the new one works, a short one is refused inline and never
// shown back) and disables the user (who can no longer sign in). The user, now a tenant admin, sees their
// tenant's users but not another tenant's.
func TestConsoleUsers(t *testing.T) {
	f := newConsoleFixture(t)
	acme := f.tenant("acme", "Acme")
	f.user(acme, "dave", "dave-password-123")
	b := f.browser()
	b.signIn("default", "admin", consoleAdminPassword)

	b.open("/console/users?tenant=" + acme)
	if !strings.Contains(b.text("#users"), "dave") {
		t.Fatalf("users of acme: %q", b.text("#users"))
	}
	// Create: a bad address first, the values kept and the password never sent back.
	b.fill("#f-loginName", "carol")
	b.fill("#f-email", "not-an-email")
	b.fill("#f-displayName", "Carol Jones")
	b.fill("#f-password", "carol-password-1")
	b.fill("#f-groups", "billing")
	b.submit("#create", "#e-email")
	if msg := b.text("#e-email"); msg == "" {
		t.Fatal("no message next to the email field")
	}
	if strings.Contains(b.html(), "carol-password-1") {
		t.Fatal("the password is rendered back")
	}
	b.screenshot("users-invalid")
	b.fill("#f-email", "carol@acme.example")
	b.fill("#f-password", "carol-password-1")
	b.submit("#create", "#flash")
	if got := b.text("#user-login"); got != "carol" {
		t.Fatalf("created user page shows %q", got)
	}
	carol := b.text("#user-id")

	// Roles: a duplicate is refused next to the roles input, then roles, groups and attributes are saved.
	b.fill("#f-roles", "tenant_admin tenant_admin")
	b.submit("#save", "#e-roles")
	if msg := b.text("#e-roles"); !strings.Contains(msg, "tenant_admin") {
		t.Fatalf("roles message %q", msg)
	}
	b.fill("#f-roles", "tenant_admin, auditor")
	b.fill("#f-groups", "billing ops/eu")
	b.fill("#f-attributes", "department=R&D")
	b.submit("#save", "#flash")
	if got := b.text("#user-roles"); got != "tenant_admin, auditor" {
		t.Fatalf("roles after save: %q", got)
	}
	if got := b.text("#user-groups"); got != "billing, ops/eu" {
		t.Fatalf("groups after save: %q", got)
	}
	u := expect(t, "carol over REST", f.s.call("GET", "/api/adminapi2/v1/tenants/"+acme+"/users/"+carol, f.adminToken, nil), 200)
	if attrs, _ := u["attributes"].(map[string]any); attrs["department"] != "R&D" || u["email"] != "carol@acme.example" || u["displayName"] != "Carol Jones" {
		t.Fatalf("carol as stored: %v", u)
	}

	// Reset the password: too short is refused inline (never shown back), then a good one.
	b.fill("#f-password", "short")
	b.submit("#set-password", "#e-password")
	if strings.Contains(b.html(), `value="short"`) {
		t.Fatal("the refused password is rendered back")
	}
	b.fill("#f-password", "carol-new-password-2")
	b.submit("#set-password", "#flash")
	b.screenshot("user-edit")
	// The browser's sign-in must find the new password and roles at the token service: a later write over
	// REST (whose revision the suite remembers) is a barrier for the console's writes before it.
	f.user(acme, "erin", "erin-password-123")

	// The old password no longer works; the new one does, and carol is now a tenant admin of acme only.
	c := f.browser()
	c.loginFails("acme", "carol", "carol-password-1")
	c.fill("#password", "carol-new-password-2")
	c.markStale()
	c.run("sign in with the new password", chromedp.Click(css("#submit")), chromedp.WaitVisible(css(fresh("#user, #forbidden, #error"))))
	for _, sel := range []string{"#error", "#forbidden"} {
		if c.has(sel) {
			t.Errorf("carol as stored: %s", f.s.call("GET", "/api/adminapi2/v1/tenants/"+acme+"/users/"+carol, f.adminToken, nil).body)
			t.Fatalf("carol's sign-in with the new password: %s %q", sel, c.text(sel))
		}
	}
	if got := c.text("#tenant"); got != "tenant acme" {
		t.Fatalf("carol signed in as %q at %s", got, c.path())
	}
	c.open("/console/users")
	if list := c.text("#users"); !strings.Contains(list, "dave") || !strings.Contains(list, "carol") || strings.Contains(list, "\nadmin\t") {
		t.Fatalf("carol's users page: %q", list)
	}
	if c.has("#tenant-pick") {
		t.Fatal("a tenant admin is offered a tenant picker")
	}
	c.open("/console/users?tenant=default")
	c.wait("#forbidden") // the API's refusal, as the 403 page

	// Filter: the API's server-side filter finds one user among many.
	b.open("/console/users?tenant=" + acme + "&q=DAV")
	if list := b.text("#users"); !strings.Contains(list, "dave") || strings.Contains(list, "carol") {
		t.Fatalf("filtered list: %q", list)
	}
	b.open("/console/users?tenant=" + acme)
	b.screenshot("users")

	// Disable: carol can no longer sign in.
	b.open("/console/users/" + carol + "?tenant=" + acme)
	b.submit("#disable", "#flash")
	if got := b.text("#user-state"); !strings.Contains(got, "disabled") {
		t.Fatalf("state after disable: %q", got)
	}
	f.user(acme, "frank", "frank-password-123") // a barrier, as above
	f.browser().loginFails("acme", "carol", "carol-new-password-2")
	b.submit("#enable", "#flash")

	// Delete, after the confirmation.
	b.open("/console/users?tenant=" + acme)
	b.submit("#users a[href*='"+carol+"']", "#user-facts")
	b.submit("#delete", "#confirm")
	b.submit("#confirm-yes", "#flash")
	if strings.Contains(b.text("#users"), "carol") {
		t.Fatal("deleted user still listed")
	}
	if h := strings.ToLower(b.html()); strings.Contains(h, " style=") || strings.Contains(h, "<script>") || strings.Contains(h, " onclick=") {
		t.Fatal("the users page has inline style or script")
	}
}

// startConsoleSignIn starts a console sign-in for tenantCode and waits for what the authorization endpoint
// answers: the login page (#login), or, when the browser's SSO session signs in without it, the console's
// answer. It reports whether the login page showed.
func (b *consoleBrowser) startConsoleSignIn(tenantCode string) bool {
	b.t.Helper()
	b.open("/console/")
	b.fill("#f-tenant", tenantCode)
	b.submit("#continue", "#login, #user, #forbidden")
	return b.has("#login")
}

// TestConsoleSessionsKeys: a user signs in through the real login page; the system administrator finds the
// session from the user's page, ends it (after a confirmation), and the user's browser must sign in again.
// Then the administrator rotates the signing key and sees the old key retired; a tenant administrator is
// refused the keys page.
func TestConsoleSessionsKeys(t *testing.T) {
	f := newConsoleFixture(t)
	acme := f.tenant("acme", "Acme")
	pat := f.user(acme, "pat", "pat-password-123")
	f.user(acme, "ada", "ada-password-123", "tenant_admin")

	// pat (no admin role) signs in: the console refuses pat, but the SSO session is made.
	p := f.browser()
	p.signIn("acme", "pat", "pat-password-123")
	p.wait("#forbidden")
	if p.startConsoleSignIn("acme") {
		t.Fatal("the SSO session did not sign pat in again")
	}

	b := f.browser()
	b.signIn("default", "admin", consoleAdminPassword)
	b.open("/console/users/" + pat + "?tenant=" + acme)
	b.submit("#user-sessions", "#sessions")
	if list := b.text("#sessions"); !strings.Contains(list, "pat") {
		t.Fatalf("pat's sessions: %q", list)
	}
	b.open("/console/sessions?tenant=" + acme)
	b.screenshot("sessions")
	b.submit("#sessions a.end-session", "#confirm")
	b.submit("#confirm-yes", "#flash")
	if list := b.text("#sessions"); strings.Contains(list, "pat") {
		t.Fatalf("sessions after ending pat's: %q", list)
	}
	if !p.startConsoleSignIn("acme") {
		t.Fatal("after the session ended, pat's browser signed in without the login page")
	}

	// Signing keys: one current key; rotate now; the new key is published, then signs, and the old retires.
	b.open("/console/keys")
	if b.has("#keys tr.key-retired") || !b.has("#keys tr.key-current") {
		t.Fatalf("keys before the rotation: %q", b.text("#keys"))
	}
	old := b.text("#keys tr.key-current code")
	b.submit("#rotate", "#confirm")
	if !strings.Contains(b.text("#question"), old) {
		t.Fatalf("the confirmation does not name the current key %s: %q", old, b.text("#question"))
	}
	b.submit("#confirm-yes", "#flash")
	if !strings.Contains(b.text("#keys"), old) || !b.has("#keys tr.key-next, #keys tr.key-current + tr") {
		t.Fatalf("keys after the rotation: %q", b.text("#keys"))
	}
	// The old key retires once the new one is published (the token service's publish delay): wait for the
	// keys page to say so, asking it from a same-origin page the console's CSP does not govern (the console
	// forbids scripts to fetch).
	b.open("/.well-known/openid-configuration")
	retired := `(() => { const r = new XMLHttpRequest(); r.open("GET", "/console/keys", false); r.send(); return r.responseText.includes("key-retired"); })()`
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](retired, chromedp.WithPollingInterval(200*time.Millisecond))); err != nil {
		t.Fatalf("wait for the retired key: %v", err)
	}
	b.open("/console/keys")
	if got := b.text("#keys tr.key-retired code"); got != old {
		t.Fatalf("retired key %q, want %s", got, old)
	}
	b.screenshot("keys")

	// A tenant administrator: the API refuses the keys, and the console shows its refusal.
	a := f.browser()
	a.signIn("acme", "ada", "ada-password-123")
	a.open("/console/keys")
	a.wait("#forbidden")
}

// TestConsoleAudit: what an administrator just did in the console, and a sign-in through the login page,
// show on the audit page, newest first, with actor, target and outcome; the event filter narrows the page;
// a tenant administrator sees their tenant's events only.
func TestConsoleAudit(t *testing.T) {
	f := newConsoleFixture(t)
	acme := f.tenant("acme", "Acme")
	globex := f.tenant("globex", "Globex")
	f.user(globex, "gina", "gina-password-123")
	f.user(acme, "ada", "ada-password-123", "tenant_admin")

	b := f.browser()
	b.signIn("default", "admin", consoleAdminPassword)
	b.open("/console/users?tenant=" + acme)
	b.fill("#f-loginName", "hugo")
	b.fill("#f-password", "hugo-password-123")
	b.submit("#create", "#flash")
	hugo := b.text("#user-id")
	b.fill("#f-password", "hugo-password-456")
	b.submit("#set-password", "#flash")
	b.submit("#disable", "#flash")

	b.open("/console/audit")
	all := b.text("#audit")
	for _, want := range []string{"user_created", "user_password_set", "user_disabled", "sign_in", "user " + hugo, "tenant_created"} {
		if !strings.Contains(all, want) {
			t.Fatalf("audit page lacks %q:\n%s", want, all)
		}
	}
	if i, j := strings.Index(all, "user_disabled"), strings.Index(all, "user_created"); i > j {
		t.Fatalf("audit events not newest first:\n%s", all)
	}
	b.screenshot("audit")
	b.open("/console/audit?event=user_created")
	if list := b.text("#audit"); !strings.Contains(list, "user_created") || strings.Contains(list, "user_disabled") || strings.Contains(list, "sign_in") {
		t.Fatalf("filtered by user_created:\n%s", list)
	}

	// A tenant administrator of acme: acme's events, never globex's.
	a := f.browser()
	a.signIn("acme", "ada", "ada-password-123")
	a.open("/console/audit")
	list := a.text("#audit")
	if !strings.Contains(list, "user "+hugo) || strings.Contains(list, globex) {
		t.Fatalf("acme's admin sees:\n%s", list)
	}
	a.open("/console/audit?tenant=" + globex)
	a.wait("#forbidden")
}
