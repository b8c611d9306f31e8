package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
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

// TestConsoleTenantAdmin: a tenant administrator signs in with their tenant's code and sees their own tenant
// only, read-only; another tenant's page is refused (403) by the API, and so is a plain user at sign-in.
func TestConsoleTenantAdmin(t *testing.T) {
	f := newConsoleFixture(t)
	acme := f.tenant("acme", "Acme")
	globex := f.tenant("globex", "Globex")
	f.user(acme, "ada", "ada-password-123", "tenant_admin")
	f.user(acme, "pat", "pat-password-123")

	b := f.browser()
	b.signIn("acme", "ada", "ada-password-123")
	if got := b.text("#tenant"); got != "tenant acme" {
		t.Fatalf("role shown %q", got)
	}
	if got := b.path(); !strings.HasPrefix(got, "/console/clients") {
		t.Fatalf("a tenant admin starts at %s, want their clients", got)
	}
	b.open("/console/tenants")
	list := b.text("#tenants")
	if !strings.Contains(list, "acme") || strings.Contains(list, "globex") || strings.Contains(list, "default") {
		t.Fatalf("a tenant admin's tenant list: %q", list)
	}
	if b.has("#create-tenant") || b.has("#q") {
		t.Fatal("a tenant admin is offered to create or filter tenants")
	}
	b.screenshot("tenants-tenant-admin")
	for _, id := range []string{"default", globex} {
		if got := b.navigate("/console/tenants/" + id); got != 403 {
			t.Fatalf("another tenant's page: status %d", got)
		}
	}
	b.wait("#forbidden")
	b.screenshot("forbidden")

	// A POST without the session's CSRF token, and one with a wrong token: refused before any API call.
	for _, fields := range []map[string]string{{"code": "evil", "name": "Evil"}, {"code": "evil", "name": "Evil", "csrf": "forged-token-value"}} {
		b.postForm("/console/tenants", fields, "#message")
		if msg := b.text("#message"); !strings.Contains(msg, "CSRF") {
			t.Fatalf("POST %v: %q", fields, msg)
		}
	}
	expect(t, "no tenant created by the refused posts", f.s.call("GET", "/api/adminapi2/v1/tenants/", f.adminToken, nil), 200)
	if strings.Contains(string(f.s.call("GET", "/api/adminapi2/v1/tenants/", f.adminToken, nil).body), "evil") {
		t.Fatal("a CSRF-less POST created a tenant")
	}

	// Signing out ends the authsuite session too: the next visit asks to sign in again.
	b.signOut()
	b.open("/console/tenants")
	b.wait("#signin")

	// A plain user of the tenant: the API refuses them, so the console shows the refusal, never a page.
	p := f.browser()
	p.signIn("acme", "pat", "pat-password-123")
	p.wait("#forbidden")
	if p.has("nav.nav") || p.has("#tenants") {
		t.Fatal("a plain user sees console pages")
	}
	if got := p.navigate("/console/tenants"); got != 200 || !p.has("#signin") {
		t.Fatalf("a refused user has a console session (status %d at %s)", got, p.path())
	}
}

// TestConsoleHeaders: every console answer carries the strict CSP and the other security headers, and no
// page has inline script, style or event handlers that such a CSP would block.
func TestConsoleHeaders(t *testing.T) {
	f := newConsoleFixture(t)
	for _, path := range []string{"/console/", "/console/tenants", "/console/login?tenant=nope", "/console/callback?state=x&code=y"} {
		r := f.consoleGet(path)
		h := r.header
		if got := h.Get("Content-Security-Policy"); got != "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'" {
			t.Errorf("%s: CSP %q", path, got)
		}
		if h.Get("X-Frame-Options") != "DENY" || h.Get("Referrer-Policy") != "no-referrer" || h.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: headers %v", path, h)
		}
		noInline(t, path, string(r.body))
	}
	if r := f.consoleGet("/console/login?tenant=nope"); r.status != 404 || !strings.Contains(string(r.body), `id="e-tenant"`) {
		t.Errorf("unknown tenant code: %d %s", r.status, r.body)
	}
	if r := f.consoleGet("/console/callback?state=x&code=y"); r.status != 400 {
		t.Errorf("callback without a sign-in: %d", r.status)
	}
	if r := f.consoleGet("/console/static/console.js"); r.status != 200 || !strings.Contains(r.header.Get("Content-Type"), "javascript") {
		t.Errorf("console.js: %d %s", r.status, r.header.Get("Content-Type"))
	}

	b := f.browser()
	b.open("/console/")
	b.screenshot("signin")
	b.signIn("default", "admin", consoleAdminPassword)
	noInline(t, "tenants page", b.html())

	// The session key derives from the gateway's secret: a restarted gateway still opens the session.
	f.s.restart()
	b.open("/console/tenants")
	if got := b.text("#user"); got == "" {
		t.Fatal("signed out by a restart")
	}
}

// noInline fails when html has an inline script, a style element or attribute, or an event handler
// attribute.
func noInline(t *testing.T, what, html string) {
	t.Helper()
	lower := strings.ToLower(html)
	for _, bad := range []string{"<script>", "<style", " style=", "javascript:"} {
		if strings.Contains(lower, bad) {
			t.Errorf("%s: has %q", what, bad)
		}
	}
	if i := strings.Index(lower, "<script"); i >= 0 && !strings.Contains(lower[i:min(i+80, len(lower))], "src=") {
		t.Errorf("%s: an inline script", what)
	}
	for _, ev := range []string{" onclick=", " onload=", " onsubmit=", " onerror=", " onchange="} {
		if strings.Contains(lower, ev) {
			t.Errorf("%s: has an event handler attribute %q", what, ev)
		}
	}
}

// TestConsoleTenantPaging: the tenants list pages through the API 50 at a time and filters on the server,
// and the console is usable from the keyboard: Tab reaches the skip link first, then the header and the
// navigation, and a form submits with Enter.
func TestConsoleTenantPaging(t *testing.T) {
	f := newConsoleFixture(t)
	for i := range 120 {
		f.tenant(fmt.Sprintf("t%03d", i), fmt.Sprintf("Paged %d", i))
	}
	b := f.browser()
	b.signIn("default", "admin", consoleAdminPassword)
	rows := func() int {
		t.Helper()
		n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int]("document.querySelectorAll('#tenants tbody tr').length"))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := rows(); n != 50 || !b.has("#next-page") || b.has("#first-page") {
		t.Fatalf("first page: %d rows, next %v", n, b.has("#next-page"))
	}
	seen := map[string]bool{}
	pages := 0
	for {
		pages++
		for _, line := range strings.Split(b.text("#tenants tbody"), "\n") {
			if code, _, ok := strings.Cut(strings.TrimSpace(line), "\t"); ok {
				if seen[code] {
					t.Fatalf("tenant %s on two pages", code)
				}
				seen[code] = true
			}
		}
		if !b.has("#next-page") {
			break
		}
		b.submit("#next-page", "#tenants")
	}
	if pages != 3 || len(seen) != 121 {
		t.Fatalf("%d pages, %d tenants", pages, len(seen))
	}

	// The filter, from the keyboard: type into the box and press Enter.
	b.open("/console/tenants")
	b.fill("#q", "t11")
	b.markStale()
	b.run("filter with Enter", chromedp.KeyEvent("\r"), chromedp.WaitVisible(css(fresh("#tenants"))))
	if n := rows(); n != 10 || b.has("#next-page") {
		t.Fatalf("filter t11: %d rows", n)
	}
	b.screenshot("tenants-filtered")

	// Tab order: the skip link first, then the header's sign-out, then the navigation.
	b.open("/console/tenants")
	focused := func() string {
		t.Helper()
		s, err := chromedp.Run(b.ctx, chromedp.Evaluate[string]("document.activeElement.id || document.activeElement.className || document.activeElement.textContent"))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(s)
	}
	var order []string
	for range 4 {
		b.run("tab", chromedp.KeyEvent("\t"))
		order = append(order, focused())
	}
	if order[0] != "skip" || !slices.Contains(order, "signout") || !slices.Contains(order, "Tenants") {
		t.Fatalf("tab order %q", order)
	}
}
