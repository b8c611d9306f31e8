package e2e

import (
	"context"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// deviceClient creates "tv", a public client of the fixture's tenant allowed the device_code and
// refresh_token grants with offline access, and waits until the token service knows it (a request with the
// suite's revision barrier).
func deviceClient(t testing.TB, f *signinFixture) {
	t.Helper()
	s := f.s
	expect(t, "client tv", s.call("POST", "/api/adminapi2/v1/tenants/"+f.tenantID+"/clients/", f.adminToken, map[string]any{
		"clientId": "tv", "clientName": "Living Room TV", "requireClientSecret": false, "allowOfflineAccess": true,
		"allowedGrantTypes": []string{"urn:ietf:params:oauth:grant-type:device_code", "refresh_token"},
		"allowedScopes":     []string{"openid", "profile", "offline_access"},
	}), 201)
	expect(t, "tv known", s.form("/connect/token", "grant_type=urn:ietf:params:oauth:grant-type:device_code&client_id=tv&device_code=x", "", ""), 400, "invalid_grant")
}

// deviceConfig is tv's x/oauth2 configuration, its endpoints read from discovery (RFC 8628 §4).
func deviceConfig(t *testing.T, f *signinFixture) (*oauth2.Config, *oidc.Provider) {
	t.Helper()
	provider, err := oidc.NewProvider(context.Background(), f.s.base)
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		DeviceAuthorizationEndpoint string   `json:"device_authorization_endpoint"`
		GrantTypesSupported         []string `json:"grant_types_supported"`
		ACRValuesSupported          []string `json:"acr_values_supported"`
		UILocalesSupported          []string `json:"ui_locales_supported"`
	}
	if err := provider.Claims(&meta); err != nil {
		t.Fatal(err)
	}
	if meta.DeviceAuthorizationEndpoint != f.s.base+"/connect/deviceauthorization" ||
		!strings.Contains(strings.Join(meta.GrantTypesSupported, " "), "urn:ietf:params:oauth:grant-type:device_code") ||
		!slices.Equal(meta.ACRValuesSupported, []string{"urn:authsuite:acr:pwd", "urn:authsuite:acr:mfa"}) ||
		!slices.Equal(meta.UILocalesSupported, []string{"en", "zh-Hans", "zh-Hant"}) {
		t.Fatalf("discovery: %+v", meta)
	}
	ep := provider.Endpoint()
	ep.DeviceAuthURL, ep.AuthStyle = meta.DeviceAuthorizationEndpoint, oauth2.AuthStyleInParams
	return &oauth2.Config{ClientID: "tv", Endpoint: ep, Scopes: []string{"openid", "profile", "offline_access"}}, provider
}

var deviceCSRF = regexp.MustCompile(`name="csrf_token" value="([^"]*)"`)

// enterUserCode opens verification_uri_complete in b (the code prefilled) and submits the device form.
func enterUserCode(t *testing.T, b *browser, complete, code string) page {
	t.Helper()
	p := b.get(complete)
	if p.status != 200 || !strings.Contains(p.body, `id="device"`) || !strings.Contains(p.body, `value="`+code+`"`) {
		t.Fatalf("device page (status %d): %s", p.status, p.body)
	}
	m := deviceCSRF.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatal("no CSRF token on the device page")
	}
	u, _ := url.Parse(complete)
	return b.post(u.Scheme+"://"+u.Host+"/device", url.Values{"csrf_token": {html.UnescapeString(m[1])}, "user_code": {code}})
}

// TestDeviceGrantXOAuth2: golang.org/x/oauth2's DeviceAuth and DeviceAccessToken against the real binary
// while a person (the browserless form client) enters the code, signs in and approves; the device's ID
// token verifies with go-oidc and names alice; the refresh token refreshes.
func TestDeviceGrantXOAuth2(t *testing.T) {
	f := newSigninFixture(t)
	deviceClient(t, f)
	cfg, provider := deviceConfig(t, f)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	da, err := cfg.DeviceAuth(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$`).MatchString(da.UserCode) ||
		da.VerificationURI != f.s.base+"/device" || da.Interval != 5 || time.Until(da.Expiry) < 590*time.Second {
		t.Fatalf("device authorization = %+v", da)
	}
	type result struct {
		tok *oauth2.Token
		err error
	}
	done := make(chan result, 1)
	go func() {
		tok, err := cfg.DeviceAccessToken(ctx, da)
		done <- result{tok, err}
	}()

	b := newBrowser(t)
	p := enterUserCode(t, b, da.VerificationURIComplete, da.UserCode)
	p = b.login(f.s.base, p, "alice", alicePassword)
	if !strings.Contains(p.body, "Living Room TV") {
		t.Fatalf("the consent page does not name the device's client: %s", p.body)
	}
	p = b.consent(f.s.base, p, true, false)
	if p.status != 200 || !strings.Contains(p.body, "Device connected") || !strings.Contains(p.body, "Living Room TV") {
		t.Fatalf("after approval (status %d): %s", p.status, p.body)
	}

	r := <-done
	if r.err != nil {
		t.Fatalf("DeviceAccessToken: %v", r.err)
	}
	raw, _ := r.tok.Extra("id_token").(string)
	idt, err := provider.Verifier(&oidc.Config{ClientID: "tv"}).Verify(ctx, raw)
	if err != nil {
		t.Fatalf("ID token: %v", err)
	}
	if idt.Subject != f.aliceID || r.tok.RefreshToken == "" || r.tok.TokenType != "Bearer" {
		t.Fatalf("tokens: sub %q, refresh %q, type %q", idt.Subject, r.tok.RefreshToken, r.tok.TokenType)
	}
	// Redeemed once: the same device code again is invalid_grant.
	expect(t, "second redemption", f.s.form("/connect/token", url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"},
		"client_id": {"tv"}, "device_code": {da.DeviceCode}}.Encode(), "", ""), 400, "invalid_grant")
	// The refresh token refreshes.
	if _, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: r.tok.RefreshToken}).Token(); err != nil {
		t.Fatalf("refresh: %v", err)
	}
}

// deviceErrorJSON is an RFC 6749 §5.2 error body.
type deviceErrorJSON struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

// TestDeviceGrantPollingAndDenial: over raw HTTP, the answers of RFC 8628 §3.5 with their JSON types: a
// poll answers authorization_pending, an immediate second one slow_down; a wrong code on the page is
// refused with the page again (400); a denial on the consent page answers access_denied (400).
func TestDeviceGrantPollingAndDenial(t *testing.T) {
	f := newSigninFixture(t)
	deviceClient(t, f)
	s := f.s
	r := s.form("/connect/deviceauthorization", "client_id=tv&scope=openid", "", "")
	var da struct {
		DeviceCode              string `json:"device_code"`
		UserCode                string `json:"user_code"`
		VerificationURI         string `json:"verification_uri"`
		VerificationURIComplete string `json:"verification_uri_complete"`
		ExpiresIn               int    `json:"expires_in"`
		Interval                int    `json:"interval"`
	}
	if r.status != 200 || json.Unmarshal([]byte(r.body), &da) != nil || da.ExpiresIn != 600 || da.Interval != 5 || len(da.DeviceCode) != 43 {
		t.Fatalf("device authorization: %d %s", r.status, r.body)
	}
	if cc := r.header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
		t.Errorf("Cache-Control %q", cc)
	}
	poll := func() deviceErrorJSON {
		t.Helper()
		r := s.form("/connect/token", url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "client_id": {"tv"}, "device_code": {da.DeviceCode}}.Encode(), "", "")
		var e deviceErrorJSON
		if r.status != 400 || json.Unmarshal([]byte(r.body), &e) != nil {
			t.Fatalf("poll: %d %s", r.status, r.body)
		}
		return e
	}
	if e := poll(); e.Error != "authorization_pending" {
		t.Fatalf("first poll: %+v", e)
	}
	if e := poll(); e.Error != "slow_down" {
		t.Fatalf("immediate second poll: %+v", e)
	}
	// Unknown client authentication and scopes are refused at the endpoint.
	expect(t, "unknown scope", s.form("/connect/deviceauthorization", "client_id=tv&scope=openid+admin", "", ""), 400, "invalid_scope")
	expect(t, "web has no device grant", s.form("/connect/deviceauthorization", "scope=openid", "web", f.webSecret), 400, "unauthorized_client")

	b := newBrowser(t)
	if p := enterUserCode(t, b, s.base+"/device?user_code=BCDF-GHJK", "BCDF-GHJK"); p.status != 400 || !strings.Contains(p.body, "This code is not valid") {
		t.Fatalf("wrong code: %d %s", p.status, p.body)
	}
	p := enterUserCode(t, b, da.VerificationURIComplete, da.UserCode)
	p = b.login(s.base, p, "alice", alicePassword)
	p = b.consent(s.base, p, false, false)
	if !strings.Contains(p.body, "Access refused") {
		t.Fatalf("after denial: %d %s", p.status, p.body)
	}
	if e := poll(); e.Error != "access_denied" {
		t.Fatalf("poll after denial: %+v", e)
	}
}

// TestDeviceGrantChromium: a person in a real Chromium types the code shown on a device into /device in
// Chinese (ui_locales zh-Hans), signs in, approves, and is told to go back to the device, which then
// gets its tokens.
func TestDeviceGrantChromium(t *testing.T) {
	bin := chromium(t)
	f := newSigninFixture(t)
	deviceClient(t, f)
	cfg, _ := deviceConfig(t, f)
	ctx0, cancel0 := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel0()
	da, err := cfg.DeviceAuth(ctx0)
	if err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.Headless, chromedp.DisableGPU,
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(375, 812))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	bctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	if err := chromedp.Do(bctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	ctx, cancelT := context.WithTimeout(bctx, 60*time.Second)
	defer cancelT()
	err = chromedp.Do(ctx,
		chromedp.Navigate(f.s.base+"/device?ui_locales=zh-Hans"),
		chromedp.WaitVisible("#device"),
	)
	if err != nil {
		t.Fatalf("device page: %v", err)
	}
	heading, err := chromedp.Run(ctx, chromedp.Text("h1"))
	if err != nil || heading != "连接设备" {
		t.Errorf("device page heading %q, %v; want the zh-Hans one", heading, err)
	}
	err = chromedp.Do(ctx,
		// Typed in lower case without the dash: the page accepts it (RFC 8628 §6.1).
		chromedp.SendKeys("#user_code", strings.ToLower(strings.ReplaceAll(da.UserCode, "-", ""))),
		chromedp.Click("#submit"),
		chromedp.WaitVisible("#login"),
		chromedp.SendKeys("#username", "alice"),
		chromedp.SendKeys("#password", alicePassword),
		chromedp.Click("#submit"),
		chromedp.WaitVisible("#consent"),
		chromedp.Click("#allow"),
		chromedp.WaitVisible("#message"),
	)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	if msg, err := chromedp.Run(ctx, chromedp.Text("#message")); err != nil || !strings.Contains(msg, "Living Room TV") {
		t.Fatalf("approval page %q, %v", msg, err)
	}
	tok, err := cfg.DeviceAccessToken(ctx0, da)
	if err != nil || tok.AccessToken == "" {
		t.Fatalf("DeviceAccessToken after the browser approved: %v", err)
	}
}

// BenchmarkDevicePollHTTP measures pending device polls over loopback HTTP against the real binary, with a
// load generator of its own: 16 workers with keep-alive connections, each POSTing the token form for one of
// 64 pending device codes and checking the typed JSON error (authorization_pending or slow_down). Reported:
// polls/s.
func BenchmarkDevicePollHTTP(b *testing.B) {
	f := newSigninFixture(b)
	deviceClient(b, f)
	codes := make([]string, 64)
	for i := range codes {
		r := f.s.form("/connect/deviceauthorization", "client_id=tv&scope=openid", "", "")
		var da struct {
			DeviceCode string `json:"device_code"`
		}
		if r.status != 200 || json.Unmarshal([]byte(r.body), &da) != nil {
			b.Fatalf("device authorization: %d %s", r.status, r.body)
		}
		codes[i] = da.DeviceCode
	}
	const workers = 16
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	var next atomic.Int64
	b.ResetTimer()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				n := next.Add(1)
				if n > int64(b.N) {
					return
				}
				body := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "client_id": {"tv"}, "device_code": {codes[n%int64(len(codes))]}}.Encode()
				resp, err := client.Post(f.s.base+"/connect/token", "application/x-www-form-urlencoded", strings.NewReader(body))
				if err != nil {
					b.Error(err)
					return
				}
				var e deviceErrorJSON
				err = json.NewDecoder(resp.Body).Decode(&e)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 400 || (e.Error != "authorization_pending" && e.Error != "slow_down") {
					b.Errorf("poll: %d %+v %v", resp.StatusCode, e, err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "polls/s")
}
