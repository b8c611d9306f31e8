package gateway

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/apistatus"
	"github.com/authsuite/authsuite/internal/i18n"
)

// Self-service pages (SelfServiceService): "forgot password" (/account/forgot), the reset link's page
// (/account/reset), the verification link's page (/account/verify-email) and self-registration
// (/connect/register). Every form is a POST with a CSRF token bound to the browser's CSRF cookie and to the
// form (its link's token, or the login interaction), like the login form. A link opened with GET changes
// nothing: the verification page asks for a button press, so a mail scanner that fetches links does not use
// them up. Pages never put a link token anywhere but in the form that posts it back (Referrer-Policy
// no-referrer, no-store).

// Bounds of the page parameters the gateway reads before calling the token service.
const (
	maxLinkTokenParam = 2048
	maxPageParam      = 512
)

// selfServicePages serves the self-service pages with the token service's SelfServiceService.
type selfServicePages struct {
	*Gateway
	ss tokenv1.SelfServiceServiceClient
}

// registerSelfService registers password reset, e-mail verification and self-registration pages.
func (gw *Gateway) registerSelfService(cc grpc.ClientConnInterface) error {
	g := &selfServicePages{Gateway: gw, ss: tokenv1.NewSelfServiceServiceClient(cc)}
	return g.handle([]route{
		{http.MethodGet, "/account/forgot", g.forgotPage},
		{http.MethodPost, "/account/forgot", g.forgotSubmit},
		{http.MethodGet, "/account/reset", g.resetPage},
		{http.MethodPost, "/account/reset", g.resetSubmit},
		{http.MethodGet, "/account/verify-email", g.verifyPage},
		{http.MethodPost, "/account/verify-email", g.verifySubmit},
		{http.MethodGet, "/connect/register", g.registerPage},
		{http.MethodPost, "/connect/register", g.registerSubmit},
	}...)
}

// CSRF bindings of the self-service forms (the "interaction" of formCSRF).
const (
	csrfForgot = "selfservice:forgot"
)

// linkCSRFBinding binds a link page's form to its link (kind and the token's SHA-256).
func linkCSRFBinding(kind, token string) string {
	h := sha256.Sum256([]byte(token))
	return "selfservice:" + kind + ":" + base64.RawURLEncoding.EncodeToString(h[:])
}

// uiLocalesParam is the ui_locales of a page request (bounded), for a page without a tenant's context yet.
func uiLocalesParam(q url.Values) *tokenv1.PageContext {
	v := q.Get("ui_locales")
	if len(v) > maxPageParam {
		v = ""
	}
	return &tokenv1.PageContext{UiLocales: strings.Fields(v)}
}

// selfServiceForm parses a posted self-service form and checks its CSRF token against binding(form); on
// failure it has answered.
func (g *selfServicePages) selfServiceForm(w http.ResponseWriter, r *http.Request, binding func(url.Values) string) (url.Values, bool) {
	pageHeaders(w.Header())
	form, err := ParseForm(r)
	if err != nil {
		g.pageError(w, r, err)
		return nil, false
	}
	if b := binding(form); b == "" || !g.validCSRF(r, b, form.Get("csrf_token")) {
		g.showMessage(w, r, uiLocalesParam(form), http.StatusForbidden, "selfservice.form_expired", nil)
		return nil, false
	}
	return form, true
}

// failed answers an unexpected failure of the token service: its own page for what it names
// (unavailable, ...), else the generic one.
func (g *selfServicePages) failed(w http.ResponseWriter, r *http.Request, pc *tokenv1.PageContext, err error) {
	switch apistatus.FromStatus(err).Code {
	case codes.Unavailable, codes.DeadlineExceeded:
		g.showMessage(w, r, pc, http.StatusServiceUnavailable, "selfservice.failed", nil)
	default:
		g.pageError(w, r, err)
	}
}

// forgotPage serves GET /account/forgot?tenant=<id or code>&ui_locales=…: the form asking for the
// organisation and the login.
func (g *selfServicePages) forgotPage(w http.ResponseWriter, r *http.Request) {
	pageHeaders(w.Header())
	q := r.URL.Query()
	tenant := q.Get("tenant")
	if len(tenant) > maxPageParam {
		tenant = ""
	}
	g.renderForgot(w, r, http.StatusOK, uiLocalesParam(q), tenant, "", "")
}

func (g *selfServicePages) renderForgot(w http.ResponseWriter, r *http.Request, status int, pc *tokenv1.PageContext, tenant, login, errKey string) {
	d := pageData(r, pc, "forgot.title")
	d["Tenant"], d["Login"], d["CSRF"] = tenant, login, g.formCSRF(w, r, csrfForgot)
	d["UILocales"] = d["L"].(i18n.Localizer).Lang
	if errKey != "" {
		d["Error"] = d["L"].(i18n.Localizer).T(errKey)
	}
	g.render(w, status, "forgot.html", d)
}

// forgotSubmit serves POST /account/forgot: it asks for the mail and says the same whatever happened.
func (g *selfServicePages) forgotSubmit(w http.ResponseWriter, r *http.Request) {
	form, ok := g.selfServiceForm(w, r, func(url.Values) string { return csrfForgot })
	if !ok {
		return
	}
	pc := uiLocalesParam(form)
	tenant, login := strings.TrimSpace(form.Get("tenant")), strings.TrimSpace(form.Get("login"))
	l := pageData(r, pc, "forgot.title")["L"].(i18n.Localizer)
	_, err := g.ss.RequestPasswordReset(r.Context(), &tokenv1.RequestPasswordResetRequest{Tenant: tenant, Login: login, Locale: l.Lang,
		Browser: g.browser(r)})
	switch apistatus.FromStatus(err).Code {
	case codes.OK:
		g.showMessage(w, r, pc, http.StatusOK, "forgot.sent", nil)
	case codes.InvalidArgument:
		g.renderForgot(w, r, http.StatusBadRequest, pc, tenant, login, "forgot.missing")
	case codes.ResourceExhausted:
		g.renderForgot(w, r, http.StatusTooManyRequests, pc, tenant, login, "forgot.throttled")
	default:
		g.failed(w, r, pc, err)
	}
}

// linkToken reads a link page's token (the query on GET, the form on POST); "" when absent or too long.
func linkToken(v url.Values) string {
	t := v.Get("token")
	if len(t) > maxLinkTokenParam {
		return ""
	}
	return t
}

// resetPage serves GET /account/reset?token=…: the new-password form when the link is good.
func (g *selfServicePages) resetPage(w http.ResponseWriter, r *http.Request) {
	pageHeaders(w.Header())
	tok := linkToken(r.URL.Query())
	pc := uiLocalesParam(r.URL.Query())
	if tok == "" {
		g.showMessage(w, r, pc, http.StatusBadRequest, "link.invalid", nil)
		return
	}
	resp, err := g.ss.CheckPasswordReset(r.Context(), &tokenv1.CheckPasswordResetRequest{Token: tok})
	switch apistatus.FromStatus(err).Code {
	case codes.OK:
		g.renderReset(w, r, http.StatusOK, resp.GetPage(), tok, resp.GetLoginName(), "")
	case codes.FailedPrecondition, codes.InvalidArgument:
		g.showMessage(w, r, pc, http.StatusBadRequest, "link.invalid", nil)
	default:
		g.failed(w, r, pc, err)
	}
}

func (g *selfServicePages) renderReset(w http.ResponseWriter, r *http.Request, status int, pc *tokenv1.PageContext, tok, login, errText string) {
	d := pageData(r, pc, "reset.title")
	d["Token"], d["LoginName"], d["Error"] = tok, login, errText
	d["CSRF"] = g.formCSRF(w, r, linkCSRFBinding("reset", tok))
	g.render(w, status, "reset.html", d)
}

// resetSubmit serves POST /account/reset: the new password, typed twice.
func (g *selfServicePages) resetSubmit(w http.ResponseWriter, r *http.Request) {
	form, ok := g.selfServiceForm(w, r, func(f url.Values) string {
		if t := linkToken(f); t != "" {
			return linkCSRFBinding("reset", t)
		}
		return ""
	})
	if !ok {
		return
	}
	tok, pw := linkToken(form), form.Get("new_password")
	pc := uiLocalesParam(form)
	if pw == "" || pw != form.Get("repeat_password") {
		chk, err := g.ss.CheckPasswordReset(r.Context(), &tokenv1.CheckPasswordResetRequest{Token: tok})
		if err != nil {
			g.showMessage(w, r, pc, http.StatusBadRequest, "link.invalid", nil)
			return
		}
		l := pageData(r, chk.GetPage(), "reset.title")["L"].(i18n.Localizer)
		g.renderReset(w, r, http.StatusBadRequest, chk.GetPage(), tok, chk.GetLoginName(), l.T("reset.mismatch"))
		return
	}
	resp, err := g.ss.CompletePasswordReset(r.Context(), &tokenv1.CompletePasswordResetRequest{Token: tok, NewPassword: pw, Browser: g.browser(r)})
	switch st := apistatus.FromStatus(err); st.Code {
	case codes.OK:
		// The user's sessions ended; so does this browser's.
		http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
			Secure: g.secureCookies, SameSite: http.SameSiteLaxMode})
		g.showMessage(w, r, resp.GetPage(), http.StatusOK, "reset.done", nil)
	case codes.InvalidArgument:
		chk, cerr := g.ss.CheckPasswordReset(r.Context(), &tokenv1.CheckPasswordResetRequest{Token: tok})
		if cerr != nil {
			g.showMessage(w, r, pc, http.StatusBadRequest, "link.invalid", nil)
			return
		}
		l := pageData(r, chk.GetPage(), "reset.title")["L"].(i18n.Localizer)
		reason := st.Message
		if _, after, ok := strings.Cut(reason, ": "); ok {
			reason = after // the field name is the form's, not the user's concern
		}
		g.renderReset(w, r, http.StatusBadRequest, chk.GetPage(), tok, chk.GetLoginName(), l.T("reset.rejected", "reason", reason))
	case codes.FailedPrecondition:
		g.showMessage(w, r, pc, http.StatusBadRequest, "link.invalid", nil)
	default:
		g.failed(w, r, pc, err)
	}
}

// verifyPage serves GET /account/verify-email?token=…: a page with a button that posts the token. Nothing
// is used up by opening it.
func (g *selfServicePages) verifyPage(w http.ResponseWriter, r *http.Request) {
	pageHeaders(w.Header())
	q := r.URL.Query()
	tok := linkToken(q)
	if tok == "" {
		g.showMessage(w, r, uiLocalesParam(q), http.StatusBadRequest, "link.invalid", nil)
		return
	}
	d := pageData(r, uiLocalesParam(q), "verify.title")
	d["Token"], d["CSRF"] = tok, g.formCSRF(w, r, linkCSRFBinding("verify", tok))
	g.render(w, http.StatusOK, "verify.html", d)
}

// verifySubmit serves POST /account/verify-email: with a link's token, the verification page's button
// (VerifyEmail); without one, the account page's "send a verification mail" form (SendEmailVerification,
// CSRF-bound to the session like every account form), which returns to /account.
func (g *selfServicePages) verifySubmit(w http.ResponseWriter, r *http.Request) {
	pageHeaders(w.Header())
	form, err := ParseForm(r)
	if err != nil {
		g.pageError(w, r, err)
		return
	}
	pc := uiLocalesParam(form)
	tok := linkToken(form)
	if form.Get("token") == "" {
		g.sendVerification(w, r, form)
		return
	}
	if tok == "" || !g.validCSRF(r, linkCSRFBinding("verify", tok), form.Get("csrf_token")) {
		g.showMessage(w, r, pc, http.StatusForbidden, "selfservice.form_expired", nil)
		return
	}
	resp, err := g.ss.VerifyEmail(r.Context(), &tokenv1.VerifyEmailRequest{Token: tok, Browser: g.browser(r)})
	switch apistatus.FromStatus(err).Code {
	case codes.OK:
		g.showMessage(w, r, resp.GetPage(), http.StatusOK, "verify.done", map[string]string{"email": resp.GetEmail()})
	case codes.FailedPrecondition, codes.InvalidArgument:
		g.showMessage(w, r, pc, http.StatusBadRequest, "link.invalid", nil)
	default:
		g.failed(w, r, pc, err)
	}
}

// sendVerification is the account page's "send a verification mail" form.
func (g *selfServicePages) sendVerification(w http.ResponseWriter, r *http.Request, form url.Values) {
	accountHeaders(w.Header())
	if !g.validAccountCSRF(r, form.Get("csrf_token")) {
		g.showMessage(w, r, nil, http.StatusForbidden, "selfservice.form_expired", nil)
		return
	}
	l := pageData(r, uiLocalesParam(form), "verify.title")["L"].(i18n.Localizer)
	_, err := g.ss.SendEmailVerification(r.Context(), &tokenv1.SendEmailVerificationRequest{Browser: g.browser(r), Locale: l.Lang})
	switch apistatus.FromStatus(err).Code {
	case codes.OK:
		redirect(w, r, "/account?done=verification_sent")
	case codes.Unauthenticated:
		redirect(w, r, "/account")
	case codes.FailedPrecondition, codes.ResourceExhausted:
		g.showMessage(w, r, nil, http.StatusConflict, "selfservice.failed", nil)
	default:
		g.failed(w, r, nil, err)
	}
}

// registerPage serves GET /connect/register?interaction=…&ui_locales=…: the registration form of a login
// page's interaction.
func (g *selfServicePages) registerPage(w http.ResponseWriter, r *http.Request) {
	pageHeaders(w.Header())
	q := r.URL.Query()
	id := q.Get("interaction")
	if id == "" || len(id) > maxPageParam {
		g.showMessage(w, r, uiLocalesParam(q), http.StatusBadRequest, "link.invalid", nil)
		return
	}
	g.renderRegister(w, r, http.StatusOK, uiLocalesParam(q), id, q, "")
}

func (g *selfServicePages) renderRegister(w http.ResponseWriter, r *http.Request, status int, pc *tokenv1.PageContext, id string, v url.Values, errKey string) {
	d := pageData(r, pc, "register.title")
	l := d["L"].(i18n.Localizer)
	d["Interaction"], d["CSRF"], d["UILocales"] = id, g.formCSRF(w, r, id), l.Lang
	d["LoginName"], d["Email"], d["DisplayName"] = v.Get("login_name"), v.Get("email"), v.Get("display_name")
	if errKey != "" {
		d["Error"] = l.T(errKey)
	}
	g.render(w, status, "register.html", d)
}

// registerSubmit serves POST /connect/register: on success the person is signed in and the sign-in goes
// on (the step of the login it replaces).
func (g *selfServicePages) registerSubmit(w http.ResponseWriter, r *http.Request) {
	form, ok := g.selfServiceForm(w, r, func(f url.Values) string { return f.Get("interaction") })
	if !ok {
		return
	}
	pc := uiLocalesParam(form)
	id := form.Get("interaction")
	if form.Get("password") != form.Get("repeat_password") {
		g.renderRegister(w, r, http.StatusBadRequest, pc, id, form, "register.mismatch")
		return
	}
	l := pageData(r, pc, "register.title")["L"].(i18n.Localizer)
	resp, err := g.ss.Register(r.Context(), &tokenv1.RegisterRequest{InteractionId: id, LoginName: form.Get("login_name"),
		Email: form.Get("email"), DisplayName: form.Get("display_name"), Password: form.Get("password"), Locale: l.Lang, Browser: g.browser(r)})
	switch {
	case err != nil:
		g.pageError(w, r, err)
	case resp.GetErrorCode() != "":
		status := http.StatusBadRequest
		if resp.GetErrorCode() == "register.throttled" {
			status = http.StatusTooManyRequests
		}
		g.renderRegister(w, r, status, pc, id, form, resp.GetErrorCode())
	default:
		g.step(w, r, resp.GetStep())
	}
}
