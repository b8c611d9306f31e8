package server

import (
	"context"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/grpctest"
	"github.com/authsuite/authsuite/internal/suitekey"
)

// ssFactors is a FactorInternalService over loopback gRPC for the self-service tests: t-acme sends mail and
// may allow self-registration; users keep a password stamp that changes with the password, and an address.
type ssFactors struct {
	registryv1.UnimplementedFactorInternalServiceServer
	reg *fakeRegistry

	mu       sync.Mutex
	selfReg  bool
	noMail   bool
	users    map[string]*registryv1.User // user id → user
	stamp    map[string]string
	password map[string]string
	nextID   int
}

func (f *ssFactors) serve(t *testing.T, cred string) registryv1.FactorInternalServiceClient {
	addr := grpctest.Serve(t, cred, func(s grpc.ServiceRegistrar) { registryv1.RegisterFactorInternalServiceServer(s, f) })
	return registryv1.NewFactorInternalServiceClient(grpctest.Dial(t, addr, cred))
}

func (f *ssFactors) GetSignInSettings(_ context.Context, req *registryv1.GetSignInSettingsRequest) (*registryv1.GetSignInSettingsResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := defaultSignInSettings(req.GetTenantId())
	st.TenantName = "Acme"
	st.SelfRegistration = f.selfReg
	if !f.noMail {
		st.Smtp = &registryv1.SmtpSettings{Host: "mail.acme.example", From: "Acme <no-reply@acme.example>"}
	}
	return &registryv1.GetSignInSettingsResponse{Settings: st}, nil
}

func (f *ssFactors) GetFactors(_ context.Context, req *registryv1.GetFactorsRequest) (*registryv1.GetFactorsResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	u, ok := f.users[req.GetUserId()]
	if !ok || u.GetTenantId() != req.GetTenantId() {
		return nil, status.Error(codes.NotFound, "no such user")
	}
	return &registryv1.GetFactorsResponse{User: proto.Clone(u).(*registryv1.User), Incarnation: "inc-" + u.GetUserId(),
		PasswordStamp: f.stamp[u.GetUserId()]}, nil
}

func (f *ssFactors) ResetPassword(_ context.Context, req *registryv1.ResetPasswordRequest) (*registryv1.ResetPasswordResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := req.GetUserId()
	if _, ok := f.users[id]; !ok || req.GetIncarnation() != "inc-"+id || req.GetPasswordStamp() != f.stamp[id] {
		return nil, status.Error(codes.FailedPrecondition, "the link no longer fits the account")
	}
	if len(req.GetNewPassword()) < 8 {
		return nil, status.Error(codes.InvalidArgument, "new_password: must be at least 8 characters")
	}
	f.setPassword(id, req.GetNewPassword())
	return &registryv1.ResetPasswordResponse{}, nil
}

// setPassword changes id's password (and stamp) here and in the fake registry's AuthenticateUser. f.mu held.
func (f *ssFactors) setPassword(id, pw string) {
	f.password[id] = pw
	f.stamp[id] += "+"
	f.reg.mu.Lock()
	for _, u := range f.reg.users {
		if u.GetUserId() == id {
			u.Password = &pw
		}
	}
	f.reg.mu.Unlock()
}

func (f *ssFactors) MarkEmailVerified(_ context.Context, req *registryv1.MarkEmailVerifiedRequest) (*registryv1.MarkEmailVerifiedResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	u, ok := f.users[req.GetUserId()]
	if !ok || !strings.EqualFold(u.GetEmail(), req.GetEmail()) {
		return nil, status.Error(codes.FailedPrecondition, "the address changed")
	}
	u.EmailVerified = proto.Bool(true)
	return &registryv1.MarkEmailVerifiedResponse{User: proto.Clone(u).(*registryv1.User)}, nil
}

func (f *ssFactors) RegisterUser(_ context.Context, req *registryv1.RegisterUserRequest) (*registryv1.RegisterUserResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.selfReg {
		return nil, status.Error(codes.FailedPrecondition, "no self-registration")
	}
	for _, u := range f.users {
		if u.GetLoginName() == req.GetLoginName() || strings.EqualFold(u.GetEmail(), req.GetEmail()) {
			return nil, status.Error(codes.AlreadyExists, "login_name: taken")
		}
	}
	if len(req.GetPassword()) < 8 {
		return nil, status.Error(codes.InvalidArgument, "password: must be at least 8 characters")
	}
	f.nextID++
	id := "u-new-" + string(rune('0'+f.nextID))
	u := &registryv1.User{UserId: id, TenantId: req.GetTenantId(), LoginName: req.GetLoginName(), Email: req.GetEmail(), DisplayName: req.GetDisplayName()}
	f.users[id] = u
	f.stamp[id] = "s"
	pw := req.GetPassword()
	f.password[id] = pw
	f.reg.mu.Lock()
	f.reg.users = append(f.reg.users, &registryv1.User{UserId: id, TenantId: u.GetTenantId(), LoginName: u.GetLoginName(), Email: u.GetEmail(), Password: &pw})
	f.reg.mu.Unlock()
	f.reg.putAccount(&registryv1.UserRecord{TenantId: u.GetTenantId(), UserId: id, Incarnation: "inc-" + id, LoginName: u.GetLoginName()})
	return &registryv1.RegisterUserResponse{User: proto.Clone(u).(*registryv1.User), Incarnation: "inc-" + id}, nil
}

// sentMail is one mail the capturing Mailer was asked to send.
type sentMail struct {
	smtp              *registryv1.SmtpSettings
	to, subject, body string
}

// captureMailer records every mail on a channel.
type captureMailer chan sentMail

func (c captureMailer) Send(_ context.Context, st *registryv1.SmtpSettings, to, subject, body string) error {
	c <- sentMail{smtp: st, to: to, subject: subject, body: body}
	return nil
}

// ssEnv is signinEnv with the self-service fake: alice (pw-alice-123, alice@acme.example), bob without an
// address, and dave, disabled, in t-acme.
type ssEnv struct {
	*env
	f    *ssFactors
	az   tokenv1.AuthorizeServiceClient
	ss   tokenv1.SelfServiceServiceClient
	mail captureMailer
}

func newSSEnv(t *testing.T) *ssEnv {
	t.Helper()
	kr, err := suitekey.New(make([]byte, 32)) // newEnv's keyring: the same internal credential
	if err != nil {
		t.Fatal(err)
	}
	f := &ssFactors{users: map[string]*registryv1.User{}, stamp: map[string]string{}, password: map[string]string{}}
	fc := f.serve(t, kr.InternalCredential())
	mails := make(captureMailer, 100)
	e := newEnv(t, func(d *Deps) { d.SessionLifetime = time.Hour; d.Factors = fc; d.Mailer = mails })
	f.reg = e.reg
	r := e.reg.record("web", "t-acme", []string{GrantAuthorizationCode}, []string{"openid", "profile"}, 3600)
	r.Client.RedirectUris = []string{webCallback}
	r.Client.RequireClientSecret = new(false)
	e.reg.put(r)
	e.reg.mu.Lock()
	for _, u := range []*registryv1.User{
		{UserId: "u-alice", TenantId: "t-acme", LoginName: "alice", Email: "alice@acme.example", DisplayName: "Alice"},
		{UserId: "u-bob", TenantId: "t-acme", LoginName: "bob"},
		{UserId: "u-dave", TenantId: "t-acme", LoginName: "dave", Email: "dave@acme.example", Disabled: true},
	} {
		pw := "pw-" + u.GetLoginName() + "-123"
		ru := proto.Clone(u).(*registryv1.User)
		ru.Password = &pw
		e.reg.users = append(e.reg.users, ru)
		f.users[u.GetUserId()] = u
		f.stamp[u.GetUserId()] = "s"
		f.password[u.GetUserId()] = pw
	}
	e.reg.mu.Unlock()
	for id, u := range f.users {
		e.reg.putAccount(&registryv1.UserRecord{TenantId: u.GetTenantId(), UserId: id, Incarnation: "inc-" + id, LoginName: u.GetLoginName(),
			Disabled: u.GetDisabled()})
	}
	e.reg.breakStreams(false) // the next snapshot carries the accounts (users_synced)
	e.awaitRegistry()
	waitFor(t, 5*time.Second, "the account view", func() bool { _, ok := e.srv.cache.Incarnation("t-acme", "u-alice"); return ok })
	return &ssEnv{env: e, f: f, az: tokenv1.NewAuthorizeServiceClient(e.browserConn),
		ss: tokenv1.NewSelfServiceServiceClient(e.browserConn), mail: mails}
}

// nextMail waits for the next mail.
func (e *ssEnv) nextMail(t *testing.T) sentMail {
	t.Helper()
	select {
	case m := <-e.mail:
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("no mail was sent")
	}
	return sentMail{}
}

// noMail checks that every queued mail job has ended without sending.
func (e *ssEnv) noMail(t *testing.T, why string) {
	t.Helper()
	e.srv.mailq.Wait()
	select {
	case m := <-e.mail:
		t.Fatalf("%s: a mail was sent to %q", why, m.to)
	default:
	}
}

// linkToken extracts the token of the link to path in a mail body.
func linkToken(t *testing.T, body, path string) string {
	t.Helper()
	i := strings.Index(body, testIssuer+path+"?token=")
	if i < 0 {
		t.Fatalf("no %s link in %q", path, body)
	}
	raw := strings.Fields(body[i:])[0]
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("token")
}

func (e *ssEnv) requestReset(t *testing.T, tenant, login, locale, addr string) error {
	t.Helper()
	_, err := e.ss.RequestPasswordReset(context.Background(), &tokenv1.RequestPasswordResetRequest{Tenant: tenant, Login: login, Locale: locale,
		Browser: &tokenv1.Browser{RemoteAddr: addr}})
	return err
}

// A reset link mailed in the page's language sets a new password once, ends the user's sessions, and is
// dead afterwards; the new password signs in.
func TestPasswordReset(t *testing.T) {
	e := newSSEnv(t)
	ctx := context.Background()
	session := signInAlice(t, e.az).GetSetSessionCookie()

	if err := e.requestReset(t, "acme", "alice@acme.example", "zh-Hans", "192.0.2.10"); err != nil {
		t.Fatal(err)
	}
	m := e.nextMail(t)
	if m.to != "alice@acme.example" || m.smtp.GetHost() != "mail.acme.example" {
		t.Fatalf("mail to %q via %q", m.to, m.smtp.GetHost())
	}
	if !strings.Contains(m.subject, "密码") || !strings.Contains(m.body, "30") {
		t.Fatalf("not the Simplified Chinese reset mail: %q / %q", m.subject, m.body)
	}
	tok := linkToken(t, m.body, "/account/reset")

	chk, err := e.ss.CheckPasswordReset(ctx, &tokenv1.CheckPasswordResetRequest{Token: tok})
	if err != nil || chk.GetLoginName() != "alice" || chk.GetPage().GetTenantId() != "t-acme" {
		t.Fatalf("check: %v, %v", chk, err)
	}
	// The password rules are the registry's: a refusal names newPassword and keeps the link usable.
	_, err = e.ss.CompletePasswordReset(ctx, &tokenv1.CompletePasswordResetRequest{Token: tok, NewPassword: "short"})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), "newPassword") {
		t.Fatalf("short password: %v", err)
	}
	if _, err := e.ss.CompletePasswordReset(ctx, &tokenv1.CompletePasswordResetRequest{Token: tok, NewPassword: "a-new-password-1"}); err != nil {
		t.Fatal(err)
	}
	// Used up: check and complete both refuse it.
	if _, err := e.ss.CheckPasswordReset(ctx, &tokenv1.CheckPasswordResetRequest{Token: tok}); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("check after use: %v", err)
	}
	if _, err := e.ss.CompletePasswordReset(ctx, &tokenv1.CompletePasswordResetRequest{Token: tok, NewPassword: "another-password-2"}); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("second use: %v", err)
	}
	// The session from before the reset is over: the browser sees the login page.
	a, err := e.az.Authorize(ctx, &tokenv1.AuthorizeRequest{Parameters: authorizeParams(), Browser: &tokenv1.Browser{SessionCookie: session}})
	if err != nil || a.GetStep().GetLogin() == nil {
		t.Fatalf("old session after the reset: %v, %v", a, err)
	}
	// The new password signs in; the old one does not.
	l, err := e.az.Login(ctx, &tokenv1.LoginRequest{InteractionId: a.GetStep().GetLogin().GetInteractionId(), Username: "alice", Password: "a-new-password-1",
		Browser: &tokenv1.Browser{RemoteAddr: "192.0.2.1"}})
	if err != nil || l.GetStep().GetSetSessionCookie() == "" {
		t.Fatalf("sign in with the new password: %v, %v", l, err)
	}
}

// The answer is the same, and no mail goes out, for an unknown tenant or user, a user without an address, a
// disabled user, and a tenant without a mail server; a reset link dies when the password changes otherwise.
func TestPasswordResetRevealsNothing(t *testing.T) {
	e := newSSEnv(t)
	for _, c := range []struct{ tenant, login string }{
		{"nope", "alice"}, {"acme", "nobody"}, {"acme", "bob"}, {"acme", "dave"}, {"acme", "nobody@acme.example"},
	} {
		if err := e.requestReset(t, c.tenant, c.login, "", "192.0.2.11"); err != nil {
			t.Fatalf("%s/%s: %v", c.tenant, c.login, err)
		}
		e.noMail(t, c.tenant+"/"+c.login)
	}
	e.f.mu.Lock()
	e.f.noMail = true
	e.f.mu.Unlock()
	e.srv.settings.forget("t-acme")
	if err := e.requestReset(t, "t-acme", "alice", "", "192.0.2.11"); err != nil {
		t.Fatal(err)
	}
	e.noMail(t, "tenant without mail")
	e.f.mu.Lock()
	e.f.noMail = false
	e.f.mu.Unlock()
	e.srv.settings.forget("t-acme")

	// Bad input is refused naming the field.
	for _, c := range []struct{ tenant, login, field string }{{"", "alice", "tenant"}, {"acme", "", "login"}, {"acme", "a\nb", "login"},
		{"acme", strings.Repeat("x", 400), "login"}} {
		err := e.requestReset(t, c.tenant, c.login, "", "192.0.2.11")
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), c.field) {
			t.Fatalf("%q/%q: %v, want INVALID_ARGUMENT naming %s", c.tenant, c.login, err, c.field)
		}
	}

	if err := e.requestReset(t, "t-acme", "alice", "", "192.0.2.11"); err != nil {
		t.Fatal(err)
	}
	tok := linkToken(t, e.nextMail(t).body, "/account/reset")
	e.f.mu.Lock()
	e.f.setPassword("u-alice", "changed-elsewhere")
	e.f.mu.Unlock()
	if _, err := e.ss.CheckPasswordReset(context.Background(), &tokenv1.CheckPasswordResetRequest{Token: tok}); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("link after a password change: %v", err)
	}
}

// Links expire; a verification link is no reset link; a tampered link is refused.
func TestLinkTokens(t *testing.T) {
	e := newSSEnv(t)
	ctx := context.Background()
	if err := e.requestReset(t, "acme", "alice", "", "192.0.2.12"); err != nil {
		t.Fatal(err)
	}
	tok := linkToken(t, e.nextMail(t).body, "/account/reset")
	verify, _ := makeLink(e.kr, linkClaims{Kind: linkVerify, TenantID: "t-acme", UserID: "u-alice", Incarnation: "inc-u-alice", Email: "alice@acme.example"}, e.clock.Now())
	tampered := tok[:len(tok)-2] + "AA"
	if tampered == tok {
		tampered = tok[:len(tok)-2] + "BB"
	}
	for name, bad := range map[string]string{"verify as reset": verify, "tampered": tampered, "empty": "", "garbage": "a.b.c"} {
		if _, err := e.ss.CheckPasswordReset(ctx, &tokenv1.CheckPasswordResetRequest{Token: bad}); status.Code(err) != codes.FailedPrecondition {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if _, err := e.ss.VerifyEmail(ctx, &tokenv1.VerifyEmailRequest{Token: tok}); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("reset link as verification: %v", err)
	}
	e.clock.Advance(31 * time.Minute)
	if _, err := e.ss.CheckPasswordReset(ctx, &tokenv1.CheckPasswordResetRequest{Token: tok}); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("expired link: %v", err)
	}
}

// Requests are counted per address (RESOURCE_EXHAUSTED when spent) and mails per account (silently not
// sent when spent).
func TestPasswordResetThrottled(t *testing.T) {
	e := newSSEnv(t)
	for i := range mailAccountPolicy.Free {
		if err := e.requestReset(t, "acme", "alice", "", "192.0.2.20"); err != nil {
			t.Fatal(i, err)
		}
		e.nextMail(t)
	}
	if err := e.requestReset(t, "acme", "alice", "", "192.0.2.20"); err != nil {
		t.Fatal(err)
	}
	e.noMail(t, "the account's mail budget is spent")
	for range selfServiceAddressPolicy.Free - mailAccountPolicy.Free - 1 {
		if err := e.requestReset(t, "acme", "nobody", "", "192.0.2.20"); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.requestReset(t, "acme", "nobody", "", "192.0.2.20"); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("beyond the address budget: %v", err)
	}
	if err := e.requestReset(t, "acme", "nobody", "", "192.0.2.21"); err != nil {
		t.Fatalf("another address: %v", err)
	}
}

// A signed-in person gets a verification link, which marks the address verified once.
func TestEmailVerification(t *testing.T) {
	e := newSSEnv(t)
	ctx := context.Background()
	if _, err := e.ss.SendEmailVerification(ctx, &tokenv1.SendEmailVerificationRequest{}); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("without a session: %v", err)
	}
	cookie := signInAlice(t, e.az).GetSetSessionCookie()
	b := &tokenv1.Browser{SessionCookie: cookie}
	if _, err := e.ss.SendEmailVerification(ctx, &tokenv1.SendEmailVerificationRequest{Browser: b, Locale: "zh-Hant"}); err != nil {
		t.Fatal(err)
	}
	m := e.nextMail(t)
	if m.to != "alice@acme.example" || !strings.Contains(m.subject, "電子郵件") {
		t.Fatalf("mail %q %q", m.to, m.subject)
	}
	tok := linkToken(t, m.body, "/account/verify-email")
	v, err := e.ss.VerifyEmail(ctx, &tokenv1.VerifyEmailRequest{Token: tok})
	if err != nil || v.GetEmail() != "alice@acme.example" {
		t.Fatalf("verify: %v, %v", v, err)
	}
	e.f.mu.Lock()
	verified := e.f.users["u-alice"].GetEmailVerified()
	e.f.mu.Unlock()
	if !verified {
		t.Fatal("not marked verified")
	}
	if _, err := e.ss.VerifyEmail(ctx, &tokenv1.VerifyEmailRequest{Token: tok}); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("second use: %v", err)
	}
	if _, err := e.ss.SendEmailVerification(ctx, &tokenv1.SendEmailVerificationRequest{Browser: b}); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("verified already: %v", err)
	}
	// A link for an address the user no longer has is refused.
	old, _ := makeLink(e.kr, linkClaims{Kind: linkVerify, TenantID: "t-acme", UserID: "u-alice", Incarnation: "inc-u-alice", Email: "old@acme.example"}, e.clock.Now())
	if _, err := e.ss.VerifyEmail(ctx, &tokenv1.VerifyEmailRequest{Token: old}); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("old address: %v", err)
	}
}

// Self-registration from a login page creates the user, mails a verification link and signs them in;
// a taken login answers its error code; a tenant that does not allow it refuses.
func TestRegister(t *testing.T) {
	e := newSSEnv(t)
	ctx := context.Background()
	login := func() string {
		a, err := e.az.Authorize(ctx, &tokenv1.AuthorizeRequest{Parameters: authorizeParams()})
		if err != nil || a.GetStep().GetLogin() == nil {
			t.Fatalf("authorize: %v, %v", a, err)
		}
		return a.GetStep().GetLogin().GetInteractionId()
	}
	req := &tokenv1.RegisterRequest{InteractionId: login(), LoginName: "erin", Email: "erin@acme.example", Password: "erins-password-1",
		Locale: "en", Browser: &tokenv1.Browser{RemoteAddr: "192.0.2.30"}}
	if _, err := e.ss.Register(ctx, req); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("tenant without self-registration: %v", err)
	}
	e.f.mu.Lock()
	e.f.selfReg = true
	e.f.mu.Unlock()
	e.srv.settings.forget("t-acme")

	for _, c := range []struct {
		mod  func(*tokenv1.RegisterRequest)
		code string
	}{
		{func(r *tokenv1.RegisterRequest) { r.Email = "not an address" }, errCodeRegisterEmail},
		{func(r *tokenv1.RegisterRequest) { r.Email = "Erin <erin@acme.example>" }, errCodeRegisterEmail},
		{func(r *tokenv1.RegisterRequest) { r.Password = "" }, errCodeRegisterMissing},
		{func(r *tokenv1.RegisterRequest) { r.Password = "short" }, errCodeRegisterPassword},
		{func(r *tokenv1.RegisterRequest) { r.LoginName = "alice" }, errCodeRegisterTaken},
	} {
		r := proto.Clone(req).(*tokenv1.RegisterRequest)
		c.mod(r)
		resp, err := e.ss.Register(ctx, r)
		if err != nil || resp.GetErrorCode() != c.code || resp.GetStep() != nil {
			t.Fatalf("want %s: %v, %v", c.code, resp, err)
		}
	}
	resp, err := e.ss.Register(ctx, req)
	if err != nil || resp.GetErrorCode() != "" {
		t.Fatalf("register: %v, %v", resp, err)
	}
	st := resp.GetStep()
	if st.GetSetSessionCookie() == "" || !strings.HasPrefix(st.GetRedirectUri(), webCallback+"?") || !strings.Contains(st.GetRedirectUri(), "code=") {
		t.Fatalf("not signed in and back at the client: %v", st)
	}
	m := e.nextMail(t)
	if m.to != "erin@acme.example" {
		t.Fatalf("verification mail to %q", m.to)
	}
	tok := linkToken(t, m.body, "/account/verify-email")
	if _, err := e.ss.VerifyEmail(ctx, &tokenv1.VerifyEmailRequest{Token: tok}); err != nil {
		t.Fatal(err)
	}
}
