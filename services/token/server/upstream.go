package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/internal/audit"
	"github.com/authsuite/authsuite/services/token"
	"github.com/authsuite/authsuite/services/token/clients"
)

// Upstream identity providers (brokering): authsuite is the relying party of a tenant's upstream OpenID
// Connect provider, with the authorization code flow (OIDC Core §3.1), PKCE S256 (RFC 7636), a nonce
// (OIDC Core §3.1.2.1) and the authorization server issuer identification of RFC 9207.
//
//   - StartUpstream stores the login page's interaction under a fresh state (256 random bits; only its
//     SHA-256 is the store key, and the interaction id never leaves authsuite), with the nonce, the PKCE
//     verifier sealed under the suite keyring and the SHA-256 of a browser-binding value that the gateway
//     sets as a short-lived cookie, then sends the browser to the provider.
//   - UpstreamCallback accepts a state only together with its binding cookie (RFC 9700 §4.7: a callback
//     planted in another browser is refused), exactly once (the state is used up atomically before the
//     code is redeemed), redeems the code with client_secret_basic and the verifier, verifies the ID token
//     (signature, issuer, audience, expiry, nonce, azp, at_hash), maps its claims and asks the registry to
//     link the upstream subject to a user (LinkFederatedIdentity: existing link, verified e-mail, or a user
//     created just in time, as the provider's settings allow), then starts the SSO session with amr ["fed"]
//     and the one-factor acr, and goes on with consent or the code like a password sign-in.

const (
	// upstreamLifetime bounds an upstream round trip: the stored interaction (and the binding cookie)
	// expire after it.
	upstreamLifetime = 10 * time.Minute
	// upstreamCallbackPath is the redirect URI path registered at providers.
	upstreamCallbackPath = "/connect/upstream/callback"
	// upstreamStateClient namespaces the used-state records (UseAssertionID): no client id contains '#'.
	upstreamStateClient = "#upstream-state"
	// upstreamClockSkew is the leeway between authsuite's and a provider's clocks when auth_time is checked.
	upstreamClockSkew = 2 * time.Minute
)

// Message keys of the login page after a failed upstream sign-in (LoginPage.error_code; the gateway's
// upstream catalogue) with their English text (LoginPage.error).
const (
	upstreamErrFailed      = "upstream.failed"
	upstreamErrUnavailable = "upstream.unavailable"
	upstreamErrDenied      = "upstream.denied"
	upstreamErrNoAccount   = "upstream.no_account"
	upstreamErrDisabled    = "login.disabled"
)

var upstreamMessages = map[string]string{
	upstreamErrFailed:      "Signing in with that provider did not work. Try again or sign in another way.",
	upstreamErrUnavailable: "That provider cannot be reached right now. Try again later or sign in another way.",
	upstreamErrDenied:      "The sign-in was cancelled at the provider.",
	upstreamErrNoAccount:   "There is no account for that identity here. Contact your administrator.",
	upstreamErrDisabled:    msgDisabled,
}

// errUpstreamState is answered for a callback whose state is unknown, expired, used, or not bound to this
// browser: the gateway shows it on its error page (never a redirect).
var errUpstreamState = apierror.FailedPrecondition("the sign-in with the provider has expired, was already completed or was started in another browser; start again from the application")

// upstreamVerifierAAD binds a sealed PKCE verifier to its purpose; the stored interaction's key is added.
var upstreamVerifierAAD = []byte("authsuite upstream pkce verifier v1")

// StartUpstream sends the browser of a login page to an upstream provider (OIDC Core §3.1.2.1).
func (s *Server) StartUpstream(ctx context.Context, req *tokenv1.StartUpstreamRequest) (*tokenv1.StartUpstreamResponse, error) {
	in, cl, err := s.loadInteraction(ctx, req.GetInteractionId())
	if err != nil {
		return nil, err
	}
	if in.UserID != "" || in.Logout {
		return nil, errInteractionGone
	}
	pid := req.GetProviderId()
	if pid == "" || len(pid) > 64 {
		return nil, apierror.Invalid("provider_id", "name one of the login page's providers")
	}
	st, err := s.settings.get(ctx, in.TenantID)
	if err != nil {
		return nil, upstreamRegistryError(err)
	}
	p := findUpstream(st, pid)
	if p == nil {
		return nil, apierror.Invalid("provider_id", "the tenant has no enabled provider %q", clip(pid))
	}
	op, err := s.upstreams.get(ctx, s.httpClient, s.now(), in.TenantID, p)
	if err != nil {
		s.log.Warn("upstream provider discovery failed", slog.String("tenant_id", in.TenantID),
			slog.String("provider_id", pid), slog.String("error", err.Error()))
		step, err := s.upstreamLoginAgain(ctx, cl, in, upstreamErrUnavailable)
		if err != nil {
			return nil, err
		}
		return &tokenv1.StartUpstreamResponse{Step: step}, nil
	}

	if err := s.upstreamStarts.allow(req.GetBrowser().GetRemoteAddr(), s.now()); err != nil {
		return nil, err
	}
	state, binding, nonce := newSecret(), newSecret(), newSecret()
	verifier := oauth2.GenerateVerifier()
	up := *in
	up.SignInState = in.SignInState.Clone()
	up.ID = digest(state)
	up.Expiry = s.now().Add(upstreamLifetime)
	up.PendingUserID, up.PendingIncarnation, up.PendingAMR = "", "", nil
	up.WebAuthnSession, up.Enrollment = nil, ""
	up.UpstreamProvider = p.GetProviderId()
	up.UpstreamNonce = nonce
	up.UpstreamVerifier = s.kr.Seal([]byte(verifier), verifierAAD(up.ID))
	b := sha256.Sum256([]byte(binding))
	up.UpstreamBinding = b[:]
	if err := s.st.PutInteraction(ctx, up); err != nil {
		return nil, err
	}

	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce)}
	// OIDC Core §3.1.2.1: what the client asked of authsuite's login is asked of the provider too.
	if pr := upstreamPrompt(in.Prompt); pr != "" {
		opts = append(opts, oauth2.SetAuthURLParam("prompt", pr))
	}
	if in.LoginHint != "" {
		opts = append(opts, oauth2.SetAuthURLParam("login_hint", in.LoginHint))
	}
	if len(in.UILocales) > 0 {
		opts = append(opts, oauth2.SetAuthURLParam("ui_locales", strings.Join(in.UILocales, " ")))
	}
	if in.MaxAge >= 0 {
		opts = append(opts, oauth2.SetAuthURLParam("max_age", strconv.FormatInt(in.MaxAge, 10)))
	}
	to := s.upstreamConfig(op, p).AuthCodeURL(state, opts...)
	return &tokenv1.StartUpstreamResponse{Step: s.redirectStep(to), BindingCookie: binding}, nil
}

// UpstreamCallback completes an upstream sign-in (OIDC Core §3.1.2.5 to §3.1.3.7).
func (s *Server) UpstreamCallback(ctx context.Context, req *tokenv1.UpstreamCallbackRequest) (*tokenv1.UpstreamCallbackResponse, error) {
	cb, err := parseUpstreamCallback(req.GetParameters())
	if err != nil {
		return nil, apierror.Invalid("parameters", "%s", err.Error())
	}
	in, cl, p, err := s.takeUpstreamInteraction(ctx, cb.State, req.GetBindingCookie())
	if err != nil {
		return nil, err
	}
	b := req.GetBrowser()
	fail := func(reason, key string) (*tokenv1.UpstreamCallbackResponse, error) {
		s.auditUpstream(reason, cl, in.UpstreamProvider, "", "", b)
		step, err := s.upstreamLoginAgain(ctx, cl, in, key)
		if err != nil {
			return nil, err
		}
		return &tokenv1.UpstreamCallbackResponse{Step: step}, nil
	}
	if p == nil {
		return fail("upstream_disabled", upstreamErrUnavailable)
	}
	op, err := s.upstreams.get(ctx, s.httpClient, s.now(), in.TenantID, p)
	if err != nil {
		s.log.Warn("upstream provider discovery failed", slog.String("tenant_id", in.TenantID),
			slog.String("provider_id", p.GetProviderId()), slog.String("error", err.Error()))
		return fail("upstream_unavailable", upstreamErrUnavailable)
	}
	// RFC 9207 §2.4: an iss that is not the provider's issuer is a mix-up attack; a provider that announces
	// the parameter must send it.
	if cb.Issuer != "" && cb.Issuer != p.GetIssuer() || cb.Issuer == "" && op.issParameter {
		return fail("upstream_issuer_mismatch", upstreamErrFailed)
	}
	if cb.Error != "" {
		s.log.Info("upstream provider answered an error", slog.String("provider_id", p.GetProviderId()),
			slog.String("error", cb.Error), slog.String("error_description", clip(cb.ErrorDescription)))
		if cb.Error == apierror.AccessDenied {
			s.auditUpstream("upstream_access_denied", cl, p.GetProviderId(), "", "", b)
			// RFC 6749 §4.1.2.1: the person refused at the provider; the client learns it the same way.
			if in.Purpose == token.PurposeAuthorize && in.RedirectURI != "" {
				return &tokenv1.UpstreamCallbackResponse{Step: s.respond(in.RedirectURI, in.ResponseMode,
					errorParams(apierror.AccessDenied, "the user cancelled the sign-in at the upstream provider", in.State, s.issuer))}, nil
			}
			step, err := s.upstreamLoginAgain(ctx, cl, in, upstreamErrDenied)
			if err != nil {
				return nil, err
			}
			return &tokenv1.UpstreamCallbackResponse{Step: step}, nil
		}
		return fail("upstream_error", upstreamErrFailed)
	}

	id, err := s.redeemUpstream(ctx, op, p, in, cb.Code)
	if err != nil {
		s.log.Warn("upstream sign-in refused", slog.String("tenant_id", in.TenantID),
			slog.String("provider_id", p.GetProviderId()), slog.String("error", err.Error()))
		return fail("upstream_invalid", upstreamErrFailed)
	}
	link, err := s.factors.LinkFederatedIdentity(ctx, &registryv1.LinkFederatedIdentityRequest{
		TenantId: in.TenantID, ProviderId: p.GetProviderId(), Subject: id.Subject, Email: id.Email,
		EmailVerified: id.EmailVerified, LoginName: id.LoginName, DisplayName: id.DisplayName,
	})
	switch status.Code(err) {
	case codes.OK:
	case codes.PermissionDenied:
		return fail("disabled", upstreamErrDisabled)
	case codes.NotFound:
		return fail("upstream_no_account", upstreamErrNoAccount)
	default:
		return nil, upstreamRegistryError(err)
	}
	u := link.GetUser()
	inc, err := s.incarnationOf(ctx, in.TenantID, u.GetUserId())
	switch {
	case errors.Is(err, errUserDisabled):
		return fail("disabled", upstreamErrDisabled)
	case errors.Is(err, errUserCredentials):
		return fail("upstream_no_account", upstreamErrNoAccount)
	case err != nil:
		return nil, err
	}
	if link.GetCreated() || link.GetLinked() {
		s.deps.Audit.Record(context.WithoutCancel(ctx), audit.Event{Event: "federated_identity_linked", TenantID: in.TenantID,
			Outcome: audit.OutcomeSuccess, Actor: audit.Actor{ClientID: cl.ID, UserID: u.GetUserId()},
			Target: audit.Target{Kind: "user", ID: u.GetUserId()}, RemoteAddr: clip(b.GetRemoteAddr()),
			Line: audit.Line{Attrs: []slog.Attr{slog.String("provider_id", clip(p.GetProviderId())), slog.Bool("created", link.GetCreated())}}})
	}
	step, err := s.upstreamSignedIn(ctx, cl, in, u, inc, b)
	switch {
	case errors.Is(err, errUserDisabled) || errors.Is(err, errUserCredentials):
		return fail("disabled", upstreamErrDisabled)
	case err != nil:
		return nil, err
	}
	s.auditUpstream("success", cl, p.GetProviderId(), u.GetUserId(), u.GetLoginName(), b)
	return &tokenv1.UpstreamCallbackResponse{Step: step}, nil
}

// takeUpstreamInteraction returns the interaction StartUpstream stored under state, its client and its
// provider as the tenant's settings now describe it (nil when removed or disabled since), and uses the
// state up: a second callback with it, even a concurrent one, gets errUpstreamState. The binding cookie
// must match (compared in constant time) before anything is used up, so a callback replayed in another
// browser changes nothing.
func (s *Server) takeUpstreamInteraction(ctx context.Context, state, binding string) (*token.Interaction, *clients.Client, *registryv1.UpstreamProvider, error) {
	id := digest(state)
	in, err := s.st.Interaction(ctx, id)
	switch {
	case errors.Is(err, token.ErrNotFound):
		return nil, nil, nil, errUpstreamState
	case err != nil:
		return nil, nil, nil, err
	case !s.now().Before(in.Expiry) || in.Logout || in.UpstreamProvider == "" || len(in.UpstreamBinding) != sha256.Size:
		return nil, nil, nil, errUpstreamState
	}
	got := sha256.Sum256([]byte(binding))
	if binding == "" || subtle.ConstantTimeCompare(got[:], in.UpstreamBinding) != 1 {
		return nil, nil, nil, errUpstreamState
	}
	fresh, err := s.st.UseAssertionID(ctx, upstreamStateClient, string(encodeHex(id)), in.Expiry)
	if err != nil {
		return nil, nil, nil, err
	}
	if !fresh {
		return nil, nil, nil, errUpstreamState
	}
	if err := s.st.DeleteInteraction(ctx, id); err != nil {
		return nil, nil, nil, err
	}
	cl, ok := s.interactionClient(&in)
	if !ok {
		return nil, nil, nil, errInteractionGone
	}
	st, err := s.settings.get(ctx, in.TenantID)
	if err != nil {
		return nil, nil, nil, upstreamRegistryError(err)
	}
	return &in, cl, findUpstream(st, in.UpstreamProvider), nil
}

// redeemUpstream redeems code at the provider's token endpoint (RFC 6749 §4.1.3, client_secret_basic,
// RFC 7636 §4.5 code_verifier) and validates the ID token (OIDC Core §3.1.3.7): signature with the
// provider's keys, iss, aud containing client_id, azp when present (required with several audiences), exp,
// nonce, at_hash when present. Missing user claims are completed from the userinfo endpoint (OIDC Core
// §5.3) when its sub is the ID token's (§5.3.2).
func (s *Server) redeemUpstream(ctx context.Context, op *upstreamOP, p *registryv1.UpstreamProvider, in *token.Interaction, code string) (upstreamIdentity, error) {
	verifier, err := s.kr.Open(in.UpstreamVerifier, verifierAAD(in.ID))
	if err != nil {
		return upstreamIdentity{}, errors.New("the PKCE verifier does not open")
	}
	ctx, cancel := context.WithTimeout(ctx, upstreamCallTimeout)
	defer cancel()
	ctx = oidc.ClientContext(ctx, s.httpClient)
	cfg := s.upstreamConfig(op, p)
	tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(string(verifier)))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			return upstreamIdentity{}, errors.New("token endpoint: " + clip(re.ErrorCode) + " " + clip(re.ErrorDescription))
		}
		return upstreamIdentity{}, errors.New("token endpoint: " + err.Error())
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return upstreamIdentity{}, errors.New("the token response has no id_token")
	}
	idt, err := op.Verifier(&oidc.Config{ClientID: p.GetClientId(), Now: s.now}).Verify(ctx, raw)
	if err != nil {
		return upstreamIdentity{}, err
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(in.UpstreamNonce)) != 1 {
		return upstreamIdentity{}, errors.New("the ID token's nonce is not the one sent")
	}
	if idt.AccessTokenHash != "" {
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			return upstreamIdentity{}, err
		}
	}
	claims := map[string]any{}
	if err := idt.Claims(&claims); err != nil {
		return upstreamIdentity{}, err
	}
	azp, _ := claims["azp"].(string)
	if _, present := claims["azp"]; present && azp != p.GetClientId() || len(idt.Audience) > 1 && azp == "" {
		return upstreamIdentity{}, errors.New("the ID token's azp is not our client_id")
	}
	// OIDC Core §3.1.3.7 item 13: with max_age sent, auth_time must be present and recent enough (with
	// upstreamClockSkew for the two clocks), else the person did not authenticate as the client asked.
	if in.MaxAge >= 0 {
		at, ok := claims["auth_time"].(float64)
		if !ok || s.now().Sub(time.Unix(int64(at), 0)) > time.Duration(in.MaxAge)*time.Second+upstreamClockSkew {
			return upstreamIdentity{}, errors.New("the ID token's auth_time is missing or older than max_age")
		}
	}
	if !validUpstreamSubject(idt.Subject) {
		return upstreamIdentity{}, errors.New("the ID token's sub is empty, too long or not printable ASCII")
	}
	id := mapUpstreamClaims(p, idt.Subject, claims)
	if (id.Email == "" || id.LoginName == "" || id.DisplayName == "") && op.UserInfoEndpoint() != "" && tok.AccessToken != "" {
		if ui, err := op.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err != nil {
			s.log.Warn("upstream userinfo failed", slog.String("provider_id", p.GetProviderId()), slog.String("error", err.Error()))
		} else if ui.Subject == idt.Subject {
			more := map[string]any{}
			if err := ui.Claims(&more); err == nil {
				for k, v := range claims {
					more[k] = v // the signed ID token's claims win
				}
				id = mapUpstreamClaims(p, idt.Subject, more)
			}
		}
	}
	return id, nil
}

// upstreamConfig is the OAuth 2.0 client of p: client_secret_basic (RFC 6749 §2.3.1), the scopes openid
// plus p's (default email and profile), and authsuite's callback as redirect_uri.
func (s *Server) upstreamConfig(op *upstreamOP, p *registryv1.UpstreamProvider) *oauth2.Config {
	ep := op.Endpoint()
	ep.AuthStyle = oauth2.AuthStyleInHeader
	scopes := []string{oidc.ScopeOpenID}
	extra := p.GetScopes()
	if len(extra) == 0 {
		extra = []string{"email", "profile"}
	}
	for _, sc := range extra {
		if sc != "" && !slices.Contains(scopes, sc) {
			scopes = append(scopes, sc)
		}
	}
	return &oauth2.Config{ClientID: p.GetClientId(), ClientSecret: p.GetClientSecret(), Endpoint: ep,
		RedirectURL: s.issuer + upstreamCallbackPath, Scopes: scopes}
}

// upstreamSignedIn continues the sign-in of user u (incarnation inc) whom an upstream provider signed in.
// authsuite's second factors are skipped (the provider authenticated the person) unless the tenant's policy
// requires one of u (MfaPolicy ALL, or ROLES and a role of u's) or the request's acr_values ask for the
// two-factor class: then, exactly as after a password (afterPassword), the interaction is stored with u
// pending and amr ["fed"] so far, and the second-factor page (or the TOTP enrolment the policy demands)
// follows; no session exists until it is verified, and the session then says ["fed", <factor>, "mfa"].
// Otherwise the session starts now (startSession: it replaces the browser's previous one) with amr ["fed"]
// and the one-factor acr, and next goes on with consent or the code.
//
// amr "fed": RFC 8176 §2 registers no value for a federated sign-in; "fed" is what IdentityServer (Duende)
// records for external logins, and amr values outside the registry are allowed (OIDC Core §2: an array of
// case-sensitive strings).
func (s *Server) upstreamSignedIn(ctx context.Context, cl *clients.Client, in *token.Interaction, u *registryv1.User, inc string, b *tokenv1.Browser) (*tokenv1.Step, error) {
	// The interaction continues unstored: it is stored again under a new id if a consent or second-factor
	// page follows, so the state that travelled through the provider names nothing any more.
	in.ID = nil
	in.SignInState.UpstreamProvider, in.UpstreamNonce, in.UpstreamVerifier, in.UpstreamBinding = "", "", nil, nil
	clearPending(in)
	if s.factors != nil {
		st, err := s.settings.get(ctx, in.TenantID)
		if err != nil {
			return nil, err // fail closed: whether a second factor is needed is unknown
		}
		if policyRequiresMFA(st.GetMfaPolicy(), u.GetRoles()) || wantsMFA(in.ACRValues) {
			f, err := s.userFactors(ctx, in.TenantID, u.GetUserId())
			if err != nil {
				return nil, err
			}
			if f.GetUser().GetDisabled() || incarnationChanged(inc, f.GetIncarnation()) {
				return nil, errUserDisabled
			}
			if need := decideFactor(st.GetMfaPolicy(), f); need != needNothing {
				in.UserID, in.UserName, in.SessionID = "", "", nil
				in.PendingUserID, in.PendingIncarnation, in.PendingAMR = u.GetUserId(), inc, []string{amrFederated}
				if need == needEnroll {
					if err := s.beginEnrollment(ctx, in, st); err != nil {
						return nil, err
					}
				}
				return s.secondFactorStep(ctx, cl, in, "", f, "")
			}
		}
	}
	return s.startSession(ctx, cl, in, "", b, u.GetUserId(), displayName(u), inc, authnOf(amrFederated))
}

// upstreamLoginAgain answers the login page of in again (a new sealed interaction) with the message key.
func (s *Server) upstreamLoginAgain(ctx context.Context, cl *clients.Client, in *token.Interaction, key string) (*tokenv1.Step, error) {
	again := *in
	again.ID = nil
	again.UserID, again.UserName, again.SessionID = "", "", nil
	again.SignInState = token.SignInState{Purpose: in.Purpose, DeviceCodeID: in.DeviceCodeID, UILocales: in.UILocales, ACRValues: in.ACRValues}
	// prompt=none never reaches a login page; without it next cannot answer login_required here.
	again.Prompt = slices.DeleteFunc(slices.Clone(in.Prompt), func(p string) bool { return p == "none" })
	step, err := s.next(ctx, cl, &again, "", nil, false)
	if err != nil {
		return nil, err
	}
	if lp := step.GetLogin(); lp != nil {
		lp.ErrorCode, lp.Error = key, upstreamMessages[key]
	}
	return step, nil
}

// findUpstream returns the usable provider id of st, or nil.
func findUpstream(st *registryv1.SignInSettings, id string) *registryv1.UpstreamProvider {
	for _, p := range st.GetUpstreamProviders() {
		if p.GetProviderId() == id && upstreamUsable(p) {
			return p
		}
	}
	return nil
}

// upstreamPrompt is the prompt passed on to the provider: login, consent and select_account of the
// client's request (none never gets here: it shows no login page).
func upstreamPrompt(prompt []string) string {
	var out []string
	for _, p := range prompt {
		if p == "login" || p == "consent" || p == "select_account" {
			out = append(out, p)
		}
	}
	return strings.Join(out, " ")
}

func verifierAAD(id []byte) []byte {
	return append(bytes.Clone(upstreamVerifierAAD), id...)
}

func encodeHex(b []byte) []byte {
	const digits = "0123456789abcdef"
	out := make([]byte, 2*len(b))
	for i, c := range b {
		out[2*i], out[2*i+1] = digits[c>>4], digits[c&15]
	}
	return out
}

// upstreamRegistryError turns a registry failure of an upstream sign-in into the caller's error.
func upstreamRegistryError(err error) error {
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted:
		return apierror.OAuth(apierror.TemporarilyUnavailable, "the user directory is unavailable; try again")
	case codes.NotFound:
		return errInteractionGone
	}
	return err
}

// auditUpstream records an upstream sign-in: sign_in (outcome "success") or sign_in_failed with the reason,
// with method upstream and the provider's id on the log line. Never a code, token or claim value other
// than the account's login name.
func (s *Server) auditUpstream(outcome string, cl *clients.Client, providerID, userID, loginName string, b *tokenv1.Browser) {
	e := audit.Event{TenantID: cl.TenantID, Actor: audit.Actor{ClientID: cl.ID, UserID: userID},
		Target: audit.Target{Kind: "user", ID: userID}, Outcome: audit.OutcomeSuccess, RemoteAddr: clip(b.GetRemoteAddr()),
		Line: audit.Line{Event: "login", Outcome: outcome, Attrs: []slog.Attr{
			slog.String("method", "upstream"), slog.String("provider_id", clip(providerID)),
			slog.String("user_agent", clip(b.GetUserAgent()))}}}
	if loginName != "" {
		e.Line.Attrs = append(e.Line.Attrs, slog.String("login_name", clip(loginName)))
	}
	if outcome == "success" {
		e.Event = "sign_in"
	} else {
		e.Event, e.Outcome, e.Reason = "sign_in_failed", audit.OutcomeFailure, outcome
	}
	if userID == "" {
		e.Target = audit.Target{}
	}
	s.deps.Audit.Record(context.Background(), e)
}
