package console

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/apistatus"
)

// Sign-in through authsuite's own OpenID Connect (OIDC Core §3.1, the authorization code flow) with PKCE
// (RFC 7636, S256): the console is a relying party of its own suite, with one public client per tenant. The
// code is redeemed by calling the token service's OAuthService.Token over gRPC, as the REST gateway does for
// /connect/token, never through an HTTP request to itself.

// systemTenantCode is the code the sign-in page proposes.
const systemTenantCode = "default"

// consoleScopes are the scopes the console asks for.
const consoleScopes = "openid profile adminapi"

type landingData struct {
	Tenant string
	Return string
}

// home serves GET /console/: the console for a signed-in user, else the sign-in page.
func (c *Console) home(w http.ResponseWriter, r *http.Request) {
	if s := c.session(r); s != nil {
		http.Redirect(w, r, landingPage(s), http.StatusSeeOther)
		return
	}
	c.landing(w, http.StatusOK, landingData{Tenant: systemTenantCode, Return: localReturn(r.URL.Query().Get("return"))}, Problems{})
}

func (c *Console) landing(w http.ResponseWriter, status int, d landingData, p Problems) {
	c.render(w, status, "signin", View{Title: "Sign in to the admin console", Data: d, Problem: p.Message, Fields: p.Fields})
}

// signInAgain sends a browser without a valid session to the sign-in page, to come back to ret after.
func (c *Console) signInAgain(w http.ResponseWriter, r *http.Request, ret string) {
	c.clearCookie(w, sessionCookieName)
	target := Prefix
	if ret = localReturn(ret); ret != "" {
		target += "?" + url.Values{"return": {ret}}.Encode()
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// localReturn keeps only a console path as a return address (no open redirect).
func localReturn(ret string) string {
	if len(ret) > 1000 || !strings.HasPrefix(ret, Prefix) || strings.HasPrefix(ret, Prefix+"/") || strings.ContainsAny(ret, "\\\r\n") {
		return ""
	}
	return ret
}

// startLogin serves GET /console/login?tenant=<code>: the tenant's console client starts an authorization
// request (OIDC Core §3.1.2.1) with state, nonce and a PKCE challenge (RFC 7636 §4.2, S256) held in the
// sealed login cookie.
func (c *Console) startLogin(w http.ResponseWriter, r *http.Request) {
	code := strings.TrimSpace(r.URL.Query().Get("tenant"))
	if code == "" {
		code = systemTenantCode
	}
	d := landingData{Tenant: code, Return: localReturn(r.URL.Query().Get("return"))}
	found, err := c.lookup.FindConsoleClient(r.Context(), &registryv1.FindConsoleClientRequest{TenantCode: code})
	if err != nil {
		p := ProblemsOf(err)
		if p.Status == http.StatusNotFound || p.Status == http.StatusBadRequest {
			p = Problems{Status: http.StatusNotFound, Fields: map[string]string{"tenant": "No tenant with this code has a console sign-in."}}
		}
		c.landing(w, p.Status, d, p)
		return
	}
	verifier := randomString(32) // 43 characters of [A-Za-z0-9-_], RFC 7636 §4.1
	pl := pendingLogin{
		State: randomString(24), Nonce: randomString(24), Verifier: verifier,
		ClientID: found.GetClientId(), TenantID: found.GetTenantId(), TenantCode: code, Return: d.Return,
		Expiry: c.now().Add(loginLifetime),
	}
	sealed, err := c.logins.seal(pl)
	if err != nil {
		c.errorPage(w, http.StatusInternalServerError, "internal error")
		return
	}
	c.setCookie(w, loginCookieName, sealed, pl.Expiry)
	q := url.Values{
		"response_type":         {"code"},
		"client_id":             {pl.ClientID},
		"redirect_uri":          {c.redirectURI()},
		"scope":                 {consoleScopes},
		"state":                 {pl.State},
		"nonce":                 {pl.Nonce},
		"code_challenge":        {pkceChallenge(verifier)},
		"code_challenge_method": {"S256"},
	}
	http.Redirect(w, r, c.cfg.PublicURL+"/connect/authorize?"+q.Encode(), http.StatusSeeOther)
}

func (c *Console) redirectURI() string { return c.cfg.PublicURL + "/console/callback" }

// pkceChallenge is BASE64URL(SHA256(ASCII(verifier))), RFC 7636 §4.2.
func pkceChallenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// callback serves GET /console/callback, the authorization response (OIDC Core §3.1.2.5, RFC 6749 §4.1.2).
func (c *Console) callback(w http.ResponseWriter, r *http.Request) {
	ck, err := r.Cookie(c.cookieName(loginCookieName))
	var pl pendingLogin
	if err != nil || c.logins.open(ck.Value, &pl) != nil || !c.now().Before(pl.Expiry) {
		c.errorPage(w, http.StatusBadRequest, "This sign-in has expired or was started in another browser: sign in again.")
		return
	}
	q := r.URL.Query()
	// RFC 6749 §10.12: the response must answer the request this browser made.
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(pl.State)) != 1 {
		c.errorPage(w, http.StatusBadRequest, "The sign-in response does not match the sign-in this browser started: sign in again.")
		return
	}
	c.clearCookie(w, loginCookieName) // one response per request
	if e := q.Get("error"); e != "" {
		msg := clip(q.Get("error_description"), 300)
		if msg == "" {
			msg = e
		}
		if e == "access_denied" || e == "invalid_scope" || e == "unauthorized_client" {
			c.forbidden(w, nil, msg, pl.ClientID)
			return
		}
		c.errorPage(w, http.StatusBadRequest, "The sign-in failed: "+msg)
		return
	}
	s, err := c.redeem(r.Context(), pl, q.Get("code"))
	if err != nil {
		c.log.Info("console sign-in refused", "tenant", pl.TenantID, "err", err)
		c.errorPage(w, http.StatusBadRequest, "The sign-in could not be completed: sign in again.")
		return
	}
	// The role comes from the API alone: whoever ListTenants answers is a system administrator; whoever
	// GetTenant of their own tenant answers, that tenant's administrator; anyone else is refused.
	if err := c.decideRole(r.Context(), s); err != nil {
		if apistatus.Of(err).Code == codes.PermissionDenied || apistatus.Of(err).Code == codes.Unauthenticated {
			c.forbidden(w, nil, "Your account may not administer "+tenantLabel(s)+".", pl.ClientID)
			return
		}
		c.errorPage(w, ProblemsOf(err).Status, ProblemsOf(err).Message)
		return
	}
	sealed, err := c.sessions.seal(s)
	if err != nil {
		// A very large ID token: sign-out then confirms on the end-session page instead.
		s.IDToken = ""
		if sealed, err = c.sessions.seal(s); err != nil {
			c.errorPage(w, http.StatusInternalServerError, "internal error")
			return
		}
	}
	c.setCookie(w, sessionCookieName, sealed, s.Expiry)
	target := pl.Return
	if target == "" {
		target = landingPage(s)
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// landingPage is where a signed-in user starts: tenants for a system administrator, the tenant's clients
// (when that section is built in) for a tenant administrator.
func landingPage(s *Session) string {
	if !s.System {
		for _, n := range navItems("") {
			if n.Href == Prefix+"clients" {
				return n.Href
			}
		}
	}
	return Prefix + "tenants"
}

func tenantLabel(s *Session) string {
	if s.TenantCode != "" {
		return "tenant " + s.TenantCode
	}
	return "this tenant"
}

// redeem exchanges the code (RFC 6749 §4.1.3 with the PKCE verifier, RFC 7636 §4.5) and checks the ID token
// the token service answered: issuer, audience, nonce (OIDC Core §3.1.3.7; it came straight from the token
// service over the gateway's own channel, so its signature needs no check, §3.1.3.7 item 6).
func (c *Console) redeem(ctx context.Context, pl pendingLogin, code string) (*Session, error) {
	if code == "" || len(code) > 2000 {
		return nil, errors.New("no code")
	}
	resp, err := c.oauth.Token(ctx, &tokenv1.TokenRequest{
		Client:    &tokenv1.ClientCredentials{ClientId: pl.ClientID},
		GrantType: "authorization_code", Code: code, RedirectUri: c.redirectURI(), CodeVerifier: pl.Verifier,
	})
	if err != nil {
		return nil, err
	}
	id, err := decodeClaims(resp.GetIdToken())
	if err != nil {
		return nil, err
	}
	now := c.now()
	switch {
	case id.Issuer != c.cfg.PublicURL:
		return nil, errors.New("ID token: wrong issuer")
	case !slices.Contains(id.Audience, pl.ClientID):
		return nil, errors.New("ID token: wrong audience")
	case subtle.ConstantTimeCompare([]byte(id.Nonce), []byte(pl.Nonce)) != 1:
		return nil, errors.New("ID token: wrong nonce")
	case id.Expiry != 0 && time.Unix(id.Expiry, 0).Before(now):
		return nil, errors.New("ID token: expired")
	}
	at, err := decodeClaims(resp.GetAccessToken())
	if err != nil {
		return nil, err
	}
	if at.Tenant != "" && at.Tenant != pl.TenantID {
		return nil, errors.New("access token: another tenant")
	}
	exp := now.Add(time.Duration(resp.GetExpiresIn()) * time.Second)
	if at.Expiry != 0 && time.Unix(at.Expiry, 0).Before(exp) {
		exp = time.Unix(at.Expiry, 0)
	}
	name := id.Name
	if name == "" {
		name = id.PreferredUsername
	}
	if name == "" {
		// The ID token may leave the profile to the UserInfo endpoint (OIDC Core §5.4): ask it, as the
		// gateway's /connect/userinfo does. Only the name shown in the header depends on it.
		if ui, err := tokenv1.NewAuthorizeServiceClient(c.cfg.Token).UserInfo(ctx, &tokenv1.UserInfoRequest{AccessToken: resp.GetAccessToken()}); err == nil {
			name = ui.GetName()
			if name == "" {
				name = ui.GetPreferredUsername()
			}
		}
	}
	if name == "" {
		name = id.Subject
	}
	return &Session{
		AccessToken: resp.GetAccessToken(), IDToken: resp.GetIdToken(), Expiry: exp, Subject: id.Subject, Name: clip(name, 100),
		TenantID: pl.TenantID, TenantCode: pl.TenantCode, ClientID: pl.ClientID, CSRF: randomString(32),
	}, nil
}

// decideRole asks the admin API what the session's user may do (see callback): TenantService answers
// system administrators only; the tenant's client list answers the administrators of that tenant (the
// tenant API itself is for system administrators only).
func (c *Console) decideRole(ctx context.Context, s *Session) error {
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+s.AccessToken)
	if _, err := registryv1.NewTenantServiceClient(c.cfg.Registry).ListTenants(ctx, &registryv1.ListTenantsRequest{PageSize: 1}); err == nil {
		s.System = true
		return nil
	} else if code := apistatus.Of(err).Code; code != codes.PermissionDenied {
		return err
	}
	_, err := registryv1.NewClientServiceClient(c.cfg.Registry).ListClients(ctx, &registryv1.ListClientsRequest{TenantId: s.TenantID, PageSize: 1})
	return err
}

// logout serves POST /console/logout (CSRF-checked): the session cookie is cleared, and the browser ends its
// authsuite session at the end-session endpoint (OpenID Connect RP-Initiated Logout 1.0 §2), coming back
// to the console.
func (c *Console) logout(w http.ResponseWriter, r *http.Request) {
	s := c.session(r)
	if s == nil {
		c.signInAgain(w, r, "")
		return
	}
	x := &Ctx{W: w, R: r, Session: s, c: c}
	if !x.readForm() {
		return
	}
	c.clearCookie(w, sessionCookieName)
	q := url.Values{"client_id": {s.ClientID}, "post_logout_redirect_uri": {c.cfg.PublicURL + Prefix}}
	if s.IDToken != "" {
		q.Set("id_token_hint", s.IDToken)
	}
	http.Redirect(w, r, c.cfg.PublicURL+"/connect/endsession?"+q.Encode(), http.StatusSeeOther)
}

// forbidden is the page of a user the API refuses: 403. A user with a console session (s) signs out with
// the layout's button; one refused at sign-in (s nil) gets a link that ends the authsuite session, to sign
// in as someone else.
func (c *Console) forbidden(w http.ResponseWriter, s *Session, msg string, clientID string) {
	d := forbiddenData{Message: msg}
	v := View{Title: "Not allowed", User: s}
	if s != nil {
		v.CSRF, v.Nav = s.CSRF, navItems("")
	} else {
		q := url.Values{"post_logout_redirect_uri": {c.cfg.PublicURL + Prefix}}
		if clientID != "" {
			q.Set("client_id", clientID)
		}
		d.SignOut = c.cfg.PublicURL + "/connect/endsession?" + q.Encode()
	}
	v.Data = d
	c.render(w, http.StatusForbidden, "forbidden", v)
}

type forbiddenData struct {
	Message string
	SignOut string
}

func (c *Console) errorPage(w http.ResponseWriter, status int, msg string) {
	c.render(w, status, "message", View{Title: http.StatusText(status), Data: msg})
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
