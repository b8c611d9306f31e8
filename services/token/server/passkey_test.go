package server

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/apistatus"
	"github.com/authsuite/authsuite/internal/suitekey"
	"github.com/authsuite/authsuite/services/token"
	"github.com/authsuite/authsuite/services/token/bboltstore"
	"github.com/authsuite/authsuite/services/token/memstore"
)

// passkeyIssuer is the issuer of the passkey tests: WebAuthn needs a domain as RP ID, not an IP address.
const passkeyIssuer = "http://localhost:8080"

// fakeFactors is the registry's factor API for the passkey tests: users and their passkeys in memory.
type fakeFactors struct {
	registryv1.FactorInternalServiceClient // nil: other calls panic
	mu                                     sync.Mutex
	passwordless                           bool
	users                                  map[string]*registryv1.User // tenant/user id -> user
	passkeys                               map[string][]*registryv1.Passkey
	uses                                   []*registryv1.RecordPasskeyUseRequest
}

func newFakeFactors(users ...*registryv1.User) *fakeFactors {
	f := &fakeFactors{users: map[string]*registryv1.User{}, passkeys: map[string][]*registryv1.Passkey{}, passwordless: true}
	for _, u := range users {
		f.users[u.GetTenantId()+"/"+u.GetUserId()] = u
	}
	return f
}

func (f *fakeFactors) GetSignInSettings(_ context.Context, req *registryv1.GetSignInSettingsRequest, _ ...grpc.CallOption) (*registryv1.GetSignInSettingsResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := defaultSignInSettings(req.GetTenantId())
	st.MfaPolicy.Passwordless = f.passwordless
	return &registryv1.GetSignInSettingsResponse{Settings: st}, nil
}

func (f *fakeFactors) GetFactors(_ context.Context, req *registryv1.GetFactorsRequest, _ ...grpc.CallOption) (*registryv1.GetFactorsResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := req.GetTenantId() + "/" + req.GetUserId()
	u, ok := f.users[k]
	if !ok {
		return nil, status.Error(codes.NotFound, "no such user")
	}
	resp := &registryv1.GetFactorsResponse{User: proto.Clone(u).(*registryv1.User)} // no incarnation: the token service asks its own account view
	for _, p := range f.passkeys[k] {
		resp.Passkeys = append(resp.Passkeys, proto.Clone(p).(*registryv1.Passkey))
	}
	return resp, nil
}

func (f *fakeFactors) AddPasskey(_ context.Context, req *registryv1.AddPasskeyRequest, _ ...grpc.CallOption) (*registryv1.AddPasskeyResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := req.GetTenantId() + "/" + req.GetUserId()
	for _, p := range f.passkeys[k] {
		if bytes.Equal(p.GetCredentialId(), req.GetPasskey().GetCredentialId()) {
			return nil, status.Error(codes.AlreadyExists, "registered")
		}
	}
	p := proto.Clone(req.GetPasskey()).(*registryv1.Passkey)
	p.CreateTimeUnix = time.Now().Unix()
	f.passkeys[k] = append(f.passkeys[k], p)
	return &registryv1.AddPasskeyResponse{Passkey: p}, nil
}

func (f *fakeFactors) RecordPasskeyUse(_ context.Context, req *registryv1.RecordPasskeyUseRequest, _ ...grpc.CallOption) (*registryv1.RecordPasskeyUseResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range f.passkeys[req.GetTenantId()+"/"+req.GetUserId()] {
		if bytes.Equal(p.GetCredentialId(), req.GetCredentialId()) {
			// The registry's atomic check against the stored counter (WebAuthn §6.1.1).
			if (req.GetSignCount() != 0 || p.GetSignCount() != 0) && req.GetSignCount() <= p.GetSignCount() {
				return nil, status.Error(codes.FailedPrecondition, "the passkey's signature counter did not increase")
			}
			p.SignCount, p.BackupState = req.GetSignCount(), req.GetBackupState()
			f.uses = append(f.uses, req)
			return &registryv1.RecordPasskeyUseResponse{}, nil
		}
	}
	return nil, status.Error(codes.NotFound, "no such passkey")
}

func (f *fakeFactors) DeletePasskey(_ context.Context, req *registryv1.DeletePasskeyRequest, _ ...grpc.CallOption) (*registryv1.DeletePasskeyResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := req.GetTenantId() + "/" + req.GetUserId()
	n := len(f.passkeys[k])
	f.passkeys[k] = slices.DeleteFunc(f.passkeys[k], func(p *registryv1.Passkey) bool { return bytes.Equal(p.GetCredentialId(), req.GetCredentialId()) })
	if len(f.passkeys[k]) == n {
		return nil, status.Error(codes.NotFound, "no such passkey")
	}
	return &registryv1.DeletePasskeyResponse{}, nil
}

// passkeyEnv is signinEnv with the passkey issuer and fake factors holding alice (t-acme) and bob (t-other).
func passkeyEnv(t *testing.T) (*env, *fakeFactors, tokenv1.AuthorizeServiceClient, tokenv1.AccountServiceClient) {
	f := newFakeFactors(
		&registryv1.User{UserId: "u-alice", TenantId: "t-acme", LoginName: "alice"},
		&registryv1.User{UserId: "u-bob", TenantId: "t-other", LoginName: "bob"},
	)
	e := newEnv(t, func(d *Deps) { d.SessionLifetime = time.Hour; d.Issuer = passkeyIssuer; d.Factors = f })
	r := e.reg.record("web", "t-acme", []string{GrantAuthorizationCode}, []string{"openid", "profile"}, 3600)
	r.Client.RedirectUris = []string{webCallback}
	r.Client.RequireClientSecret = new(false)
	e.reg.put(r)
	pw := "pw-alice-123"
	e.reg.mu.Lock()
	e.reg.users = append(e.reg.users, &registryv1.User{UserId: "u-alice", TenantId: "t-acme", LoginName: "alice", Password: &pw})
	e.reg.mu.Unlock()
	e.awaitRegistry()
	return e, f, tokenv1.NewAuthorizeServiceClient(e.browserConn), tokenv1.NewAccountServiceClient(e.browserConn)
}

// enrol signs alice in with her password and registers a passkey of a on the account page.
func enrol(t *testing.T, az tokenv1.AuthorizeServiceClient, acc tokenv1.AccountServiceClient, a *softAuthenticator) (cookie string) {
	t.Helper()
	ctx := context.Background()
	cookie = signInAlice(t, az).GetSetSessionCookie()
	b := &tokenv1.Browser{SessionCookie: cookie, RemoteAddr: "192.0.2.1"}
	begin, err := acc.BeginPasskeyRegistration(ctx, &tokenv1.BeginPasskeyRegistrationRequest{Browser: b})
	if err != nil {
		t.Fatalf("BeginPasskeyRegistration: %v", err)
	}
	for _, want := range []string{`"residentKey":"required"`, `"userVerification":"preferred"`, `"id":"localhost"`} {
		if !strings.Contains(begin.GetWebauthnOptions(), want) {
			t.Errorf("creation options lack %s: %s", want, begin.GetWebauthnOptions())
		}
	}
	fin, err := acc.FinishPasskeyRegistration(ctx, &tokenv1.FinishPasskeyRegistrationRequest{Browser: b, Ceremony: begin.GetCeremony(),
		WebauthnAttestation: a.create(begin.GetWebauthnOptions()), Name: " Laptop "})
	if err != nil {
		t.Fatalf("FinishPasskeyRegistration: %v", err)
	}
	if fin.GetPasskey().GetName() != "Laptop" || fin.GetPasskey().GetId() != b64(a.credID) {
		t.Fatalf("stored passkey %v", fin.GetPasskey())
	}
	// The ceremony is single use.
	_, err = acc.FinishPasskeyRegistration(ctx, &tokenv1.FinishPasskeyRegistrationRequest{Browser: b, Ceremony: begin.GetCeremony(),
		WebauthnAttestation: a.create(begin.GetWebauthnOptions())})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "ceremony") {
		t.Fatalf("ceremony replay: %v, want INVALID_ARGUMENT naming ceremony", err)
	}
	return cookie
}

// loginPage starts a sign-in and answers the login page's interaction id and password-less options.
func loginPage(t *testing.T, e *env, az tokenv1.AuthorizeServiceClient) (id, options string) {
	t.Helper()
	a, err := az.Authorize(context.Background(), &tokenv1.AuthorizeRequest{Parameters: authorizeParams()})
	if err != nil || a.GetStep().GetLogin() == nil {
		t.Fatalf("authorize: %v, %v", a, err)
	}
	id = a.GetStep().GetLogin().GetInteractionId()
	options = a.GetStep().GetLogin().GetWebauthnOptions()
	if options == "" {
		// The login page does not offer it yet: ask for the options as it would.
		in, _, err := e.srv.loadInteraction(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if options, err = e.srv.passkeyLoginOptions(context.Background(), in); err != nil || options == "" {
			t.Fatalf("passkeyLoginOptions: %q, %v", options, err)
		}
	}
	return id, options
}

// TestPasskeyRegisterAndSignInPasswordless: a passkey enrolled on the account page signs alice in without a
// password; the session carries amr hwk, user, mfa and acr mfa; the same assertion cannot sign in twice.
func TestPasskeyRegisterAndSignInPasswordless(t *testing.T) {
	e, f, az, acc := passkeyEnv(t)
	a := newSoftAuthenticator(t, passkeyIssuer, "localhost")
	enrol(t, az, acc, a)
	if string(a.userHandle) != "u-alice" {
		t.Fatalf("user handle %q", a.userHandle)
	}
	ctx := context.Background()
	id, opts := loginPage(t, e, az)
	if !strings.Contains(opts, `"userVerification":"required"`) || strings.Contains(opts, "allowCredentials") {
		t.Errorf("password-less options: %s", opts)
	}
	assertion := a.get(opts)
	resp, err := az.PasskeyLogin(ctx, &tokenv1.PasskeyLoginRequest{InteractionId: id, WebauthnAssertion: assertion, Browser: &tokenv1.Browser{RemoteAddr: "192.0.2.9"}})
	if err != nil || !strings.HasPrefix(resp.GetStep().GetRedirectUri(), webCallback+"?") || resp.GetStep().GetSetSessionCookie() == "" {
		t.Fatalf("PasskeyLogin: %v, %v", resp, err)
	}
	sess, err := e.st.Session(ctx, digest(resp.GetStep().GetSetSessionCookie()))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sess.AMR, []string{"hwk", "user", "mfa"}) || sess.ACR != "urn:authsuite:acr:mfa" || sess.UserID != "u-alice" {
		t.Fatalf("session authn %v %q user %q", sess.AMR, sess.ACR, sess.UserID)
	}
	f.mu.Lock()
	if len(f.uses) != 1 || f.uses[0].GetSignCount() != 1 {
		t.Errorf("recorded uses %v", f.uses)
	}
	f.mu.Unlock()

	// Replayed (the login page is sealed and could be submitted again): refused, the page shown again.
	again, err := az.PasskeyLogin(ctx, &tokenv1.PasskeyLoginRequest{InteractionId: id, WebauthnAssertion: assertion, Browser: &tokenv1.Browser{RemoteAddr: "192.0.2.9"}})
	if err != nil || again.GetStep().GetLogin().GetErrorCode() != errCodePasskeyFailed || again.GetStep().GetSetSessionCookie() != "" {
		t.Fatalf("replay: %v, %v", again, err)
	}
	if again.GetStep().GetLogin().GetWebauthnOptions() == "" || again.GetStep().GetPage().GetTenantId() != "t-acme" {
		t.Errorf("the page shown again: options %q, page %v", again.GetStep().GetLogin().GetWebauthnOptions(), again.GetStep().GetPage())
	}
}

// TestPasskeyLoginRefusals: each way an assertion can be wrong is refused with the login page again, and
// never signs in.
func TestPasskeyLoginRefusals(t *testing.T) {
	e, f, az, acc := passkeyEnv(t)
	a := newSoftAuthenticator(t, passkeyIssuer, "localhost")
	enrol(t, az, acc, a)
	ctx := context.Background()
	cases := []struct {
		name      string
		assertion func(opts string) string
	}{
		{"wrong origin", func(o string) string { return a.getFrom(challengeOf(t, o), "http://evil.example") }},
		{"foreign challenge", func(o string) string { return a.getFrom(b64(bytes.Repeat([]byte{7}, 40)), passkeyIssuer) }},
		{"no user verification", func(o string) string { a.uv = false; defer func() { a.uv = true }(); return a.get(o) }},
		{"user of another tenant", func(o string) string {
			h := a.userHandle
			a.userHandle = []byte("u-bob")
			defer func() { a.userHandle = h }()
			return a.get(o)
		}},
		{"unknown credential", func(o string) string {
			b := newSoftAuthenticator(t, passkeyIssuer, "localhost")
			b.userHandle = []byte("u-alice")
			return b.get(o)
		}},
		{"wrong RP ID", func(o string) string {
			a.rpID = "example.com"
			defer func() { a.rpID = "localhost" }()
			return a.get(o)
		}},
		{"not JSON", func(string) string { return "{" }},
		{"oversized", func(string) string { return strings.Repeat(" ", maxPasskeyJSON+1) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id, opts := loginPage(t, e, az)
			resp, err := az.PasskeyLogin(ctx, &tokenv1.PasskeyLoginRequest{InteractionId: id, WebauthnAssertion: c.assertion(opts), Browser: &tokenv1.Browser{RemoteAddr: "198.51.100.7"}})
			if err != nil || resp.GetStep().GetLogin().GetErrorCode() != errCodePasskeyFailed || resp.GetStep().GetSetSessionCookie() != "" {
				t.Fatalf("%v, %v", resp, err)
			}
		})
	}

	// A disabled user is refused even with a right assertion.
	f.mu.Lock()
	f.users["t-acme/u-alice"].Disabled = true
	f.mu.Unlock()
	id, opts := loginPage(t, e, az)
	resp, err := az.PasskeyLogin(ctx, &tokenv1.PasskeyLoginRequest{InteractionId: id, WebauthnAssertion: a.get(opts), Browser: &tokenv1.Browser{RemoteAddr: "198.51.100.8"}})
	if err != nil || resp.GetStep().GetLogin() == nil || resp.GetStep().GetSetSessionCookie() != "" {
		t.Fatalf("disabled: %v, %v", resp, err)
	}

	// The tenant turns password-less sign-in off: FAILED_PRECONDITION.
	f.mu.Lock()
	f.passwordless = false
	f.mu.Unlock()
	e.srv.settings.forget("t-acme")
	_, err = az.PasskeyLogin(ctx, &tokenv1.PasskeyLoginRequest{InteractionId: id, WebauthnAssertion: a.get(opts)})
	if status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("password-less off: %v", err)
	}
}

// TestPasskeyLoginThrottled: failed assertions from one address are throttled like wrong passwords: after
// the address's free attempts it must slow down (429 with Retry-After as RESOURCE_EXHAUSTED or the OAuth
// error), while another address is not affected.
func TestPasskeyLoginThrottled(t *testing.T) {
	e, _, az, acc := passkeyEnv(t)
	a := newSoftAuthenticator(t, passkeyIssuer, "localhost")
	enrol(t, az, acc, a)
	ctx := context.Background()
	id, _ := loginPage(t, e, az)
	var refused error
	for i := 0; i < addressPolicy.Free+2 && refused == nil; i++ {
		_, refused = az.PasskeyLogin(ctx, &tokenv1.PasskeyLoginRequest{InteractionId: id, WebauthnAssertion: "{}", Browser: &tokenv1.Browser{RemoteAddr: "203.0.113.5"}})
	}
	if refused == nil {
		t.Fatal("failed passkeys from one address were never throttled")
	}
	if info := apistatus.FromStatus(refused); info.HTTPStatus != http.StatusTooManyRequests || info.RetryAfter <= 0 {
		t.Fatalf("throttled answer %v (%+v), want 429 with a retry delay", refused, info)
	}
	id, opts := loginPage(t, e, az)
	resp, err := az.PasskeyLogin(ctx, &tokenv1.PasskeyLoginRequest{InteractionId: id, WebauthnAssertion: a.get(opts), Browser: &tokenv1.Browser{RemoteAddr: "203.0.113.6"}})
	if err != nil || resp.GetStep().GetSetSessionCookie() == "" {
		t.Fatalf("another address: %v, %v", resp, err)
	}
}

// TestPasskeySecondFactor: the second-factor ceremony after a password: a synced passkey gives swk (and
// user with UV), the challenge is single use, a sign count that goes backwards (a clone) is refused.
func TestPasskeySecondFactor(t *testing.T) {
	e, f, az, acc := passkeyEnv(t)
	a := newSoftAuthenticator(t, passkeyIssuer, "localhost")
	a.be, a.bs = true, true
	enrol(t, az, acc, a)
	ctx := context.Background()
	in := &token.Interaction{TenantID: "t-acme", ClientID: "web", SignInState: token.SignInState{PendingUserID: "u-alice"}}
	fs, err := f.GetFactors(ctx, &registryv1.GetFactorsRequest{TenantId: "t-acme", UserId: "u-alice"})
	if err != nil {
		t.Fatal(err)
	}
	opts, err := e.srv.passkeyRequestOptions(ctx, in, fs)
	if err != nil || !strings.Contains(opts, b64(a.credID)) || len(in.WebAuthnSession) == 0 {
		t.Fatalf("options %q, %v", opts, err)
	}
	assertion := a.get(opts)
	amr, err := e.srv.verifyPasskeyAssertion(ctx, in, fs, assertion)
	if err != nil || !slices.Equal(amr, []string{"swk", "user"}) || in.WebAuthnSession != nil {
		t.Fatalf("verify: %v, %v (session kept: %v)", amr, err, in.WebAuthnSession != nil)
	}
	if _, err := e.srv.verifyPasskeyAssertion(ctx, in, fs, assertion); !errors.Is(err, errPasskeyFailed) {
		t.Fatalf("replayed second factor: %v", err)
	}
	// Another user's interaction cannot use alice's assertion.
	opts, _ = e.srv.passkeyRequestOptions(ctx, in, fs)
	other := &token.Interaction{TenantID: "t-acme", ClientID: "web", SignInState: token.SignInState{PendingUserID: "u-carol"}}
	if _, err := e.srv.verifyPasskeyAssertion(ctx, other, fs, a.get(opts)); !errors.Is(err, errPasskeyFailed) {
		t.Fatalf("other interaction: %v", err)
	}
	// A clone: the stored count is ahead of the authenticator's.
	fs, _ = f.GetFactors(ctx, &registryv1.GetFactorsRequest{TenantId: "t-acme", UserId: "u-alice"})
	fs.Passkeys[0].SignCount = 100
	opts, _ = e.srv.passkeyRequestOptions(ctx, in, fs)
	if _, err := e.srv.verifyPasskeyAssertion(ctx, in, fs, a.get(opts)); !errors.Is(err, errPasskeyFailed) {
		t.Fatalf("cloned authenticator: %v", err)
	}
	// A use elsewhere moved the stored counter past this one after the factors were read: the registry's
	// check refuses it, and the passkey is refused (a failed attempt), not a server error.
	fs, _ = f.GetFactors(ctx, &registryv1.GetFactorsRequest{TenantId: "t-acme", UserId: "u-alice"})
	f.mu.Lock()
	f.passkeys["t-acme/u-alice"][0].SignCount = 1000
	f.mu.Unlock()
	opts, _ = e.srv.passkeyRequestOptions(ctx, in, fs)
	if _, err := e.srv.verifyPasskeyAssertion(ctx, in, fs, a.get(opts)); !errors.Is(err, errPasskeyFailed) {
		t.Fatalf("counter refused by the registry: %v, want a refused passkey", err)
	}
	// No passkey: no options.
	if o, err := e.srv.passkeyRequestOptions(ctx, in, &registryv1.GetFactorsResponse{User: fs.GetUser()}); o != "" || err != nil {
		t.Fatalf("without passkeys: %q, %v", o, err)
	}
}

// TestAccountPasskeyDelete: deleting needs a recent sign-in and a well-formed id; the passkey is gone after.
func TestAccountPasskeyDelete(t *testing.T) {
	e, f, az, acc := passkeyEnv(t)
	a := newSoftAuthenticator(t, passkeyIssuer, "localhost")
	cookie := enrol(t, az, acc, a)
	ctx := context.Background()
	b := &tokenv1.Browser{SessionCookie: cookie}
	if _, err := acc.DeleteAccountPasskey(ctx, &tokenv1.DeleteAccountPasskeyRequest{Browser: b, Id: "not base64!"}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("bad id: %v", err)
	}
	if _, err := acc.DeleteAccountPasskey(ctx, &tokenv1.DeleteAccountPasskeyRequest{Browser: &tokenv1.Browser{}, Id: b64(a.credID)}); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("no session: %v", err)
	}
	e.clock.Advance(RecentSignIn + time.Second)
	if _, err := acc.DeleteAccountPasskey(ctx, &tokenv1.DeleteAccountPasskeyRequest{Browser: b, Id: b64(a.credID)}); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("old sign-in: %v", err)
	}
	cookie = signInAliceWithPasskey(t, az, a) // alice has a passkey: it is her second factor
	if _, err := acc.DeleteAccountPasskey(ctx, &tokenv1.DeleteAccountPasskeyRequest{Browser: &tokenv1.Browser{SessionCookie: cookie}, Id: b64(a.credID)}); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if n := len(f.passkeys["t-acme/u-alice"]); n != 0 {
		t.Fatalf("%d passkeys left", n)
	}
}

// TestPasskeyConversions: a stored passkey survives the trip to a credential record and back.
func TestPasskeyConversions(t *testing.T) {
	p := &registryv1.Passkey{CredentialId: []byte{1, 2}, PublicKey: []byte{3}, AttestationType: "none", Aaguid: make([]byte, 16),
		SignCount: 9, Transports: []string{"internal", "hybrid"}, BackupEligible: true, BackupState: true, UserVerified: true}
	c := credentialOf(p)
	back := passkeyOf(&c)
	if !proto.Equal(p, back) {
		t.Fatalf("round trip:\n%v\n%v", p, back)
	}
	if !slices.Equal(passkeyAMR(false, false), []string{"hwk"}) || !slices.Equal(passkeyAMR(true, true), []string{"swk", "user"}) {
		t.Fatal("passkeyAMR")
	}
	if _, err := relyingParty("http://127.0.0.1:9"); err == nil {
		t.Error("an IP address was accepted as RP ID")
	}
	rp, err := relyingParty("https://id.example.com:8443")
	if err != nil || rp.Config.RPID != "id.example.com" || !slices.Equal(rp.Config.RPOrigins, []string{"https://id.example.com:8443"}) {
		t.Fatalf("relying party %+v, %v", rp, err)
	}
}

// FuzzPasskeyChallenge: only a challenge minted for a binding is accepted for it; any change is refused.
func FuzzPasskeyChallenge(f *testing.F) {
	kr, err := suitekey.New(make([]byte, 32))
	if err != nil {
		f.Fatal(err)
	}
	s := &Server{kr: kr, now: time.Now}
	binding := passkeyBinding("t-acme", "web", "2fa", "u-alice")
	// Deterministic, so every fuzzing worker process has the same one.
	minted := b64(s.challengeWith(binding, time.Unix(1e10, 0), [16]byte{1, 2, 3}))
	f.Add(minted)
	f.Add(minted[:len(minted)-1] + "A")
	f.Add(minted[:10] + "\r" + minted[10:])
	f.Add(b64(make([]byte, passkeyChallengeLen)))
	f.Add("")
	f.Fuzz(func(t *testing.T, c string) {
		_, ok := s.checkChallenge(c, binding)
		if ok != (c == minted) {
			t.Fatalf("checkChallenge(%q) = %v; minted %q", c, ok, minted)
		}
		if _, ok := s.checkChallenge(c, passkeyBinding("t-acme", "web", "2fa", "u-bob")); ok {
			t.Fatalf("challenge %q accepted for another user", c)
		}
	})
}

// FuzzPasskeyName: accepted names are trimmed, 1-64 characters of valid UTF-8 without control characters.
func FuzzPasskeyName(f *testing.F) {
	for _, s := range []string{"", " Laptop ", "钥匙", strings.Repeat("x", 65), "a\x00b", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		n, err := passkeyName(in)
		if err != nil {
			return
		}
		if n == "" || !utf8.ValidString(n) || utf8.RuneCountInString(n) > 64 || strings.IndexFunc(n, unicode.IsControl) >= 0 || n != strings.TrimSpace(n) {
			t.Fatalf("passkeyName(%q) = %q", in, n)
		}
	})
}

// FuzzCredentialID: an accepted id decodes to 1-1023 bytes that encode back to the same text.
func FuzzCredentialID(f *testing.F) {
	for _, s := range []string{"", "AQI", "AQI=", "not base64!", strings.Repeat("A", 1400)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		b, err := parseCredentialID(in)
		if err != nil {
			return
		}
		if len(b) == 0 || len(b) > 1023 || b64(b) != in {
			t.Fatalf("parseCredentialID(%q) = %x", in, b)
		}
	})
}

// BenchmarkPasskeySignIn measures the server's side of a passkey second factor: the request options
// (challenge minted, SessionData kept) and the verification of the answer (parse, single-use challenge
// written to the token store, ES256 signature, sign count recorded in an in-process registry). The software
// authenticator's signing is not timed. "bbolt" is the default file store (the challenge write is a durable
// transaction), "memory" the in-memory store (the CPU cost alone).
func BenchmarkPasskeySignIn(b *testing.B) {
	for _, store := range []string{"bbolt", "memory"} {
		b.Run(store, func(b *testing.B) {
			var st token.Store
			if store == "bbolt" {
				bs, err := bboltstore.Open(b.TempDir() + "/token.db")
				if err != nil {
					b.Fatal(err)
				}
				st = bs
			} else {
				st = memstore.New()
			}
			b.Cleanup(func() { st.Close() })
			kr, _ := suitekey.New(make([]byte, 32))
			f := newFakeFactors(&registryv1.User{UserId: "u-alice", TenantId: "t-acme", LoginName: "alice"})
			s, err := New(Deps{Store: st, Keyring: kr, Registry: registryv1.NewRegistryInternalServiceClient(nil), Factors: f, Issuer: passkeyIssuer})
			if err != nil {
				b.Fatal(err)
			}
			a := newSoftAuthenticator(b, passkeyIssuer, "localhost")
			a.userHandle = []byte("u-alice")
			f.passkeys["t-acme/u-alice"] = []*registryv1.Passkey{{CredentialId: a.credID, PublicKey: a.coseKey(), AttestationType: "none", UserVerified: true}}
			ctx := context.Background()
			fs, _ := f.GetFactors(ctx, &registryv1.GetFactorsRequest{TenantId: "t-acme", UserId: "u-alice"})
			b.ReportAllocs()
			for b.Loop() {
				in := &token.Interaction{TenantID: "t-acme", ClientID: "web", SignInState: token.SignInState{PendingUserID: "u-alice"}}
				opts, err := s.passkeyRequestOptions(ctx, in, fs)
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				assertion := a.get(opts)
				fs.Passkeys[0].SignCount = a.counter - 1
				b.StartTimer()
				if _, err := s.verifyPasskeyAssertion(ctx, in, fs, assertion); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// FuzzOpenCeremony: only what this keyring sealed as a registration ceremony opens (any other bytes, a
// value sealed for another purpose, a changed byte are refused).
func FuzzOpenCeremony(f *testing.F) {
	kr, err := suitekey.New(make([]byte, 32))
	if err != nil {
		f.Fatal(err)
	}
	s := &Server{kr: kr, now: time.Now}
	plain := []byte(`{"tenant_id":"t","user_id":"u","session_id":"AA==","exp":1,"session":{"challenge":"abc"}}`)
	sealed := kr.Seal(plain, passkeyCeremonyAAD)
	if _, ok := s.openCeremony(b64(sealed)); !ok {
		f.Fatal("a sealed ceremony does not open")
	}
	f.Add(b64(sealed))
	f.Add(b64(kr.Seal(plain, sealedInteractionAAD)))
	f.Add(b64(sealed)[:20])
	f.Add("")
	f.Fuzz(func(t *testing.T, v string) {
		// Seals are randomized (and every fuzzing worker seals its own), so the oracle is the content: whatever
		// opens must be the ceremony this test sealed, never one the input made up.
		c, ok := s.openCeremony(v)
		if ok && (c.TenantID != "t" || c.UserID != "u" || c.Session.Challenge != "abc" || c.Exp != 1) {
			t.Fatalf("openCeremony(%q) opened %+v", v, c)
		}
	})
}

// FuzzParseAssertion: an accepted assertion is within the size bound and names a credential; nothing
// panics.
func FuzzParseAssertion(f *testing.F) {
	a := newSoftAuthenticator(f, passkeyIssuer, "localhost")
	a.userHandle = []byte("u-alice")
	f.Add(a.getFrom(b64(make([]byte, 40)), passkeyIssuer))
	f.Add(`{"id":"AA","rawId":"AA","type":"public-key","response":{}}`)
	f.Add("{")
	f.Fuzz(func(t *testing.T, in string) {
		p, err := parseAssertion(in)
		if err != nil {
			if !errors.Is(err, errPasskeyFailed) {
				t.Fatalf("error %v does not wrap errPasskeyFailed", err)
			}
			return
		}
		if len(in) > maxPasskeyJSON || len(p.RawID) == 0 {
			t.Fatalf("accepted %d bytes with raw id %x", len(in), p.RawID)
		}
	})
}

// TestPasskeyRegistrationRefusals: a registration is refused, naming the field, for an attestation from
// another origin, a ceremony of another session or one that expired, and a bad name; a second registration
// excludes the passkey already held; nothing is stored by a refusal.
func TestPasskeyRegistrationRefusals(t *testing.T) {
	e, f, az, acc := passkeyEnv(t)
	ctx := context.Background()
	cookie := signInAlice(t, az).GetSetSessionCookie()
	other := signInAlice(t, az).GetSetSessionCookie()
	b := &tokenv1.Browser{SessionCookie: cookie}
	a := newSoftAuthenticator(t, passkeyIssuer, "localhost")
	begin := func() *tokenv1.BeginPasskeyRegistrationResponse {
		t.Helper()
		r, err := acc.BeginPasskeyRegistration(ctx, &tokenv1.BeginPasskeyRegistrationRequest{Browser: b})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	finish := func(br *tokenv1.Browser, r *tokenv1.BeginPasskeyRegistrationResponse, att, name, field string) {
		t.Helper()
		_, err := acc.FinishPasskeyRegistration(ctx, &tokenv1.FinishPasskeyRegistrationRequest{Browser: br, Ceremony: r.GetCeremony(), WebauthnAttestation: att, Name: name})
		if status.Code(err) != codes.InvalidArgument || apistatus.FromStatus(err).Field != field {
			t.Fatalf("want INVALID_ARGUMENT naming %s, got %v", field, err)
		}
	}
	r := begin()
	a.origin = "http://evil.example"
	finish(b, r, a.create(r.GetWebauthnOptions()), "", "webauthn_attestation")
	a.origin = passkeyIssuer
	r = begin()
	finish(&tokenv1.Browser{SessionCookie: other}, r, a.create(r.GetWebauthnOptions()), "", "ceremony")
	finish(b, r, a.create(r.GetWebauthnOptions()), strings.Repeat("x", 65), "name")
	finish(b, r, a.create(r.GetWebauthnOptions()), "a\nb", "name")
	e.clock.Advance(passkeyCeremonyLifetime + time.Second)
	finish(b, r, a.create(r.GetWebauthnOptions()), "", "ceremony")
	finish(b, &tokenv1.BeginPasskeyRegistrationResponse{Ceremony: "not sealed"}, a.create(r.GetWebauthnOptions()), "", "ceremony")
	f.mu.Lock()
	n := len(f.passkeys["t-acme/u-alice"])
	f.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d passkeys stored by refusals", n)
	}
	r = begin()
	if _, err := acc.FinishPasskeyRegistration(ctx, &tokenv1.FinishPasskeyRegistrationRequest{Browser: b, Ceremony: r.GetCeremony(), WebauthnAttestation: a.create(r.GetWebauthnOptions())}); err != nil {
		t.Fatal(err)
	}
	if again := begin(); !strings.Contains(again.GetWebauthnOptions(), `"excludeCredentials":[{"type":"public-key","id":"`+b64(a.credID)) {
		t.Errorf("the held passkey is not excluded: %s", again.GetWebauthnOptions())
	}
}
