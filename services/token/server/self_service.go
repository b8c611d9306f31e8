package server

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/internal/audit"
	"github.com/authsuite/authsuite/internal/mail"
	"github.com/authsuite/authsuite/services/token"
)

// selfService implements SelfServiceService: password reset, e-mail verification and self-registration.
//
// What an attacker can and cannot do:
//   - RequestPasswordReset answers the same, at once, whatever the tenant, login and account are: the lookup
//     and the mail happen in the background (Server.mailq), after the answer. Requests are counted per remote
//     address (RESOURCE_EXHAUSTED when spent) and mails per account (silently not sent when spent).
//   - A link token is MAC'd with a purpose per kind (self_service_link.go), expires (reset 30 minutes,
//     verification 24 hours), is bound to the account's incarnation and to its password stamp (reset) or
//     address (verification), and is used up once (Store.UseAssertionID, shared by every replica).
//   - Completing a reset ends the user's SSO sessions and refresh tokens (endAccounts), as disabling does.
//   - Register needs a live login interaction of a tenant that allows self-registration, and is counted per
//     remote address.
type selfService struct {
	tokenv1.UnimplementedSelfServiceServiceServer
	s *Server
}

// mailOutbox is the outbox type Server keeps (Server.mailq).
type mailOutbox = mail.Outbox

// Input bounds of the self-service forms.
const (
	maxTenantInput   = 128
	maxLoginInput    = 320
	maxPasswordInput = 1024
	maxDisplayName   = 100
	maxLocaleInput   = 35
)

// Error codes of the self-service pages (keys of the mail catalogue, internal/i18n mail.json).
const (
	errCodeRegisterMissing   = "register.missing"
	errCodeRegisterEmail     = "register.bad_email"
	errCodeRegisterTaken     = "register.login_taken"
	errCodeRegisterPassword  = "register.bad_password"
	errCodeRegisterInvalid   = "register.invalid"
	errCodeRegisterThrottled = "register.throttled"
)

// errLinkInvalid is the answer to a link that does not verify, expired, was used, or whose password or
// address changed since it was sent.
var errLinkInvalid = apierror.FailedPrecondition("the link is invalid, was used already or has expired; ask for a new one")

// textField checks a form field: valid UTF-8 without control characters, 1 to max bytes (0 allowed when
// optional). Errors name the field.
func textField(name, v string, max int, optional bool) error {
	if v == "" && optional {
		return nil
	}
	if v == "" {
		return apierror.Invalid(name, "is required")
	}
	if len(v) > max || !utf8.ValidString(v) {
		return apierror.Invalid(name, "must be valid UTF-8 of at most %d bytes", max)
	}
	for _, r := range v {
		if r < 0x20 || r == 0x7f {
			return apierror.Invalid(name, "must not contain control characters")
		}
	}
	return nil
}

// mailLocale is the language a request asks its mail in: "" (the tenant's default) when it is longer than
// any BCP 47 tag that matters.
func mailLocale(l string) string {
	if len(l) > maxLocaleInput {
		return ""
	}
	return l
}

// RequestPasswordReset implements SelfServiceService (see selfService).
func (ss selfService) RequestPasswordReset(ctx context.Context, req *tokenv1.RequestPasswordResetRequest) (*tokenv1.RequestPasswordResetResponse, error) {
	s := ss.s
	tenant, login := strings.TrimSpace(req.GetTenant()), strings.TrimSpace(req.GetLogin())
	if err := textField("tenant", tenant, maxTenantInput, false); err != nil {
		return nil, err
	}
	if err := textField("login", login, maxLoginInput, false); err != nil {
		return nil, err
	}
	locale := mailLocale(req.GetLocale())
	if ref, err := s.countRequest(ctx, selfServiceAddressKey(req.GetBrowser().GetRemoteAddr())); err != nil {
		return nil, err
	} else if ref != nil {
		return nil, tooManyRequests(ref)
	}
	s.mailq.Go(linkReset, func(ctx context.Context) { s.mailPasswordReset(ctx, tenant, login, locale) })
	return &tokenv1.RequestPasswordResetResponse{}, nil
}

// checkReset verifies a reset token and that it still fits the account: same incarnation, enabled, same
// password stamp (a changed password, by this link or otherwise, kills the link).
func (s *Server) checkReset(ctx context.Context, tok string) (linkClaims, *registryv1.GetFactorsResponse, error) {
	c, err := parseLink(s.kr, linkReset, tok, s.now())
	if err != nil || s.factors == nil {
		return linkClaims{}, nil, errLinkInvalid
	}
	f, err := s.userFactors(ctx, c.TenantID, c.UserID)
	switch {
	case errors.Is(err, errUserCredentials):
		return linkClaims{}, nil, errLinkInvalid
	case err != nil:
		return linkClaims{}, nil, err
	case f.GetIncarnation() != c.Incarnation, f.GetUser().GetDisabled(), f.GetPasswordStamp() != c.PasswordStamp:
		return linkClaims{}, nil, errLinkInvalid
	}
	return c, f, nil
}

// CheckPasswordReset implements SelfServiceService.
func (ss selfService) CheckPasswordReset(ctx context.Context, req *tokenv1.CheckPasswordResetRequest) (*tokenv1.CheckPasswordResetResponse, error) {
	c, f, err := ss.s.checkReset(ctx, req.GetToken())
	if err != nil {
		return nil, err
	}
	return &tokenv1.CheckPasswordResetResponse{Page: ss.s.pageContext(ctx, c.TenantID, nil), LoginName: f.GetUser().GetLoginName()}, nil
}

// CompletePasswordReset implements SelfServiceService: the registry sets the password only while the
// account's incarnation and password stamp are still the link's (so of two concurrent uses one wins); the
// link's jti is then used up, and the user's sessions and refresh tokens end.
func (ss selfService) CompletePasswordReset(ctx context.Context, req *tokenv1.CompletePasswordResetRequest) (*tokenv1.CompletePasswordResetResponse, error) {
	s := ss.s
	if pw := req.GetNewPassword(); pw == "" || len(pw) > maxPasswordInput {
		return nil, apierror.Invalid("newPassword", "must be 1 to %d bytes", maxPasswordInput)
	}
	c, _, err := s.checkReset(ctx, req.GetToken())
	if err != nil {
		return nil, err
	}
	_, err = s.factors.ResetPassword(ctx, &registryv1.ResetPasswordRequest{TenantId: c.TenantID, UserId: c.UserID,
		Incarnation: c.Incarnation, PasswordStamp: c.PasswordStamp, NewPassword: req.GetNewPassword()})
	switch status.Code(err) {
	case codes.OK:
	case codes.FailedPrecondition, codes.NotFound:
		return nil, errLinkInvalid
	case codes.InvalidArgument:
		return nil, apierror.Invalid("newPassword", "%s", status.Convert(err).Message())
	default:
		return nil, err
	}
	fresh, err := s.st.UseAssertionID(context.WithoutCancel(ctx), linkReset+":"+c.TenantID, c.JTI, time.Unix(c.Expiry, 0))
	if err != nil {
		s.log.Error("password reset: record the used link", "tenant", c.TenantID, "user_id", c.UserID, "err", err)
	} else if !fresh {
		s.log.Warn("password reset: a link was used twice", "tenant", c.TenantID, "user_id", c.UserID)
	}
	s.endAccounts(context.WithoutCancel(ctx), []token.Account{{TenantID: c.TenantID, UserID: c.UserID, Incarnation: c.Incarnation}})
	s.auditSelfService("password_reset", audit.OutcomeSuccess, c.TenantID, c.UserID, req.GetBrowser())
	return &tokenv1.CompletePasswordResetResponse{Page: s.pageContext(ctx, c.TenantID, nil)}, nil
}

// SendEmailVerification implements SelfServiceService for the browser's signed-in person (the session
// cookie, as the account page authenticates). Mails are counted against the account's budget.
func (ss selfService) SendEmailVerification(ctx context.Context, req *tokenv1.SendEmailVerificationRequest) (*tokenv1.SendEmailVerificationResponse, error) {
	s := ss.s
	as, err := accountService{s: s}.signedIn(ctx, req.GetBrowser(), false)
	if err != nil {
		return nil, err
	}
	if s.factors == nil {
		return nil, apierror.FailedPrecondition("%v", errNoMailServer)
	}
	st, err := s.settings.get(ctx, as.TenantID)
	if err != nil {
		return nil, err
	}
	if st.GetSmtp().GetHost() == "" {
		return nil, apierror.FailedPrecondition("%v", errNoMailServer)
	}
	f, err := s.userFactors(ctx, as.TenantID, as.UserID)
	switch {
	case errors.Is(err, errUserCredentials):
		return nil, errNotSignedIn
	case err != nil:
		return nil, err
	case f.GetUser().GetEmail() == "":
		return nil, apierror.FailedPrecondition("the account has no e-mail address")
	case f.GetUser().GetEmailVerified():
		return nil, apierror.FailedPrecondition("the e-mail address is verified already")
	}
	if ref, err := s.countRequest(ctx, mailAccountKey(as.TenantID, as.UserID)); err != nil {
		return nil, err
	} else if ref != nil {
		return nil, status.Errorf(codes.ResourceExhausted, "too many verification mails; wait %s", roundUp(ref.wait))
	}
	if !s.mailVerification(st, f.GetUser(), f.GetIncarnation(), f.GetUser().GetEmail(), mailLocale(req.GetLocale())) {
		return nil, status.Error(codes.Unavailable, "too many mails are waiting to be sent; try again later")
	}
	return &tokenv1.SendEmailVerificationResponse{}, nil
}

// VerifyEmail implements SelfServiceService: the link is used up first (a second use fails), then the
// registry marks the address verified while it is still the user's.
func (ss selfService) VerifyEmail(ctx context.Context, req *tokenv1.VerifyEmailRequest) (*tokenv1.VerifyEmailResponse, error) {
	s := ss.s
	c, err := parseLink(s.kr, linkVerify, req.GetToken(), s.now())
	if err != nil || s.factors == nil {
		return nil, errLinkInvalid
	}
	f, err := s.userFactors(ctx, c.TenantID, c.UserID)
	switch {
	case errors.Is(err, errUserCredentials):
		return nil, errLinkInvalid
	case err != nil:
		return nil, err
	case f.GetIncarnation() != c.Incarnation, f.GetUser().GetDisabled(), !strings.EqualFold(f.GetUser().GetEmail(), c.Email):
		return nil, errLinkInvalid
	}
	fresh, err := s.st.UseAssertionID(ctx, linkVerify+":"+c.TenantID, c.JTI, time.Unix(c.Expiry, 0))
	if err != nil {
		return nil, err
	}
	if !fresh {
		return nil, errLinkInvalid
	}
	_, err = s.factors.MarkEmailVerified(ctx, &registryv1.MarkEmailVerifiedRequest{TenantId: c.TenantID, UserId: c.UserID, Email: c.Email})
	switch status.Code(err) {
	case codes.OK:
	case codes.FailedPrecondition, codes.NotFound:
		return nil, errLinkInvalid
	default:
		return nil, err
	}
	s.auditSelfService("email_verified", audit.OutcomeSuccess, c.TenantID, c.UserID, req.GetBrowser(), slog.String("email", c.Email))
	return &tokenv1.VerifyEmailResponse{Page: s.pageContext(ctx, c.TenantID, nil), Email: c.Email}, nil
}

// Register implements SelfServiceService: from the login page of a live interaction of a tenant that
// allows self-registration, it creates the user (registry RegisterUser), mails a verification link when the
// tenant sends mail, and signs the person in with the password just set (amr pwd; the tenant's second-factor
// policy applies as after any password, afterPassword). A form error answers error_code and no step.
func (ss selfService) Register(ctx context.Context, req *tokenv1.RegisterRequest) (*tokenv1.RegisterResponse, error) {
	s := ss.s
	in, cl, err := s.loadInteraction(ctx, req.GetInteractionId())
	if err != nil {
		return nil, err
	}
	st, err := s.settings.get(ctx, in.TenantID)
	if err != nil {
		return nil, err
	}
	if s.factors == nil || !st.GetSelfRegistration() {
		return nil, apierror.FailedPrecondition("this organisation does not allow creating accounts")
	}
	again := func(code string) *tokenv1.RegisterResponse { return &tokenv1.RegisterResponse{ErrorCode: code} }
	login, email, name := strings.TrimSpace(req.GetLoginName()), strings.TrimSpace(req.GetEmail()), strings.TrimSpace(req.GetDisplayName())
	if login == "" || email == "" || req.GetPassword() == "" {
		return again(errCodeRegisterMissing), nil
	}
	if textField("loginName", login, maxLoginInput, false) != nil || textField("displayName", name, maxDisplayName, true) != nil ||
		len(req.GetPassword()) > maxPasswordInput {
		return again(errCodeRegisterInvalid), nil
	}
	if a, err := mail.ParseAddress(email); err != nil || a.Name != "" || a.Address != email {
		return again(errCodeRegisterEmail), nil
	}
	b := req.GetBrowser()
	if ref, err := s.countRequest(ctx, selfServiceAddressKey(b.GetRemoteAddr())); err != nil {
		return nil, err
	} else if ref != nil {
		return again(errCodeRegisterThrottled), nil
	}
	resp, err := s.factors.RegisterUser(ctx, &registryv1.RegisterUserRequest{TenantId: in.TenantID, LoginName: login, Email: email,
		DisplayName: name, Password: req.GetPassword()})
	switch status.Code(err) {
	case codes.OK:
	case codes.AlreadyExists:
		return again(errCodeRegisterTaken), nil
	case codes.InvalidArgument:
		if strings.Contains(strings.ToLower(status.Convert(err).Message()), "password") {
			return again(errCodeRegisterPassword), nil
		}
		return again(errCodeRegisterInvalid), nil
	case codes.FailedPrecondition:
		return nil, apierror.FailedPrecondition("this organisation does not allow creating accounts")
	default:
		return nil, err
	}
	u := resp.GetUser()
	s.auditSelfService("user_registered", audit.OutcomeSuccess, in.TenantID, u.GetUserId(), b, slog.String("login_name", clip(u.GetLoginName())))
	if st.GetSmtp().GetHost() != "" && u.GetEmail() != "" {
		s.mailVerification(st, u, resp.GetIncarnation(), u.GetEmail(), mailLocale(req.GetLocale()))
	}
	inc, err := s.incarnationOf(ctx, in.TenantID, u.GetUserId())
	if err != nil {
		return nil, err
	}
	step, gone, err := s.afterPassword(ctx, cl, in, req.GetInteractionId(), b, u, inc)
	switch {
	case err != nil:
		return nil, err
	case gone:
		return nil, errInteractionGone
	}
	return &tokenv1.RegisterResponse{Step: step}, nil
}
