package server

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/internal/audit"
	"github.com/authsuite/authsuite/services/token"
)

// Bounds of the account page's request fields.
const (
	maxAccountTenant   = 128  // a tenant id or code
	maxAccountPassword = 1024 // a password (the registry's rules are stricter)
	maxAccountCode     = 64   // a TOTP or recovery code
	maxAccountOpaque   = 8192 // a sealed enrolment
	maxAccountClientID = 256
	maxAccountLocales  = 8 // ui_locales entries kept
	maxAccountLocale   = 35
)

// errNoFactors is answered when the token service runs without the registry's factor API (Deps.Factors).
var errNoFactors = status.Error(codes.Unavailable, "the account page needs the registry's factor service")

// StartAccountSignIn implements AccountService: the tenant is named by id, else by code (registry
// LookupTenant). A browser already signed in to that tenant is sent to /account; otherwise the answer is the
// login page of an interaction with purpose token.PurposeAccount (no client, nothing stored until the form
// is posted), whose completion (finishAccount) redirects to /account. A re-authentication (?reauth=1) is
// asked by the gateway leaving the cookie out: the login then replaces the session.
func (a accountService) StartAccountSignIn(ctx context.Context, req *tokenv1.StartAccountSignInRequest) (*tokenv1.StartAccountSignInResponse, error) {
	s := a.s
	tenantID, err := s.lookupAccountTenant(ctx, req.GetTenant())
	if err != nil {
		return nil, err
	}
	if as, err := a.signedIn(ctx, req.GetBrowser(), false); err == nil && as.TenantID == tenantID {
		return &tokenv1.StartAccountSignInResponse{Step: s.redirectStep(s.issuer + "/account")}, nil
	}
	in := &token.Interaction{TenantID: tenantID, MaxAge: -1}
	in.Purpose = token.PurposeAccount
	in.UILocales = accountUILocales(req.GetUiLocales())
	step, err := s.next(ctx, s.accountClient(tenantID), in, "", nil, false)
	if err != nil {
		return nil, err
	}
	return &tokenv1.StartAccountSignInResponse{Step: step}, nil
}

// lookupAccountTenant resolves a tenant id or code to the tenant's id. INVALID_ARGUMENT naming tenant when
// it is empty or malformed; NOT_FOUND when no tenant has it as id or code.
func (s *Server) lookupAccountTenant(ctx context.Context, t string) (string, error) {
	if t == "" || len(t) > maxAccountTenant || !utf8.ValidString(t) || strings.ContainsAny(t, "\x00/") {
		return "", apierror.Invalid("tenant", "must be a tenant id or code of 1 to %d characters", maxAccountTenant)
	}
	for _, q := range []*registryv1.LookupTenantRequest{{TenantId: t}, {TenantCode: t}} {
		resp, err := s.reg.LookupTenant(ctx, q)
		switch status.Code(err) {
		case codes.OK:
			return resp.GetTenantId(), nil
		case codes.NotFound, codes.InvalidArgument:
			continue
		}
		return "", err
	}
	return "", apierror.NotFound("no tenant has the id or code %q", apierror.Clip(t, 64))
}

// accountUILocales keeps at most maxAccountLocales ui_locales entries that look like language tags; the page
// matches them against its catalogues.
func accountUILocales(in []string) []string {
	var out []string
	for _, l := range in {
		if len(out) == maxAccountLocales {
			break
		}
		if l != "" && len(l) <= maxAccountLocale && strings.Trim(l, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") == "" {
			out = append(out, l)
		}
	}
	return out
}

// GetAccount implements AccountService: the person's profile and factors (registry GetFactors), their live
// sessions (the current one first, then the newest) and their remembered consents still in force for this
// account incarnation, with the clients' display names.
func (a accountService) GetAccount(ctx context.Context, req *tokenv1.GetAccountRequest) (*tokenv1.GetAccountResponse, error) {
	s := a.s
	as, err := a.signedIn(ctx, req.GetBrowser(), false)
	if err != nil {
		return nil, err
	}
	if s.factors == nil {
		return nil, errNoFactors
	}
	f, err := s.factors.GetFactors(ctx, &registryv1.GetFactorsRequest{TenantId: as.TenantID, UserId: as.UserID})
	if err != nil {
		if status.Code(err) == codes.NotFound {
			return nil, errNotSignedIn // deleted a moment ago
		}
		return nil, err
	}
	u := f.GetUser()
	now := s.now()
	resp := &tokenv1.GetAccountResponse{
		Page: &tokenv1.PageContext{TenantId: as.TenantID, DefaultLocale: "en"}, TenantId: as.TenantID, UserId: as.UserID,
		LoginName: u.GetLoginName(), DisplayName: u.GetDisplayName(), Email: u.GetEmail(), EmailVerified: u.GetEmailVerified(),
		TotpEnrolled: f.GetTotpEnrolled(), RecoveryCodesLeft: f.GetRecoveryCodesLeft(),
		RecentSignIn: now.Sub(as.Session.AuthTime) <= RecentSignIn,
		// GetFactors does not say whether the user has a password (a user an upstream provider created may
		// have none): the password form is always offered, and ChangePassword refuses a current password
		// that does not match.
		HasPassword: true,
	}
	if st, err := s.settings.get(ctx, as.TenantID); err == nil {
		resp.Page.BrandName = st.GetBranding().GetDisplayName()
		if resp.Page.BrandName == "" {
			resp.Page.BrandName = st.GetTenantName()
		}
		resp.Page.LogoDataUri = st.GetBranding().GetLogoDataUri()
		resp.Page.PrimaryColor = st.GetBranding().GetPrimaryColor()
		if l := st.GetDefaultLocale(); l != "" {
			resp.Page.DefaultLocale = l
		}
	}
	for _, pk := range f.GetPasskeys() {
		resp.Passkeys = append(resp.Passkeys, accountPasskey(pk))
	}
	sessions, err := s.userSessions(ctx, as.TenantID, as.UserID, token.MaxSessionPage)
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(sessions, func(x, y token.Session) int {
		switch {
		case bytes.Equal(x.ID, as.Session.ID):
			return -1
		case bytes.Equal(y.ID, as.Session.ID):
			return 1
		}
		return y.AuthTime.Compare(x.AuthTime)
	})
	for _, se := range sessions {
		if se.Incarnation != as.Incarnation {
			continue // another account that had the same user id
		}
		as := &tokenv1.AccountSession{Sid: se.SID, AuthTime: timestamppb.New(se.AuthTime), ExpireTime: timestamppb.New(se.Expiry),
			Amr: slices.Clone(se.AMR), Current: bytes.Equal(se.ID, as.Session.ID)}
		for _, id := range se.Clients {
			as.ClientNames = append(as.ClientNames, s.clientDisplayName(id))
		}
		resp.Sessions = append(resp.Sessions, as)
	}
	consents, err := s.st.ListConsents(ctx, as.TenantID, as.UserID)
	if err != nil {
		return nil, err
	}
	for _, c := range consents {
		if !now.Before(c.Expiry) || c.Incarnation != as.Incarnation {
			continue // not honoured (next in signin.go): not shown
		}
		resp.Consents = append(resp.Consents, &tokenv1.AccountConsent{ClientId: c.ClientID, ClientName: s.clientDisplayName(c.ClientID),
			Scopes: slices.Clone(c.Scopes), ExpireTime: timestamppb.New(c.Expiry)})
	}
	return resp, nil
}

// clientDisplayName is a client's name for the account page: its display name, its id when it has none,
// and its id when it no longer exists.
func (s *Server) clientDisplayName(id string) string {
	if cl, ok := s.cache.Get(id); ok {
		return clientName(cl)
	}
	return id
}

// ChangeAccountPassword implements AccountService: a recent sign-in is required; the current password is
// checked by the registry against the login throttle of the account and the address (reserve/settle, as a
// login is), so a stolen session cannot guess it faster than the login page allows. On success the audit log
// records password_changed and every other session of the user ends (endSessionBy: their refresh tokens are
// revoked); the current session stays. Refresh tokens issued outside those sessions stay valid, as Keycloak
// keeps offline sessions on a password change: an administrator ends them with EndUserSessions.
func (a accountService) ChangeAccountPassword(ctx context.Context, req *tokenv1.ChangeAccountPasswordRequest) (*tokenv1.ChangeAccountPasswordResponse, error) {
	s := a.s
	as, err := a.signedIn(ctx, req.GetBrowser(), true)
	if err != nil {
		return nil, err
	}
	cur, next := req.GetCurrentPassword(), req.GetNewPassword()
	switch {
	case cur == "" || len(cur) > maxAccountPassword:
		return nil, apierror.Invalid("current_password", "must be 1 to %d bytes", maxAccountPassword)
	case next == "" || len(next) > maxAccountPassword:
		return nil, apierror.Invalid("new_password", "must be 1 to %d bytes", maxAccountPassword)
	}
	if s.factors == nil {
		return nil, errNoFactors
	}
	keys := []string{accountKey(as.TenantID, as.UserID), addressKey(req.GetBrowser().GetRemoteAddr())}
	if ref, err := s.reserve(ctx, keys); err != nil {
		return nil, err
	} else if ref != nil {
		return nil, ref.slowDown()
	}
	_, err = s.factors.ChangePassword(ctx, &registryv1.ChangePasswordRequest{TenantId: as.TenantID, UserId: as.UserID, CurrentPassword: cur, NewPassword: next})
	// Only a change clears the account's failures. A refusal of the new password is refunded, neither right
	// nor wrong: it must not reset the count, or requests with a weak new password slipped between guesses
	// of the current one would keep the account from ever locking.
	o := outcomeUnanswered
	switch status.Code(err) {
	case codes.OK:
		o = outcomeRight
	case codes.Unauthenticated:
		o = outcomeWrong
	}
	if serr := s.settle(ctx, keys, o); serr != nil && err == nil {
		s.log.Error("settle password change attempt", "err", serr)
	}
	switch status.Code(err) {
	case codes.OK:
	case codes.Unauthenticated:
		s.accountAudit(ctx, as, req.GetBrowser(), "password_change_failed", audit.OutcomeFailure, "bad_credentials")
		return nil, apierror.Invalid("current_password", "is not the current password")
	default:
		return nil, err
	}
	s.accountAudit(ctx, as, req.GetBrowser(), "password_changed", audit.OutcomeSuccess, "")
	others, err := s.userSessions(ctx, as.TenantID, as.UserID, maxUserSessionsEnded)
	if err != nil {
		return nil, err
	}
	for _, se := range others {
		if bytes.Equal(se.ID, as.Session.ID) {
			continue
		}
		if _, err := s.endSessionBy(ctx, se, audit.Actor{UserID: as.UserID}, "password_change"); err != nil && !errors.Is(err, token.ErrNotFound) {
			return nil, err
		}
	}
	return &tokenv1.ChangeAccountPasswordResponse{}, nil
}

// accountAudit records one event of the account page; never a password, code or key.
func (s *Server) accountAudit(ctx context.Context, as *accountSession, b *tokenv1.Browser, event string, outcome string, reason string) {
	s.deps.Audit.Record(context.WithoutCancel(ctx), audit.Event{Event: event, TenantID: as.TenantID, Outcome: outcome, Reason: reason,
		Actor: audit.Actor{UserID: as.UserID}, Target: audit.Target{Kind: "user", ID: as.UserID}, RemoteAddr: clip(b.GetRemoteAddr()),
		Line: audit.Line{Attrs: []slog.Attr{slog.String("sid", as.Session.SID), slog.String("user_agent", clip(b.GetUserAgent()))}}})
}

// BeginAccountTotp implements AccountService: a recent sign-in is required; the registry makes the key and
// seals it into the enrolment (nothing is stored until ConfirmAccountTotp).
func (a accountService) BeginAccountTotp(ctx context.Context, req *tokenv1.BeginAccountTotpRequest) (*tokenv1.BeginAccountTotpResponse, error) {
	s := a.s
	as, err := a.signedIn(ctx, req.GetBrowser(), true)
	if err != nil {
		return nil, err
	}
	if s.factors == nil {
		return nil, errNoFactors
	}
	label := ""
	if st, err := s.settings.get(ctx, as.TenantID); err == nil {
		label = st.GetBranding().GetDisplayName()
		if label == "" {
			label = st.GetTenantName()
		}
	}
	r, err := s.factors.BeginTotpEnrollment(ctx, &registryv1.BeginTotpEnrollmentRequest{TenantId: as.TenantID, UserId: as.UserID, IssuerLabel: label})
	if err != nil {
		return nil, err
	}
	return &tokenv1.BeginAccountTotpResponse{Enrollment: r.GetEnrollment(), QrPng: r.GetQrPng(), Secret: r.GetSecret()}, nil
}

// ConfirmAccountTotp implements AccountService: a recent sign-in is required; codes are throttled on the
// account and address like passwords (a wrong code counts a failure); the registry checks the code against
// the sealed enrolment, bound to this user, and answers the recovery codes once.
func (a accountService) ConfirmAccountTotp(ctx context.Context, req *tokenv1.ConfirmAccountTotpRequest) (*tokenv1.ConfirmAccountTotpResponse, error) {
	s := a.s
	as, err := a.signedIn(ctx, req.GetBrowser(), true)
	if err != nil {
		return nil, err
	}
	enr, code := req.GetEnrollment(), strings.TrimSpace(req.GetCode())
	switch {
	case enr == "" || len(enr) > maxAccountOpaque:
		return nil, apierror.Invalid("enrollment", "is not an enrolment of BeginAccountTotp")
	case code == "" || len(code) > maxAccountCode:
		return nil, apierror.Invalid("code", "must be 1 to %d characters", maxAccountCode)
	}
	if s.factors == nil {
		return nil, errNoFactors
	}
	keys := []string{accountKey(as.TenantID, as.UserID), addressKey(req.GetBrowser().GetRemoteAddr())}
	if ref, err := s.reserve(ctx, keys); err != nil {
		return nil, err
	} else if ref != nil {
		return nil, ref.slowDown()
	}
	r, err := s.factors.ConfirmTotpEnrollment(ctx, &registryv1.ConfirmTotpEnrollmentRequest{TenantId: as.TenantID, UserId: as.UserID, Enrollment: enr, Code: code})
	o := outcomeUnanswered
	switch {
	case err == nil:
		o = outcomeRight
	case status.Code(err) == codes.InvalidArgument:
		o = outcomeWrong
	}
	if serr := s.settle(ctx, keys, o); serr != nil {
		s.log.Error("settle TOTP confirmation attempt", "err", serr)
	}
	if err != nil {
		return nil, err
	}
	s.accountAudit(ctx, as, req.GetBrowser(), "totp_enrolled", audit.OutcomeSuccess, "")
	return &tokenv1.ConfirmAccountTotpResponse{RecoveryCodes: r.GetRecoveryCodes()}, nil
}

// DeleteAccountTotp implements AccountService: a recent sign-in is required.
func (a accountService) DeleteAccountTotp(ctx context.Context, req *tokenv1.DeleteAccountTotpRequest) (*tokenv1.DeleteAccountTotpResponse, error) {
	s := a.s
	as, err := a.signedIn(ctx, req.GetBrowser(), true)
	if err != nil {
		return nil, err
	}
	if s.factors == nil {
		return nil, errNoFactors
	}
	if _, err := s.factors.DeleteTotp(ctx, &registryv1.DeleteTotpRequest{TenantId: as.TenantID, UserId: as.UserID}); err != nil {
		return nil, err
	}
	s.accountAudit(ctx, as, req.GetBrowser(), "totp_deleted", audit.OutcomeSuccess, "")
	return &tokenv1.DeleteAccountTotpResponse{}, nil
}

// RegenerateAccountRecoveryCodes implements AccountService: a recent sign-in is required; the new codes
// replace the old ones and are answered once.
func (a accountService) RegenerateAccountRecoveryCodes(ctx context.Context, req *tokenv1.RegenerateAccountRecoveryCodesRequest) (*tokenv1.RegenerateAccountRecoveryCodesResponse, error) {
	s := a.s
	as, err := a.signedIn(ctx, req.GetBrowser(), true)
	if err != nil {
		return nil, err
	}
	if s.factors == nil {
		return nil, errNoFactors
	}
	r, err := s.factors.RegenerateRecoveryCodes(ctx, &registryv1.RegenerateRecoveryCodesRequest{TenantId: as.TenantID, UserId: as.UserID})
	if err != nil {
		return nil, err
	}
	s.accountAudit(ctx, as, req.GetBrowser(), "recovery_codes_regenerated", audit.OutcomeSuccess, "")
	return &tokenv1.RegenerateAccountRecoveryCodesResponse{RecoveryCodes: r.GetRecoveryCodes()}, nil
}

// EndAccountSession implements AccountService: only a live session of the signed-in person (same tenant,
// user and account incarnation) can be named; any other sid, another user's included, answers NOT_FOUND,
// so the call reveals nothing about other people's sessions. The session ends as an administrator's
// EndSsoSession ends one (endSessionBy). current says it was the browser's own (the gateway clears the
// cookie).
func (a accountService) EndAccountSession(ctx context.Context, req *tokenv1.EndAccountSessionRequest) (*tokenv1.EndAccountSessionResponse, error) {
	s := a.s
	as, err := a.signedIn(ctx, req.GetBrowser(), false)
	if err != nil {
		return nil, err
	}
	sid := req.GetSid()
	if sid == "" || len(sid) > maxSessionSID {
		return nil, apierror.Invalid("sid", "must be 1 to %d characters", maxSessionSID)
	}
	notFound := apierror.NotFound("you have no live session %q", apierror.Clip(sid, 64))
	sess, err := s.st.SessionBySID(ctx, sid)
	switch {
	case errors.Is(err, token.ErrNotFound):
		return nil, notFound
	case err != nil:
		return nil, err
	case sess.TenantID != as.TenantID || sess.UserID != as.UserID || sess.Incarnation != as.Incarnation || !s.now().Before(sess.Expiry):
		return nil, notFound
	}
	switch _, err := s.endSessionBy(ctx, sess, audit.Actor{UserID: as.UserID}, "user"); {
	case errors.Is(err, token.ErrNotFound):
		return nil, notFound
	case err != nil:
		return nil, err
	}
	return &tokenv1.EndAccountSessionResponse{Current: bytes.Equal(sess.ID, as.Session.ID), SecureCookies: s.secureCookies()}, nil
}

// RevokeAccountConsent implements AccountService: the signed-in person's remembered consent for the client
// is forgotten (the next authorization request of the client asks again), and the refresh token families
// the client holds for the person are revoked (revokeUserClientFamilies). NOT_FOUND when there is no such
// consent of this person.
func (a accountService) RevokeAccountConsent(ctx context.Context, req *tokenv1.RevokeAccountConsentRequest) (*tokenv1.RevokeAccountConsentResponse, error) {
	s := a.s
	as, err := a.signedIn(ctx, req.GetBrowser(), false)
	if err != nil {
		return nil, err
	}
	cid := req.GetClientId()
	if cid == "" || len(cid) > maxAccountClientID {
		return nil, apierror.Invalid("client_id", "must be 1 to %d characters", maxAccountClientID)
	}
	switch err := s.st.DeleteConsent(ctx, as.TenantID, as.UserID, cid); {
	case errors.Is(err, token.ErrNotFound):
		return nil, apierror.NotFound("you have no remembered consent for client %q", apierror.Clip(cid, 64))
	case err != nil:
		return nil, err
	}
	if err := s.revokeUserClientFamilies(ctx, as.TenantID, as.UserID, cid); err != nil {
		return nil, err
	}
	s.deps.Audit.Record(context.WithoutCancel(ctx), audit.Event{Event: "consent_revoked", TenantID: as.TenantID, Outcome: audit.OutcomeSuccess,
		Actor: audit.Actor{UserID: as.UserID}, Target: audit.Target{Kind: "client", ID: cid}, RemoteAddr: clip(req.GetBrowser().GetRemoteAddr())})
	return &tokenv1.RevokeAccountConsentResponse{}, nil
}

// revokeUserClientFamilies revokes (revokeFamily: durably, on every replica; access and refresh tokens
// alike) every refresh token family clientID holds for tenantID/userID. A client that no longer exists needs
// nothing: its tokens are refused already (verifyToken).
func (s *Server) revokeUserClientFamilies(ctx context.Context, tenantID, userID, clientID string) error {
	cl, ok := s.cache.Get(clientID)
	if !ok || cl.TenantID != tenantID {
		return nil
	}
	families, err := s.st.ClientRefreshFamilies(ctx, tenantID, userID, clientID)
	if err != nil {
		return err
	}
	for _, fid := range families {
		if err := s.revokeFamily(ctx, cl, fid); err != nil {
			return err
		}
	}
	return nil
}
