package server

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/services/token"
	"github.com/authsuite/authsuite/services/token/clients"
)

// Second factors at sign-in (docs: sign-in, second factors). After a verified password the interaction is
// stored with the user pending (SignInState.PendingUserID, PendingIncarnation, PendingAMR ["pwd"]) and no
// session exists yet: the browser gets no cookie until every factor the sign-in needs is verified. The second
// factor is a TOTP code (RFC 6238) or a recovery code (both amr "otp", RFC 8176 having no value for
// recovery codes) checked by the registry, or a passkey assertion (WebAuthn; amr "hwk" or "swk", and "user"
// when the authenticator verified the user). Every code or assertion passes the password throttle
// (throttle.go) on the user's account and the browser's address, so a wrong code is a failed sign-in
// attempt: 3 free, then growing delays, and the account locks after 10 in 15 minutes.
//
// A user the tenant's policy requires to have a factor but who has none enrols TOTP right there: the page
// shows the key as a QR code, the user confirms it with a code, sees the recovery codes once, and continues.
//
// Step-up (OIDC Core §3.1.2.1 acr_values): a session below the class asked for, or below what the policy
// requires of its user, is not re-created: the same user is asked for the second factor only (no password
// again), and the session is upgraded in place (amr, acr, auth_time) once it is verified.

// Error codes of the second-factor page (SecondFactorPage.error_code: keys of the page catalogues).
const (
	errCodeFactorMissing     = "secondfactor.missing"
	errCodeFactorBadCode     = "secondfactor.bad_code"
	errCodeFactorPasskey     = "secondfactor.passkey_failed"
	errCodeFactorThrottled   = "secondfactor.throttled"
	errCodeFactorLocked      = "secondfactor.locked"
	errCodeEnrollmentExpired = "secondfactor.enrollment_expired"
)

// maxFactorCode bounds a typed code: TOTP codes have 6 digits and recovery codes a few dozen characters.
const maxFactorCode = 64

// enrollmentMarker is SecondFactorPage.enrollment while an enrolment waits for its code: the enrolment
// itself stays in the stored interaction, so the page carries only this flag.
const enrollmentMarker = "totp"

// userFactors returns the factors of tenantID/userID from the registry: errUserCredentials when the user
// no longer exists, TemporarilyUnavailable when the registry cannot answer.
func (s *Server) userFactors(ctx context.Context, tenantID, userID string) (*registryv1.GetFactorsResponse, error) {
	f, err := s.factors.GetFactors(ctx, &registryv1.GetFactorsRequest{TenantId: tenantID, UserId: userID})
	switch status.Code(err) {
	case codes.OK:
		return f, nil
	case codes.NotFound:
		return nil, errUserCredentials
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted:
		return nil, apierror.OAuth(apierror.TemporarilyUnavailable, "the user directory is unavailable; try again")
	}
	s.log.Error("registry GetFactors", "err", err)
	return nil, errors.New("user directory error")
}

// incarnationChanged reports whether the account the registry describes now (incarnation now) is not the
// one a sign-in was bound to (bound): deleted and re-created under the same user id. An empty value is one
// the directory did not give (records from before incarnations); the account view's check (accountLive)
// applies as well.
func incarnationChanged(bound, now string) bool {
	return bound != "" && now != "" && bound != now
}

// clearPending forgets the second-factor progress of in (the sign-in completed or restarts).
func clearPending(in *token.Interaction) {
	in.PendingUserID, in.PendingIncarnation, in.PendingAMR = "", "", nil
	in.Enrollment, in.WebAuthnSession = "", nil
}

// pendingVerified reports whether the pending sign-in of in has every factor (its methods reach ACRMFA):
// after an enrolment at sign-in, while the recovery codes are shown.
func pendingVerified(in *token.Interaction) bool {
	return authnOf(in.PendingAMR...).ACR == ACRMFA
}

// afterPassword continues a sign-in whose password verified for u (incarnation inc): with no second factor
// needed (decideFactor) it starts the session; otherwise it stores the interaction with u pending and
// answers the second-factor page (or the enrolment the policy requires). gone reports that u was deleted,
// re-created or disabled in between (nothing was changed). Without a factor API (Deps.Factors nil) sign-in
// is password-only.
func (s *Server) afterPassword(ctx context.Context, cl *clients.Client, in *token.Interaction, id string, b *tokenv1.Browser,
	u *registryv1.User, inc string) (step *tokenv1.Step, gone bool, err error) {
	if s.factors == nil {
		step, err := s.startSession(ctx, cl, in, id, b, u.GetUserId(), displayName(u), inc, authnOf(amrPassword))
		return step, false, err
	}
	f, err := s.userFactors(ctx, in.TenantID, u.GetUserId())
	switch {
	case errors.Is(err, errUserCredentials):
		return nil, true, nil
	case err != nil:
		return nil, false, err
	case incarnationChanged(inc, f.GetIncarnation()) || f.GetUser().GetDisabled():
		return nil, true, nil
	}
	// Fail closed: without the policy, whether a second factor is needed is unknown.
	st, err := s.settings.get(ctx, in.TenantID)
	if err != nil {
		return nil, false, err
	}
	need := decideFactor(st.GetMfaPolicy(), f)
	if need == needNothing {
		step, err := s.startSession(ctx, cl, in, id, b, u.GetUserId(), displayName(u), inc, authnOf(amrPassword))
		return step, false, err
	}
	clearPending(in)
	in.UserID, in.UserName, in.SessionID = "", "", nil
	in.PendingUserID, in.PendingIncarnation, in.PendingAMR = u.GetUserId(), inc, []string{amrPassword}
	if need == needEnroll {
		if err := s.beginEnrollment(ctx, in, st); err != nil {
			return nil, false, err
		}
	}
	step, err = s.secondFactorStep(ctx, cl, in, id, f, "")
	return step, false, err
}

// stepUp decides whether the live session sess may serve in as it is. It answers nil (go on) unless the
// session's class is below mfa and either in's acr_values ask for mfa or the tenant's policy requires a
// second factor of the session's user, and the user has a factor to present or must enrol one (acr is
// voluntary: a user without a factor whom the policy does not require keeps the one-factor session). Then
// it answers login_required for prompt=none (OIDC Core §3.1.2.6), else the second-factor page for the
// session's user, the interaction stored with the session (in.SessionID) to upgrade once verified.
// Password sign-ins that just happened (fresh) already passed the same rule (afterPassword).
func (s *Server) stepUp(ctx context.Context, cl *clients.Client, in *token.Interaction, id string, sess *token.Session, fresh bool) (*tokenv1.Step, error) {
	if s.factors == nil || acrRank(sess.ACR) >= acrRank(ACRMFA) || (fresh && slices.Contains(sess.AMR, amrPassword)) {
		return nil, nil
	}
	st, err := s.settings.get(ctx, in.TenantID)
	switch {
	case err != nil && wantsMFA(in.ACRValues):
		return nil, err
	case err != nil:
		// A registry outage does not end single sign-on: the session was valid when it started, and only a
		// policy change since could ask more of it.
		s.log.Warn("step-up check skipped: the registry did not answer the tenant's sign-in settings", "tenant", in.TenantID, "err", err)
		return nil, nil
	}
	if !wantsMFA(in.ACRValues) {
		var roles []string // from the account view (no I/O); unknown: only a policy for all applies
		if a, ok := s.cache.Account(sess.TenantID, sess.UserID, sess.Incarnation); ok {
			roles = a.Roles
		}
		if !policyRequiresMFA(st.GetMfaPolicy(), roles) {
			return nil, nil
		}
	}
	f, err := s.userFactors(ctx, sess.TenantID, sess.UserID)
	switch {
	case errors.Is(err, errUserCredentials):
		return nil, nil // deleted: the account view ends the session, and the code exchange refuses it
	case err != nil:
		return nil, err
	}
	need := decideFactor(st.GetMfaPolicy(), f)
	if need == needNothing {
		return nil, nil
	}
	if slices.Contains(in.Prompt, "none") {
		return s.respond(in.RedirectURI, in.ResponseMode, errorParams(apierror.LoginRequired, "a second factor is required", in.State, s.issuer)), nil
	}
	clearPending(in)
	in.UserID, in.UserName, in.SessionID = "", "", bytes.Clone(sess.ID)
	in.PendingUserID, in.PendingIncarnation = sess.UserID, sess.Incarnation
	in.PendingAMR = slices.Clone(sess.AMR)
	if len(in.PendingAMR) == 0 {
		in.PendingAMR = []string{amrPassword} // sessions from before amr was kept were password sign-ins
	}
	if need == needEnroll {
		if err := s.beginEnrollment(ctx, in, st); err != nil {
			return nil, err
		}
	}
	return s.secondFactorStep(ctx, cl, in, id, f, "")
}

// secondFactorStep stores in (under id, or a new id when in is not stored yet) and answers its
// second-factor page for the user of f: TOTP when enrolled, a fresh passkey challenge when the user has
// passkeys, the enrolment's QR code while one waits, and errCode after a failure.
func (s *Server) secondFactorStep(ctx context.Context, cl *clients.Client, in *token.Interaction, id string, f *registryv1.GetFactorsResponse, errCode string) (*tokenv1.Step, error) {
	p := &tokenv1.SecondFactorPage{ClientName: clientName(cl), UserName: displayName(f.GetUser()), ErrorCode: errCode}
	if in.Enrollment != "" {
		pe, err := s.openEnrollment(in)
		if err != nil {
			return nil, err
		}
		qr, err := enrollmentQR(pe.URI)
		if err != nil {
			return nil, err
		}
		p.Enrollment, p.EnrollmentQrPng, p.EnrollmentSecret = enrollmentMarker, qr, pe.Secret
	} else {
		p.Totp = f.GetTotpEnrolled()
		if len(f.GetPasskeys()) > 0 {
			opts, err := s.passkeyRequestOptions(ctx, in, f)
			if err != nil {
				return nil, err
			}
			p.WebauthnOptions = opts
		}
	}
	id, err := s.saveInteraction(ctx, in, id)
	if err != nil {
		return nil, err
	}
	p.InteractionId = id
	return &tokenv1.Step{Step: &tokenv1.Step_SecondFactor{SecondFactor: p}, Page: s.pageContext(ctx, in.TenantID, in.UILocales), SecureCookies: s.secureCookies()}, nil
}

// SecondFactor checks the second factor of a pending interaction (see the comment at the top of this file):
// a code (TOTP or recovery), a passkey assertion, or the code confirming a required enrolment. A user
// deleted, re-created or disabled since the password loses the interaction. A wrong answer shows the page
// again with an error code and counts as a failed attempt; an address that must slow down is answered 429
// with Retry-After, like the login form. The first success completes the sign-in (after an enrolment: once
// the recovery codes were shown and the page posted back empty).
func (s *Server) SecondFactor(ctx context.Context, req *tokenv1.SecondFactorRequest) (*tokenv1.SecondFactorResponse, error) {
	in, cl, err := s.loadInteraction(ctx, req.GetInteractionId())
	if err != nil {
		return nil, err
	}
	if in.ID == nil || in.PendingUserID == "" || s.factors == nil {
		return nil, errInteractionGone
	}
	id, b := req.GetInteractionId(), req.GetBrowser()
	// A step-up belongs to the browser whose session it upgrades: no other may spend the user's factor on it.
	if in.SessionID != nil {
		if c := b.GetSessionCookie(); c == "" || len(c) > 128 || !bytes.Equal(digest(c), in.SessionID) {
			return nil, errInteractionGone
		}
	}
	f, err := s.userFactors(ctx, in.TenantID, in.PendingUserID)
	if err != nil && !errors.Is(err, errUserCredentials) {
		return nil, err
	}
	if err != nil || incarnationChanged(in.PendingIncarnation, f.GetIncarnation()) || f.GetUser().GetDisabled() ||
		s.accountLive(in.TenantID, in.PendingUserID, in.PendingIncarnation, s.now()) != nil {
		if derr := s.st.DeleteInteraction(ctx, in.ID); derr != nil {
			return nil, derr
		}
		s.audit("second_factor", "disabled", cl, in.PendingUserID, "", b)
		return nil, errInteractionGone
	}
	answer := func(step *tokenv1.Step, err error) (*tokenv1.SecondFactorResponse, error) {
		if err != nil {
			return nil, err
		}
		return &tokenv1.SecondFactorResponse{Step: step}, nil
	}
	if pendingVerified(in) {
		return answer(s.completeSecondFactor(ctx, cl, in, id, b, f))
	}
	code, assertion := strings.TrimSpace(req.GetCode()), req.GetWebauthnAssertion()
	if code == "" && assertion == "" {
		return answer(s.secondFactorStep(ctx, cl, in, id, f, errCodeFactorMissing))
	}
	keys := []string{accountKey(in.TenantID, in.PendingUserID), addressKey(b.GetRemoteAddr())}
	ref, err := s.reserve(ctx, keys)
	switch {
	case err != nil:
		return nil, err
	case ref != nil && ref.address:
		s.audit("second_factor", "throttled_address", cl, in.PendingUserID, "", b)
		return nil, ref.slowDown()
	case ref != nil:
		s.audit("second_factor", "throttled", cl, in.PendingUserID, "", b)
		c := errCodeFactorThrottled
		if ref.locked {
			c = errCodeFactorLocked
		}
		return answer(s.secondFactorStep(ctx, cl, in, id, f, c))
	}
	res := s.checkFactor(ctx, in, f, code, assertion)
	if err := s.settle(ctx, keys, res.outcome); err != nil && res.err == nil {
		return nil, err
	}
	switch {
	case res.err != nil:
		return nil, res.err
	case res.outcome != outcomeRight:
		if res.restart {
			if err := s.beginEnrollment(ctx, in, mustSettings(ctx, s, in.TenantID)); err != nil {
				return nil, err
			}
		} else {
			s.audit("second_factor", "bad_second_factor", cl, in.PendingUserID, "", b)
		}
		return answer(s.secondFactorStep(ctx, cl, in, id, f, res.errCode))
	}
	s.audit("second_factor", "success", cl, in.PendingUserID, "", b)
	in.PendingAMR = append(in.PendingAMR, res.amr...)
	in.Enrollment, in.WebAuthnSession = "", nil
	if res.recovery != nil {
		// Shown once: the page posts back empty to continue (pendingVerified).
		if _, err := s.saveInteraction(ctx, in, id); err != nil {
			return nil, err
		}
		return answer(&tokenv1.Step{Step: &tokenv1.Step_SecondFactor{SecondFactor: &tokenv1.SecondFactorPage{
			InteractionId: id, ClientName: clientName(cl), UserName: displayName(f.GetUser()), RecoveryCodes: res.recovery,
		}}, Page: s.pageContext(ctx, in.TenantID, in.UILocales), SecureCookies: s.secureCookies()}, nil)
	}
	return answer(s.completeSecondFactor(ctx, cl, in, id, b, f))
}

// mustSettings is the tenant's sign-in settings, or defaults when the registry cannot answer now (for the
// enrolment's issuer label only).
func mustSettings(ctx context.Context, s *Server, tenantID string) *registryv1.SignInSettings {
	if st, err := s.settings.get(ctx, tenantID); err == nil {
		return st
	}
	return defaultSignInSettings(tenantID)
}

// factorResult is the outcome of one checked second factor.
type factorResult struct {
	outcome  outcome
	amr      []string // the methods verified (outcomeRight)
	recovery []string // recovery codes of a confirmed enrolment, to show once
	errCode  string   // the page's error code (not outcomeRight)
	restart  bool     // the enrolment expired: begin a new one
	err      error    // a failure of this service or the registry
}

// checkFactor checks one answer of the pending user of in: the code confirming the waiting enrolment, a
// passkey assertion, or a TOTP or recovery code. Wrong answers are outcomeWrong; nothing is retried.
func (s *Server) checkFactor(ctx context.Context, in *token.Interaction, f *registryv1.GetFactorsResponse, code, assertion string) factorResult {
	wrong := func(c string) factorResult { return factorResult{outcome: outcomeWrong, errCode: c} }
	failed := func(err error) factorResult { return factorResult{outcome: outcomeUnanswered, err: err} }
	switch {
	case in.Enrollment != "":
		if code == "" || len(code) > maxFactorCode {
			return wrong(errCodeFactorBadCode)
		}
		pe, err := s.openEnrollment(in)
		if err != nil {
			return factorResult{outcome: outcomeUnanswered, errCode: errCodeEnrollmentExpired, restart: true}
		}
		resp, err := s.factors.ConfirmTotpEnrollment(ctx, &registryv1.ConfirmTotpEnrollmentRequest{
			TenantId: in.TenantID, UserId: in.PendingUserID, Enrollment: pe.Registry, Code: code,
		})
		switch {
		case err == nil:
			return factorResult{outcome: outcomeRight, amr: []string{amrOTP}, recovery: resp.GetRecoveryCodes()}
		case violatesField(err, "enrollment"):
			// The registry's enrolment expired (15 minutes): not a guess; a new key is shown.
			return factorResult{outcome: outcomeUnanswered, errCode: errCodeEnrollmentExpired, restart: true}
		case status.Code(err) == codes.InvalidArgument:
			return wrong(errCodeFactorBadCode)
		}
		return failed(err)
	case assertion != "":
		if len(f.GetPasskeys()) == 0 {
			return wrong(errCodeFactorPasskey)
		}
		amr, err := s.verifyPasskeyAssertion(ctx, in, f, assertion)
		switch {
		case err == nil:
			return factorResult{outcome: outcomeRight, amr: amr}
		case errors.Is(err, errPasskeyFailed):
			s.log.Info("second factor: passkey refused", "tenant", in.TenantID, "user_id", in.PendingUserID, "err", err)
			return wrong(errCodeFactorPasskey)
		}
		return failed(err)
	}
	if len(code) > maxFactorCode || !f.GetTotpEnrolled() {
		return wrong(errCodeFactorBadCode)
	}
	_, err := s.factors.VerifySecondFactorCode(ctx, &registryv1.VerifySecondFactorCodeRequest{
		TenantId: in.TenantID, UserId: in.PendingUserID, Code: code,
	})
	switch status.Code(err) {
	case codes.OK:
		// A recovery code ("recovery") is a one-time password as well: RFC 8176 has no method of its own.
		return factorResult{outcome: outcomeRight, amr: []string{amrOTP}}
	case codes.Unauthenticated, codes.InvalidArgument, codes.FailedPrecondition:
		return wrong(errCodeFactorBadCode)
	}
	return failed(err)
}

// completeSecondFactor ends a verified second-factor step: a step-up upgrades the browser's session in
// place (it must still be the session the step-up began with, of the same user), any other sign-in starts
// its session (startSession). Either way the interaction continues with next.
func (s *Server) completeSecondFactor(ctx context.Context, cl *clients.Client, in *token.Interaction, id string, b *tokenv1.Browser, f *registryv1.GetFactorsResponse) (*tokenv1.Step, error) {
	authn := authnOf(in.PendingAMR...)
	if in.SessionID == nil {
		return s.startSession(ctx, cl, in, id, b, in.PendingUserID, displayName(f.GetUser()), in.PendingIncarnation, authn)
	}
	sess, err := s.currentSession(ctx, b.GetSessionCookie(), in.TenantID)
	if err != nil {
		return nil, err
	}
	if sess == nil || !bytes.Equal(sess.ID, in.SessionID) || sess.UserID != in.PendingUserID || sess.Incarnation != in.PendingIncarnation {
		if err := s.st.DeleteInteraction(ctx, in.ID); err != nil {
			return nil, err
		}
		return nil, errInteractionGone
	}
	now := s.now()
	upd, err := s.st.UpdateSession(ctx, sess.ID, func(old token.Session) (token.Session, error) {
		if old.UserID != in.PendingUserID {
			return old, errInteractionGone
		}
		old.Authn, old.AuthTime = authn.Clone(), now // OIDC Core §2 auth_time: this authentication
		return old, nil
	})
	if err != nil {
		return nil, err
	}
	clearPending(in)
	return s.next(ctx, cl, in, id, &upd, true)
}

// violatesField reports whether err is the registry's INVALID_ARGUMENT about field: a google.rpc.BadRequest
// field violation naming it, or a message starting with "field:" (apierror.FieldError).
func violatesField(err error, field string) bool {
	st := status.Convert(err)
	if st.Code() != codes.InvalidArgument {
		return false
	}
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				if v.GetField() == field {
					return true
				}
			}
		}
	}
	return strings.HasPrefix(st.Message(), field+":")
}

// passwordGrantAllowed refuses the password grant (RFC 6749 §4.3), which has no step for a second factor,
// to a user who has one or whom the tenant's policy requires to have one (invalid_grant): such a user signs
// in through the browser, where the second factor is asked. Without a factor API every user may.
func (s *Server) passwordGrantAllowed(ctx context.Context, tenantID, userID string) error {
	if s.factors == nil {
		return nil
	}
	f, err := s.userFactors(ctx, tenantID, userID)
	switch {
	case errors.Is(err, errUserCredentials):
		return errGrant("invalid user name or password")
	case err != nil:
		return err
	}
	st, err := s.settings.get(ctx, tenantID)
	if err != nil {
		return err
	}
	if decideFactor(st.GetMfaPolicy(), f) != needNothing {
		return errGrant("this account signs in with a second factor, which the password grant cannot carry: use the authorization code flow")
	}
	return nil
}
