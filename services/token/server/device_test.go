package server

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/services/token"
)

// deviceEnv is signinEnv plus "tv", a public client of t-acme allowed the device_code and refresh grants
// with offline access, and "other", a confidential device client of the same tenant.
type deviceEnv struct {
	*env
	az  tokenv1.AuthorizeServiceClient
	dev tokenv1.DeviceServiceClient
}

func newDeviceEnv(t *testing.T) *deviceEnv {
	t.Helper()
	e, az := signinEnv(t)
	tv := e.reg.record("tv", "t-acme", []string{GrantDeviceCode, GrantRefreshToken}, []string{"openid", "profile", "offline_access"}, 3600)
	tv.Client.RequireClientSecret, tv.Client.AllowOfflineAccess = new(false), true
	e.reg.put(tv)
	other := e.reg.record("other", "t-acme", []string{GrantDeviceCode}, []string{"openid"}, 3600, secretSpec{id: "o", value: "pw-other"})
	e.reg.put(other)
	e.awaitRegistry()
	return &deviceEnv{env: e, az: az, dev: tokenv1.NewDeviceServiceClient(e.browserConn)}
}

func (d *deviceEnv) authorize(t *testing.T, scope string) *tokenv1.DeviceAuthorizationResponse {
	t.Helper()
	r, err := d.dev.DeviceAuthorization(context.Background(), &tokenv1.DeviceAuthorizationRequest{Client: &tokenv1.ClientCredentials{ClientId: "tv"}, Scope: scope})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (d *deviceEnv) poll(client *tokenv1.ClientCredentials, code string) (*tokenv1.TokenResponse, error) {
	return d.oauth.Token(context.Background(), &tokenv1.TokenRequest{GrantType: GrantDeviceCode, Client: client, DeviceCode: code})
}

var tvClient = &tokenv1.ClientCredentials{ClientId: "tv"}

// approve enters userCode as alice (signing in on the login page) and answers the consent page with allow.
func (d *deviceEnv) approve(t *testing.T, userCode string, allow bool) *tokenv1.Step {
	t.Helper()
	ctx := context.Background()
	b := &tokenv1.Browser{RemoteAddr: "192.0.2.9"}
	s, err := d.dev.SubmitUserCode(ctx, &tokenv1.SubmitUserCodeRequest{UserCode: userCode, Browser: b})
	if err != nil || s.GetStep().GetLogin() == nil {
		t.Fatalf("submit: %v, %v; want the login page", s, err)
	}
	l, err := d.az.Login(ctx, &tokenv1.LoginRequest{InteractionId: s.GetStep().GetLogin().GetInteractionId(), Username: "alice", Password: "pw-alice-123", Browser: b})
	if err != nil || l.GetStep().GetConsent() == nil {
		t.Fatalf("login: %v, %v; want the consent page (always asked for a device)", l, err)
	}
	if c := l.GetStep().GetConsent(); c.GetClientName() == "" || !strings.Contains(strings.Join(c.GetScopes(), " "), "openid") {
		t.Errorf("consent page = %v; want the device's client and scopes", c)
	}
	b.SessionCookie = l.GetStep().GetSetSessionCookie()
	c, err := d.az.Consent(ctx, &tokenv1.ConsentRequest{InteractionId: l.GetStep().GetConsent().GetInteractionId(), Allow: allow, Browser: b})
	if err != nil {
		t.Fatal(err)
	}
	return c.GetStep()
}

// TestDeviceAuthorizationResponse (RFC 8628 §3.2): a user code of 8 letters of the alphabet shown
// XXXX-XXXX, a 256-bit device code stored only as its digest, 600 s, 5 s, the verification URIs.
func TestDeviceAuthorizationResponse(t *testing.T) {
	d := newDeviceEnv(t)
	r := d.authorize(t, "openid offline_access")
	uc := r.GetUserCode()
	if len(uc) != 9 || uc[4] != '-' {
		t.Fatalf("user_code %q; want XXXX-XXXX", uc)
	}
	if n, ok := normalizeUserCode(uc); !ok || len(n) != 8 {
		t.Fatalf("user_code %q is not of the alphabet", uc)
	}
	if len(r.GetDeviceCode()) != 43 || r.GetExpiresIn() != 600 || r.GetInterval() != 5 ||
		r.GetVerificationUri() != testIssuer+"/device" || r.GetVerificationUriComplete() != testIssuer+"/device?user_code="+uc {
		t.Fatalf("answer = %v", r)
	}
	dc, err := d.st.DeviceCode(context.Background(), digest(r.GetDeviceCode()))
	if err != nil || dc.ClientID != "tv" || dc.Status != token.DevicePending || strings.Join(dc.Scopes, " ") != "openid offline_access" {
		t.Fatalf("stored = %+v, %v", dc, err)
	}
	if strings.Contains(string(dc.UserCode), strings.ReplaceAll(uc, "-", "")) {
		t.Error("the user code is stored in clear")
	}
	// Refusals: a client without the grant, an unknown scope, a confidential client without its secret.
	ctx := context.Background()
	_, err = d.dev.DeviceAuthorization(ctx, &tokenv1.DeviceAuthorizationRequest{Client: &tokenv1.ClientCredentials{ClientId: "web"}})
	wantOAuth(t, err, apierror.UnauthorizedClient, 400)
	_, err = d.dev.DeviceAuthorization(ctx, &tokenv1.DeviceAuthorizationRequest{Client: tvClient, Scope: "openid admin"})
	wantOAuth(t, err, apierror.InvalidScope, 400)
	_, err = d.dev.DeviceAuthorization(ctx, &tokenv1.DeviceAuthorizationRequest{Client: &tokenv1.ClientCredentials{ClientId: "other"}})
	wantOAuth(t, err, apierror.InvalidClient, 401)
}

// TestDeviceGrantFlow: pending, slow_down (and the interval grows), then approval through login and
// consent, tokens once (ID token and refresh token, auth_time of the session), then invalid_grant.
func TestDeviceGrantFlow(t *testing.T) {
	d := newDeviceEnv(t)
	r := d.authorize(t, "openid offline_access")
	_, err := d.poll(tvClient, r.GetDeviceCode())
	wantOAuth(t, err, apierror.AuthorizationPending, 400)
	d.clock.Advance(2 * time.Second)
	_, err = d.poll(tvClient, r.GetDeviceCode())
	wantOAuth(t, err, apierror.SlowDown, 400)
	d.clock.Advance(6 * time.Second) // 6 s < the interval grown to 10 s
	_, err = d.poll(tvClient, r.GetDeviceCode())
	wantOAuth(t, err, apierror.SlowDown, 400)
	d.clock.Advance(16 * time.Second)
	_, err = d.poll(tvClient, r.GetDeviceCode())
	wantOAuth(t, err, apierror.AuthorizationPending, 400)
	// Another client cannot redeem it.
	_, err = d.poll(creds("other", "pw-other"), r.GetDeviceCode())
	wantOAuth(t, err, apierror.InvalidGrant, 400)

	step := d.approve(t, strings.ToLower(r.GetUserCode()), true)
	if m := step.GetMessage(); m.GetMessageCode() != "device.approved" || m.GetArgs()["client_name"] == "" {
		t.Fatalf("after consent: %v; want the device.approved page", step)
	}
	// The user code is used up.
	s, err := d.dev.SubmitUserCode(context.Background(), &tokenv1.SubmitUserCodeRequest{UserCode: r.GetUserCode(), Browser: &tokenv1.Browser{RemoteAddr: "192.0.2.9"}})
	if err != nil || s.GetErrorCode() != "device.invalid_code" {
		t.Fatalf("used user code: %v, %v", s, err)
	}
	tok, err := d.poll(tvClient, r.GetDeviceCode())
	if err != nil || tok.GetAccessToken() == "" || tok.GetIdToken() == "" || tok.GetRefreshToken() == "" {
		t.Fatalf("approved poll = %v, %v; want access, ID and refresh tokens", tok, err)
	}
	if c := d.claimsOf(tok.GetAccessToken()); c.Subject != "u-alice" || c.ClientID != "tv" || c.SID == "" {
		t.Errorf("access token claims = %+v", c)
	}
	// The ID token carries how alice authenticated at approval (RFC 8176: a password).
	_, idc := d.verifyWithJose(tok.GetIdToken())
	if amr, _ := idc["amr"].([]any); len(amr) == 0 || amr[0] != "pwd" || idc["sub"] != "u-alice" || idc["aud"] != "tv" {
		t.Errorf("ID token claims = %v; want sub u-alice, aud tv, amr [pwd]", idc)
	}
	_, err = d.poll(tvClient, r.GetDeviceCode())
	wantOAuth(t, err, apierror.InvalidGrant, 400)
	// The refresh token works.
	if _, err := d.oauth.Token(context.Background(), &tokenv1.TokenRequest{GrantType: GrantRefreshToken, Client: tvClient, RefreshToken: tok.GetRefreshToken()}); err != nil {
		t.Fatalf("refresh: %v", err)
	}
}

// TestDeviceGrantDenied: a refusal on the consent page answers device.denied and access_denied to the
// device (400, RFC 6749 §5.2).
func TestDeviceGrantDenied(t *testing.T) {
	d := newDeviceEnv(t)
	r := d.authorize(t, "openid")
	step := d.approve(t, r.GetUserCode(), false)
	if step.GetMessage().GetMessageCode() != "device.denied" {
		t.Fatalf("after denial: %v", step)
	}
	_, err := d.poll(tvClient, r.GetDeviceCode())
	wantOAuth(t, err, apierror.AccessDenied, 400)
}

// TestDeviceGrantExpired: after 600 s the device gets expired_token and the page device.expired.
func TestDeviceGrantExpired(t *testing.T) {
	d := newDeviceEnv(t)
	r := d.authorize(t, "openid")
	d.clock.Advance(DeviceCodeLifetime)
	_, err := d.poll(tvClient, r.GetDeviceCode())
	wantOAuth(t, err, apierror.ExpiredToken, 400)
	s, err := d.dev.SubmitUserCode(context.Background(), &tokenv1.SubmitUserCodeRequest{UserCode: r.GetUserCode(), Browser: &tokenv1.Browser{RemoteAddr: "192.0.2.9"}})
	if err != nil || s.GetErrorCode() != "device.expired" {
		t.Fatalf("expired user code: %v, %v", s, err)
	}
	_, err = d.poll(tvClient, "not-a-device-code")
	wantOAuth(t, err, apierror.InvalidGrant, 400)
	_, err = d.poll(tvClient, "")
	wantOAuth(t, err, apierror.InvalidRequest, 400)
}

// TestDeviceGrantDisabledUser: a user disabled between approval and redemption gets nothing.
func TestDeviceGrantDisabledUser(t *testing.T) {
	d := newDeviceEnv(t)
	d.reg.putAccount(aliceRecord(nil))
	d.reg.breakStreams(false) // the next snapshot carries the accounts (users_synced)
	d.awaitRegistry()
	waitFor(t, 5*time.Second, "the account view", func() bool { _, ok := d.srv.cache.Incarnation("t-acme", "u-alice"); return ok })
	r := d.authorize(t, "openid")
	d.approve(t, r.GetUserCode(), true)
	d.clock.Advance(time.Second)
	d.reg.putAccount(&registryv1.UserRecord{TenantId: "t-acme", UserId: "u-alice", LoginName: "alice", Disabled: true,
		DisableTime: timestamppb.New(d.clock.Now())})
	d.awaitRegistry()
	_, err := d.poll(tvClient, r.GetDeviceCode())
	wantOAuth(t, err, apierror.InvalidGrant, 400)
}

// TestDeviceUserCodeThrottled: wrong guesses from one address are slowed down (device.throttled) and a
// guess refused that way looks nothing up, even the right code; another address is not affected.
func TestDeviceUserCodeThrottled(t *testing.T) {
	d := newDeviceEnv(t)
	r := d.authorize(t, "openid")
	ctx := context.Background()
	guess := func(code, addr string) string {
		s, err := d.dev.SubmitUserCode(ctx, &tokenv1.SubmitUserCodeRequest{UserCode: code, Browser: &tokenv1.Browser{RemoteAddr: addr}})
		if err != nil {
			t.Fatal(err)
		}
		return s.GetErrorCode()
	}
	for i := range userCodePolicy.Free {
		if got := guess("BCDF-GHJK", "198.51.100.7"); got != "device.invalid_code" {
			t.Fatalf("guess %d: %q", i, got)
		}
	}
	if got := guess(r.GetUserCode(), "198.51.100.7"); got != "device.throttled" {
		t.Fatalf("after %d wrong guesses: %q; want device.throttled", userCodePolicy.Free, got)
	}
	if got := guess("not a code", "198.51.100.7"); got != "device.invalid_code" {
		t.Fatalf("malformed: %q", got)
	}
	s, err := d.dev.SubmitUserCode(ctx, &tokenv1.SubmitUserCodeRequest{UserCode: r.GetUserCode(), Browser: &tokenv1.Browser{RemoteAddr: "198.51.100.8"}})
	if err != nil || s.GetStep().GetLogin() == nil {
		t.Fatalf("another address: %v, %v", s, err)
	}
}
