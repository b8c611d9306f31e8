package e2e

import (
	"strings"
	"testing"

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
	b.click("#users a[href*='" + carol + "']")
	b.submit("#delete", "#confirm")
	b.submit("#confirm-yes", "#flash")
	if strings.Contains(b.text("#users"), "carol") {
		t.Fatal("deleted user still listed")
	}
	if h := strings.ToLower(b.html()); strings.Contains(h, " style=") || strings.Contains(h, "<script>") || strings.Contains(h, " onclick=") {
		t.Fatal("the users page has inline style or script")
	}
}
