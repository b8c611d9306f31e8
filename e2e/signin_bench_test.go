package e2e

import (
	"net/url"
	"sync"
	"testing"
)

// BenchmarkAuthCodeRoundTrip measures one full authorization-code sign-in over loopback HTTP: authorize
// (SSO session present, no consent), code redemption with PKCE, ID token issuance.
func BenchmarkAuthCodeRoundTrip(b *testing.B) {
	f := newSigninFixture(b)
	br := newBrowser(b)
	verifier, ch := pkce()
	f.codeFor(b, br, "spa", "openid", ch) // signs in once; later rounds use the SSO session
	b.ResetTimer()
	for b.Loop() {
		code := f.codeFor(b, br, "spa", "openid", ch)
		expect(b, "exchange", f.tokenForm("spa", "", codeExchange(code, verifier, f.callback)), 200)
	}
}

// BenchmarkRefreshRotation measures refresh-token rotations per second over loopback HTTP, with 8
// independent families refreshed concurrently (each rotation is a durable bbolt write).
func BenchmarkRefreshRotation(b *testing.B) {
	f := newSigninFixture(b)
	const families = 8
	rts := make([]string, families)
	for i := range rts {
		tok := expect(b, "password grant", f.tokenForm("legacy", f.ropcSecret, url.Values{
			"grant_type": {"password"}, "username": {"alice"}, "password": {alicePassword}, "scope": {"offline_access"},
		}), 200)
		rts[i] = tok["refresh_token"].(string)
	}
	b.ResetTimer()
	var wg sync.WaitGroup
	per := b.N/families + 1
	for i := range families {
		wg.Go(func() {
			for range per {
				tok := expect(b, "refresh", f.tokenForm("legacy", f.ropcSecret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rts[i]}}), 200)
				rts[i] = tok["refresh_token"].(string)
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(per*families)/b.Elapsed().Seconds(), "refreshes/s")
}

// BenchmarkLoginPage measures an authorization request without a session: validation, a stored
// interaction, and the rendered login page.
func BenchmarkLoginPage(b *testing.B) {
	f := newSigninFixture(b)
	br := newBrowser(b)
	_, ch := pkce()
	u := f.authorizeURL("spa", "openid", "s", "n", ch)
	b.ResetTimer()
	for b.Loop() {
		if p := br.get(u); !p.isLogin() {
			b.Fatalf("not the login page: %d", p.status)
		}
	}
}
