package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestConsoleClients: the system administrator creates a client from each preset through the console's
// forms, sees the API's message next to a bad redirect URI (with the typed text kept), creates a secret
// whose value shows once and works at /connect/token, expires the secret, deletes it and the client.
func TestConsoleClients(t *testing.T) {
	f := newConsoleFixture(t)
	b := f.browser()
	b.signIn("default", "admin", consoleAdminPassword)
	b.open("/console/clients")
	if got := b.text("h1"); got != "Clients" {
		t.Fatalf("heading %q at %s", got, b.path())
	}
	list := b.path()
	b.screenshot("clients")

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := key.PublicKey.Bytes() // 0x04 || X || Y (SEC 1 §2.3.3)
	if err != nil {
		t.Fatal(err)
	}
	jwks, _ := json.Marshal(map[string]any{"keys": []any{map[string]any{"kty": "EC", "crv": "P-256", "kid": "k1", "use": "sig", "alg": "ES256",
		"x": base64.RawURLEncoding.EncodeToString(pub[1:33]), "y": base64.RawURLEncoding.EncodeToString(pub[33:])}}})

	for _, tc := range []struct {
		preset, id, method string
		fill               map[string]string
	}{
		{"m2m", "console-m2m", "client_secret_basic", nil},
		{"web", "console-web", "client_secret_basic", map[string]string{"#f-redirectUris": "https://app.example/callback"}},
		{"spa", "console-spa", "none", map[string]string{"#f-redirectUris": "https://spa.example/cb", "#f-allowedCorsOrigins": "https://spa.example"}},
		{"native", "console-cli", "none", nil},
		{"private-key-jwt", "console-pkjwt", "private_key_jwt", map[string]string{"#f-jwks": string(jwks)}},
	} {
		b.open(list)
		b.submit("#preset-"+tc.preset, "#client-form")
		if tc.preset == "spa" {
			b.screenshot("client-new")
		}
		b.fill("#f-clientId", tc.id)
		b.fill("#f-clientName", "Console "+tc.preset)
		for sel, v := range tc.fill {
			b.fill(sel, v)
		}
		b.submit("#save", "#flash")
		if got := b.text("#client-id"); got != tc.id {
			t.Fatalf("%s: created page shows %q", tc.preset, got)
		}
		if got := b.text("#client-method"); got != tc.method {
			t.Fatalf("%s: method %q, want %q", tc.preset, got, tc.method)
		}
	}
	b.open(list)
	rows := b.text("#clients")
	for _, id := range []string{"console-m2m", "console-web", "console-spa", "console-cli", "console-pkjwt"} {
		if !strings.Contains(rows, id) {
			t.Fatalf("list lacks %s: %q", id, rows)
		}
	}
	b.screenshot("clients-list")
	b.fill("#q", "pkjwt")
	b.submit("#q + button", "#clients")
	if rows := b.text("#clients"); !strings.Contains(rows, "console-pkjwt") || strings.Contains(rows, "console-web") {
		t.Fatalf("filtered list %q", rows)
	}

	// A bad redirect URI: the API's message next to the redirect URIs, the typed text still there.
	b.open(list + "/console-web")
	b.screenshot("client-edit")
	b.fill("#f-redirectUris", "https://app.example/callback\nhttps://app.example/cb#fragment")
	b.submit("#save", "#e-redirectUris")
	if msg := b.text("#e-redirectUris"); !strings.HasPrefix(msg, "entry 2: ") || !strings.Contains(msg, "fragment") {
		t.Fatalf("field message %q", msg)
	}
	if v := inputValue(b, "#f-redirectUris"); !strings.Contains(v, "#fragment") {
		t.Fatalf("the typed value was not kept: %q", v)
	}
	b.screenshot("client-edit-invalid")
	b.fill("#f-redirectUris", "https://app.example/callback")
	b.fill("#f-accessTokenLifetime", "600")
	b.submit("#save", "#flash")
	if v := inputValue(b, "#f-accessTokenLifetime"); v != "600" {
		t.Fatalf("saved lifetime %q", v)
	}

	// A secret: its value once, on the page answering the POST; it authenticates the client.
	b.open(list + "/console-m2m")
	b.submit("#secrets", "#create-secret")
	b.fill("#f-description", "ci pipeline")
	b.submit("#create", "#secret-value")
	value := b.text("#secret-value")
	if len(value) < 20 {
		t.Fatalf("secret value %q", value)
	}
	b.screenshot("secret-created")
	if tok := clientToken(t, f.s, "console-m2m", value, ""); tok == "" {
		t.Fatal("no token with the new secret")
	}
	// A reload sends the form again (or Chromium asks first): the console creates no second secret and shows
	// no value. Opening the address shows the list, the value gone.
	b.markStale()
	b.run("reload", chromedp.Reload(), chromedp.WaitReady(css(fresh("body"))))
	if b.has("#secret-value") || strings.Contains(b.html(), value) {
		t.Fatal("the secret's value shows again after reload")
	}
	b.open(b.path())
	if b.has("#secret-value") || strings.Contains(b.html(), value) {
		t.Fatal("the secret's value shows again at its address")
	}
	if n := strings.Count(b.html(), `<tr id="secret-`); n != 1 {
		t.Fatalf("%d secrets after a reload of the created page", n)
	}
	if !strings.Contains(b.text("#secrets"), "ci pipeline") || !strings.Contains(b.text("#secrets"), value[:3]+"…") {
		t.Fatalf("secrets list %q", b.text("#secrets"))
	}
	b.screenshot("client-secrets")
	// Expire it now: after the confirmation it stays listed, marked expired, with no second expire offered.
	b.submit(`#secrets a[id^="expire-"]`, "#confirm")
	if q := b.text("#confirm"); !strings.Contains(q, value[:3]+"…") || !strings.Contains(q, "Expire") {
		t.Fatalf("expire confirmation %q", q)
	}
	b.submit("#confirm-yes", "#flash")
	if got := b.text("#secrets"); !strings.Contains(got, "expired") || !strings.Contains(got, "ci pipeline") || b.has(`#secrets a[id^="expire-"]`) {
		t.Fatalf("after expire: %q", got)
	}
	b.submit(`#secrets a[id^="delete-"]`, "#confirm")
	b.submit("#confirm-yes", "#flash")
	if got := b.text("#secrets"); !strings.Contains(got, "No secrets.") {
		t.Fatalf("after delete: %q", got)
	}

	// Delete the client.
	b.open(list + "/console-m2m")
	b.submit("#delete", "#confirm")
	b.screenshot("client-delete")
	b.submit("#confirm-yes", "#flash")
	if strings.Contains(b.text("#clients"), "console-m2m") {
		t.Fatal("deleted client still listed")
	}
}

// TestConsoleClientsTenantAdmin: a tenant administrator sees their tenant's clients only, with no tenant
// picker; the API refuses another tenant's list and client pages.
func TestConsoleClientsTenantAdmin(t *testing.T) {
	f := newConsoleFixture(t)
	acme := f.tenant("acme", "Acme")
	globex := f.tenant("globex", "Globex")
	for _, c := range []struct{ tenant, id string }{{acme, "acme-billing"}, {globex, "globex-billing"}} {
		expect(t, c.id, f.s.call("POST", "/api/adminapi2/v1/tenants/"+c.tenant+"/clients/", f.adminToken,
			map[string]any{"clientId": c.id, "allowedGrantTypes": []string{"client_credentials"}}), 201)
	}
	f.user(acme, "ada", "ada-password-123", "tenant_admin")
	b := f.browser()
	b.signIn("acme", "ada", "ada-password-123")
	b.open("/console/clients")
	rows := b.text("#clients")
	if !strings.Contains(rows, "acme-billing") || strings.Contains(rows, "globex-billing") {
		t.Fatalf("a tenant admin's clients: %q", rows)
	}
	if b.has("#f-tenant-pick") {
		t.Fatal("a tenant admin is offered other tenants")
	}
	b.screenshot("clients-tenant-admin")
	for _, p := range []string{"/console/clients/" + globex, "/console/clients/" + globex + "/globex-billing", "/console/clients?tenant=" + globex} {
		if got := documentStatus(b, p); got != 403 {
			t.Fatalf("%s: status %d", p, got)
		}
		b.wait("#forbidden")
	}
}

// TestConsoleClients10000: the list pages of a tenant with 10,000 clients (created through the REST API)
// stay fast: the first page, the page after, and a filter that reads the whole tenant. It logs the mean
// time per page as the browser fetches it.
func TestConsoleClients10000(t *testing.T) {
	if testing.Short() {
		t.Skip("creates 10,000 clients")
	}
	f := newConsoleFixture(t)
	tenant := f.tenant("bulk", "Bulk")
	const n = 10000
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1) - 1; i < n; i = next.Add(1) - 1 {
				r := f.s.call("POST", "/api/adminapi2/v1/tenants/"+tenant+"/clients/", f.adminToken,
					map[string]any{"clientId": fmt.Sprintf("svc-%05d", i), "clientName": fmt.Sprintf("Service %d", i), "allowedGrantTypes": []string{"client_credentials"}})
				if r.status != 201 {
					t.Errorf("client %d: %d %s", i, r.status, r.body)
					return
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	t.Logf("created %d clients in %v", n, time.Since(start).Round(time.Millisecond))
	b := f.browser()
	b.signIn("default", "admin", consoleAdminPassword)
	b.open("/console/clients/" + tenant)
	if got := strings.Count(b.html(), `<tr><td><a href="/console/clients/`); got != 50 {
		t.Fatalf("first page: %d rows", got)
	}
	nextPage, err := chromedp.Run(b.ctx, chromedp.Evaluate[string]("document.querySelector('#next-page').getAttribute('href')"))
	if err != nil {
		t.Fatal(err)
	}
	// Each page loaded ten times in the browser; the time is the document's request to its last byte
	// (Navigation Timing), the console's work and the API calls behind it, without the browser's rendering.
	for _, p := range []struct{ name, path string }{
		{"first page", "/console/clients/" + tenant},
		{"second page", nextPage},
		{"filter, one match among 10,000", "/console/clients/" + tenant + "?q=service+9999"},
	} {
		const runs = 10
		var total float64
		rows := 0
		for range runs {
			if st := documentStatus(b, p.path); st != 200 {
				t.Fatalf("%s: status %d", p.name, st)
			}
			ms, err := chromedp.Run(b.ctx, chromedp.Evaluate[float64]("(e => e.responseEnd - e.requestStart)(performance.getEntriesByType('navigation')[0])"))
			if err != nil {
				t.Fatal(err)
			}
			total += ms
			rows = strings.Count(b.html(), `<tr><td><a href="/console/clients/`)
		}
		per := total / runs
		t.Logf("%s: %.1f ms per page, %d rows", p.name, per, rows)
		if per > 2000 {
			t.Errorf("%s: %.0f ms per page", p.name, per)
		}
	}
}

// inputValue is the current value of the form control sel (a textarea's text as typed).
func inputValue(b *consoleBrowser, sel string) string {
	b.t.Helper()
	b.wait(sel)
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[string]("document.querySelector("+jsString(sel)+").value"))
	if err != nil {
		b.t.Fatalf("value of %s: %v", sel, err)
	}
	return v
}

// documentStatus opens a console path and returns the HTTP status of the document the browser shows.
func documentStatus(b *consoleBrowser, path string) int64 {
	b.t.Helper()
	resp, err := chromedp.RunResponse(b.ctx, chromedp.Navigate(b.base+path))
	if err != nil {
		b.t.Fatalf("navigate %s: %v", path, err)
	}
	b.run("load "+path, chromedp.WaitReady(css("body")))
	return resp.Status
}
