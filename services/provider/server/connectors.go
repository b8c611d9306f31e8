package server

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"regexp"
	"strings"
	"time"

	providerv1 "github.com/authsuite/authsuite/gen/authsuite/provider/v1"
	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/services/provider"
	"github.com/authsuite/authsuite/services/provider/oauth1"
)

type connectorService struct {
	providerv1.UnimplementedConnectorServiceServer
	s *Server
}

var subdomainRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// CreateConnector stores a pending connector for the caller and answers the URL where its owner's browser
// starts authorization: authsuite's own start step (StartAuthorization), never the provider's URL, so the
// grant can only be obtained in the owner's browser (RFC 6749 §10.12, RFC 9700 §4.7). A client's connector
// (owner client:<id>, which has no browser session) gets a single-use start token in that URL (256 bits,
// stored only as HashStartToken, expiring after StateTTL). Nothing is sent to the provider yet.
func (c *connectorService) CreateConnector(ctx context.Context, req *providerv1.CreateConnectorRequest) (*providerv1.CreateConnectorResponse, error) {
	s := c.s
	p, err := s.authenticate(ctx)
	if err != nil {
		return nil, err
	}
	entry, ok := s.catalog[req.GetConnectorType()]
	if !ok {
		if req.GetConnectorType() == "" {
			return nil, apierror.Invalid("connectorType", "is required")
		}
		return nil, apierror.Invalid("connectorType", "is not a known connector type")
	}
	if req.GetOauthProvider() == "" {
		return nil, apierror.Invalid("oauthProvider", "is required")
	}
	kind := provider.Kind(req.GetKind())
	switch kind {
	case "":
		kind = provider.KindSession
	case provider.KindSession, provider.KindNamed:
	default:
		return nil, apierror.Invalid("kind", `must be "session" or "named"`)
	}
	returnTo := req.GetReturnTo()
	if req.ReturnTo != nil {
		if _, err := s.returnTo.Check(returnTo); err != nil {
			return nil, apierror.Invalid("returnTo", "%s", err.Error())
		}
	}
	if req.Subdomain != nil && !subdomainRE.MatchString(req.GetSubdomain()) {
		return nil, apierror.Invalid("subdomain", "must be a DNS label (letters, digits, '-')")
	}
	if req.ResourceUrl != nil {
		if u, err := url.Parse(req.GetResourceUrl()); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
			return nil, apierror.Invalid("resourceUrl", "must be an absolute http or https URL")
		}
	}
	k := provider.ProviderKey{Type: req.GetConnectorType(), Name: req.GetOauthProvider()}
	prov, err := s.store.GetProvider(ctx, k)
	if err != nil {
		return nil, err
	}
	now := s.now()
	con := provider.Connector{ID: newID(), Provider: k, Kind: kind, TenantID: p.TenantID, Owner: p.Owner,
		Status: provider.StatusPending, ReturnTo: returnTo, Subdomain: req.GetSubdomain(),
		ResourceURL: req.GetResourceUrl(), CreateTime: now, UpdateTime: now}
	if con.ResourceURL == "" {
		con.ResourceURL = prov.Settings.ResourceURL
	}
	ep, err := entry.Resolve(prov, con)
	if err != nil {
		return nil, apierror.FailedPrecondition("%s", err.Error())
	}
	if _, err := url.Parse(ep.AuthURL); err != nil || (entry.OAuthVersion == "1.0a" && ep.RequestTokenURL == "") {
		return nil, apierror.FailedPrecondition("provider %s has an unusable authorization URL", k)
	}
	authURL := s.startURL + url.PathEscape(con.ID) + "/start"
	var st provider.AuthState
	if clientOwned(con) {
		tok := randomString(32)
		st = provider.AuthState{Hash: provider.HashStartToken(tok), ConnectorID: con.ID, Expiry: now.Add(StateTTL)}
		authURL += "?" + url.Values{"start_token": {tok}}.Encode()
	}
	if err := s.store.CreateConnector(ctx, con, st); err != nil {
		return nil, err
	}
	s.log.Info("connector created", "connector_id", con.ID, "connector_type", k.Type, "oauth_provider", k.Name, "tenant_id", p.TenantID, "owner", p.Owner)
	return &providerv1.CreateConnectorResponse{ConnectorId: con.ID, AuthorizationUrl: authURL, Status: string(provider.StatusPending)}, nil
}

// clientOwned reports whether a connector belongs to a client (owner client:<id>) rather than a user.
func clientOwned(c provider.Connector) bool { return strings.HasPrefix(c.Owner, "client:") }

// StartAuthorization is the start step of a connector's authorization (the authorizationUrl CreateConnector
// answered). It authenticates the browser as the connector's owner, which binds the grant to the owner
// (RFC 6749 §10.12, RFC 9700 §4.7): a user's connector needs that user's live SSO session in this browser
// (resolved by the token service); a client's connector needs its single-use start token, consumed here.
// It then builds the provider's authorization request — for OAuth 2.0 the authorization code flow (RFC 6749
// §4.1.1) with a single-use state (256 bits, expiring after StateTTL) and, where the catalog says the
// provider supports it, a PKCE S256 verifier (RFC 7636 §4.1-4.2); for OAuth 1.0a see startOAuth1 — and
// stores it under a hash of the correlating value and this browser's binding cookie, which the answer
// tells the gateway to set (HttpOnly, SameSite=Lax, Path=ReturnPath, Max-Age StateTTL, Secure and
// "__Secure-" prefixed under https). A binding cookie the browser already holds is reused, so one browser
// may run several flows at once. A user's connector can be started again while it is pending; every
// refusal changes nothing (a client's start token is used up once presented).
func (c *connectorService) StartAuthorization(ctx context.Context, req *providerv1.StartAuthorizationRequest) (*providerv1.StartAuthorizationResponse, error) {
	s := c.s
	id := req.GetConnectorId()
	if id == "" || len(id) > 128 {
		return nil, apierror.Invalid("connectorId", "is required, at most 128 characters")
	}
	con, err := s.store.GetConnector(ctx, id)
	if err != nil {
		return nil, err
	}
	if con.Status != provider.StatusPending {
		return nil, apierror.FailedPrecondition("connector %s is %s, not pending: create a new connector to authorize again", id, con.Status)
	}
	if con.Expired(s.now()) {
		return nil, apierror.FailedPrecondition("connector %s expired: its authorization was not completed within %s of its creation; create a new connector", id, provider.PendingTTL)
	}
	if err := s.checkStarter(ctx, con, req); err != nil {
		return nil, err
	}
	binding := s.binding(req.GetBindingCookie(), req.GetSecureBindingCookie())
	if binding == "" {
		binding = randomString(32)
	}
	prov, secret, ep, err := s.providerFor(ctx, con)
	if err != nil {
		return nil, err
	}
	now := s.now()
	var redirect string
	var st provider.AuthState
	if entry := s.catalog[con.Provider.Type]; entry.OAuthVersion == "1.0a" {
		redirect, st, err = s.startOAuth1(ctx, prov, secret, ep, con.ID, binding, now)
	} else {
		redirect, st, err = s.startOAuth2(entry, prov, ep, con.ID, binding, now)
	}
	if err != nil {
		return nil, err
	}
	// The authorization cannot outlive its pending connector.
	if end := con.CreateTime.Add(provider.PendingTTL); st.Expiry.After(end) {
		st.Expiry = end
	}
	if err := s.store.PutAuthState(ctx, st); err != nil {
		return nil, err
	}
	s.log.Info("connector authorization started", "connector_id", con.ID, "connector_type", con.Provider.Type, "oauth_provider", con.Provider.Name, "tenant_id", con.TenantID, "owner", con.Owner)
	name := BindingCookie
	if s.secure {
		name = SecureBindingCookie
	}
	return &providerv1.StartAuthorizationResponse{RedirectUrl: redirect, BindingCookie: &providerv1.BindingCookie{
		Name: name, Value: binding, Path: ReturnPath, MaxAge: int32(StateTTL / time.Second), Secure: s.secure,
	}}, nil
}

// checkStarter authenticates the browser at the start step as con's owner: the start token of a client's
// connector (used up here, whatever follows), or the SSO session of the owning user.
func (s *Server) checkStarter(ctx context.Context, con provider.Connector, req *providerv1.StartAuthorizationRequest) error {
	if clientOwned(con) {
		badToken := apierror.PermissionDenied("the start link is unknown, used or expired: create the connector again to get a new one")
		tok := req.GetStartToken()
		if tok == "" || len(tok) > 128 {
			return badToken
		}
		st, err := s.store.TakeAuthState(ctx, provider.HashStartToken(tok))
		if errors.Is(err, apierror.ErrNotFound) || (err == nil && (st.ConnectorID != con.ID || s.now().After(st.Expiry))) {
			return badToken
		}
		return err
	}
	user, ok, err := s.sessionUser(ctx, con.TenantID, req.GetSessionCookie())
	if err != nil {
		return err
	}
	if !ok {
		return apierror.Unauthenticated("sign in to authsuite in this browser as the connector's owner, then open this link again")
	}
	if user != con.Owner {
		return apierror.PermissionDenied("this connector belongs to another user: only its owner's browser can authorize it")
	}
	return nil
}

// sessionUser resolves a browser's SSO session of tenant to its user; ok is false without a live one.
func (s *Server) sessionUser(ctx context.Context, tenantID, cookie string) (string, bool, error) {
	if cookie == "" || s.sessions == nil {
		return "", false, nil
	}
	return s.sessions.ResolveSession(ctx, tenantID, cookie)
}

// Binding cookie names: the "__Secure-" prefix (RFC 6265bis §4.1.3.1) under an https public URL, so only a
// secure origin can set it. "__Host-" is not possible: the cookie is scoped to ReturnPath.
const (
	BindingCookie       = "authsuite_connector"
	SecureBindingCookie = "__Secure-" + BindingCookie
)

// binding picks the browser's binding cookie for this server's scheme and returns it when it is one this
// server could have issued (43 base64url characters, 256 bits), else "".
func (s *Server) binding(plain, secure string) string {
	v := plain
	if s.secure {
		v = secure
	}
	if len(v) != 43 {
		return ""
	}
	for _, r := range v {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '_') {
			return ""
		}
	}
	return v
}

// startOAuth2 builds the authorization request (RFC 6749 §4.1.1) and the pending authorization to store,
// bound to the browser holding the binding cookie value binding.
func (s *Server) startOAuth2(entry provider.Entry, prov provider.Provider, ep provider.Endpoints, connectorID, binding string, now time.Time) (string, provider.AuthState, error) {
	k := prov.ProviderKey
	state := randomString(32)
	st := provider.AuthState{Hash: provider.HashState(state, binding), ConnectorID: connectorID, Expiry: now.Add(StateTTL)}
	q := url.Values{}
	if entry.PKCE {
		verifier := randomString(32) // 43 characters, RFC 7636 §4.1
		sum := sha256.Sum256([]byte(verifier))
		q.Set("code_challenge", base64.RawURLEncoding.EncodeToString(sum[:]))
		q.Set("code_challenge_method", "S256")
		st.SealedVerifier = s.keys.Seal([]byte(verifier), provider.VerifierAD(st.Hash))
	}
	authURL, err := url.Parse(ep.AuthURL)
	if err != nil {
		return "", st, apierror.FailedPrecondition("provider %s has an unusable authorization URL", k)
	}
	for name, vals := range authURL.Query() {
		if q.Get(name) == "" {
			q[name] = vals
		}
	}
	for name := range ep.AuthParams {
		q.Set(name, ep.AuthParams.Get(name))
	}
	q.Set("response_type", "code")
	q.Set("client_id", prov.Settings.ClientID)
	q.Set("redirect_uri", s.redirectURI)
	q.Set("state", state)
	if len(ep.Scopes) > 0 {
		q.Set("scope", strings.Join(ep.Scopes, entry.ScopeSeparator))
	}
	authURL.RawQuery = q.Encode()
	return authURL.String(), st, nil
}

// startOAuth1 obtains temporary credentials (RFC 5849 §2.1: a POST signed with the client credentials and
// an empty token secret, oauth_callback set to the return URL) and builds the resource owner authorization
// URL (§2.2: oauth_token plus the catalog's parameters and scopes). OAuth 1.0a has no state: the return is
// correlated by the temporary oauth_token, stored only as HashTemporaryToken, single-use and expiring after
// StateTTL like a state, and bound like a state to the browser holding binding; the temporary shared
// secret is stored only sealed. A provider that does not confirm the callback (oauth_callback_confirmed=true,
// §2.1) is refused, since it speaks OAuth 1.0 without the "a" revision's verifier.
func (s *Server) startOAuth1(ctx context.Context, prov provider.Provider, secret string, ep provider.Endpoints, connectorID, binding string, now time.Time) (string, provider.AuthState, error) {
	k := prov.ProviderKey
	authURL, err := url.Parse(ep.AuthURL)
	if err != nil || ep.RequestTokenURL == "" {
		return "", provider.AuthState{}, apierror.FailedPrecondition("provider %s has an unusable authorization URL", k)
	}
	tc, err := s.oauth1Request(ctx, ep.RequestTokenURL, prov.Settings.ClientID, secret, "", "",
		oauth1.Param{Name: "oauth_callback", Value: s.redirectURI})
	if err != nil {
		return "", provider.AuthState{}, outboundError("temporary credential request failed", err)
	}
	token := tc.Get("oauth_token")
	if tc.Get("oauth_callback_confirmed") != "true" || len(token) > maxOAuthToken {
		return "", provider.AuthState{}, outboundError("temporary credential request failed",
			&providerError{Code: "invalid_response", Description: "the provider did not confirm the callback (OAuth 1.0a, RFC 5849 §2.1)"})
	}
	hash := provider.HashTemporaryToken(token, binding)
	st := provider.AuthState{Hash: hash, ConnectorID: connectorID, Expiry: now.Add(StateTTL),
		SealedVerifier: s.keys.Seal([]byte(tc.Get("oauth_token_secret")), provider.TemporarySecretAD(hash))}
	q := authURL.Query()
	for name := range ep.AuthParams {
		q.Set(name, ep.AuthParams.Get(name))
	}
	if len(ep.Scopes) > 0 {
		q.Set("scope", strings.Join(ep.Scopes, s.catalog[k.Type].ScopeSeparator))
	}
	q.Set("oauth_token", token)
	authURL.RawQuery = q.Encode()
	return authURL.String(), st, nil
}

// maxOAuthToken bounds an OAuth 1.0a token identifier accepted from a provider or a browser.
const maxOAuthToken = 512

// CompleteAuthorization finishes the flow at the return URL (RFC 6749 §4.1.2). The state counts only
// together with the binding cookie of the browser that started the flow (RFC 6749 §10.12, RFC 9700 §4.7):
// the pending authorization is keyed by both, so a return in any other browser finds nothing and changes
// nothing. It consumes the state (once; unknown, expired and replayed states change nothing else), refuses
// a browser signed in to authsuite as a user other than the owner of a user's connector (storing nothing),
// exchanges the code at the token endpoint (§4.1.3, with the PKCE verifier), validates the token at
// VALIDATE_URL when configured, and stores the grant sealed. A provider's refusal (§4.1.2.1) or a failed
// exchange marks the connector failed. A return with oauth_token and no state is an OAuth 1.0a return (see
// completeOAuth1).
func (c *connectorService) CompleteAuthorization(ctx context.Context, req *providerv1.CompleteAuthorizationRequest) (*providerv1.CompleteAuthorizationResponse, error) {
	s := c.s
	if req.GetState() == "" && req.GetOauthToken() != "" {
		return s.completeOAuth1(ctx, req)
	}
	if req.GetState() == "" || len(req.GetState()) > 512 {
		return nil, apierror.Invalid("state", "is missing; start the authorization again")
	}
	badState := apierror.Invalid("state", "is unknown, expired or already used, or this browser did not start the authorization; start it again from the link, in the owner's browser")
	binding := s.binding(req.GetBindingCookie(), req.GetSecureBindingCookie())
	if binding == "" {
		return nil, badState
	}
	st, err := s.store.TakeAuthState(ctx, provider.HashState(req.GetState(), binding))
	if errors.Is(err, apierror.ErrNotFound) {
		return nil, badState
	}
	if err != nil {
		return nil, err
	}
	con, err := s.store.GetConnector(ctx, st.ConnectorID)
	if errors.Is(err, apierror.ErrNotFound) || (err == nil && (con.Status != provider.StatusPending || s.catalog[con.Provider.Type].OAuthVersion != "2.0")) {
		return nil, badState
	}
	if err != nil {
		return nil, err
	}
	if err := s.checkReturner(ctx, con, req.GetSessionCookie()); err != nil {
		return nil, err
	}
	if s.now().After(st.Expiry) || con.Expired(s.now()) {
		s.fail(ctx, con.ID, "authorization expired before the provider redirected back")
		return nil, badState
	}
	if req.GetError() != "" {
		reason := "the provider refused authorization: " + safeText(req.GetError(), 64)
		s.fail(ctx, con.ID, reason)
		return nil, apierror.FailedPrecondition("%s", reason)
	}
	if req.GetCode() == "" || len(req.GetCode()) > 4096 {
		s.fail(ctx, con.ID, "the provider sent no authorization code")
		return nil, apierror.Invalid("code", "is missing")
	}
	entry := s.catalog[con.Provider.Type]
	prov, secret, ep, err := s.providerFor(ctx, con)
	if err != nil {
		s.fail(ctx, con.ID, "the provider configuration is no longer usable")
		return nil, err
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {req.GetCode()}, "redirect_uri": {s.redirectURI}}
	if st.SealedVerifier != nil {
		v, err := s.keys.Open(st.SealedVerifier, provider.VerifierAD(st.Hash))
		if err != nil {
			return nil, err
		}
		form.Set("code_verifier", string(v))
	}
	g, err := s.tokenRequest(ctx, entry, ep.TokenURL, prov.Settings.ClientID, secret, form)
	if err != nil {
		s.fail(ctx, con.ID, "code exchange failed")
		return nil, outboundError("code exchange failed", err)
	}
	if ep.ValidateURL != "" {
		if err := s.validate(ctx, ep.ValidateURL, prov.Settings.ValidateHeaders, g); err != nil {
			s.fail(ctx, con.ID, err.Error())
			return nil, apierror.FailedPrecondition("token validation failed: %s", err.Error())
		}
	}
	if g.Scope == "" {
		g.Scope = strings.Join(ep.Scopes, " ")
	}
	return s.activate(ctx, con.ID, g, badState)
}

// checkReturner refuses a return in a browser signed in to authsuite as another user than the owner of a
// user's connector (the binding cookie says it is the browser that started the flow, but the account in it
// changed since). Nothing is stored; the owner can start again.
func (s *Server) checkReturner(ctx context.Context, con provider.Connector, cookie string) error {
	if clientOwned(con) {
		return nil
	}
	user, ok, err := s.sessionUser(ctx, con.TenantID, cookie)
	if err != nil {
		return err
	}
	if ok && user != con.Owner {
		s.log.Info("connector return refused: another user's browser", "connector_id", con.ID)
		return apierror.PermissionDenied("this browser is signed in as another user than the connector's owner; nothing was stored")
	}
	return nil
}

// activate stores g sealed as the grant of the pending connector id and marks it active; it fails with
// notPending when the connector is no longer pending (it completed or failed meanwhile).
func (s *Server) activate(ctx context.Context, id string, g provider.Grant, notPending error) (*providerv1.CompleteAuthorizationResponse, error) {
	sealed, err := s.sealGrant(id, g)
	if err != nil {
		return nil, err
	}
	gen := s.cache.generation()
	con, err := s.store.UpdateConnector(ctx, id, func(c provider.Connector) (provider.Connector, error) {
		if c.Status != provider.StatusPending {
			return c, notPending
		}
		c.Status, c.SealedGrant, c.Scopes, c.Failure, c.UpdateTime = provider.StatusActive, sealed, scopeList(g.Scope), "", s.now()
		return c, nil
	})
	if err != nil {
		return nil, err
	}
	s.cache.put(con.ID, gen, g)
	s.log.Info("connector authorized", "connector_id", con.ID, "connector_type", con.Provider.Type, "oauth_provider", con.Provider.Name)
	// The stored returnTo is checked again at the redirect (it may predate today's rules): an unsafe one is
	// dropped and the browser sees the success page instead.
	returnTo := con.ReturnTo
	if returnTo != "" {
		if _, err := s.returnTo.Check(returnTo); err != nil {
			s.log.Warn("stored returnTo refused at the redirect", "connector_id", con.ID)
			returnTo = ""
		}
	}
	return &providerv1.CompleteAuthorizationResponse{ConnectorId: con.ID, ReturnTo: returnTo, Status: string(con.Status)}, nil
}

// completeOAuth1 finishes an OAuth 1.0a authorization at the return URL (RFC 5849 §2.2-2.3). The
// temporary oauth_token plays the role of state, and like a state counts only with the binding cookie of
// the browser that started the flow (and not in another signed-in user's browser, see checkReturner): it
// is consumed once (unknown, replayed and expired tokens
// are refused like states, and only an expired one changes anything: its connector is marked failed, as for
// OAuth 2.0). The oauth_verifier is then exchanged, in a request signed with the client secret and the
// temporary shared secret, for token credentials (§2.3), which are stored sealed as the connector's grant
// (token type TokenTypeOAuth1, no expiry, no refresh token). A return without a verifier (the user
// declined) or a refused exchange marks the connector failed.
func (s *Server) completeOAuth1(ctx context.Context, req *providerv1.CompleteAuthorizationRequest) (*providerv1.CompleteAuthorizationResponse, error) {
	badToken := apierror.Invalid("oauth_token", "is unknown, expired or already used, or this browser did not start the authorization; start it again from the link, in the owner's browser")
	binding := s.binding(req.GetBindingCookie(), req.GetSecureBindingCookie())
	if len(req.GetOauthToken()) > maxOAuthToken || binding == "" {
		return nil, badToken
	}
	st, err := s.store.TakeAuthState(ctx, provider.HashTemporaryToken(req.GetOauthToken(), binding))
	if errors.Is(err, apierror.ErrNotFound) {
		return nil, badToken
	}
	if err != nil {
		return nil, err
	}
	con, err := s.store.GetConnector(ctx, st.ConnectorID)
	if errors.Is(err, apierror.ErrNotFound) || (err == nil && (con.Status != provider.StatusPending || s.catalog[con.Provider.Type].OAuthVersion != "1.0a")) {
		return nil, badToken
	}
	if err != nil {
		return nil, err
	}
	if err := s.checkReturner(ctx, con, req.GetSessionCookie()); err != nil {
		return nil, err
	}
	if s.now().After(st.Expiry) || con.Expired(s.now()) {
		s.fail(ctx, con.ID, "authorization expired before the provider redirected back")
		return nil, badToken
	}
	verifier := req.GetOauthVerifier()
	if verifier == "" || len(verifier) > 4096 {
		s.fail(ctx, con.ID, "the provider sent no verifier: authorization was declined")
		return nil, apierror.Invalid("oauth_verifier", "is missing: authorization was declined")
	}
	tempSecret, err := s.keys.Open(st.SealedVerifier, provider.TemporarySecretAD(st.Hash))
	if err != nil {
		return nil, err
	}
	prov, secret, ep, err := s.providerFor(ctx, con)
	if err != nil {
		s.fail(ctx, con.ID, "the provider configuration is no longer usable")
		return nil, err
	}
	tc, err := s.oauth1Request(ctx, ep.TokenURL, prov.Settings.ClientID, secret, req.GetOauthToken(), string(tempSecret),
		oauth1.Param{Name: "oauth_verifier", Value: verifier})
	if err != nil {
		s.fail(ctx, con.ID, "token request failed")
		return nil, outboundError("token request failed", err)
	}
	g := provider.Grant{AccessToken: tc.Get("oauth_token"), TokenSecret: tc.Get("oauth_token_secret"),
		TokenType: provider.TokenTypeOAuth1, ConsumerKey: prov.Settings.ClientID, Scope: strings.Join(ep.Scopes, " ")}
	return s.activate(ctx, con.ID, g, badToken)
}

// fail marks a pending connector failed with a reason safe to show.
func (s *Server) fail(ctx context.Context, id, reason string) {
	_, err := s.store.UpdateConnector(ctx, id, func(c provider.Connector) (provider.Connector, error) {
		if c.Status == provider.StatusPending {
			c.Status, c.Failure, c.UpdateTime = provider.StatusFailed, reason, s.now()
		}
		return c, nil
	})
	if err != nil && !errors.Is(err, apierror.ErrNotFound) {
		s.log.Warn("mark connector failed", "connector_id", id, "err", err)
	}
	s.log.Info("connector authorization failed", "connector_id", id, "reason", reason)
}

// providerFor loads a connector's provider, its secret and its endpoints.
func (s *Server) providerFor(ctx context.Context, con provider.Connector) (provider.Provider, string, provider.Endpoints, error) {
	prov, err := s.store.GetProvider(ctx, con.Provider)
	if err != nil {
		return prov, "", provider.Endpoints{}, err
	}
	secret, err := s.keys.Open(prov.SealedSecret, provider.SecretAD(prov.ProviderKey))
	if err != nil {
		return prov, "", provider.Endpoints{}, err
	}
	ep, err := s.catalog[con.Provider.Type].Resolve(prov, con)
	if err != nil {
		return prov, "", provider.Endpoints{}, apierror.FailedPrecondition("%s", err.Error())
	}
	return prov, string(secret), ep, nil
}

func (s *Server) sealGrant(id string, g provider.Grant) ([]byte, error) {
	raw, err := json.Marshal(g)
	if err != nil {
		return nil, err
	}
	return s.keys.Seal(raw, provider.GrantAD(id)), nil
}

func (s *Server) openGrant(c provider.Connector) (provider.Grant, error) {
	var g provider.Grant
	raw, err := s.keys.Open(c.SealedGrant, provider.GrantAD(c.ID))
	if err != nil {
		return g, err
	}
	err = json.Unmarshal(raw, &g)
	return g, err
}

// visible: owners see their connectors; every caller of the tenant sees named ones; adminapi callers see
// their tenant's, or every tenant's for the system tenant.
func (p principal) visible(c provider.Connector) bool {
	if p.Admin && p.system() {
		return true
	}
	return c.TenantID == p.TenantID && (c.Owner == p.Owner || c.Kind == provider.KindNamed || p.Admin)
}

// usable: owners use their connectors; every caller of the tenant uses named ones. Admins do not use other
// users' session connectors.
func (p principal) usable(c provider.Connector) bool {
	return c.TenantID == p.TenantID && (c.Owner == p.Owner || c.Kind == provider.KindNamed)
}

// deletable: the owner, or an adminapi caller of the tenant (or of the system tenant).
func (p principal) deletable(c provider.Connector) bool {
	return c.TenantID == p.TenantID && c.Owner == p.Owner || p.Admin && (p.system() || c.TenantID == p.TenantID)
}

func (s *Server) callerConnector(ctx context.Context, id string, allowed func(principal, provider.Connector) bool) (principal, provider.Connector, error) {
	p, err := s.authenticate(ctx)
	if err != nil {
		return p, provider.Connector{}, err
	}
	if id == "" {
		return p, provider.Connector{}, apierror.Invalid("connectorId", "is required")
	}
	c, err := s.store.GetConnector(ctx, id)
	if err != nil {
		return p, c, err
	}
	if !p.visible(c) {
		return p, c, apierror.NotFound("connector %s", id) // do not reveal others' connectors
	}
	if !allowed(p, c) {
		return p, c, apierror.PermissionDenied("connector %s belongs to another user", id)
	}
	return p, c, nil
}

// ListConnectors lists the connectors the caller may see (never tokens).
func (c *connectorService) ListConnectors(ctx context.Context, req *providerv1.ListConnectorsRequest) (*providerv1.ListConnectorsResponse, error) {
	s := c.s
	p, err := s.authenticate(ctx)
	if err != nil {
		return nil, err
	}
	f := provider.ConnectorFilter{Type: req.GetConnectorType(), Name: req.GetOauthProvider()}
	if !(p.Admin && p.system()) {
		f.TenantID = p.TenantID
	}
	cs, err := s.store.ListConnectors(ctx, f)
	if err != nil {
		return nil, err
	}
	var out []provider.Connector
	for _, con := range cs {
		if p.visible(con) {
			out = append(out, con)
		}
	}
	return &providerv1.ListConnectorsResponse{Items: connectorsToProto(out)}, nil
}

// GetConnector returns one visible connector (never tokens).
func (c *connectorService) GetConnector(ctx context.Context, req *providerv1.GetConnectorRequest) (*providerv1.GetConnectorResponse, error) {
	_, con, err := c.s.callerConnector(ctx, req.GetConnectorId(), func(principal, provider.Connector) bool { return true })
	if err != nil {
		return nil, err
	}
	return &providerv1.GetConnectorResponse{Connector: connectorToProto(con)}, nil
}

// DeleteConnector deletes a connector the caller owns (or administers) and revokes its grant at the
// provider when the catalog names a revocation endpoint (RFC 7009).
func (c *connectorService) DeleteConnector(ctx context.Context, req *providerv1.DeleteConnectorRequest) (*providerv1.DeleteConnectorResponse, error) {
	if _, _, err := c.s.callerConnector(ctx, req.GetConnectorId(), principal.deletable); err != nil {
		return nil, err
	}
	if err := c.s.deleteConnector(ctx, req.GetConnectorId()); err != nil {
		return nil, err
	}
	return &providerv1.DeleteConnectorResponse{}, nil
}

func (s *Server) deleteConnector(ctx context.Context, id string) error {
	con, err := s.store.DeleteConnector(ctx, id)
	if err != nil {
		return err
	}
	s.cache.drop(id)
	s.log.Info("connector deleted", "connector_id", id, "connector_type", con.Provider.Type, "oauth_provider", con.Provider.Name)
	entry := s.catalog[con.Provider.Type]
	if con.SealedGrant == nil || entry.RevokeURL == "" {
		return nil
	}
	g, err := s.openGrant(con)
	if err != nil {
		return nil
	}
	prov, secret, ep, err := s.providerFor(ctx, con)
	if err != nil || ep.RevokeURL == "" {
		return nil
	}
	s.revoke(ctx, entry, ep.RevokeURL, prov.Settings.ClientID, secret, g, id)
	return nil
}

// GetConnectorToken answers the connector's access token (RFC 6749 §5.1 names), refreshed first when
// expired. Only the owner, or any caller of the tenant for a named connector, gets it. For an OAuth 1.0a
// connector it answers the token (type "OAuth1", expires_in 0) and never the token secret.
func (c *connectorService) GetConnectorToken(ctx context.Context, req *providerv1.GetConnectorTokenRequest) (*providerv1.GetConnectorTokenResponse, error) {
	s := c.s
	if _, _, err := s.callerConnector(ctx, req.GetConnectorId(), principal.usable); err != nil {
		return nil, err
	}
	g, err := s.accessToken(ctx, req.GetConnectorId())
	if err != nil {
		return nil, err
	}
	resp := &providerv1.GetConnectorTokenResponse{AccessToken: g.AccessToken, TokenType: g.TokenType, ExpiresIn: s.expiresIn(g)}
	if g.InstanceURL != "" {
		resp.InstanceUrl = &g.InstanceURL
	}
	return resp, nil
}

func (s *Server) expiresIn(g provider.Grant) int32 {
	if g.Expiry.IsZero() {
		return 0
	}
	return int32(max(min(g.Expiry.Sub(s.now())/time.Second, 1<<31-1), 0))
}

type internalService struct {
	providerv1.UnimplementedProviderInternalServiceServer
	s *Server
}

// FindConnectors lists connectors matching the filter.
func (i *internalService) FindConnectors(ctx context.Context, req *providerv1.FindConnectorsRequest) (*providerv1.FindConnectorsResponse, error) {
	cs, err := i.s.store.ListConnectors(ctx, provider.ConnectorFilter{TenantID: req.GetTenantId(), Owner: req.GetOwner(), Type: req.GetConnectorType(), Name: req.GetOauthProvider()})
	if err != nil {
		return nil, err
	}
	return &providerv1.FindConnectorsResponse{Items: connectorsToProto(cs)}, nil
}

// GetAccessToken answers a connector's current access token, refreshing it exactly once under concurrency.
// For an OAuth 1.0a connector it answers the token credentials (RFC 5849 §2.3): token, token_secret and
// consumer_key, token type TokenTypeOAuth1, expires_in 0 (they neither expire nor refresh).
func (i *internalService) GetAccessToken(ctx context.Context, req *providerv1.GetAccessTokenRequest) (*providerv1.GetAccessTokenResponse, error) {
	if req.GetConnectorId() == "" {
		return nil, apierror.Invalid("connectorId", "is required")
	}
	g, err := i.s.accessToken(ctx, req.GetConnectorId())
	if err != nil {
		return nil, err
	}
	resp := &providerv1.GetAccessTokenResponse{AccessToken: g.AccessToken, TokenType: g.TokenType,
		ExpiresIn: i.s.expiresIn(g), Scopes: scopeList(g.Scope), InstanceUrl: g.InstanceURL}
	if g.TokenType == provider.TokenTypeOAuth1 {
		resp.TokenSecret, resp.ConsumerKey = &g.TokenSecret, &g.ConsumerKey
	}
	return resp, nil
}

// RemoveConnector deletes a connector and its grant.
func (i *internalService) RemoveConnector(ctx context.Context, req *providerv1.RemoveConnectorRequest) (*providerv1.RemoveConnectorResponse, error) {
	if req.GetConnectorId() == "" {
		return nil, apierror.Invalid("connectorId", "is required")
	}
	if err := i.s.deleteConnector(ctx, req.GetConnectorId()); err != nil {
		return nil, err
	}
	return &providerv1.RemoveConnectorResponse{}, nil
}
