package server

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/access"
	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/internal/apistatus"
	"github.com/authsuite/authsuite/services/token"
)

// accountFactors is the registry's factor API for the account page tests: users of adminEnv, a password
// per user, a TOTP flag.
type accountFactors struct {
	registryv1.FactorInternalServiceClient // nil: other calls panic
	mu                                     sync.Mutex
	users                                  map[string]*registryv1.User
	passwords                              map[string]string
	totp                                   map[string]bool
	changes                                int
	rulesFirst                             bool // ChangePassword checks the new password's rules before the current one
}

func newAccountFactors() *accountFactors {
	f := &accountFactors{users: map[string]*registryv1.User{}, passwords: map[string]string{}, totp: map[string]bool{}}
	for _, u := range []struct{ id, tenant, login string }{{"u-alice", "t-acme", "alice"}, {"u-bob", "t-acme", "bob"}, {"u-carol", "t-beta", "carol"}, {"u-root", "system", "root"}} {
		f.users[u.tenant+"/"+u.id] = &registryv1.User{UserId: u.id, TenantId: u.tenant, LoginName: u.login, Email: u.login + "@example.com"}
		f.passwords[u.tenant+"/"+u.id] = "pw-" + u.login + "-123"
	}
	return f
}

func (f *accountFactors) GetSignInSettings(_ context.Context, req *registryv1.GetSignInSettingsRequest, _ ...grpc.CallOption) (*registryv1.GetSignInSettingsResponse, error) {
	return &registryv1.GetSignInSettingsResponse{Settings: defaultSignInSettings(req.GetTenantId())}, nil
}

func (f *accountFactors) GetFactors(_ context.Context, req *registryv1.GetFactorsRequest, _ ...grpc.CallOption) (*registryv1.GetFactorsResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := req.GetTenantId() + "/" + req.GetUserId()
	u, ok := f.users[k]
	if !ok {
		return nil, status.Error(codes.NotFound, "no such user")
	}
	return &registryv1.GetFactorsResponse{User: proto.Clone(u).(*registryv1.User), TotpEnrolled: f.totp[k], PasswordStamp: "stamp"}, nil
}

func (f *accountFactors) ChangePassword(_ context.Context, req *registryv1.ChangePasswordRequest, _ ...grpc.CallOption) (*registryv1.ChangePasswordResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := req.GetTenantId() + "/" + req.GetUserId()
	weak := len(req.GetNewPassword()) < 8
	if weak && f.rulesFirst {
		return nil, apistatus.ToStatus(apierror.Invalid("new_password", "must be at least 8 characters"))
	}
	if f.passwords[k] != req.GetCurrentPassword() {
		return nil, status.Error(codes.Unauthenticated, "wrong password")
	}
	if weak {
		return nil, apistatus.ToStatus(apierror.Invalid("new_password", "must be at least 8 characters"))
	}
	f.passwords[k] = req.GetNewPassword()
	f.changes++
	return &registryv1.ChangePasswordResponse{}, nil
}

func (f *accountFactors) DeleteTotp(_ context.Context, req *registryv1.DeleteTotpRequest, _ ...grpc.CallOption) (*registryv1.DeleteTotpResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.totp[req.GetTenantId()+"/"+req.GetUserId()] = false
	return &registryv1.DeleteTotpResponse{}, nil
}

// accountEnv is adminEnv with the factor API and the account service's client.
func accountEnv(t *testing.T) (*env, tokenv1.AuthorizeServiceClient, tokenv1.AccountServiceClient, *accountFactors) {
	t.Helper()
	f := newAccountFactors()
	e := newEnv(t, func(d *Deps) { d.SessionLifetime = time.Hour; d.Factors = f })
	for _, c := range []struct{ id, tenant string }{{"web-acme", "t-acme"}, {"web-beta", "t-beta"}} {
		r := e.reg.record(c.id, c.tenant, []string{GrantAuthorizationCode, GrantRefreshToken}, []string{"openid", "adminapi", "offline_access"}, 600)
		r.Client.RedirectUris = []string{webCallback}
		r.Client.RequireClientSecret = new(false)
		r.Client.AllowOfflineAccess = true
		e.reg.put(r)
	}
	e.reg.mu.Lock()
	for _, u := range []struct {
		id, tenant, login string
		roles             []string
	}{
		{"u-alice", "t-acme", "alice", []string{access.RoleTenantAdmin}},
		{"u-bob", "t-acme", "bob", nil},
		{"u-carol", "t-beta", "carol", []string{access.RoleTenantAdmin}},
	} {
		pw := "pw-" + u.login + "-123"
		e.reg.users = append(e.reg.users, &registryv1.User{UserId: u.id, TenantId: u.tenant, LoginName: u.login, Password: &pw, Roles: u.roles})
	}
	e.reg.mu.Unlock()
	for _, u := range []struct{ id, tenant, login string }{{"u-alice", "t-acme", "alice"}, {"u-bob", "t-acme", "bob"}, {"u-carol", "t-beta", "carol"}} {
		e.reg.putAccount(&registryv1.UserRecord{TenantId: u.tenant, UserId: u.id, LoginName: u.login, Incarnation: "inc-" + u.id})
	}
	e.reg.breakStreams(false) // the next snapshot carries the accounts (users_synced)
	e.awaitRegistry()
	waitFor(t, 5*time.Second, "the account view", func() bool { return e.srv.cache.AccountsReady() })
	return e, tokenv1.NewAuthorizeServiceClient(e.browserConn), tokenv1.NewAccountServiceClient(e.browserConn), f
}

// refreshWeb refreshes a refresh token of the client web-acme.
func (e *env) refreshWeb(rt string) (*tokenv1.TokenResponse, error) {
	return e.srv.Token(context.Background(), &tokenv1.TokenRequest{Client: &tokenv1.ClientCredentials{ClientId: "web-acme"},
		GrantType: GrantRefreshToken, RefreshToken: rt})
}

func browserOf(cookie string) *tokenv1.Browser {
	return &tokenv1.Browser{SessionCookie: cookie, RemoteAddr: "192.0.2.10", UserAgent: "test"}
}

func wantCode(t *testing.T, what string, err error, want codes.Code) {
	t.Helper()
	if status.Code(err) != want {
		t.Fatalf("%s: %v; want %v", what, err, want)
	}
}

// TestAccountSignedIn: the account page answers only for a live session: none, a made-up cookie, an
// expired session and a disabled user's session are UNAUTHENTICATED; a session shows its own tenant's user.
func TestAccountSignedIn(t *testing.T) {
	e, az, acc, _ := accountEnv(t)
	ctx := context.Background()
	alice := signIn(t, e, az, "web-acme", "alice")
	carol := signIn(t, e, az, "web-beta", "carol")
	for _, c := range []string{"", "not-a-session", string(make([]byte, 200))} {
		_, err := acc.GetAccount(ctx, &tokenv1.GetAccountRequest{Browser: browserOf(c)})
		wantCode(t, "GetAccount without a session", err, codes.Unauthenticated)
	}
	a, err := acc.GetAccount(ctx, &tokenv1.GetAccountRequest{Browser: browserOf(alice.cookie)})
	if err != nil {
		t.Fatal(err)
	}
	if a.GetTenantId() != "t-acme" || a.GetUserId() != "u-alice" || a.GetLoginName() != "alice" || a.GetEmail() != "alice@example.com" || !a.GetRecentSignIn() {
		t.Fatalf("alice's account = %+v", a)
	}
	if len(a.GetSessions()) != 1 || !a.GetSessions()[0].GetCurrent() {
		t.Fatalf("alice's sessions = %v; want her one, current", a.GetSessions())
	}
	// Another tenant's session is that tenant's account, never alice's.
	c, err := acc.GetAccount(ctx, &tokenv1.GetAccountRequest{Browser: browserOf(carol.cookie)})
	if err != nil || c.GetTenantId() != "t-beta" || c.GetUserId() != "u-carol" {
		t.Fatalf("carol's account = %v, %v", c, err)
	}
	// StartAccountSignIn: alice's browser is sent to /account for her tenant, shown a login for another.
	st, err := acc.StartAccountSignIn(ctx, &tokenv1.StartAccountSignInRequest{Tenant: "t-acme", Browser: browserOf(alice.cookie)})
	if err != nil || st.GetStep().GetRedirectUri() != testIssuer+"/account" {
		t.Fatalf("StartAccountSignIn signed in = %v, %v; want a redirect to /account", st, err)
	}
	st, err = acc.StartAccountSignIn(ctx, &tokenv1.StartAccountSignInRequest{Tenant: "t-beta", Browser: browserOf(alice.cookie)})
	if err != nil || st.GetStep().GetLogin() == nil {
		t.Fatalf("StartAccountSignIn of another tenant = %v, %v; want the login page", st, err)
	}
	st, err = acc.StartAccountSignIn(ctx, &tokenv1.StartAccountSignInRequest{Tenant: "acme", UiLocales: []string{"zh-Hant"}, Browser: browserOf("")})
	if err != nil || st.GetStep().GetLogin() == nil {
		t.Fatalf("StartAccountSignIn by tenant code = %v, %v; want the login page", st, err)
	}
	_, err = acc.StartAccountSignIn(ctx, &tokenv1.StartAccountSignInRequest{Tenant: "no-such-tenant", Browser: browserOf("")})
	wantCode(t, "StartAccountSignIn of an unknown tenant", err, codes.NotFound)
	_, err = acc.StartAccountSignIn(ctx, &tokenv1.StartAccountSignInRequest{Tenant: "", Browser: browserOf("")})
	wantCode(t, "StartAccountSignIn without tenant", err, codes.InvalidArgument)

	// A disabled user's session stops at once.
	e.clock.Advance(time.Second)
	e.reg.putAccount(&registryv1.UserRecord{TenantId: "t-beta", UserId: "u-carol", LoginName: "carol", Incarnation: "inc-u-carol", Disabled: true,
		DisableTime: timestamppb.New(e.clock.Now())})
	e.awaitRegistry()
	_, err = acc.GetAccount(ctx, &tokenv1.GetAccountRequest{Browser: browserOf(carol.cookie)})
	wantCode(t, "GetAccount of a disabled user", err, codes.Unauthenticated)

	// An expired session is no session.
	e.clock.Advance(time.Hour + time.Second)
	_, err = acc.GetAccount(ctx, &tokenv1.GetAccountRequest{Browser: browserOf(alice.cookie)})
	wantCode(t, "GetAccount of an expired session", err, codes.Unauthenticated)
}

// TestAccountRecentSignIn: changing the password or a factor needs a sign-in of the last 10 minutes;
// looking and ending sessions do not.
func TestAccountRecentSignIn(t *testing.T) {
	e, az, acc, f := accountEnv(t)
	ctx := context.Background()
	alice := signIn(t, e, az, "web-acme", "alice")
	e.clock.Advance(RecentSignIn + time.Second)
	_, err := acc.ChangeAccountPassword(ctx, &tokenv1.ChangeAccountPasswordRequest{Browser: browserOf(alice.cookie), CurrentPassword: "pw-alice-123", NewPassword: "a-new-password"})
	if status.Code(err) != codes.FailedPrecondition || status.Convert(err).Message() != "reauthentication_required" {
		t.Fatalf("ChangeAccountPassword after 10 min = %v; want FAILED_PRECONDITION reauthentication_required", err)
	}
	_, err = acc.DeleteAccountTotp(ctx, &tokenv1.DeleteAccountTotpRequest{Browser: browserOf(alice.cookie)})
	wantCode(t, "DeleteAccountTotp after 10 min", err, codes.FailedPrecondition)
	if f.changes != 0 {
		t.Fatal("the password changed without a recent sign-in")
	}
	a, err := acc.GetAccount(ctx, &tokenv1.GetAccountRequest{Browser: browserOf(alice.cookie)})
	if err != nil || a.GetRecentSignIn() {
		t.Fatalf("GetAccount after 10 min = %v, %v; want recent_sign_in false", a, err)
	}
}

// TestAccountChangePassword: a wrong current password names the field and changes nothing; the right one
// changes it and ends the user's other sessions, keeping this one.
func TestAccountChangePassword(t *testing.T) {
	e, az, acc, f := accountEnv(t)
	ctx := context.Background()
	a1 := signIn(t, e, az, "web-acme", "alice")
	a2 := signIn(t, e, az, "web-acme", "alice")
	bob := signIn(t, e, az, "web-acme", "bob")
	_, err := acc.ChangeAccountPassword(ctx, &tokenv1.ChangeAccountPasswordRequest{Browser: browserOf(a1.cookie), CurrentPassword: "wrong", NewPassword: "a-new-password"})
	if info := apistatus.FromStatus(err); info.Code != codes.InvalidArgument || info.Field != "current_password" {
		t.Fatalf("wrong current password = %v (field %q); want INVALID_ARGUMENT current_password", err, info.Field)
	}
	_, err = acc.ChangeAccountPassword(ctx, &tokenv1.ChangeAccountPasswordRequest{Browser: browserOf(a1.cookie), CurrentPassword: "pw-alice-123", NewPassword: ""})
	wantCode(t, "empty new password", err, codes.InvalidArgument)
	if _, err := acc.ChangeAccountPassword(ctx, &tokenv1.ChangeAccountPasswordRequest{Browser: browserOf(a1.cookie), CurrentPassword: "pw-alice-123", NewPassword: "a-new-password"}); err != nil {
		t.Fatal(err)
	}
	if f.passwords["t-acme/u-alice"] != "a-new-password" {
		t.Fatal("the password did not change")
	}
	if _, err := acc.GetAccount(ctx, &tokenv1.GetAccountRequest{Browser: browserOf(a1.cookie)}); err != nil {
		t.Fatalf("the current session ended: %v", err)
	}
	_, err = acc.GetAccount(ctx, &tokenv1.GetAccountRequest{Browser: browserOf(a2.cookie)})
	wantCode(t, "alice's other session", err, codes.Unauthenticated)
	if _, err := e.refreshWeb(a2.tokens.GetRefreshToken()); err == nil {
		t.Fatal("a refresh token of the ended session still refreshes")
	}
	if _, err := acc.GetAccount(ctx, &tokenv1.GetAccountRequest{Browser: browserOf(bob.cookie)}); err != nil {
		t.Fatalf("bob's session ended with alice's password change: %v", err)
	}
}

// TestAccountPasswordGuessesLock: guesses of the current password on the account page count towards the
// account's lock like the login page's, and a request refused for its weak new password resets nothing,
// even from a registry that checks the rules first: slipped between guesses, such requests used to clear
// the count, so the account never locked. Once locked, the right password is refused too.
func TestAccountPasswordGuessesLock(t *testing.T) {
	e, az, acc, f := accountEnv(t)
	f.rulesFirst = true
	ctx := context.Background()
	a := signIn(t, e, az, "web-acme", "alice")
	change := func(cur, next string) error {
		_, err := acc.ChangeAccountPassword(ctx, &tokenv1.ChangeAccountPasswordRequest{Browser: browserOf(a.cookie), CurrentPassword: cur, NewPassword: next})
		return err
	}
	// wait lets the delay after n failures pass (never early: every request is answered, and the session's
	// sign-in stays recent enough for the page).
	wait := func(n int) {
		d := time.Duration(0)
		if n >= accountPolicy.Free {
			d = min(accountPolicy.Base<<(n-accountPolicy.Free), accountPolicy.MaxDelay)
		}
		e.clock.Advance(d + time.Second)
	}
	for i := range accountPolicy.LockAt {
		wait(i)
		if info := apistatus.FromStatus(change("guess", "a-new-password")); info.Code != codes.InvalidArgument || info.Field != "current_password" {
			t.Fatalf("guess %d: %v; want INVALID_ARGUMENT current_password", i+1, info)
		}
		wait(i + 1)
		if info := apistatus.FromStatus(change("guess", "short")); i+1 < accountPolicy.LockAt && (info.Code != codes.InvalidArgument || info.Field != "new_password") {
			t.Fatalf("weak new password after guess %d: %v", i+1, info)
		}
	}
	wait(accountPolicy.LockAt)
	if err := change("pw-alice-123", "a-new-password"); status.Code(err) == codes.OK || f.changes != 0 {
		t.Fatalf("the right password changed it after %d wrong guesses (%v): the account did not lock", accountPolicy.LockAt, err)
	}
}

// TestAccountOwnership: a person ends only their own sessions and revokes only their own consents; anyone
// else's answers NOT_FOUND and leaves it alone.
func TestAccountOwnership(t *testing.T) {
	e, az, acc, _ := accountEnv(t)
	ctx := context.Background()
	alice := signIn(t, e, az, "web-acme", "alice")
	alice2 := signIn(t, e, az, "web-acme", "alice")
	bob := signIn(t, e, az, "web-acme", "bob")
	carol := signIn(t, e, az, "web-beta", "carol")
	a, err := acc.GetAccount(ctx, &tokenv1.GetAccountRequest{Browser: browserOf(alice.cookie)})
	if err != nil || len(a.GetSessions()) != 2 || !a.GetSessions()[0].GetCurrent() || a.GetSessions()[1].GetCurrent() {
		t.Fatalf("alice's sessions = %v, %v; want two, the current first", a.GetSessions(), err)
	}
	if !slices.Contains(a.GetSessions()[0].GetClientNames(), "web-acme") {
		t.Fatalf("session clients = %v; want web-acme", a.GetSessions()[0].GetClientNames())
	}
	other := a.GetSessions()[1].GetSid()
	for _, who := range []signedIn{bob, carol} {
		_, err := acc.EndAccountSession(ctx, &tokenv1.EndAccountSessionRequest{Browser: browserOf(who.cookie), Sid: other})
		wantCode(t, "ending another user's session", err, codes.NotFound)
	}
	_, err = acc.EndAccountSession(ctx, &tokenv1.EndAccountSessionRequest{Browser: browserOf(alice.cookie), Sid: "no-such-sid"})
	wantCode(t, "ending an unknown session", err, codes.NotFound)
	if _, err := acc.GetAccount(ctx, &tokenv1.GetAccountRequest{Browser: browserOf(alice2.cookie)}); err != nil {
		t.Fatalf("alice's other session ended by someone else: %v", err)
	}
	r, err := acc.EndAccountSession(ctx, &tokenv1.EndAccountSessionRequest{Browser: browserOf(alice.cookie), Sid: other})
	if err != nil || r.GetCurrent() {
		t.Fatalf("alice ends her other session = %v, %v", r, err)
	}
	_, err = acc.GetAccount(ctx, &tokenv1.GetAccountRequest{Browser: browserOf(alice2.cookie)})
	wantCode(t, "the ended session", err, codes.Unauthenticated)
	if _, err := e.refreshWeb(alice2.tokens.GetRefreshToken()); err == nil {
		t.Fatal("a refresh token of the ended session still refreshes")
	}
	r, err = acc.EndAccountSession(ctx, &tokenv1.EndAccountSessionRequest{Browser: browserOf(bob.cookie), Sid: accountSidOf(t, acc, bob.cookie)})
	if err != nil || !r.GetCurrent() {
		t.Fatalf("bob ends his own session = %v, %v; want current", r, err)
	}

	// Consents: alice's remembered consent for web-acme.
	inc := sessionOf(t, e, alice.cookie).Incarnation
	if err := e.st.PutConsent(ctx, token.Consent{TenantID: "t-acme", UserID: "u-alice", ClientID: "web-acme", Scopes: []string{"openid"},
		Expiry: e.clock.Now().Add(time.Hour), Incarnation: inc}); err != nil {
		t.Fatal(err)
	}
	a, err = acc.GetAccount(ctx, &tokenv1.GetAccountRequest{Browser: browserOf(alice.cookie)})
	if err != nil || len(a.GetConsents()) != 1 || a.GetConsents()[0].GetClientId() != "web-acme" || a.GetConsents()[0].GetClientName() == "" {
		t.Fatalf("alice's consents = %v, %v", a.GetConsents(), err)
	}
	_, err = acc.RevokeAccountConsent(ctx, &tokenv1.RevokeAccountConsentRequest{Browser: browserOf(carol.cookie), ClientId: "web-acme"})
	wantCode(t, "revoking another user's consent", err, codes.NotFound)
	if _, err := e.st.Consent(ctx, "t-acme", "u-alice", "web-acme"); err != nil {
		t.Fatalf("alice's consent went with carol's revocation: %v", err)
	}
	if _, err := acc.RevokeAccountConsent(ctx, &tokenv1.RevokeAccountConsentRequest{Browser: browserOf(alice.cookie), ClientId: "web-acme"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.Consent(ctx, "t-acme", "u-alice", "web-acme"); !errors.Is(err, token.ErrNotFound) {
		t.Fatalf("consent after revocation: %v", err)
	}
	if _, err := e.refreshWeb(alice.tokens.GetRefreshToken()); err == nil {
		t.Fatal("the client's refresh token still refreshes after the consent was revoked")
	}
	_, err = acc.RevokeAccountConsent(ctx, &tokenv1.RevokeAccountConsentRequest{Browser: browserOf(alice.cookie), ClientId: "web-acme"})
	wantCode(t, "revoking twice", err, codes.NotFound)
}

// TestEndUserSessions: an administrator of the tenant ends every session of one user, and only those; an
// administrator of another tenant may not.
func TestEndUserSessions(t *testing.T) {
	e, az, acc, _ := accountEnv(t)
	ctx := context.Background()
	admin := signIn(t, e, az, "web-acme", "alice")
	b1 := signIn(t, e, az, "web-acme", "bob")
	b2 := signIn(t, e, az, "web-acme", "bob")
	carol := signIn(t, e, az, "web-beta", "carol")
	sessions := tokenv1.NewSessionServiceClient(e.publicConn)
	_, err := sessions.EndUserSessions(bearerCtx(carol.tokens.GetAccessToken()), &tokenv1.EndUserSessionsRequest{TenantId: "t-acme", UserId: "u-bob"})
	wantCode(t, "another tenant's administrator", err, codes.PermissionDenied)
	_, err = sessions.EndUserSessions(bearerCtx(admin.tokens.GetAccessToken()), &tokenv1.EndUserSessionsRequest{TenantId: "t-acme", UserId: ""})
	wantCode(t, "no user", err, codes.InvalidArgument)
	r, err := sessions.EndUserSessions(bearerCtx(admin.tokens.GetAccessToken()), &tokenv1.EndUserSessionsRequest{TenantId: "t-acme", UserId: "u-bob"})
	if err != nil || r.GetEnded() != 2 {
		t.Fatalf("EndUserSessions = %v, %v; want 2 ended", r, err)
	}
	for _, b := range []signedIn{b1, b2} {
		_, err := acc.GetAccount(ctx, &tokenv1.GetAccountRequest{Browser: browserOf(b.cookie)})
		wantCode(t, "bob's ended session", err, codes.Unauthenticated)
	}
	if _, err := acc.GetAccount(ctx, &tokenv1.GetAccountRequest{Browser: browserOf(admin.cookie)}); err != nil {
		t.Fatalf("the administrator's own session ended: %v", err)
	}
	r, err = sessions.EndUserSessions(bearerCtx(admin.tokens.GetAccessToken()), &tokenv1.EndUserSessionsRequest{TenantId: "t-acme", UserId: "u-bob"})
	if err != nil || r.GetEnded() != 0 {
		t.Fatalf("EndUserSessions again = %v, %v; want 0", r, err)
	}
}

// sessionOf is the stored session of a cookie.
func sessionOf(t *testing.T, e *env, cookie string) token.Session {
	t.Helper()
	se, err := e.st.Session(context.Background(), digest(cookie))
	if err != nil {
		t.Fatal(err)
	}
	return se
}

// accountSidOf is the sid of the browser's own session, as the account page lists it.
func accountSidOf(t *testing.T, acc tokenv1.AccountServiceClient, cookie string) string {
	t.Helper()
	a, err := acc.GetAccount(context.Background(), &tokenv1.GetAccountRequest{Browser: browserOf(cookie)})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range a.GetSessions() {
		if s.GetCurrent() {
			return s.GetSid()
		}
	}
	t.Fatal("no current session listed")
	return ""
}
