package server

import (
	"context"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/services/token"
	"github.com/authsuite/authsuite/services/token/clients"
)

// Password-less sign-in with a passkey (W3C WebAuthn §7.2 with a discoverable credential).

const (
	// errCodePasskeyFailed is the page-catalogue key of a refused passkey (passkey.json).
	errCodePasskeyFailed = "passkey.failed"
	// msgPasskeyFailed is its English text, for pages without the catalogue.
	msgPasskeyFailed = "That passkey could not sign you in. Try again, or sign in with your password."
	// maxUserHandle is the longest user handle WebAuthn allows (§5.4.3: at most 64 bytes).
	maxUserHandle = 64
)

// PasskeyLogin signs a person in with a discoverable passkey instead of a password, when the interaction's
// tenant allows it (MfaPolicy.passwordless). The assertion must answer a live, unused challenge of the login
// page (passkeyLoginOptions) for this interaction's tenant, client and purpose, come from the issuer's
// origin, verify the user (UV, §6.1; refused without), and be signed by a credential of the user its user
// handle names in the interaction's tenant (never another tenant: the user is looked up in in.TenantID). A
// disabled or deleted user is refused. Attempts are throttled per remote address like passwords (reserve,
// settle): a failed assertion counts as a wrong password; a refused address gets 429 with Retry-After. The
// session started carries amr [hwk|swk, user, mfa] and acr urn:authsuite:acr:mfa. A failure shows the login
// page again with error_code "passkey.failed" and a new challenge; nothing else tells why.
func (s *Server) PasskeyLogin(ctx context.Context, req *tokenv1.PasskeyLoginRequest) (*tokenv1.PasskeyLoginResponse, error) {
	in, cl, err := s.loadInteraction(ctx, req.GetInteractionId())
	if err != nil {
		return nil, err
	}
	if in.UserID != "" || in.PendingUserID != "" {
		return nil, errInteractionGone // already signed in (a consent page), or a second factor is pending
	}
	if s.factors == nil {
		return nil, apierror.FailedPrecondition("password-less sign-in is not enabled")
	}
	st, err := s.settings.get(ctx, in.TenantID)
	if err != nil {
		return nil, err
	}
	if !st.GetMfaPolicy().GetPasswordless() {
		return nil, apierror.FailedPrecondition("password-less sign-in is not enabled for this tenant")
	}
	b := req.GetBrowser()
	keys := []string{addressKey(b.GetRemoteAddr())}
	if ref, err := s.reserve(ctx, keys); err != nil {
		return nil, err
	} else if ref != nil {
		s.audit("login", "throttled_address", cl, "", "", b)
		return nil, ref.slowDown()
	}
	f, amr, err := s.verifyPasskeyLogin(ctx, in, req.GetWebauthnAssertion())
	o := outcomeUnanswered
	switch {
	case err == nil, errors.Is(err, errUserDisabled):
		o = outcomeRight
	case errors.Is(err, errPasskeyFailed):
		o = outcomeWrong
	}
	if serr := s.settle(ctx, keys, o); serr != nil && err == nil {
		return nil, serr
	}
	switch {
	case errors.Is(err, errUserDisabled):
		s.audit("login", "disabled", cl, f.GetUser().GetUserId(), f.GetUser().GetLoginName(), b)
		return s.passkeyLoginAgain(ctx, in, cl, req.GetInteractionId(), errCodeDisabled, msgDisabled)
	case errors.Is(err, errPasskeyFailed):
		s.log.Info("passkey sign-in refused", "tenant_id", in.TenantID, "reason", clip(err.Error()))
		s.audit("login", "passkey_failed", cl, f.GetUser().GetUserId(), f.GetUser().GetLoginName(), b)
		return s.passkeyLoginAgain(ctx, in, cl, req.GetInteractionId(), errCodePasskeyFailed, msgPasskeyFailed)
	case err != nil:
		return nil, err
	}
	u := f.GetUser()
	// The incarnation as the token service's account view knows it (waiting, bounded, for the change feed),
	// so the session is live at once; a user re-created since the registry answered is refused.
	inc, err := s.incarnationOf(ctx, in.TenantID, u.GetUserId())
	switch {
	case errors.Is(err, errUserDisabled), errors.Is(err, errUserCredentials), err == nil && f.GetIncarnation() != "" && inc != f.GetIncarnation():
		s.audit("login", "disabled", cl, u.GetUserId(), u.GetLoginName(), b)
		return s.passkeyLoginAgain(ctx, in, cl, req.GetInteractionId(), errCodeDisabled, msgDisabled)
	case err != nil:
		return nil, err
	}
	s.audit("login", "success", cl, u.GetUserId(), u.GetLoginName(), b)
	// A passkey that verified the user is possession plus a PIN or biometric in one gesture: two factors
	// (RFC 8176 "mfa"; ACRMFA).
	step, err := s.startSession(ctx, cl, in, req.GetInteractionId(), b, u.GetUserId(), displayName(u), inc,
		token.Authn{AMR: append(amr, amrMFA), ACR: ACRMFA})
	if err != nil {
		return nil, err
	}
	return &tokenv1.PasskeyLoginResponse{Step: step}, nil
}

// verifyPasskeyLogin checks a discoverable assertion for in (see PasskeyLogin) and answers the user's
// factors and the gesture's methods (with "user": UV is required). Errors: errPasskeyFailed (wrapped) for
// anything the browser got wrong, including a user handle that names nobody in the tenant; errUserDisabled
// (with the factors) for a disabled user; others are failures.
func (s *Server) verifyPasskeyLogin(ctx context.Context, in *token.Interaction, assertionJSON string) (*registryv1.GetFactorsResponse, []string, error) {
	rp, err := s.rp()
	if err != nil {
		return nil, nil, err
	}
	p, err := parseAssertion(assertionJSON)
	if err != nil {
		return nil, nil, err
	}
	handle := p.Response.UserHandle
	if len(handle) == 0 || len(handle) > maxUserHandle || !utf8.Valid(handle) {
		return nil, nil, fmt.Errorf("%w: no usable user handle", errPasskeyFailed)
	}
	challenge := p.Response.CollectedClientData.Challenge
	if _, err := s.useChallenge(ctx, challenge, passkeyBinding(in.TenantID, in.ClientID, "login:"+in.Purpose, "")); err != nil {
		return nil, nil, err
	}
	f, err := s.factors.GetFactors(ctx, &registryv1.GetFactorsRequest{TenantId: in.TenantID, UserId: string(handle)})
	switch status.Code(err) {
	case codes.OK:
	case codes.NotFound, codes.InvalidArgument:
		return nil, nil, fmt.Errorf("%w: the user handle names no user of the tenant", errPasskeyFailed)
	default:
		return nil, nil, err
	}
	u := newPasskeyUser(f)
	if u.id != string(handle) {
		return nil, nil, fmt.Errorf("%w: the registry answered another user", errPasskeyFailed)
	}
	sd := ceremonySession(in, challenge, rp.Config.RPID, nil, protocol.VerificationRequired)
	sd.UserID, sd.AllowedCredentialIDs = nil, nil
	sd.UserVerification = protocol.VerificationRequired // whatever was kept: password-less needs UV
	in.WebAuthnSession = nil
	_, cred, err := rp.ValidatePasskeyLogin(func(_, _ []byte) (webauthn.User, error) { return u, nil }, sd, p)
	if err != nil {
		return f, nil, fmt.Errorf("%w: %v", errPasskeyFailed, passkeyErrText(err))
	}
	if !p.Response.AuthenticatorData.Flags.HasUserVerified() {
		return f, nil, fmt.Errorf("%w: the authenticator did not verify the user", errPasskeyFailed)
	}
	if f.GetUser().GetDisabled() {
		return f, nil, errUserDisabled
	}
	amr, err := s.acceptAssertion(ctx, in.TenantID, u.id, cred, p)
	if err != nil {
		return f, nil, err
	}
	return f, amr, nil
}

// passkeyLoginAgain is the login page again after a refused passkey (loginStep: the tenant's branding,
// language and alternatives, and a new password-less challenge), with the error code and its English text.
// A stored interaction keeps the new ceremony.
func (s *Server) passkeyLoginAgain(ctx context.Context, in *token.Interaction, cl *clients.Client, id, code, msg string) (*tokenv1.PasskeyLoginResponse, error) {
	step := s.loginStep(ctx, cl, in, id, in.LoginHint, code, msg)
	if in.ID != nil {
		if err := s.st.PutInteraction(ctx, *in); err != nil {
			return nil, err
		}
	}
	return &tokenv1.PasskeyLoginResponse{Step: step}, nil
}
