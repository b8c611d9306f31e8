package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"image/png"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/pquerna/otp/totp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/suitekey"
	"github.com/authsuite/authsuite/services/token"
)

// mfaEnv is signinEnv with the factor API (mfaFactors over gRPC) and users alice (password pw-alice-123),
// bob (pw-bob-123, role admin) and carol (pw-carol-123) in t-acme. The web client may refresh.
func mfaEnv(t *testing.T) (*env, *mfaFactors, tokenv1.AuthorizeServiceClient) {
	t.Helper()
	kr, err := suitekey.New(make([]byte, 32)) // newEnv's keyring: the same internal credential
	if err != nil {
		t.Fatal(err)
	}
	f := newMFAFactors()
	fc := f.serve(t, kr.InternalCredential())
	e := newEnv(t, func(d *Deps) { d.SessionLifetime = time.Hour; d.Factors = fc })
	r := e.reg.record("web", "t-acme", []string{GrantAuthorizationCode, GrantRefreshToken}, []string{"openid", "profile", "offline_access"}, 3600)
	r.Client.RedirectUris = []string{webCallback}
	r.Client.RequireClientSecret = new(false)
	r.Client.AllowOfflineAccess = true
	e.reg.put(r)
	e.reg.mu.Lock()
	for _, u := range []struct{ id, name string }{{"u-alice", "alice"}, {"u-bob", "bob"}, {"u-carol", "carol"}} {
		pw := "pw-" + u.name + "-123"
		user := &registryv1.User{UserId: u.id, TenantId: "t-acme", LoginName: u.name, Password: &pw}
		if u.name == "bob" {
			user.Roles = []string{"admin"}
		}
		e.reg.users = append(e.reg.users, user)
		f.addUser(&registryv1.User{UserId: u.id, TenantId: "t-acme", LoginName: u.name, Roles: user.Roles})
	}
	e.reg.mu.Unlock()
	e.awaitRegistry()
	return e, f, tokenv1.NewAuthorizeServiceClient(e.browserConn)
}

var testBrowser = &tokenv1.Browser{RemoteAddr: "192.0.2.7"}

// passwordStep starts a sign-in with extra authorization parameters and submits name's password.
func passwordStep(t *testing.T, az tokenv1.AuthorizeServiceClient, name string, extra ...string) *tokenv1.Step {
	t.Helper()
	ctx := context.Background()
	a, err := az.Authorize(ctx, &tokenv1.AuthorizeRequest{Parameters: authorizeParams(extra...)})
	if err != nil || a.GetStep().GetLogin() == nil {
		t.Fatalf("authorize: %v, %v", a, err)
	}
	l, err := az.Login(ctx, &tokenv1.LoginRequest{InteractionId: a.GetStep().GetLogin().GetInteractionId(),
		Username: name, Password: "pw-" + name + "-123", Browser: testBrowser})
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	return l.GetStep()
}

func secondFactor(az tokenv1.AuthorizeServiceClient, id, code string, b *tokenv1.Browser) (*tokenv1.Step, error) {
	r, err := az.SecondFactor(context.Background(), &tokenv1.SecondFactorRequest{InteractionId: id, Code: code, Browser: b})
	return r.GetStep(), err
}

func nowCode(t *testing.T, secret string) string {
	t.Helper()
	c, err := totp.GenerateCode(secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// mfaIDClaims are the ID token claims these tests read (typed: amr must be an array of strings).
type mfaIDClaims struct {
	Sub      string   `json:"sub"`
	AMR      []string `json:"amr"`
	ACR      string   `json:"acr"`
	AuthTime int64    `json:"auth_time"`
}

func decodeIDToken(t *testing.T, jwt string) mfaIDClaims {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS: %q", jwt)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c mfaIDClaims
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatalf("ID token claims %s: %v", b, err)
	}
	return c
}

// redeem exchanges the code of a redirect step and answers the token response.
func redeem(t *testing.T, e *env, step *tokenv1.Step) *tokenv1.TokenResponse {
	t.Helper()
	u, err := url.Parse(step.GetRedirectUri())
	if err != nil || u.Query().Get("code") == "" {
		t.Fatalf("not a code redirect: %v", step)
	}
	tok, err := e.srv.Token(context.Background(), &tokenv1.TokenRequest{Client: &tokenv1.ClientCredentials{ClientId: "web"},
		GrantType: GrantAuthorizationCode, Code: u.Query().Get("code"), RedirectUri: webCallback, CodeVerifier: strings.Repeat("v", 43)})
	if err != nil || tok.GetIdToken() == "" {
		t.Fatalf("exchange: %v, %v", tok, err)
	}
	return tok
}

// TestSecondFactorPolicyMatrix: who is asked for what after a right password, by the tenant's policy, the
// user's roles and factors, and acr_values.
func TestSecondFactorPolicyMatrix(t *testing.T) {
	e, f, az := mfaEnv(t)
	f.giveTOTP(t, "u-alice")
	roles := &registryv1.MfaPolicy{Requirement: registryv1.MfaPolicy_REQUIREMENT_ROLES, Roles: []string{"admin"}}
	all := &registryv1.MfaPolicy{Requirement: registryv1.MfaPolicy_REQUIREMENT_ALL}
	for _, c := range []struct {
		name   string
		policy *registryv1.MfaPolicy
		user   string
		acr    string
		want   string // "session", "verify", "enroll"
	}{
		{"optional, enrolled", nil, "alice", "", "verify"},
		{"optional, none", nil, "carol", "", "session"},
		{"optional, none, acr mfa (voluntary)", nil, "carol", ACRMFA, "session"},
		{"roles, role holder without factor", roles, "bob", "", "enroll"},
		{"roles, other user", roles, "carol", "", "session"},
		{"roles, enrolled other user", roles, "alice", "", "verify"},
		{"all, without factor", all, "carol", "", "enroll"},
		{"all, enrolled", all, "alice", ACRPassword, "verify"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f.setPolicy("t-acme", c.policy)
			e.srv.settings.forget("t-acme")
			var extra []string
			if c.acr != "" {
				extra = []string{"acr_values", c.acr}
			}
			st := passwordStep(t, az, c.user, extra...)
			sf := st.GetSecondFactor()
			got := "session"
			switch {
			case sf != nil && sf.GetEnrollment() != "":
				got = "enroll"
			case sf != nil:
				got = "verify"
			}
			if got != c.want {
				t.Fatalf("got %s, want %s: %v", got, c.want, st)
			}
			if got != "session" {
				if st.GetSetSessionCookie() != "" {
					t.Fatal("a session cookie before the second factor")
				}
				if sf.GetTotp() != (c.want == "verify") || st.GetPage().GetTenantId() != "t-acme" {
					t.Fatalf("page %v", st)
				}
				return
			}
			c := decodeIDToken(t, redeem(t, e, st).GetIdToken())
			if !slices.Equal(c.AMR, []string{"pwd"}) || c.ACR != ACRPassword {
				t.Fatalf("one-factor ID token: %+v", c)
			}
		})
	}
}

// TestSecondFactorTOTP: a wrong code shows the page again and counts; the right one signs in with amr
// [pwd otp mfa] and acr mfa in the ID token and in refreshed ID tokens; the interaction is then used up,
// and the same TOTP code does not work twice.
func TestSecondFactorTOTP(t *testing.T) {
	e, f, az := mfaEnv(t)
	secret := f.giveTOTP(t, "u-alice")
	ctx := context.Background()
	st := passwordStep(t, az, "alice", "scope", "openid offline_access")
	id := st.GetSecondFactor().GetInteractionId()
	if id == "" || isSealedInteraction(id) {
		t.Fatalf("second factor page: %v", st)
	}
	// Nothing but the id: a session may not be asked for yet.
	if _, err := az.Consent(ctx, &tokenv1.ConsentRequest{InteractionId: id, Allow: true, Browser: testBrowser}); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("consent on a pending interaction: %v", err)
	}
	wrong, err := secondFactor(az, id, "000000x", testBrowser)
	if err != nil || wrong.GetSecondFactor().GetErrorCode() != errCodeFactorBadCode || wrong.GetSetSessionCookie() != "" {
		t.Fatalf("wrong code: %v, %v", wrong, err)
	}
	empty, err := secondFactor(az, id, "", testBrowser)
	if err != nil || empty.GetSecondFactor().GetErrorCode() != errCodeFactorMissing {
		t.Fatalf("empty: %v, %v", empty, err)
	}
	code := nowCode(t, secret)
	ok, err := secondFactor(az, id, code, testBrowser)
	if err != nil || ok.GetSetSessionCookie() == "" || !strings.HasPrefix(ok.GetRedirectUri(), webCallback+"?") {
		t.Fatalf("right code: %v, %v", ok, err)
	}
	tok := redeem(t, e, ok)
	c := decodeIDToken(t, tok.GetIdToken())
	if !slices.Equal(c.AMR, []string{"pwd", "otp", "mfa"}) || c.ACR != ACRMFA || c.Sub != "u-alice" {
		t.Fatalf("ID token: %+v", c)
	}
	r, err := e.srv.Token(ctx, &tokenv1.TokenRequest{Client: &tokenv1.ClientCredentials{ClientId: "web"}, GrantType: GrantRefreshToken, RefreshToken: tok.GetRefreshToken()})
	if err != nil {
		t.Fatal(err)
	}
	if c := decodeIDToken(t, r.GetIdToken()); !slices.Equal(c.AMR, []string{"pwd", "otp", "mfa"}) || c.ACR != ACRMFA {
		t.Fatalf("refreshed ID token: %+v", c)
	}
	// Replay of the finished interaction.
	if _, err := secondFactor(az, id, code, testBrowser); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("replayed interaction: %v", err)
	}
	// The same code in a new sign-in: its time step was used.
	st = passwordStep(t, az, "alice")
	again, err := secondFactor(az, st.GetSecondFactor().GetInteractionId(), code, testBrowser)
	if err != nil || again.GetSecondFactor().GetErrorCode() != errCodeFactorBadCode {
		t.Fatalf("replayed code: %v, %v", again, err)
	}
}

// TestSecondFactorThrottled: wrong codes count on the account like wrong passwords: after the free ones
// the page says to wait, and at the lock even the right code is not checked.
func TestSecondFactorThrottled(t *testing.T) {
	e, f, az := mfaEnv(t)
	secret := f.giveTOTP(t, "u-alice")
	st := passwordStep(t, az, "alice")
	id := st.GetSecondFactor().GetInteractionId()
	var last string
	for i := 0; i < accountPolicy.LockAt+2; i++ {
		s, err := secondFactor(az, id, "999999", testBrowser)
		if err != nil {
			t.Fatalf("attempt %d: %v", i, err)
		}
		last = s.GetSecondFactor().GetErrorCode()
		if i < accountPolicy.Free && last != errCodeFactorBadCode {
			t.Fatalf("free attempt %d: %q", i, last)
		}
	}
	if last != errCodeFactorLocked {
		t.Fatalf("after %d wrong codes: %q", accountPolicy.LockAt+2, last)
	}
	calls := f.verifyCalls()
	if calls > accountPolicy.LockAt {
		t.Fatalf("%d codes checked, at most %d allowed", calls, accountPolicy.LockAt)
	}
	s, err := secondFactor(az, id, nowCode(t, secret), testBrowser)
	if err != nil || s.GetSecondFactor().GetErrorCode() != errCodeFactorLocked || f.verifyCalls() != calls {
		t.Fatalf("right code while locked: %v, %v", s, err)
	}
	// The password form is locked too: the lock is the account's.
	e.clock.Advance(time.Second)
	a, _ := az.Authorize(context.Background(), &tokenv1.AuthorizeRequest{Parameters: authorizeParams()})
	l, err := az.Login(context.Background(), &tokenv1.LoginRequest{InteractionId: a.GetStep().GetLogin().GetInteractionId(), Username: "alice", Password: "pw-alice-123", Browser: testBrowser})
	if err != nil || l.GetStep().GetLogin().GetErrorCode() != errCodeLocked {
		t.Fatalf("password while locked: %v, %v", l, err)
	}
	// After the lock, the right code signs in.
	e.clock.Advance(accountPolicy.Lock + time.Second)
	s, err = secondFactor(az, id, nowCode(t, secret), testBrowser)
	if err == nil && s.GetSetSessionCookie() != "" {
		return
	}
	// The interaction may have outlived its lifetime (15 minutes): then a new sign-in works.
	if status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("after the lock: %v, %v", s, err)
	}
	st = passwordStep(t, az, "alice")
	if s, err = secondFactor(az, st.GetSecondFactor().GetInteractionId(), nowCode(t, secret), testBrowser); err != nil || s.GetSetSessionCookie() == "" {
		t.Fatalf("after the lock, new sign-in: %v, %v", s, err)
	}
}

// TestSecondFactorRecoveryCode: a recovery code signs in once (amr otp).
func TestSecondFactorRecoveryCode(t *testing.T) {
	e, f, az := mfaEnv(t)
	f.giveTOTP(t, "u-alice", "rc-aaaa-1111", "rc-bbbb-2222")
	st := passwordStep(t, az, "alice")
	ok, err := secondFactor(az, st.GetSecondFactor().GetInteractionId(), " rc-aaaa-1111 ", testBrowser)
	if err != nil || ok.GetSetSessionCookie() == "" {
		t.Fatalf("recovery code: %v, %v", ok, err)
	}
	if c := decodeIDToken(t, redeem(t, e, ok).GetIdToken()); !slices.Equal(c.AMR, []string{"pwd", "otp", "mfa"}) {
		t.Fatalf("ID token: %+v", c)
	}
	st = passwordStep(t, az, "alice")
	again, err := secondFactor(az, st.GetSecondFactor().GetInteractionId(), "rc-aaaa-1111", testBrowser)
	if err != nil || again.GetSecondFactor().GetErrorCode() != errCodeFactorBadCode {
		t.Fatalf("used recovery code: %v, %v", again, err)
	}
}

// TestSecondFactorEnrollment: the policy requires a factor bob lacks: the page shows a QR code (a PNG) and
// the key; a wrong code keeps the same key; the right code shows the recovery codes once, and posting
// back signs in with [pwd otp mfa].
func TestSecondFactorEnrollment(t *testing.T) {
	e, f, az := mfaEnv(t)
	f.setPolicy("t-acme", &registryv1.MfaPolicy{Requirement: registryv1.MfaPolicy_REQUIREMENT_ROLES, Roles: []string{"admin"}})
	st := passwordStep(t, az, "bob")
	p := st.GetSecondFactor()
	if p.GetEnrollment() == "" || p.GetEnrollmentSecret() == "" || p.GetTotp() {
		t.Fatalf("enrolment page: %v", st)
	}
	if _, err := png.Decode(bytes.NewReader(p.GetEnrollmentQrPng())); err != nil {
		t.Fatalf("QR code: %v", err)
	}
	id := p.GetInteractionId()
	// The stored interaction holds the key sealed, never in the clear.
	in, err := e.st.Interaction(context.Background(), digest(id))
	if err != nil || strings.Contains(in.Enrollment, p.GetEnrollmentSecret()) {
		t.Fatalf("stored enrolment: %v, %q", err, in.Enrollment)
	}
	wrong, err := secondFactor(az, id, "123", testBrowser)
	if err != nil || wrong.GetSecondFactor().GetErrorCode() != errCodeFactorBadCode || wrong.GetSecondFactor().GetEnrollmentSecret() != p.GetEnrollmentSecret() {
		t.Fatalf("wrong enrolment code: %v, %v", wrong, err)
	}
	// An enrolment the registry no longer accepts (expired) shows a new key, without counting a failure.
	f.mu.Lock()
	f.expire = true
	f.mu.Unlock()
	exp, err := secondFactor(az, id, nowCode(t, p.GetEnrollmentSecret()), testBrowser)
	f.mu.Lock()
	f.expire = false
	f.mu.Unlock()
	if err != nil || exp.GetSecondFactor().GetErrorCode() != errCodeEnrollmentExpired || exp.GetSecondFactor().GetEnrollmentSecret() == p.GetEnrollmentSecret() {
		t.Fatalf("expired enrolment: %v, %v", exp, err)
	}
	p = exp.GetSecondFactor()
	rc, err := secondFactor(az, id, nowCode(t, p.GetEnrollmentSecret()), testBrowser)
	if err != nil || len(rc.GetSecondFactor().GetRecoveryCodes()) == 0 || rc.GetSetSessionCookie() != "" {
		t.Fatalf("confirmed: %v, %v", rc, err)
	}
	done, err := secondFactor(az, id, "", testBrowser)
	if err != nil || done.GetSetSessionCookie() == "" {
		t.Fatalf("continue: %v, %v", done, err)
	}
	if c := decodeIDToken(t, redeem(t, e, done).GetIdToken()); !slices.Equal(c.AMR, []string{"pwd", "otp", "mfa"}) || c.ACR != ACRMFA {
		t.Fatalf("ID token: %+v", c)
	}
	// Next time bob is asked for his new TOTP.
	if st := passwordStep(t, az, "bob"); !st.GetSecondFactor().GetTotp() || st.GetSecondFactor().GetEnrollment() != "" {
		t.Fatalf("after enrolment: %v", st)
	}
}

// TestSecondFactorUserChanged: a user disabled or re-created between the password and the code loses the
// interaction.
func TestSecondFactorUserChanged(t *testing.T) {
	_, f, az := mfaEnv(t)
	secret := f.giveTOTP(t, "u-alice")
	st := passwordStep(t, az, "alice")
	f.mu.Lock()
	f.users["u-alice"].Disabled = true
	f.mu.Unlock()
	id := st.GetSecondFactor().GetInteractionId()
	if _, err := secondFactor(az, id, nowCode(t, secret), testBrowser); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("disabled in between: %v", err)
	}
	f.mu.Lock()
	f.users["u-alice"].Disabled = false
	f.mu.Unlock()
	if _, err := secondFactor(az, id, nowCode(t, secret), testBrowser); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("the interaction survived: %v", err)
	}
}

// TestStepUp: a one-factor session asked for acr mfa goes to the second factor of the same user (no
// password), is upgraded in place, and then serves prompt=none with acr mfa; prompt=none on a one-factor
// session asking for mfa is login_required; max_age beyond the session's age asks for the password again.
func TestStepUp(t *testing.T) {
	e, f, az := mfaEnv(t)
	ctx := context.Background()
	st := passwordStep(t, az, "alice") // no factor yet: a one-factor session
	if st.GetSetSessionCookie() == "" {
		t.Fatalf("one-factor sign-in: %v", st)
	}
	cookie := &tokenv1.Browser{SessionCookie: st.GetSetSessionCookie(), RemoteAddr: "192.0.2.7"}
	first := decodeIDToken(t, redeem(t, e, st).GetIdToken())
	secret := f.giveTOTP(t, "u-alice")
	// Without acr_values the session is good as it is.
	a, err := az.Authorize(ctx, &tokenv1.AuthorizeRequest{Parameters: authorizeParams(), Browser: cookie})
	if err != nil || !strings.Contains(a.GetStep().GetRedirectUri(), "code=") {
		t.Fatalf("plain SSO: %v, %v", a, err)
	}
	a, err = az.Authorize(ctx, &tokenv1.AuthorizeRequest{Parameters: authorizeParams("acr_values", ACRMFA, "prompt", "none"), Browser: cookie})
	if err != nil || !strings.Contains(a.GetStep().GetRedirectUri(), "error=login_required") {
		t.Fatalf("prompt=none, acr mfa: %v, %v", a, err)
	}
	e.clock.Advance(time.Minute)
	a, err = az.Authorize(ctx, &tokenv1.AuthorizeRequest{Parameters: authorizeParams("acr_values", "urn:other "+ACRMFA), Browser: cookie})
	if err != nil || !a.GetStep().GetSecondFactor().GetTotp() {
		t.Fatalf("step-up: %v, %v", a, err)
	}
	id := a.GetStep().GetSecondFactor().GetInteractionId()
	// Another browser (another session) cannot finish it.
	if _, err := secondFactor(az, id, nowCode(t, secret), testBrowser); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("step-up from another browser: %v", err)
	}
	a, _ = az.Authorize(ctx, &tokenv1.AuthorizeRequest{Parameters: authorizeParams("acr_values", ACRMFA), Browser: cookie})
	id = a.GetStep().GetSecondFactor().GetInteractionId()
	up, err := secondFactor(az, id, nowCode(t, secret), cookie)
	if err != nil || up.GetSetSessionCookie() != "" || !strings.Contains(up.GetRedirectUri(), "code=") {
		t.Fatalf("step-up code: %v, %v", up, err)
	}
	c := decodeIDToken(t, redeem(t, e, up).GetIdToken())
	if !slices.Equal(c.AMR, []string{"pwd", "otp", "mfa"}) || c.ACR != ACRMFA || c.AuthTime <= first.AuthTime {
		t.Fatalf("stepped-up ID token: %+v (first %+v)", c, first)
	}
	a, err = az.Authorize(ctx, &tokenv1.AuthorizeRequest{Parameters: authorizeParams("acr_values", ACRMFA, "prompt", "none"), Browser: cookie})
	if err != nil || !strings.Contains(a.GetStep().GetRedirectUri(), "code=") {
		t.Fatalf("prompt=none after step-up: %v, %v", a, err)
	}
	// max_age: an older authentication signs in again, password first.
	e.clock.Advance(2 * time.Minute)
	a, err = az.Authorize(ctx, &tokenv1.AuthorizeRequest{Parameters: authorizeParams("max_age", "60"), Browser: cookie})
	if err != nil || a.GetStep().GetLogin() == nil {
		t.Fatalf("max_age: %v, %v", a, err)
	}
}

// TestSealedInteractionSignInState: a sealed login page keeps the purpose, languages and acr_values; only
// an account-page sign-in may lack a client.
func TestSealedInteractionSignInState(t *testing.T) {
	kr, err := suitekey.New(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{kr: kr, now: time.Now}
	in := &token.Interaction{ClientID: "web", TenantID: "t", MaxAge: -1,
		SignInState: token.SignInState{UILocales: []string{"zh-TW", "en"}, ACRValues: []string{ACRMFA}, Purpose: token.PurposeDevice, DeviceCodeID: []byte{1, 2}}}
	id, err := s.sealInteraction(in)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := unsealInteraction(kr, time.Now(), id)
	if !ok || !slices.Equal(got.UILocales, in.UILocales) || !slices.Equal(got.ACRValues, in.ACRValues) ||
		got.Purpose != token.PurposeDevice || !bytes.Equal(got.DeviceCodeID, in.DeviceCodeID) {
		t.Fatalf("unsealed %+v, %v", got, ok)
	}
	for _, c := range []struct {
		client, purpose string
		ok              bool
	}{{"", token.PurposeAccount, true}, {"", "", false}, {"web", token.PurposeAccount, false}} {
		in := &token.Interaction{ClientID: c.client, TenantID: "t", SignInState: token.SignInState{Purpose: c.purpose}}
		id, _ := s.sealInteraction(in)
		if _, ok := unsealInteraction(kr, time.Now(), id); ok != c.ok {
			t.Fatalf("client %q purpose %q: opened %v", c.client, c.purpose, ok)
		}
	}
}

// TestAuthnOf: the classes of method sets.
func TestAuthnOf(t *testing.T) {
	for _, c := range []struct {
		in  []string
		amr []string
		acr string
	}{
		{[]string{"pwd"}, []string{"pwd"}, ACRPassword},
		{[]string{"pwd", "otp"}, []string{"pwd", "otp", "mfa"}, ACRMFA},
		{[]string{"pwd", "pwd", "mfa"}, []string{"pwd"}, ACRPassword},
		{[]string{"hwk", "user"}, []string{"hwk", "user", "mfa"}, ACRMFA},
		{[]string{"fed"}, []string{"fed"}, ACRPassword},
		{[]string{"pwd", "otp", "mfa", "otp"}, []string{"pwd", "otp", "mfa"}, ACRMFA},
	} {
		a := authnOf(c.in...)
		if !slices.Equal(a.AMR, c.amr) || a.ACR != c.acr {
			t.Errorf("authnOf(%v) = %+v", c.in, a)
		}
	}
}

// FuzzParseACRValues: the parser never panics; a success has at most maxACRValues distinct values, each
// 1-maxACRValueLen visible ASCII characters, every one of them a field of the input in the input's order;
// a failure only for input that breaks a rule.
func FuzzParseACRValues(f *testing.F) {
	for _, s := range []string{"", ACRMFA, "a b a", "  x  ", "a\tb", strings.Repeat("a ", 11), strings.Repeat("z", 257), "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		vs, err := parseACRValues(raw)
		var fields []string
		for _, v := range strings.Split(raw, " ") {
			if v != "" && !slices.Contains(fields, v) {
				fields = append(fields, v)
			}
		}
		valid := len(raw) <= maxACRValues*(maxACRValueLen+1) && len(fields) <= maxACRValues
		for _, v := range fields {
			if len(v) > maxACRValueLen {
				valid = false
			}
			for i := 0; i < len(v); i++ {
				if v[i] < 0x21 || v[i] > 0x7e {
					valid = false
				}
			}
		}
		if (err == nil) != valid {
			t.Fatalf("parseACRValues(%q) = %v, %v; valid %v", raw, vs, err, valid)
		}
		if err == nil && !slices.Equal(vs, fields) && !(len(vs) == 0 && len(fields) == 0) {
			t.Fatalf("parseACRValues(%q) = %q, want %q", raw, vs, fields)
		}
	})
}

// signInAliceWithPasskey signs alice in with her password and then, as the second factor the sign-in now
// asks of a user with a passkey, the passkey of a; it answers the session cookie.
func signInAliceWithPasskey(t *testing.T, az tokenv1.AuthorizeServiceClient, a *softAuthenticator) string {
	t.Helper()
	ctx := context.Background()
	au, err := az.Authorize(ctx, &tokenv1.AuthorizeRequest{Parameters: authorizeParams()})
	if err != nil || au.GetStep().GetLogin() == nil {
		t.Fatalf("authorize: %v, %v", au, err)
	}
	l, err := az.Login(ctx, &tokenv1.LoginRequest{InteractionId: au.GetStep().GetLogin().GetInteractionId(), Username: "alice",
		Password: "pw-alice-123", Browser: &tokenv1.Browser{RemoteAddr: "192.0.2.1"}})
	sf := l.GetStep().GetSecondFactor()
	if err != nil || sf.GetWebauthnOptions() == "" || l.GetStep().GetSetSessionCookie() != "" {
		t.Fatalf("login of a user with a passkey: %v, %v", l, err)
	}
	r, err := az.SecondFactor(ctx, &tokenv1.SecondFactorRequest{InteractionId: sf.GetInteractionId(),
		WebauthnAssertion: a.get(sf.GetWebauthnOptions()), Browser: &tokenv1.Browser{RemoteAddr: "192.0.2.1"}})
	if err != nil || r.GetStep().GetSetSessionCookie() == "" {
		t.Fatalf("passkey second factor: %v, %v", r, err)
	}
	return r.GetStep().GetSetSessionCookie()
}

// TestPasswordGrantSecondFactor: the password grant's ID token says amr [pwd], acr pwd; a user with a
// second factor (or whom the policy requires to have one) cannot skip it through the password grant.
func TestPasswordGrantSecondFactor(t *testing.T) {
	e, f, _ := mfaEnv(t)
	r := e.reg.record("ropc", "t-acme", []string{GrantPassword}, []string{"openid"}, 3600, secretSpec{id: "s1", value: "pw-ropc-secret"})
	r.Client.AllowRopc = true
	e.reg.put(r)
	e.awaitRegistry()
	f.giveTOTP(t, "u-alice")
	ctx := context.Background()
	grant := func(user string) (*tokenv1.TokenResponse, error) {
		return e.oauth.Token(ctx, &tokenv1.TokenRequest{GrantType: GrantPassword, Client: creds("ropc", "pw-ropc-secret"),
			Username: user, Password: "pw-" + user + "-123", Scope: "openid"})
	}
	tok, err := grant("carol")
	if err != nil {
		t.Fatal(err)
	}
	if c := decodeIDToken(t, tok.GetIdToken()); !slices.Equal(c.AMR, []string{"pwd"}) || c.ACR != ACRPassword {
		t.Fatalf("password grant ID token: %+v", c)
	}
	_, err = grant("alice")
	wantOAuth(t, err, "invalid_grant", 400)
	f.setPolicy("t-acme", &registryv1.MfaPolicy{Requirement: registryv1.MfaPolicy_REQUIREMENT_ALL})
	e.srv.settings.forget("t-acme")
	_, err = grant("carol")
	wantOAuth(t, err, "invalid_grant", 400)
}

// TestStepUpRegistryDown: while the registry cannot answer the tenant's settings, a one-factor session
// keeps single sign-on, but a request for acr mfa is not answered as if it were met.
func TestStepUpRegistryDown(t *testing.T) {
	e, f, az := mfaEnv(t)
	ctx := context.Background()
	st := passwordStep(t, az, "carol")
	cookie := &tokenv1.Browser{SessionCookie: st.GetSetSessionCookie()}
	f.mu.Lock()
	f.down = true
	f.mu.Unlock()
	e.clock.Advance(signInSettingsTTL + time.Second)
	a, err := az.Authorize(ctx, &tokenv1.AuthorizeRequest{Parameters: authorizeParams(), Browser: cookie})
	if err != nil || !strings.Contains(a.GetStep().GetRedirectUri(), "code=") {
		t.Fatalf("SSO while the registry is down: %v, %v", a, err)
	}
	a, err = az.Authorize(ctx, &tokenv1.AuthorizeRequest{Parameters: authorizeParams("acr_values", ACRMFA), Browser: cookie})
	if err == nil && strings.Contains(a.GetStep().GetRedirectUri(), "code=") {
		t.Fatalf("acr mfa answered with a code while the registry is down: %v", a)
	}
}

// FuzzOpenEnrollment: a sealed enrolment opens to what was sealed; anything else (not made by seal under
// the ring, or changed) never opens, and nothing panics.
func FuzzOpenEnrollment(f *testing.F) {
	kr, err := suitekey.New(make([]byte, 32))
	if err != nil {
		f.Fatal(err)
	}
	s := &Server{kr: kr}
	seal := func(pe pendingEnrollment) string {
		b, _ := json.Marshal(pe)
		return base64.RawURLEncoding.EncodeToString(kr.Seal(b, enrollmentAAD))
	}
	good := seal(pendingEnrollment{Registry: "enr", URI: "otpauth://totp/x?secret=AAAA", Secret: "AAAA"})
	for _, seed := range []string{"", good, good[:len(good)-1], good + "A", "!!!", strings.Repeat("A", maxEnrollment+1)} {
		f.Add(seed, "reg", "AAAA")
	}
	f.Fuzz(func(t *testing.T, raw, reg, secret string) {
		in := &token.Interaction{SignInState: token.SignInState{Enrollment: raw}}
		pe, err := s.openEnrollment(in)
		if err == nil && raw != good && !strings.HasPrefix(raw, good) {
			// Only values sealed under the ring open; the fuzzer cannot forge AES-GCM.
			if _, derr := base64.RawURLEncoding.DecodeString(raw); derr != nil || pe.Registry == "" {
				t.Fatalf("opened %q: %+v", raw, pe)
			}
		}
		if reg == "" || !utf8.ValidString(reg) || !utf8.ValidString(secret) {
			return // the registry's values are ASCII; JSON would replace invalid UTF-8
		}
		want := pendingEnrollment{Registry: reg, URI: "otpauth://totp/x", Secret: secret}
		sealed := seal(want)
		if len(sealed) > maxEnrollment {
			return
		}
		got, err := s.openEnrollment(&token.Interaction{SignInState: token.SignInState{Enrollment: sealed}})
		if err != nil || got != want {
			t.Fatalf("round trip of %+v: %+v, %v", want, got, err)
		}
	})
}
