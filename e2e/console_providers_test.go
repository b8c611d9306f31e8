package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// upload sets the file input sel to the file at path (as a user choosing it).
func (b *consoleBrowser) upload(sel, path string) {
	b.t.Helper()
	abs, err := filepath.Abs(path)
	if err != nil {
		b.t.Fatal(err)
	}
	b.run("choose "+path, chromedp.WaitVisible(css(sel)), chromedp.SetUploadFiles(css(sel), []string{abs}))
}

// TestConsoleProviders: the system administrator loads the seed's provider file through the console and sees
// every entry accepted; loads a file with one bad entry and sees that entry's problems, the good entry
// valid but not stored, and nothing stored; views and deletes a provider. Then connectors: one created
// through REST for a user shows in the tenant's list, under that user, with its status, and is revoked.
// A tenant administrator may list providers, is not offered loading or deleting, and the API refuses a delete.
func TestConsoleProviders(t *testing.T) {
	f := newConsoleFixture(t)
	s := f.s
	b := f.browser()
	b.signIn("default", "admin", consoleAdminPassword)

	b.open("/console/providers")
	if got := b.text("h1"); got != "Providers" {
		t.Fatalf("heading %q at %s", got, b.path())
	}
	if !b.has("#no-providers") {
		t.Fatalf("a new suite lists providers: %s", b.text("#providers"))
	}

	// The seed's file: every entry accepted and listed.
	b.upload("#f-file", filepath.Join("..", "docs", "examples", "oauth-configurations.json"))
	b.submit("#load", "#load-accepted")
	for _, e := range []string{"google_gmail/Gmail-1", "slack/Slack"} {
		if got := b.text(`tr[data-entry="` + e + `"] td:last-child`); got != "created" {
			t.Fatalf("entry %s: %q", e, got)
		}
	}
	b.screenshot("providers-loaded")
	b.open("/console/providers")
	if rows := b.text("#providers"); !strings.Contains(rows, "Gmail-1") || !strings.Contains(rows, "Slack") {
		t.Fatalf("list after the load: %q", rows)
	}
	b.screenshot("providers")

	// A file with a bad entry: its problems next to it, the good entry not stored either.
	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, []byte(`{"oauthConfigurations": {
  "google_gmail": {"Gmail-2": {"CLIENT_ID": "id-only"}},
  "slack": {"Slack-2": {"CLIENT_ID": "1.2", "CLIENT_SECRET": "s"}}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	b.upload("#f-file", bad)
	b.submit("#load", "#load-refused")
	if got := b.text(`tr[data-entry="google_gmail/Gmail-2"] .entry-problems`); !strings.Contains(got, "CLIENT_SECRET") {
		t.Fatalf("Gmail-2's problems: %q", got)
	}
	if got := b.text(`tr[data-entry="slack/Slack-2"] td:last-child`); got != "valid, not stored" {
		t.Fatalf("Slack-2: %q", got)
	}
	if got := b.text("#refused-summary"); !strings.HasPrefix(got, "1 of 2 entries") {
		t.Fatalf("summary %q", got)
	}
	b.screenshot("provider-refused")
	b.open("/console/providers")
	if rows := b.text("#providers"); strings.Contains(rows, "Slack-2") || strings.Contains(rows, "Gmail-2") {
		t.Fatalf("a refused load stored something: %q", rows)
	}
	// A file that is not JSON: the API's position of the syntax error.
	if err := os.WriteFile(bad, []byte("{\n  \"slack\": \n}"), 0o600); err != nil {
		t.Fatal(err)
	}
	b.upload("#f-file", bad)
	b.submit("#load", "#load-refused")
	if got := b.text("#file-problems"); !strings.Contains(got, "line 3") {
		t.Fatalf("syntax error shown as %q", got)
	}

	// View one (no secret), filter, delete with confirmation.
	b.open("/console/providers?q=gmail")
	if rows := b.text("#providers"); strings.Contains(rows, "Slack") || !strings.Contains(rows, "Gmail-1") {
		t.Fatalf("filtered list: %q", rows)
	}
	b.open("/console/providers/google_gmail/Gmail-1")
	if page := b.text("#settings"); !strings.Contains(page, "CLIENT_ID") || strings.Contains(page, "example-gmail-client-secret") {
		t.Fatalf("provider page: %q", page)
	}
	b.screenshot("provider")
	b.open("/console/providers")
	b.submit(`a[aria-label="Delete provider slack/Slack"]`, "#confirm")
	b.submit("#confirm-yes", "#flash")
	if rows := b.text("#providers"); strings.Contains(rows, "Slack") {
		t.Fatalf("deleted provider still listed: %q", rows)
	}

	// Connectors: one for a user of a tenant, created through REST (the administrator acting as the user).
	tenant := f.tenant("acme", "Acme")
	alice := f.user(tenant, "alice", "alice-password-1")
	bob := f.user(tenant, "bob", "bob-password-1")
	created := expect(t, "connector", s.call("POST", "/api/provider/v1/connectors?sudo=uid:"+alice+"&tenantId="+tenant, f.adminToken,
		map[string]any{"connectorType": "google_gmail", "oauthProvider": "Gmail-1"}), 201)
	id := created["connectorId"].(string)
	b.open("/console/connectors?tenant=" + tenant)
	row := "#connector-" + id
	if got := b.text(row + " .status"); got != "pending" {
		t.Fatalf("status %q", got)
	}
	if got := b.text(row); !strings.Contains(got, "alice") || !strings.Contains(got, "Gmail-1") {
		t.Fatalf("row %q", got)
	}
	b.screenshot("connectors")
	// Narrowed to bob, it is not there; to alice, it is.
	b.open("/console/connectors?tenant=" + tenant + "&user=" + bob)
	if b.wait("#connectors"); b.has(row) {
		t.Fatalf("alice's connector listed under bob")
	}
	b.open("/console/connectors?tenant=" + tenant + "&user=" + alice)
	if !b.has(row) {
		t.Fatalf("alice's connector missing under her filter")
	}
	b.open("/console/connectors/" + id + "?tenant=" + tenant)
	if got := b.text("#connector-status"); got != "pending" {
		t.Fatalf("connector page status %q", got)
	}
	b.screenshot("connector")
	b.open("/console/connectors?tenant=" + tenant + "&user=" + alice)
	b.submit(row+" .revoke-connector", "#confirm")
	b.screenshot("connector-revoke")
	b.submit("#confirm-yes", "#flash")
	if b.has(row) {
		t.Fatalf("revoked connector still listed")
	}
	expect(t, "revoked connector", s.call("GET", "/api/provider/v1/connectors/"+id, f.adminToken, nil), 404)

	// A tenant administrator lists the providers; loads and deletes are a system administrator's (the API's rule).
	f.user(tenant, "carol", "carol-password-1", "tenant_admin")
	tb := f.browser()
	tb.signIn("acme", "carol", "carol-password-1")
	tb.open("/console/providers")
	if rows := tb.text("#providers"); !strings.Contains(rows, "Gmail-1") {
		t.Fatalf("tenant admin's provider list: %q", rows)
	}
	if tb.has("#load-form") || tb.has(".delete-provider") || !tb.has("#system-only") {
		t.Fatalf("a tenant admin is offered loading or deleting providers")
	}
	// Deleting anyway, with the session's own CSRF token: the API refuses it.
	tb.postForm("/console/providers/google_gmail/Gmail-1/delete", map[string]string{"csrf": tb.csrf()}, "#forbidden")
	// Their connectors page has no tenant picker, and offers their tenant's users.
	tb.open("/console/connectors")
	if tb.wait("#connectors"); tb.has("#tenant-pick") || !strings.Contains(tb.text("#user-pick"), "alice") {
		t.Fatalf("tenant admin's connectors page: %s", tb.text("#connector-scope"))
	}
}

// csrf is the CSRF token of the page shown (the hidden input of the sign-out form).
func (b *consoleBrowser) csrf() string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[string]("document.querySelector('input[name=csrf]').value"))
	if err != nil || v == "" {
		b.t.Fatalf("no CSRF token on the page: %v", err)
	}
	return v
}
