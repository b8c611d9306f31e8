package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"image"
	"image/color"
	"image/png"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/authsuite/authsuite/internal/i18n"
)

// brandLogo is a small real PNG (a teal square) as a data URI.
func brandLogo(t *testing.T) string {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 40, 40))
	for y := 0; y < 40; y++ {
		for x := 0; x < 40; x++ {
			img.Set(x, y, color.RGBA{15, 118, 110, 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(b.Bytes())
}

// TestSignInBranding: a tenant's branding set through the admin API (name, logo, primary colour, default
// language) shows on its login page in a real Chromium — the logo loads under the page's CSP, buttons wear
// the colour with readable text — and a javascript: or SVG logo or a colour that is not #rrggbb is refused
// by the API naming the field, leaving the branding as it was.
func TestSignInBranding(t *testing.T) {
	f := newSigninFixture(t)
	s := f.s
	path := "/api/adminapi2/v1/tenants/" + f.tenantID
	logo := brandLogo(t)
	tenant := func(branding map[string]any) map[string]any {
		return map[string]any{"code": "acme", "name": "Acme", "defaultLocale": "zh-Hant", "branding": branding}
	}
	good := map[string]any{"displayName": "Acme 入口", "logoDataUri": logo, "primaryColor": "#0f766e"}
	expect(t, "set branding", s.call("PUT", path, f.adminToken, tenant(good)), 200)

	for _, bad := range []map[string]any{
		{"displayName": "x", "logoDataUri": "javascript:alert(1)", "primaryColor": "#0f766e"},
		{"displayName": "x", "logoDataUri": "data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9ImFsZXJ0KDEpIi8+", "primaryColor": "#0f766e"},
		{"displayName": "x", "logoDataUri": logo, "primaryColor": "red;}body{display:none"},
	} {
		r := s.call("PUT", path, f.adminToken, tenant(bad))
		if r.status != 400 || !strings.Contains(string(r.body), "branding.") {
			t.Fatalf("branding %v: status %d %s, want 400 naming the field", bad, r.status, r.body)
		}
	}
	got := expect(t, "get tenant", s.call("GET", path, f.adminToken, nil), 200)
	if b, _ := got["branding"].(map[string]any); b["primaryColor"] != "#0f766e" || b["logoDataUri"] != logo {
		t.Fatalf("a refused update changed the branding: %v", got["branding"])
	}

	// The first page of the tenant: the token service asks the registry for its settings now (it keeps them
	// for a few seconds, so the branding is set before any page of the tenant is shown).
	_, ch := pkce()
	url := f.authorizeURL("web", "openid", "st", "n", ch)
	p := newBrowser(t).get(url)
	// No Accept-Language from this client: the tenant's default language.
	for _, want := range []string{`<html lang="zh-Hant">`, `<img src="` + strings.ReplaceAll(logo, "+", "&#43;") + `" alt="Acme 入口">`, "--primary:#0f766e", "--on-primary:#ffffff", "<title>登入 · Acme 入口</title>"} {
		if !p.isLogin() || !strings.Contains(p.body, want) {
			t.Fatalf("branded login page lacks %q:\n%s", want, p.body)
		}
	}
	if csp := p.header.Get("Content-Security-Policy"); !strings.Contains(csp, "img-src data:") || !strings.Contains(csp, "default-src 'none'") {
		t.Fatalf("CSP %q", csp)
	}

	// In Chromium (an English browser: the page is English, the branding stays).
	b := newSigninShooter(t, s.base, i18n.English)
	b.open(strings.TrimPrefix(url, s.base))
	b.wait("#login")
	b.expect("branded login", i18n.English, "Acme 入口")
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	loaded, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { const i = document.querySelector("header img"); return !!i && i.complete && i.naturalWidth === 40 })()`))
	if err != nil || !loaded {
		t.Fatalf("the logo did not load under the page's CSP (%v)", err)
	}
	bg, err := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.querySelector("#submit")).backgroundColor + " " + getComputedStyle(document.querySelector("#submit")).color`))
	if err != nil || bg != "rgb(15, 118, 110) rgb(255, 255, 255)" {
		t.Fatalf("the sign-in button is %q (%v), want the tenant's colour with white text", bg, err)
	}
	b.shot("login-branded")
}
