package e2e

import (
	"strings"
	"testing"
)

// TestConsoleSignInTenants: the system administrator signs in to the console and manages tenants through
// its forms: create (with the API's message next to the field on a bad code), edit, delete.
func TestConsoleSignInTenants(t *testing.T) {
	f := newConsoleFixture(t)
	b := f.browser()
	b.signIn("default", "admin", consoleAdminPassword)
	if got := b.text("h1"); got != "Tenants" {
		t.Fatalf("after sign-in: heading %q at %s", got, b.path())
	}
	if got := b.text("#tenant"); got != "system administrator" {
		t.Fatalf("role shown %q", got)
	}
	b.screenshot("tenants")

	// A bad code: the API's message next to the code field, the values kept.
	b.fill("#f-code", "bad code!")
	b.fill("#f-name", "Globex")
	b.submit("#create", "#e-code")
	if msg := b.text("#e-code"); !strings.Contains(msg, "letters") {
		t.Fatalf("field message %q", msg)
	}
	b.screenshot("tenants-invalid")
	b.fill("#f-code", "globex")
	b.submit("#create", "#flash")
	if got := b.text("#tenant-code"); got != "globex" {
		t.Fatalf("created tenant page shows code %q", got)
	}
	b.screenshot("tenant")
	b.fill("#f-name", "Globex Corporation")
	b.submit("#save", "#flash")
	if got := b.text("#tenant-name"); got != "Globex Corporation" {
		t.Fatalf("after save: name %q", got)
	}
	b.submit("#delete", "#confirm")
	b.screenshot("tenant-delete")
	b.submit("#confirm-yes", "#flash")
	if strings.Contains(b.text("#tenants"), "globex") {
		t.Fatal("deleted tenant still listed")
	}
}
