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

// CreateConnector starts authorization for the caller and answers the provider's authorization URL. For
// OAuth 2.0 it starts the authorization code flow (RFC 6749 §4.1.1): it stores a pending connector and a
// single-use state (256 bits, stored hashed, expiring after StateTTL) with, where the catalog says the
// provider supports it, a PKCE S256 verifier (RFC 7636 §4.1-4.2). For OAuth 1.0a see startOAuth1.
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
		if err := s.checkReturnTo(returnTo); err != nil {
			return nil, err
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
	var authURL string
	var st provider.AuthState
	if entry.OAuthVersion == "1.0a" {
		authURL, st, err = s.startOAuth1(ctx, prov, ep, con.ID, now)
	} else {
		authURL, st, err = s.startOAuth2(entry, prov, ep, con.ID, now)
	}
	if err != nil {
		return nil, err
	}
	if err := s.store.CreateConnector(ctx, con, st); err != nil {
		return nil, err
	}
	s.log.Info("connector authorization started", "connector_id", con.ID, "connector_type", k.Type, "oauth_provider", k.Name, "tenant_id", p.TenantID, "owner", p.Owner)
	return &providerv1.CreateConnectorResponse{ConnectorId: con.ID, AuthorizationUrl: authURL, Status: string(provider.StatusPending)}, nil
}

// startOAuth2 builds the authorization request (RFC 6749 §4.1.1) and the pending authorization to store.
func (s *Server) startOAuth2(entry provider.Entry, prov provider.Provider, ep provider.Endpoints, connectorID string, now time.Time) (string, provider.AuthState, error) {
	k := prov.ProviderKey
	state := randomString(32)
	st := provider.AuthState{Hash: provider.HashState(state), ConnectorID: connectorID, Expiry: now.Add(StateTTL)}
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
// StateTTL like a state; the temporary shared secret is stored only sealed. A provider that does not
// confirm the callback (oauth_callback_confirmed=true, §2.1) is refused, since it speaks OAuth 1.0 without
// the "a" revision's verifier.
func (s *Server) startOAuth1(ctx context.Context, prov provider.Provider, ep provider.Endpoints, connectorID string, now time.Time) (string, provider.AuthState, error) {
	k := prov.ProviderKey
	authURL, err := url.Parse(ep.AuthURL)
	if err != nil || ep.RequestTokenURL == "" {
		return "", provider.AuthState{}, apierror.FailedPrecondition("provider %s has an unusable authorization URL", k)
	}
	secret, err := s.keys.Open(prov.SealedSecret, provider.SecretAD(k))
	if err != nil {
		return "", provider.AuthState{}, err
	}
	tc, err := s.oauth1Request(ctx, ep.RequestTokenURL, prov.Settings.ClientID, string(secret), "", "",
		oauth1.Param{Name: "oauth_callback", Value: s.redirectURI})
	if err != nil {
		return "", provider.AuthState{}, outboundError("temporary credential request failed", err)
	}
	token := tc.Get("oauth_token")
	if tc.Get("oauth_callback_confirmed") != "true" || len(token) > maxOAuthToken {
		return "", provider.AuthState{}, outboundError("temporary credential request failed",
			&providerError{Code: "invalid_response", Description: "the provider did not confirm the callback (OAuth 1.0a, RFC 5849 §2.1)"})
	}
	hash := provider.HashTemporaryToken(token)
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

// checkReturnTo allows a local path ("/…", not "//…") or an absolute URL of an allowed origin, so the
// return URL cannot be used as an open redirector.
func (s *Server) checkReturnTo(rt string) error {
	if rt == "" || len(rt) > 2048 || strings.ContainsAny(rt, "\r\n\x00\\") {
		return apierror.Invalid("returnTo", "must be a path or an absolute URL of an allowed origin")
	}
	if strings.HasPrefix(rt, "/") && !strings.HasPrefix(rt, "//") {
		return nil
	}
	u, err := url.Parse(rt)
	if err != nil || u.User != nil || !s.origins[u.Scheme+"://"+u.Host] {
		return apierror.Invalid("returnTo", "must be a path or an absolute URL of an allowed origin")
	}
	return nil
}

// CompleteAuthorization finishes the flow at the return URL (RFC 6749 §4.1.2): it consumes the state (once;
// unknown, expired and replayed states change nothing), exchanges the code at the token endpoint
// (§4.1.3, with the PKCE verifier), validates the token at VALIDATE_URL when configured, and stores the
// grant sealed. A provider's refusal (§4.1.2.1) or a failed exchange marks the connector failed. A return
// with oauth_token and no state is an OAuth 1.0a return (see completeOAuth1).
func (c *connectorService) CompleteAuthorization(ctx context.Context, req *providerv1.CompleteAuthorizationRequest) (*providerv1.CompleteAuthorizationResponse, error) {
	s := c.s
	if req.GetState() == "" && req.GetOauthToken() != "" {
		return s.completeOAuth1(ctx, req)
	}
	if req.GetState() == "" || len(req.GetState()) > 512 {
		return nil, apierror.Invalid("state", "is missing; start the authorization again")
	}
	badState := apierror.Invalid("state", "is unknown, expired or already used; start the authorization again")
	st, err := s.store.TakeAuthState(ctx, provider.HashState(req.GetState()))
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
	if s.now().After(st.Expiry) {
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

// activate stores g sealed as the grant of the pending connector id and marks it active; it fails with
// notPending when the connector is no longer pending (it completed or failed meanwhile).
func (s *Server) activate(ctx context.Context, id string, g provider.Grant, notPending error) (*providerv1.CompleteAuthorizationResponse, error) {
	sealed, err := s.sealGrant(id, g)
	if err != nil {
		return nil, err
	}
	gen := s.cacheGen(id)
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
	s.cachePut(con.ID, gen, g)
	s.log.Info("connector authorized", "connector_id", con.ID, "connector_type", con.Provider.Type, "oauth_provider", con.Provider.Name)
	return &providerv1.CompleteAuthorizationResponse{ConnectorId: con.ID, ReturnTo: con.ReturnTo, Status: string(con.Status)}, nil
}

// completeOAuth1 finishes an OAuth 1.0a authorization at the return URL (RFC 5849 §2.2-2.3). The
// temporary oauth_token plays the role of state: it is consumed once (unknown, replayed and expired tokens
// are refused like states, and only an expired one changes anything: its connector is marked failed, as for
// OAuth 2.0). The oauth_verifier is then exchanged, in a request signed with the client secret and the
// temporary shared secret, for token credentials (§2.3), which are stored sealed as the connector's grant
// (token type TokenTypeOAuth1, no expiry, no refresh token). A return without a verifier (the user
// declined) or a refused exchange marks the connector failed.
func (s *Server) completeOAuth1(ctx context.Context, req *providerv1.CompleteAuthorizationRequest) (*providerv1.CompleteAuthorizationResponse, error) {
	badToken := apierror.Invalid("oauth_token", "is unknown, expired or already used; start the authorization again")
	if len(req.GetOauthToken()) > maxOAuthToken {
		return nil, badToken
	}
	st, err := s.store.TakeAuthState(ctx, provider.HashTemporaryToken(req.GetOauthToken()))
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
	if s.now().After(st.Expiry) {
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

// fresh reports whether g's access token is usable for at least expirySkew more.
func (s *Server) fresh(g provider.Grant) bool {
	return g.Expiry.IsZero() || s.now().Add(expirySkew).Before(g.Expiry)
}

// accessToken returns the connector's current grant, refreshing it first when its access token expired.
// Concurrent callers for one connector share one refresh (flightGroup); inside it the stored grant is
// re-read, so a caller arriving after a refresh finished uses its result instead of refreshing again. A
// rotated refresh token is persisted (RFC 6749 §6); without a new one the old one is kept.
func (s *Server) accessToken(ctx context.Context, id string) (provider.Grant, error) {
	if g, ok := s.cached(id); ok && s.fresh(g) {
		return g, nil
	}
	v, err := s.flights.do(id, func() (any, error) {
		// One caller's cancellation must not fail the others waiting on this flight.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), DefaultHTTPTimeout+5*time.Second)
		defer cancel()
		return s.refreshOnce(ctx, id)
	})
	if err != nil {
		return provider.Grant{}, err
	}
	return v.(provider.Grant), nil
}

func (s *Server) refreshOnce(ctx context.Context, id string) (provider.Grant, error) {
	gen := s.cacheGen(id)
	con, err := s.store.GetConnector(ctx, id)
	if err != nil {
		return provider.Grant{}, err
	}
	if con.Status != provider.StatusActive || con.SealedGrant == nil {
		return provider.Grant{}, apierror.FailedPrecondition("connector %s is %s, not active; authorize it again", id, con.Status)
	}
	g, err := s.openGrant(con)
	if err != nil {
		return provider.Grant{}, err
	}
	if s.fresh(g) {
		s.cachePut(id, gen, g)
		return g, nil
	}
	if g.RefreshToken == "" {
		return provider.Grant{}, apierror.FailedPrecondition("the access token of connector %s expired and the provider issued no refresh token; authorize it again", id)
	}
	prov, secret, ep, err := s.providerFor(ctx, con)
	if err != nil {
		return provider.Grant{}, err
	}
	entry := s.catalog[con.Provider.Type]
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {g.RefreshToken}}
	ng, err := s.tokenRequest(ctx, entry, ep.RefreshURL, prov.Settings.ClientID, secret, form)
	var pe *providerError
	if errors.As(err, &pe) && pe.Code == "invalid_grant" {
		// The provider revoked the grant (RFC 6749 §5.2): drop it, the user must authorize again.
		s.store.UpdateConnector(ctx, id, func(c provider.Connector) (provider.Connector, error) {
			c.Status, c.SealedGrant, c.Failure, c.UpdateTime = provider.StatusRevoked, nil, "the provider refused the refresh token", s.now()
			return c, nil
		})
		s.forget(id)
		s.log.Info("connector refresh refused; grant dropped", "connector_id", id)
		return provider.Grant{}, apierror.FailedPrecondition("the provider refused to refresh connector %s; authorize it again", id)
	}
	if err != nil {
		return provider.Grant{}, outboundError("refresh failed", err)
	}
	if ng.RefreshToken == "" {
		ng.RefreshToken = g.RefreshToken
	}
	if ng.Scope == "" {
		ng.Scope = g.Scope
	}
	if ng.InstanceURL == "" {
		ng.InstanceURL = g.InstanceURL
	}
	sealed, err := s.sealGrant(id, ng)
	if err != nil {
		return provider.Grant{}, err
	}
	old := con.SealedGrant
	if _, err := s.store.UpdateConnector(ctx, id, func(c provider.Connector) (provider.Connector, error) {
		if c.Status != provider.StatusActive || string(c.SealedGrant) != string(old) {
			return c, apierror.FailedPrecondition("connector %s changed during the refresh", id)
		}
		c.SealedGrant, c.UpdateTime = sealed, s.now()
		return c, nil
	}); err != nil {
		return provider.Grant{}, err
	}
	s.cachePut(id, gen, ng)
	s.log.Info("connector token refreshed", "connector_id", id)
	return ng, nil
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
	s.forget(id)
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
	return &providerv1.GetConnectorTokenResponse{AccessToken: g.AccessToken, TokenType: g.TokenType, ExpiresIn: s.expiresIn(g)}, nil
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
