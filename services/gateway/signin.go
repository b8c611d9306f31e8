package gateway

import (
	"embed"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"google.golang.org/grpc"

	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/internal/i18n"
)

// The browser sign-in pages (docs/reference/oauth.md#sign-in-pages): the gateway renders what the token service's AuthorizeService
// decides and carries the browser's facts (cookies, address, user agent) to it. No page needs JavaScript.

// Cookie names.
const (
	// SessionCookie holds the SSO session (HttpOnly, SameSite=Lax, Secure when the issuer is https).
	SessionCookie = "authsuite_session"
)

//go:embed pages/*.html
var pageFiles embed.FS

var pages = template.Must(template.ParseFS(pageFiles, "pages/*.html"))

// registerSignIn registers the hand-written browser and OpenID Connect endpoints.
func (g *Gateway) registerSignIn(cc grpc.ClientConnInterface) error {
	g.authz = tokenv1.NewAuthorizeServiceClient(cc)
	return g.handle([]route{
		{http.MethodGet, "/connect/authorize", g.authorize},
		{http.MethodPost, "/connect/authorize", g.authorize},
		{http.MethodPost, "/connect/login", g.login},
		{http.MethodPost, "/connect/consent", g.consent},
		{http.MethodPost, secondFactorPath, g.secondFactor},
		{http.MethodGet, "/connect/endsession", g.endSession},
		{http.MethodPost, "/connect/endsession", g.endSession},
		{http.MethodPost, "/connect/endsession/confirm", g.endSessionConfirm},
		{http.MethodGet, "/connect/userinfo", noSudo(g.userInfo)},
		{http.MethodPost, "/connect/userinfo", noSudo(g.userInfo)},
	}...)
}

// pageHeaders are set on every sign-in page and redirect: never cached, never framed (clickjacking,
// RFC 6749 §10.13), no referrer leaking codes.
func pageHeaders(h http.Header) {
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
}

// browser collects what the token service needs to know about the browser. Its address is the client's
// behind the trusted proxies (clientAddr).
func (g *Gateway) browser(r *http.Request) *tokenv1.Browser {
	// The User-Agent is informational; protobuf strings must be UTF-8, so invalid bytes are replaced rather
	// than failing the call (gRPC would refuse to marshal it).
	b := &tokenv1.Browser{UserAgent: strings.ToValidUTF8(r.UserAgent(), "\uFFFD"), RemoteAddr: g.clientAddr(r)}
	if c, err := r.Cookie(SessionCookie); err == nil {
		b.SessionCookie = c.Value
	}
	return b
}

// requestParameters returns the form-encoded parameters of a GET (query) or POST (body) request
// (OIDC Core §3.1.2.1: the authorization endpoint supports both).
func requestParameters(r *http.Request) (string, error) {
	if r.Method == http.MethodGet {
		return r.URL.RawQuery, nil
	}
	form, err := ParseForm(r)
	if err != nil {
		return "", err
	}
	return form.Encode(), nil
}

// authorize serves GET|POST /connect/authorize.
func (g *Gateway) authorize(w http.ResponseWriter, r *http.Request) {
	pageHeaders(w.Header())
	params, err := requestParameters(r)
	if err != nil {
		g.pageError(w, r, err)
		return
	}
	resp, err := g.authz.Authorize(r.Context(), &tokenv1.AuthorizeRequest{Parameters: params, Browser: g.browser(r)})
	if err != nil {
		g.pageError(w, r, err)
		return
	}
	g.step(w, r, resp.GetStep())
}

// login serves POST /connect/login, the login form.
func (g *Gateway) login(w http.ResponseWriter, r *http.Request) {
	pageHeaders(w.Header())
	form, ok := g.pageForm(w, r)
	if !ok {
		return
	}
	resp, err := g.authz.Login(r.Context(), &tokenv1.LoginRequest{
		InteractionId: form.Get("interaction"), Username: form.Get("username"), Password: form.Get("password"), Browser: g.browser(r),
	})
	if err != nil {
		g.pageError(w, r, err)
		return
	}
	g.step(w, r, resp.GetStep())
}

// consent serves POST /connect/consent, the consent form.
func (g *Gateway) consent(w http.ResponseWriter, r *http.Request) {
	pageHeaders(w.Header())
	form, ok := g.pageForm(w, r)
	if !ok {
		return
	}
	resp, err := g.authz.Consent(r.Context(), &tokenv1.ConsentRequest{
		InteractionId: form.Get("interaction"), Allow: form.Get("decision") == "allow", Remember: form.Get("remember") != "",
		Browser: g.browser(r),
	})
	if err != nil {
		g.pageError(w, r, err)
		return
	}
	g.step(w, r, resp.GetStep())
}

// pageForm parses a login, consent or logout confirmation form and checks its CSRF token against the browser's CSRF cookie
// and the interaction.
func (g *Gateway) pageForm(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	form, err := ParseForm(r)
	if err != nil {
		g.pageError(w, r, err)
		return nil, false
	}
	if !g.validCSRF(r, form.Get("interaction"), form.Get("csrf_token")) {
		g.pageError(w, r, apierror.OAuthWithStatus(http.StatusForbidden, apierror.InvalidRequest,
			"The form has expired or did not come from this site. Go back to the application and start again."))
		return nil, false
	}
	return form, true
}

// step carries out what the token service decided: set the session cookie, then redirect or render a page.
func (g *Gateway) step(w http.ResponseWriter, r *http.Request, st *tokenv1.Step) {
	if v := st.GetSetSessionCookie(); v != "" {
		http.SetCookie(w, &http.Cookie{
			Name: SessionCookie, Value: v, Path: "/", MaxAge: int(st.GetSessionCookieMaxAge()),
			HttpOnly: true, Secure: st.GetSecureCookies(), SameSite: http.SameSiteLaxMode,
		})
	}
	switch s := st.GetStep().(type) {
	case *tokenv1.Step_RedirectUri:
		redirect(w, r, s.RedirectUri)
	case *tokenv1.Step_Login:
		p := s.Login
		d := pageData(r, st.GetPage(), "login.title")
		d["ClientName"], d["LoginHint"], d["Interaction"] = p.GetClientName(), p.GetLoginHint(), p.GetInteractionId()
		d["Error"] = loginError(d["L"].(i18n.Localizer), p.GetErrorCode(), p.GetError())
		d["CSRF"] = g.formCSRF(w, r, p.GetInteractionId())
		d["Upstream"] = p.GetUpstream()
		d["PasswordReset"], d["SelfRegistration"], d["TenantID"] = p.GetPasswordReset(), p.GetSelfRegistration(), st.GetPage().GetTenantId()
		if o := p.GetWebauthnOptions(); o != "" {
			d["WebAuthnOptions"] = o
			passkeyPageHeaders(w.Header()) // the password-less button runs static/webauthn.js (script-src 'self')
		}
		g.render(w, http.StatusOK, "login.html", d)
	case *tokenv1.Step_FormPost:
		g.formPost(w, r, st.GetPage(), s.FormPost)
	case *tokenv1.Step_Consent:
		p := s.Consent
		d := pageData(r, st.GetPage(), "consent.title")
		d["ClientName"], d["UserName"], d["Interaction"] = p.GetClientName(), p.GetUserName(), p.GetInteractionId()
		d["Scopes"], d["AllowRemember"] = scopeTexts(d["L"].(i18n.Localizer), p.GetScopes()), p.GetAllowRemember()
		d["CSRF"] = g.formCSRF(w, r, p.GetInteractionId())
		g.render(w, http.StatusOK, "consent.html", d)
	case *tokenv1.Step_SecondFactor:
		g.renderSecondFactor(w, r, st, s.SecondFactor)
	case *tokenv1.Step_Message:
		g.renderMessage(w, r, st, s.Message)
	default:
		g.pageError(w, r, fmt.Errorf("sign-in step %T has no rendering", s))
	}
}

// redirect answers 302 to a GET and 303 to a POST (so the browser follows with GET).
func redirect(w http.ResponseWriter, r *http.Request, to string) {
	status := http.StatusFound
	if r.Method == http.MethodPost {
		status = http.StatusSeeOther
	}
	w.Header().Set("Location", to)
	w.WriteHeader(status)
}

// errorPage shows an error of a sign-in page (writeAnswer): one that must not be redirected to the client
// (RFC 6749 §4.1.2.1: invalid client or redirect URI), or a failure of the service.
// Without the request it answers in English: handlers use pageError (errorpage.go).
func (g *Gateway) errorPage(w http.ResponseWriter, err error) {
	writeAnswer(w, err, answer{kind: signInPage, title: "error.signin_failed"}, g.log)
}

func (g *Gateway) render(w http.ResponseWriter, status int, name string, data any) {
	renderPage(w, status, name, data, g.log)
}

// endSession serves GET|POST /connect/endsession (OpenID Connect RP-Initiated Logout 1.0 §2). Unless the
// token service asks for the user's confirmation, the gateway clears the cookie and redirects to the
// registered post_logout_redirect_uri, or shows a page that says "signed out" only when a session ended
// (by the id_token_hint's sid, even when a relying party's server calls without a cookie, or by the
// browser's cookie). When it asks for confirmation, the gateway shows the confirmation page
// (CSRF-protected like the login form) and clears nothing.
func (g *Gateway) endSession(w http.ResponseWriter, r *http.Request) {
	pageHeaders(w.Header())
	params, err := requestParameters(r)
	if err != nil {
		g.pageError(w, r, err)
		return
	}
	resp, err := g.authz.EndSession(r.Context(), &tokenv1.EndSessionRequest{Parameters: params, Browser: g.browser(r)})
	if err != nil {
		g.pageError(w, r, err)
		return
	}
	if id := resp.GetConfirmId(); id != "" {
		d := pageData(r, nil, "logout.title")
		d["ClientName"], d["Interaction"], d["CSRF"] = resp.GetClientName(), id, g.formCSRF(w, r, id)
		g.render(w, http.StatusOK, "logout.html", d)
		return
	}
	g.signedOut(w, r, resp.GetSecureCookies(), resp.GetRedirectUri(), resp.GetSessionEnded())
}

// endSessionConfirm serves POST /connect/endsession/confirm, the logout confirmation form.
func (g *Gateway) endSessionConfirm(w http.ResponseWriter, r *http.Request) {
	pageHeaders(w.Header())
	form, ok := g.pageForm(w, r)
	if !ok {
		return
	}
	resp, err := g.authz.ConfirmEndSession(r.Context(), &tokenv1.ConfirmEndSessionRequest{
		ConfirmId: form.Get("interaction"), Logout: form.Get("decision") == "yes", Browser: g.browser(r),
	})
	if err != nil {
		g.pageError(w, r, err)
		return
	}
	if !resp.GetLoggedOut() {
		g.showMessage(w, r, nil, http.StatusOK, "message.still_signed_in", nil)
		return
	}
	g.signedOut(w, r, resp.GetSecureCookies(), resp.GetRedirectUri(), true)
}

// signedOut clears the session cookie, then redirects to the validated post-logout URI or shows the
// signed-out page when ended, else a page saying that nobody was signed in.
func (g *Gateway) signedOut(w http.ResponseWriter, r *http.Request, secure bool, to string, ended bool) {
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		Secure: secure, SameSite: http.SameSiteLaxMode})
	switch {
	case to != "":
		redirect(w, r, to)
	case ended:
		g.showMessage(w, r, nil, http.StatusOK, "message.signed_out", nil)
	default:
		g.showMessage(w, r, nil, http.StatusOK, "message.not_signed_in", nil)
	}
}

// userInfo serves GET|POST /connect/userinfo (OIDC Core §5.3). The token comes as a bearer header or, on
// POST, as the access_token form parameter (RFC 6750 §2.1, §2.2). Errors carry the RFC 6750 §3 challenge.
func (g *Gateway) userInfo(w http.ResponseWriter, r *http.Request) {
	noStore(w.Header())
	token := ""
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, v, _ := strings.Cut(h, " ")
		if !strings.EqualFold(scheme, "Bearer") {
			bearerError(w, http.StatusUnauthorized, apierror.InvalidRequest, "use the Bearer scheme")
			return
		}
		token = strings.TrimSpace(v)
	} else if r.Method == http.MethodPost {
		form, err := ParseForm(r)
		if err != nil {
			bearerError(w, http.StatusBadRequest, apierror.InvalidRequest, "the body must be a form")
			return
		}
		token = form.Get("access_token")
	}
	if token == "" {
		writeBearerError(w, errNoToken)
		return
	}
	if strings.ToValidUTF8(token, "\uFFFD") != token {
		// No token of ours is anything but ASCII, and gRPC cannot carry a string that is not UTF-8.
		bearerError(w, http.StatusUnauthorized, apierror.InvalidToken, "the access token is not valid")
		return
	}
	resp, err := g.authz.UserInfo(r.Context(), &tokenv1.UserInfoRequest{AccessToken: token})
	if err != nil {
		writeBearerError(w, err)
		return
	}
	// updated_at is a JSON number (OIDC Core §5.1; see marshalOAuthJSON).
	if err := writeOAuthJSON(w, resp); err != nil {
		writeOAuthError(w, err, false)
	}
}

// bearerError answers an RFC 6750 §3 error with its WWW-Authenticate challenge (writeAnswer).
func bearerError(w http.ResponseWriter, status int, code, desc string) {
	writeBearerError(w, &apierror.OAuthError{Code: code, Description: desc, Status: status})
}

// writeBearerError answers err as a protected resource's error (RFC 6750 §3): errNoToken with a bare
// challenge, anything else with a challenge naming the error.
func writeBearerError(w http.ResponseWriter, err error) {
	writeAnswer(w, err, answer{kind: bearerJSON, bearer: true}, nil)
}

// corsPaths are the endpoints browsers may call cross-origin (docs/reference/oauth.md#cors: token, userinfo and discovery), for the
// origins some client lists in allowedCorsOrigins.
var corsPaths = map[string]bool{
	"/connect/token": true, "/connect/userinfo": true,
	"/.well-known/openid-configuration": true, "/.well-known/openid-configuration/jwks": true,
}

// cors adds the CORS headers (Fetch standard) for allowed origins and answers preflights. It reports
// whether the request was answered.
func (g *Gateway) cors(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || !corsPaths[r.URL.Path] {
		return false
	}
	w.Header().Add("Vary", "Origin")
	preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
	resp, err := g.authz.CheckCorsOrigin(r.Context(), &tokenv1.CheckCorsOriginRequest{Origin: origin})
	if err == nil && resp.GetAllowed() {
		w.Header().Set("Access-Control-Allow-Origin", origin)
		w.Header().Set("Access-Control-Expose-Headers", revisionHeader) // the revision barrier (revision.go)
		if preflight {
			w.Header().Set("Access-Control-Allow-Methods", "GET, POST")
			w.Header().Set("Access-Control-Allow-Headers", "Authorization, Content-Type, "+revisionHeader)
			w.Header().Set("Access-Control-Max-Age", "600")
		}
	}
	if preflight {
		w.WriteHeader(http.StatusNoContent)
		return true
	}
	return false
}
