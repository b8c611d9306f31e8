package e2e

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/pquerna/otp/totp"
	"golang.org/x/oauth2"

	opsv1 "github.com/authsuite/authsuite/gen/authsuite/ops/v1"
)

// mfaClaims are the ID token claims the second-factor test reads, typed: amr is an array of strings.
type mfaClaims struct {
	AMR []string `json:"amr"`
	ACR string   `json:"acr"`
}

// redeemMFA redeems the code of the redirect the browser landed on (with the PKCE verifier) and answers the
// ID token's amr and acr, verified by go-oidc, and its iat.
func redeemMFA(t *testing.T, ctx context.Context, conf oauth2.Config, idVerifier *oidc.IDTokenVerifier, what, landed, verifier string) (mfaClaims, int64) {
	t.Helper()
	u, _ := url.Parse(landed)
	tok, err := conf.Exchange(ctx, u.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("%s: exchange: %v", what, err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := idVerifier.Verify(ctx, raw)
	if err != nil {
		t.Fatalf("%s: ID token: %v", what, err)
	}
	var c mfaClaims
	if err := idt.Claims(&c); err != nil {
		t.Fatalf("%s: claims: %v", what, err)
	}
	return c, idt.IssuedAt.Unix()
}

// TestMFAInBrowser drives Chromium through second factors. The tenant's policy requires a second factor of
// everybody: alice, who has none, enrols TOTP at sign-in (the QR code page, a code computed here), sees her
// recovery codes once, and lands with a code whose ID token (verified by go-oidc) says amr
// [pwd otp mfa] and acr mfa. Signing in again (prompt=login) asks for password and code: a recovery code
// works once, the second time it is refused, and a TOTP code computed here signs in.
func TestMFAInBrowser(t *testing.T) {
	chromium(t) // skips without a browser, before the suite starts
	f := newSigninFixture(t)
	s := f.s
	base := "/api/adminapi2/v1/tenants/" + f.tenantID
	tenant := expect(t, "tenant", s.call("GET", base, f.adminToken, nil), 200)
	tenant["mfaPolicy"] = map[string]any{"requirement": "REQUIREMENT_ALL"}
	expect(t, "policy: second factor for all", s.call("PUT", base, f.adminToken, tenant), 200)
	s.sync()

	ctx := context.Background()
	provider, err := oidc.NewProvider(ctx, s.base)
	if err != nil {
		t.Fatal(err)
	}
	var disc struct {
		Claims []string `json:"claims_supported"`
	}
	if err := provider.Claims(&disc); err != nil || !slices.Contains(disc.Claims, "amr") || !slices.Contains(disc.Claims, "acr") {
		t.Fatalf("discovery claims_supported %v, %v", disc.Claims, err)
	}
	conf := oauth2.Config{ClientID: "spa", Endpoint: provider.Endpoint(), RedirectURL: f.callback, Scopes: []string{"openid", "profile"}}
	idVerifier := provider.Verifier(&oidc.Config{ClientID: "spa"})
	claimsOf := func(what, landed, verifier string) mfaClaims {
		t.Helper()
		c, _ := redeemMFA(t, ctx, conf, idVerifier, what, landed, verifier)
		return c
	}
	wantMFA := func(what string, c mfaClaims) {
		t.Helper()
		if !slices.Equal(c.AMR, []string{"pwd", "otp", "mfa"}) || c.ACR != "urn:authsuite:acr:mfa" {
			t.Fatalf("%s: amr %v acr %q", what, c.AMR, c.ACR)
		}
	}

	b := (&consoleFixture{t: t, s: s}).browser()
	signIn := func(challenge string, extra ...string) {
		t.Helper()
		b.run("login page", chromedp.Navigate(f.authorizeURL("spa", "openid profile", "st", "n-1", challenge, extra...)),
			chromedp.WaitVisible(css("#login")))
		b.fill("#username", "alice")
		b.fill("#password", alicePassword)
	}
	landing := func(what string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
		defer cancel()
		landed, err := waitLocation(ctx, f.callback)
		if err != nil {
			text, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string]("document.body ? document.body.innerText : ''"))
			t.Fatalf("%s: %v (at %q, showing %q)", what, err, landed, clipText(text, 500))
		}
		return landed
	}

	// 1. Enrolment at sign-in: the QR code page, a code computed here, the recovery codes once.
	v1, ch1 := pkce()
	signIn(ch1)
	b.submit("#submit", "#enroll")
	if src := b.attr("#qr", "src"); !strings.HasPrefix(src, "data:image/png;base64,") {
		t.Fatalf("QR code src %q", clipText(src, 60))
	}
	secret := b.text("#secret")
	code, err := totp.GenerateCode(secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	b.fill("#code", code)
	b.submit("#submit", "#recovery-codes")
	recovery := strings.Fields(b.text("#recovery-codes"))
	if len(recovery) < 2 {
		t.Fatalf("recovery codes %q", recovery)
	}
	b.click("#submit")
	wantMFA("enrolment sign-in", claimsOf("enrolment sign-in", landing("after enrolment"), v1))

	// 2. A recovery code signs in once.
	v2, ch2 := pkce()
	signIn(ch2, "prompt", "login")
	b.submit("#submit", "#totp")
	b.fill("#code", recovery[0])
	b.click("#submit")
	wantMFA("recovery code sign-in", claimsOf("recovery code sign-in", landing("recovery code"), v2))

	// 3. The same recovery code again is refused on the page; then a TOTP code signs in (of the next time
	// step: the enrolment used the current one, and a step is accepted once).
	v3, ch3 := pkce()
	signIn(ch3, "prompt", "login")
	b.submit("#submit", "#totp")
	b.fill("#code", recovery[0])
	b.submit("#submit", "#error")
	if msg := b.text("#error"); !strings.Contains(msg, "not correct") {
		t.Fatalf("used recovery code: error %q", msg)
	}
	next, err := totp.GenerateCode(secret, time.Now().Add(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	b.fill("#code", next)
	b.click("#submit")
	wantMFA("TOTP sign-in", claimsOf("TOTP sign-in", landing("TOTP code"), v3))

	// The audit log has one sign_in per sign-in (recorded by the second factor, not also by the password)
	// and the refused recovery code as a failed one.
	count := func(items []*opsv1.AuditEvent, kind, reason string) (n int) {
		for _, e := range items {
			if e.GetEvent() == kind && e.GetTarget().GetId() == f.aliceID && (reason == "" || e.GetReason() == reason) {
				n++
			}
		}
		return n
	}
	var items []*opsv1.AuditEvent
	eventually(t, 10*time.Second, "the sign-in audit events", func() bool {
		list, r := auditEvents(t, s, f.adminToken, "token", url.Values{"pageSize": {"1000"}})
		if list == nil {
			t.Fatalf("audit events: %d %s", r.status, r.body)
		}
		items = list.GetItems()
		return count(items, "sign_in", "") >= 3 && count(items, "sign_in_failed", "bad_second_factor") >= 1
	})
	if n := count(items, "sign_in", ""); n != 3 {
		t.Fatalf("%d sign_in events for three sign-ins with a second factor", n)
	}
}

// TestMFAStepUpInBrowser: alice signs in with her password alone (no second factor, none required). Then
// the tenant requires a second factor of everybody: her next sign-in through the same browser goes
// straight to enrolling TOTP, without the password page, and her session is upgraded in place (acr mfa).
// Afterwards acr_values=mfa with prompt=none is answered with a code at once.
func TestMFAStepUpInBrowser(t *testing.T) {
	chromium(t) // skips without a browser, before the suite starts
	f := newSigninFixture(t)
	s := f.s
	ctx := context.Background()
	provider, err := oidc.NewProvider(ctx, s.base)
	if err != nil {
		t.Fatal(err)
	}
	conf := oauth2.Config{ClientID: "spa", Endpoint: provider.Endpoint(), RedirectURL: f.callback, Scopes: []string{"openid"}}
	idVerifier := provider.Verifier(&oidc.Config{ClientID: "spa"})
	b := (&consoleFixture{t: t, s: s}).browser()
	landing := func(what, verifier string) (mfaClaims, int64) {
		t.Helper()
		lctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
		defer cancel()
		landed, err := waitLocation(lctx, f.callback)
		if err != nil {
			t.Fatalf("%s: %v (at %q)", what, err, landed)
		}
		return redeemMFA(t, ctx, conf, idVerifier, what, landed, verifier)
	}

	v1, ch1 := pkce()
	b.run("login page", chromedp.Navigate(f.authorizeURL("spa", "openid", "st", "n-1", ch1)), chromedp.WaitVisible(css("#login")))
	b.fill("#username", "alice")
	b.fill("#password", alicePassword)
	b.click("#submit")
	if c, _ := landing("password sign-in", v1); !slices.Equal(c.AMR, []string{"pwd"}) || c.ACR != "urn:authsuite:acr:pwd" {
		t.Fatalf("password sign-in: %+v", c)
	}

	base := "/api/adminapi2/v1/tenants/" + f.tenantID
	tenant := expect(t, "tenant", s.call("GET", base, f.adminToken, nil), 200)
	tenant["mfaPolicy"] = map[string]any{"requirement": "REQUIREMENT_ALL"}
	expect(t, "policy: second factor for all", s.call("PUT", base, f.adminToken, tenant), 200)
	s.sync()

	// The same browser: enrolment at once (the policy reaches sign-in within its settings cache's 10 s).
	v2, ch2 := pkce()
	eventually(t, 15*time.Second, "the policy applies to the session", func() bool {
		b.run("authorize", chromedp.Navigate(f.authorizeURL("spa", "openid", "st", "n-2", ch2)), chromedp.WaitReady(css("body")))
		return b.has("#enroll")
	})
	if b.has("#login") {
		t.Fatal("step-up asked for the password again")
	}
	code, err := totp.GenerateCode(b.text("#secret"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	b.fill("#code", code)
	b.submit("#submit", "#recovery-codes")
	b.click("#submit")
	if c, _ := landing("step-up", v2); !slices.Equal(c.AMR, []string{"pwd", "otp", "mfa"}) || c.ACR != "urn:authsuite:acr:mfa" {
		t.Fatalf("stepped-up sign-in: %+v", c)
	}

	// The upgraded session serves a request for mfa without any page.
	v3, ch3 := pkce()
	b.run("prompt=none", chromedp.Navigate(f.authorizeURL("spa", "openid", "st", "n-3", ch3, "prompt", "none", "acr_values", "urn:authsuite:acr:mfa")))
	if c, _ := landing("prompt=none after step-up", v3); c.ACR != "urn:authsuite:acr:mfa" {
		t.Fatalf("prompt=none after step-up: %+v", c)
	}
}
