package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"log/slog"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/internal/apistatus"
	"github.com/authsuite/authsuite/internal/audit"
	"github.com/authsuite/authsuite/services/token"
	"github.com/authsuite/authsuite/services/token/clients"
)

// Defaults of the sign-in lifetimes.
const (
	// DefaultCodeLifetime is how long an authorization code can be redeemed (docs/reference.md#lifetimes-and-defaults: 60 s).
	DefaultCodeLifetime = 60 * time.Second
	// DefaultSessionLifetime is how long an SSO session lasts after the login that started it.
	DefaultSessionLifetime = 10 * time.Hour
	// InteractionLifetime is how long a login or consent page stays usable.
	InteractionLifetime = 15 * time.Minute
	// ConsentLifetime is how long a remembered consent is honoured.
	ConsentLifetime = 365 * 24 * time.Hour
	// IDTokenLifetime is the lifetime of ID tokens (OIDC Core §2 exp).
	IDTokenLifetime = 5 * time.Minute
)

// Messages of the login page. They never say whether the user exists.
const (
	msgBadCredentials = "Invalid user name or password."
	msgDisabled       = "This account is disabled. Contact your administrator."
)

// newSecret returns 256 random bits, base64url: the value of codes, refresh tokens, session cookies and
// interaction ids. Only its SHA-256 (digest) is stored.
func newSecret() string {
	var b [32]byte
	rand.Read(b[:]) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// digest is the storage key of a bearer secret made by newSecret.
func digest(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// secureCookies reports whether cookies must be Secure: the issuer is https.
func (s *Server) secureCookies() bool { return strings.HasPrefix(s.issuer, "https://") }

// currentSession returns the live SSO session the cookie names in tenantID, or nil. A session of a user
// since disabled, deleted or re-created (another account incarnation) is not live (see accounts.go): the
// browser is asked to sign in again.
func (s *Server) currentSession(ctx context.Context, cookie, tenantID string) (*token.Session, error) {
	if cookie == "" || len(cookie) > 128 {
		return nil, nil
	}
	se, err := s.st.Session(ctx, digest(cookie))
	switch {
	case errors.Is(err, token.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, err
	case !s.now().Before(se.Expiry) || se.TenantID != tenantID:
		return nil, nil
	case s.accountLive(se.TenantID, se.UserID, se.Incarnation, se.AuthTime) != nil:
		return nil, nil
	}
	return &se, nil
}

// Authorize is the authorization endpoint (RFC 6749 §4.1.1, OIDC Core §3.1.2).
func (s *Server) Authorize(ctx context.Context, req *tokenv1.AuthorizeRequest) (*tokenv1.AuthorizeResponse, error) {
	ar, aerr := parseAuthorizeRequest(req.GetParameters(), s.cache.Get)
	if aerr != nil {
		if aerr.RedirectURI == "" {
			return nil, apierror.OAuth(aerr.Code, "%s", aerr.Description)
		}
		return &tokenv1.AuthorizeResponse{Step: s.respond(aerr.RedirectURI, aerr.ResponseMode, errorParams(aerr.Code, aerr.Description, aerr.State, s.issuer))}, nil
	}
	// RFC 8707 §2: every resource must be one the client may obtain tokens for, and the scopes must fit them
	// (the audience rule, grantTarget), else invalid_target / invalid_scope back to the client.
	if len(ar.Resources) > 0 {
		if _, err := s.grantTarget(ar.Client, ar.Scopes, ar.Scopes, ar.Resources, true); err != nil {
			var oe *apierror.OAuthError
			if !errors.As(err, &oe) {
				return nil, err
			}
			return &tokenv1.AuthorizeResponse{Step: s.respond(ar.RedirectURI, ar.ResponseMode, errorParams(oe.Code, oe.Description, ar.State, s.issuer))}, nil
		}
	}
	in := &token.Interaction{
		ClientID: ar.Client.ID, TenantID: ar.Client.TenantID, RedirectURI: ar.RedirectURI, Scopes: ar.Scopes,
		State: ar.State, Nonce: ar.Nonce, CodeChallenge: ar.CodeChallenge, Prompt: ar.Prompt, MaxAge: ar.MaxAge,
		LoginHint: ar.LoginHint, ResponseMode: ar.ResponseMode, Resources: ar.Resources,
		SignInState: token.SignInState{ACRValues: ar.ACRValues, UILocales: ar.UILocales},
	}
	sess, err := s.currentSession(ctx, req.GetBrowser().GetSessionCookie(), ar.Client.TenantID)
	if err != nil {
		return nil, err
	}
	step, err := s.next(ctx, ar.Client, in, "", sess, false)
	if err != nil {
		return nil, err
	}
	return &tokenv1.AuthorizeResponse{Step: step}, nil
}

// next decides what follows for an interaction (OIDC Core §3.1.2.3, §3.1.2.4): a login when there is no
// usable session (none, prompt=login, max_age exceeded), a second factor when the session's class is below
// the one acr_values ask for or the tenant's policy requires (step-up, stepUp), a consent when the client
// requires one that is not remembered (or prompt=consent), else the code. prompt=none turns a needed page
// into login_required or consent_required (§3.1.2.6). fresh says the user just signed in for this
// interaction. id is the interaction's id when it is already stored.
func (s *Server) next(ctx context.Context, cl *clients.Client, in *token.Interaction, id string, sess *token.Session, fresh bool) (*tokenv1.Step, error) {
	none := slices.Contains(in.Prompt, "none")
	needLogin := sess == nil
	if sess != nil && !fresh {
		if slices.Contains(in.Prompt, "login") {
			needLogin = true
		}
		if in.MaxAge >= 0 && s.now().Sub(sess.AuthTime) > time.Duration(in.MaxAge)*time.Second {
			needLogin = true
		}
	}
	if needLogin {
		if none {
			return s.respond(in.RedirectURI, in.ResponseMode, errorParams(apierror.LoginRequired, "the user is not signed in", in.State, s.issuer)), nil
		}
		if in.ID == nil {
			// Nothing is stored before the user submits the login form: the page carries the validated
			// request sealed (interaction_seal.go), so unauthenticated requests cost no write.
			var err error
			if id, err = s.sealInteraction(in); err != nil {
				return nil, err
			}
		}
		return s.loginStep(ctx, cl, in, id, in.LoginHint, "", ""), nil
	}
	if step, err := s.stepUp(ctx, cl, in, id, sess, fresh); step != nil || err != nil {
		return step, err
	}
	in.UserID, in.UserName, in.SessionID = sess.UserID, sess.UserName, sess.ID
	// A device authorization always asks (RFC 8628 §5.4): the person must see which client gets access.
	if cl.RequireConsent || in.Purpose == token.PurposeDevice {
		remembered := false
		if !slices.Contains(in.Prompt, "consent") {
			c, err := s.st.Consent(ctx, sess.TenantID, sess.UserID, cl.ID)
			switch {
			case err == nil:
				remembered = s.now().Before(c.Expiry) && covers(c.Scopes, in.Scopes) && c.Incarnation == sess.Incarnation
			case !errors.Is(err, token.ErrNotFound):
				return nil, err
			}
		}
		if !remembered {
			if none {
				return s.respond(in.RedirectURI, in.ResponseMode, errorParams(apierror.ConsentRequired, "the user has not consented", in.State, s.issuer)), nil
			}
			id, err := s.saveInteraction(ctx, in, id)
			if err != nil {
				return nil, err
			}
			return &tokenv1.Step{Step: &tokenv1.Step_Consent{Consent: &tokenv1.ConsentPage{
				InteractionId: id, ClientName: clientName(cl), Scopes: in.Scopes,
				AllowRemember: cl.AllowRememberConsent, UserName: sess.UserName,
			}}, Page: s.pageContext(ctx, in.TenantID, in.UILocales), SecureCookies: s.secureCookies()}, nil
		}
	}
	return s.finish(ctx, cl, in, sess)
}

func covers(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

func clientName(cl *clients.Client) string {
	if cl.Name != "" {
		return cl.Name
	}
	return cl.ID
}

// saveInteraction stores in under id, or under a new id when in is not stored yet (new, or carried sealed
// by the login page), and returns the id.
func (s *Server) saveInteraction(ctx context.Context, in *token.Interaction, id string) (string, error) {
	if in.ID == nil {
		id = newSecret()
		in.ID = digest(id)
		in.Expiry = s.now().Add(InteractionLifetime)
	}
	if err := s.st.PutInteraction(ctx, *in); err != nil {
		return "", err
	}
	return id, nil
}

// errInteractionGone is answered for an unknown or expired interaction (an old login page).
var errInteractionGone = apierror.FailedPrecondition("the sign-in request has expired or was already completed; start again from the application")

// loadInteraction returns the live interaction with id and its client.
func (s *Server) loadInteraction(ctx context.Context, id string) (*token.Interaction, *clients.Client, error) {
	if isSealedInteraction(id) {
		return s.openInteraction(id)
	}
	if id == "" || len(id) > 128 {
		return nil, nil, errInteractionGone
	}
	in, err := s.st.Interaction(ctx, digest(id))
	switch {
	case errors.Is(err, token.ErrNotFound):
		return nil, nil, errInteractionGone
	case err != nil:
		return nil, nil, err
	case !s.now().Before(in.Expiry) || in.Logout:
		return nil, nil, errInteractionGone
	}
	cl, ok := s.interactionClient(&in)
	if !ok {
		return nil, nil, errInteractionGone
	}
	return &in, cl, nil
}

// interactionClient returns the client an interaction runs for: the client of an authorization or device
// request (which must still exist in the interaction's tenant), or for a sign-in to the account page, which
// has no client, the stand-in accountClient gives.
func (s *Server) interactionClient(in *token.Interaction) (*clients.Client, bool) {
	if in.Purpose == token.PurposeAccount {
		return s.accountClient(in.TenantID), in.ClientID == ""
	}
	cl, ok := s.cache.Get(in.ClientID)
	return cl, ok && cl.TenantID == in.TenantID
}

// finish issues the authorization code (RFC 6749 §4.1.2) for a signed-in interaction: it records the client
// in the session (for back-channel logout), stores the code's digest durably, drops the interaction, and
// answers the redirect with code, state and iss (RFC 9207).
func (s *Server) finish(ctx context.Context, cl *clients.Client, in *token.Interaction, sess *token.Session) (*tokenv1.Step, error) {
	switch in.Purpose {
	case token.PurposeAccount:
		return s.finishAccount(ctx, in, sess)
	case token.PurposeDevice:
		return s.finishDevice(ctx, cl, in, sess)
	}
	if !slices.Contains(sess.Clients, cl.ID) {
		if _, err := s.st.UpdateSession(ctx, sess.ID, func(old token.Session) (token.Session, error) {
			if !slices.Contains(old.Clients, cl.ID) {
				old.Clients = append(old.Clients, cl.ID)
			}
			return old, nil
		}); err != nil {
			return nil, err
		}
	}
	code := newSecret()
	now := s.now()
	if err := s.st.PutCode(ctx, token.AuthCode{
		Hash: digest(code), ClientID: cl.ID, TenantID: cl.TenantID, UserID: sess.UserID, RedirectURI: in.RedirectURI,
		Scopes: in.Scopes, Nonce: in.Nonce, CodeChallenge: in.CodeChallenge, SID: sess.SID, AuthTime: sess.AuthTime,
		FamilyID: newJTI(), Expiry: now.Add(s.deps.CodeLifetime), Incarnation: sess.Incarnation, Resources: in.Resources,
		Authn: sess.Authn.Clone(), // the ID token's amr and acr (OIDC Core §2)
	}); err != nil {
		return nil, err
	}
	if in.ID != nil {
		if err := s.st.DeleteInteraction(ctx, in.ID); err != nil {
			return nil, err
		}
	}
	q := url.Values{"code": {code}, "iss": {s.issuer}}
	if in.State != "" {
		q.Set("state", in.State)
	}
	return s.respond(in.RedirectURI, in.ResponseMode, q), nil
}

// respond answers the client at its validated redirect URI with the response parameters q: by default a
// redirect with q added to the URI's query (RFC 6749 §4.1.2); with responseModeFormPost an HTML form that
// the browser POSTs to the URI unchanged, the parameters in the body (OAuth 2.0 Form Post Response Mode §2),
// so that codes do not travel in URLs. Parameters are ordered by name.
func (s *Server) respond(redirectURI, mode string, q url.Values) *tokenv1.Step {
	if mode != responseModeFormPost {
		return s.redirectStep(withQuery(redirectURI, q))
	}
	fp := &tokenv1.FormPost{Action: redirectURI}
	for _, k := range slices.Sorted(maps.Keys(q)) {
		for _, v := range q[k] {
			fp.Params = append(fp.Params, &tokenv1.FormParam{Name: k, Value: v})
		}
	}
	return &tokenv1.Step{Step: &tokenv1.Step_FormPost{FormPost: fp}, SecureCookies: s.secureCookies()}
}

func (s *Server) redirectStep(uri string) *tokenv1.Step {
	return &tokenv1.Step{Step: &tokenv1.Step_RedirectUri{RedirectUri: uri}, SecureCookies: s.secureCookies()}
}

// errorParams are the parameters of the error response of RFC 6749 §4.1.2.1 (with iss, RFC 9207 §2).
func errorParams(code, desc, state, issuer string) url.Values {
	q := url.Values{"error": {code}, "iss": {issuer}}
	if desc != "" {
		q.Set("error_description", desc)
	}
	if state != "" {
		q.Set("state", state)
	}
	return q
}

// withQuery adds q to the query of uri, keeping the query the client registered (RFC 6749 §3.1.2).
func withQuery(uri string, q url.Values) string {
	sep := "?"
	if strings.Contains(uri, "?") {
		sep = "&"
	}
	return uri + sep + q.Encode()
}

// Login checks a submitted login form (docs/reference/oauth.md#sign-in-pages): the attempt is reserved against the login throttle
// first (checkPassword), then the user's password is checked in the client's tenant through the registry. A
// failure shows the login page again with a message that does not reveal whether the user exists; an address
// that must slow down is answered 429 with Retry-After; a success starts an SSO session (cookie value in the
// step) and continues with consent or the code. Every attempt is audit-logged without the password.
func (s *Server) Login(ctx context.Context, req *tokenv1.LoginRequest) (*tokenv1.LoginResponse, error) {
	in, cl, err := s.loadInteraction(ctx, req.GetInteractionId())
	if err != nil {
		return nil, err
	}
	b := req.GetBrowser()
	username := strings.TrimSpace(req.GetUsername())
	again := func(code, msg string) *tokenv1.LoginResponse {
		return &tokenv1.LoginResponse{Step: s.loginStep(ctx, cl, in, req.GetInteractionId(), clip(username), code, msg)}
	}
	if username == "" || req.GetPassword() == "" {
		return again(errCodeMissing, "Enter your user name and password."), nil
	}
	// Throttled per account and per address (checkPassword). The audit names the account, never the typed
	// name: a password typed into the name field must not reach the logs.
	u, account, ref, err := s.checkPassword(ctx, cl.TenantID, username, req.GetPassword(), b.GetRemoteAddr())
	switch {
	case ref != nil && ref.address:
		s.audit("login", "throttled_address", cl, account.GetUserId(), account.GetLoginName(), b)
		return nil, ref.slowDown()
	case ref != nil:
		s.audit("login", "throttled", cl, account.GetUserId(), account.GetLoginName(), b)
		return again(ref.errorCode(), ref.message()), nil
	case errors.Is(err, errUserDisabled):
		s.audit("login", "disabled", cl, account.GetUserId(), account.GetLoginName(), b)
		return again(errCodeDisabled, msgDisabled), nil
	case errors.Is(err, errUserCredentials):
		s.audit("login", "bad_credentials", cl, account.GetUserId(), account.GetLoginName(), b)
		return again(errCodeBadCredentials, msgBadCredentials), nil
	case err != nil:
		return nil, err
	}
	inc, err := s.incarnationOf(ctx, cl.TenantID, u.GetUserId())
	switch {
	case errors.Is(err, errUserDisabled):
		return again(errCodeDisabled, msgDisabled), nil // disabled or deleted since the password check
	case errors.Is(err, errUserCredentials):
		return again(errCodeBadCredentials, msgBadCredentials), nil
	case err != nil:
		return nil, err
	}
	// The password is the first factor: a second one may be needed before any session exists.
	step, gone, err := s.afterPassword(ctx, cl, in, req.GetInteractionId(), b, u, inc)
	switch {
	case err != nil:
		return nil, err
	case gone:
		return again(errCodeBadCredentials, msgBadCredentials), nil // deleted or re-created in between
	}
	// One sign_in per sign-in: when a second factor is due, its page records it (or the failure) instead.
	if step.GetSecondFactor() == nil {
		s.audit("login", "success", cl, u.GetUserId(), u.GetLoginName(), b)
	}
	return &tokenv1.LoginResponse{Step: step}, nil
}

// Error codes of the login page (LoginPage.error_code: keys of the page catalogues).
const (
	errCodeMissing        = "login.missing"
	errCodeBadCredentials = "login.bad_credentials"
	errCodeDisabled       = "login.disabled"
	errCodeThrottled      = "login.throttled"
	errCodeLocked         = "login.locked"
)

// errorCode is the login page's error code of a refusal.
func (r *refusal) errorCode() string {
	if r.locked {
		return errCodeLocked
	}
	return errCodeThrottled
}

// loginStep is the login page of in (its id is id): the client's name, a login name to prefill, an error
// (errCode the catalogue key, msg the English text), and what the tenant's settings offer: upstream
// provider buttons, a password-less passkey sign-in, self-registration and password reset links. Settings
// the registry cannot answer now leave those out; the page itself always renders.
func (s *Server) loginStep(ctx context.Context, cl *clients.Client, in *token.Interaction, id, hint, errCode, msg string) *tokenv1.Step {
	p := &tokenv1.LoginPage{InteractionId: id, ClientName: clientName(cl), LoginHint: hint, Error: msg, ErrorCode: errCode}
	if st, err := s.settings.get(ctx, in.TenantID); err == nil {
		p.Upstream = s.upstreamButtons(st)
		p.SelfRegistration = st.GetSelfRegistration()
		p.PasswordReset = st.GetSmtp().GetHost() != ""
		if st.GetMfaPolicy().GetPasswordless() {
			if opts, err := s.passkeyLoginOptions(ctx, in); err == nil {
				p.WebauthnOptions = opts
			} else {
				s.log.Warn("login page without password-less passkey sign-in", "tenant", in.TenantID, "err", err)
			}
		}
	}
	return &tokenv1.Step{Step: &tokenv1.Step_Login{Login: p}, Page: s.pageContext(ctx, in.TenantID, in.UILocales), SecureCookies: s.secureCookies()}
}

// startSession starts the SSO session of a user whose sign-in is complete (every factor it needs verified):
// user userID (incarnation inc, shown as userName), authenticated as authn, at now. The session replaces
// the browser b's previous one (session fixation, RFC 9700 §4.x; OIDC Core §3.1.2.3), which ends with
// back-channel logout. The interaction in (stored under id, or sealed) then continues with next, and the
// answer sets the session cookie. Every way of signing in (password, second factor, passkey, upstream
// provider) starts its session here.
func (s *Server) startSession(ctx context.Context, cl *clients.Client, in *token.Interaction, id string, b *tokenv1.Browser,
	userID, userName, inc string, authn token.Authn) (*tokenv1.Step, error) {
	if old := b.GetSessionCookie(); old != "" && len(old) <= 128 {
		if prev, err := s.st.DeleteSession(ctx, digest(old)); err == nil {
			s.backChannelLogout(prev)
		}
	}
	clearPending(in)
	cookie := newSecret()
	now := s.now()
	sess := token.Session{
		ID: digest(cookie), SID: newJTI(), UserID: userID, UserName: userName, TenantID: in.TenantID,
		AuthTime: now, Expiry: now.Add(s.deps.SessionLifetime), Incarnation: inc, Authn: authn.Clone(),
	}
	if err := s.st.PutSession(ctx, sess); err != nil {
		return nil, err
	}
	step, err := s.next(ctx, cl, in, id, &sess, true)
	if err != nil {
		return nil, err
	}
	step.SetSessionCookie = cookie
	step.SessionCookieMaxAge = int64(s.deps.SessionLifetime / time.Second)
	return step, nil
}

// displayName is what pages call user u: the display name, else the login name.
func displayName(u *registryv1.User) string {
	if n := u.GetDisplayName(); n != "" {
		return n
	}
	return u.GetLoginName()
}

// Consent records the decision of a consent page. The browser must still hold the session the page was shown
// for. Denial answers access_denied to the client (RFC 6749 §4.1.2.1); "remember" is stored only for clients
// with allowRememberConsent.
func (s *Server) Consent(ctx context.Context, req *tokenv1.ConsentRequest) (*tokenv1.ConsentResponse, error) {
	in, cl, err := s.loadInteraction(ctx, req.GetInteractionId())
	if err != nil {
		return nil, err
	}
	sess, err := s.currentSession(ctx, req.GetBrowser().GetSessionCookie(), cl.TenantID)
	if err != nil {
		return nil, err
	}
	if sess == nil || in.UserID == "" || !bytes.Equal(sess.ID, in.SessionID) {
		return nil, errInteractionGone
	}
	if !req.GetAllow() {
		if in.Purpose == token.PurposeDevice {
			step, err := s.denyDevice(ctx, cl, in, sess)
			if err != nil {
				return nil, err
			}
			return &tokenv1.ConsentResponse{Step: step}, nil
		}
		if err := s.st.DeleteInteraction(ctx, in.ID); err != nil {
			return nil, err
		}
		s.audit("consent", "denied", cl, sess.UserID, "", req.GetBrowser())
		return &tokenv1.ConsentResponse{Step: s.respond(in.RedirectURI, in.ResponseMode, errorParams(apierror.AccessDenied, "the user denied the request", in.State, s.issuer))}, nil
	}
	if req.GetRemember() && cl.AllowRememberConsent {
		if err := s.st.PutConsent(ctx, token.Consent{
			TenantID: cl.TenantID, UserID: sess.UserID, ClientID: cl.ID, Scopes: in.Scopes, Expiry: s.now().Add(ConsentLifetime),
			Incarnation: sess.Incarnation,
		}); err != nil {
			return nil, err
		}
	}
	s.audit("consent", "granted", cl, sess.UserID, "", req.GetBrowser())
	step, err := s.finish(ctx, cl, in, sess)
	if err != nil {
		return nil, err
	}
	return &tokenv1.ConsentResponse{Step: step}, nil
}

// Reasons a password check fails.
var (
	errUserCredentials = errors.New("invalid user name or password")
	errUserDisabled    = errors.New("the user is disabled")
)

// authenticateUser asks the registry to check a password. It returns errUserCredentials (unknown user or
// wrong password, indistinguishable), errUserDisabled (with the user), or the registry's error.
func (s *Server) authenticateUser(ctx context.Context, tenantID, login, password string) (*registryv1.User, error) {
	resp, err := s.reg.AuthenticateUser(ctx, &registryv1.AuthenticateUserRequest{TenantId: tenantID, Login: login, Password: password})
	switch status.Code(err) {
	case codes.OK:
		return resp.GetUser(), nil
	case codes.Unauthenticated, codes.InvalidArgument, codes.NotFound:
		return nil, errUserCredentials
	case codes.PermissionDenied:
		return nil, errUserDisabled
	case codes.Unavailable, codes.ResourceExhausted, codes.DeadlineExceeded:
		// The registry sheds password checks beyond its bound with a retry hint (registry.VerifyPasswordContext);
		// pass it on (503 with Retry-After).
		return nil, &apierror.OAuthError{Code: apierror.TemporarilyUnavailable, Description: "the user directory is busy or unavailable; try again",
			RetryAfter: max(apistatus.FromStatus(err).RetryAfter, time.Second)}
	}
	s.log.Error("registry AuthenticateUser", "err", err)
	return nil, errors.New("user directory error")
}

// audit writes one audit record of a sign-in event. It never contains a password, code or token. loginName
// must be the login name of the account userID (never what was typed: that may be a password).
//
// The audit log keeps it as sign_in (outcome success) or sign_in_failed (outcome failure, the reason being
// the log line's outcome: bad_credentials, disabled, throttled…) for a login or password grant, and as
// consent_granted or consent_denied; the user is named only when the login named an existing account.
func (s *Server) audit(event, outcome string, cl *clients.Client, userID, loginName string, b *tokenv1.Browser) {
	e := audit.Event{TenantID: cl.TenantID, Actor: audit.Actor{ClientID: cl.ID, UserID: userID},
		Target: audit.Target{Kind: "user", ID: userID}, Outcome: audit.OutcomeSuccess, RemoteAddr: clip(b.GetRemoteAddr()),
		Line: audit.Line{Event: event, Outcome: outcome, Attrs: []slog.Attr{slog.String("user_agent", clip(b.GetUserAgent()))}}}
	if loginName != "" {
		e.Line.Attrs = append(e.Line.Attrs, slog.String("login_name", clip(loginName)))
	}
	switch {
	case event == "consent" && outcome == "granted":
		e.Event = "consent_granted"
	case event == "consent":
		e.Event, e.Outcome = "consent_denied", audit.OutcomeDenied
	case outcome == "success":
		e.Event = "sign_in"
	default:
		e.Event, e.Outcome, e.Reason = "sign_in_failed", audit.OutcomeFailure, outcome
	}
	if e.Target.ID == "" {
		e.Target = audit.Target{}
	}
	s.deps.Audit.Record(context.Background(), e)
}
