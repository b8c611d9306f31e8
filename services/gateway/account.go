package gateway

import (
	"crypto/sha256"
	"encoding/base64"
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/internal/apistatus"
	"github.com/authsuite/authsuite/internal/i18n"
)

// The account page (/account): a signed-in person manages their password, TOTP, passkeys, sessions and
// remembered consents (AccountService). Every form is a POST carrying a CSRF token bound to the browser's
// CSRF cookie and to its session (accountCSRF), so a form of another site, or one rendered for another
// session, is refused. The page is server-rendered and runs no script; its CSP allows images from data:
// URIs only (the QR code). Adding a passkey is a page of its own (passkey.go).

// accountCSP is the account page's Content-Security-Policy: pageHeaders' (no script at all; images only
// from data: URIs, the QR code and the logo) with forms allowed to post to this origin only.
const accountCSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// accountNotices are the notices /account?done=<key> shows after a form succeeded (a fixed set: the query
// cannot put arbitrary text on the page).
var accountNotices = map[string]bool{
	"password_changed": true, "totp_deleted": true, "session_ended": true, "consent_revoked": true,
	"passkey_deleted": true, "passkey_added": true, "reauth": true, "verification_sent": true,
}

// maxAccountTenantParam bounds the tenant named in /account/signin.
const maxAccountTenantParam = 128

// accountPages serves the account page with the token service's AccountService.
type accountPages struct {
	*Gateway
	account tokenv1.AccountServiceClient
}

// registerAccount registers the account page (/account) and its forms.
func (gw *Gateway) registerAccount(cc grpc.ClientConnInterface) error {
	g := &accountPages{Gateway: gw, account: tokenv1.NewAccountServiceClient(cc)}
	return g.handle([]route{
		{http.MethodGet, "/account", g.accountPage},
		{http.MethodGet, "/account/signin", g.accountSignIn},
		{http.MethodPost, "/account/password", g.accountPassword},
		{http.MethodPost, "/account/totp", g.accountTotpBegin},
		{http.MethodPost, "/account/totp/confirm", g.accountTotpConfirm},
		{http.MethodPost, "/account/totp/delete", g.accountTotpDelete},
		{http.MethodPost, "/account/recovery-codes", g.accountRecoveryCodes},
		{http.MethodPost, "/account/sessions/end", g.accountEndSession},
		{http.MethodPost, "/account/consents/revoke", g.accountRevokeConsent},
		{http.MethodPost, "/account/passkeys/delete", g.accountDeletePasskey},
	}...)
}

// accountHeaders are pageHeaders with the account page's CSP.
func accountHeaders(h http.Header) {
	pageHeaders(h)
	h.Set("Content-Security-Policy", accountCSP)
}

// accountCSRFBinding is what an account form's CSRF token is bound to: the SHA-256 of the session cookie
// (never the cookie itself), so a token is good only for the session it was rendered for.
func accountCSRFBinding(r *http.Request) string {
	c, err := r.Cookie(SessionCookie)
	if err != nil || c.Value == "" {
		return ""
	}
	h := sha256.Sum256([]byte(c.Value))
	return "account:" + base64.RawURLEncoding.EncodeToString(h[:])
}

// accountCSRF returns the CSRF token of the account page's forms for the browser's session, setting the
// CSRF cookie when needed (formCSRF with the session as the "interaction").
func (g *Gateway) accountCSRF(w http.ResponseWriter, r *http.Request) string {
	return g.formCSRF(w, r, accountCSRFBinding(r))
}

// validAccountCSRF reports whether a posted account form's csrf_token was rendered for this browser's CSRF
// cookie and session (validCSRF; a browser without a session has no valid token).
func (g *Gateway) validAccountCSRF(r *http.Request, token string) bool {
	b := accountCSRFBinding(r)
	return b != "" && g.validCSRF(r, b, token)
}

// accountForm parses an account form and checks its CSRF token; on failure it has answered (403 page).
func (g *accountPages) accountForm(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	accountHeaders(w.Header())
	form, err := ParseForm(r)
	if err != nil {
		g.pageError(w, r, err)
		return nil, false
	}
	if !g.validAccountCSRF(r, form.Get("csrf_token")) {
		g.showMessage(w, r, nil, http.StatusForbidden, "account.error.form", nil)
		return nil, false
	}
	return form, true
}

// accountSignIn serves GET /account/signin?tenant=<id or code>&ui_locales=…[&reauth=1]: the login page of the
// tenant, or /account when the browser is signed in there already. reauth asks for the password again even
// then (the browser's session is not shown to the token service; the new sign-in replaces it).
func (g *accountPages) accountSignIn(w http.ResponseWriter, r *http.Request) {
	accountHeaders(w.Header())
	q := r.URL.Query()
	tenant := strings.TrimSpace(q.Get("tenant"))
	if tenant == "" || len(tenant) > maxAccountTenantParam {
		g.accountChooser(w, r, http.StatusBadRequest, true)
		return
	}
	b := g.browser(r)
	if q.Get("reauth") == "1" {
		b.SessionCookie = ""
	}
	resp, err := g.account.StartAccountSignIn(r.Context(), &tokenv1.StartAccountSignInRequest{
		Tenant: tenant, UiLocales: strings.Fields(q.Get("ui_locales")), Browser: b,
	})
	switch apistatus.FromStatus(err).Code {
	case codes.OK:
	case codes.NotFound, codes.InvalidArgument:
		g.accountChooser(w, r, http.StatusNotFound, true)
		return
	default:
		g.pageError(w, r, err)
		return
	}
	g.step(w, r, resp.GetStep())
}

// accountChooser renders the page asking for the organisation code (a GET form to /account/signin).
func (g *accountPages) accountChooser(w http.ResponseWriter, r *http.Request, status int, unknown bool) {
	d := pageData(r, nil, "account.signin.title")
	d["Unknown"] = unknown && r.URL.Query().Get("tenant") != ""
	d["Tenant"] = r.URL.Query().Get("tenant")
	g.render(w, status, "account_signin.html", d)
}

// accountPage serves GET /account: the page of the signed-in person, or, without a session, the
// organisation-code page (with ?tenant= straight to that tenant's sign-in).
func (g *accountPages) accountPage(w http.ResponseWriter, r *http.Request) {
	accountHeaders(w.Header())
	g.showAccount(w, r, http.StatusOK, nil)
}

// showAccount renders the account page with extra data (errors, an enrolment, recovery codes).
func (g *accountPages) showAccount(w http.ResponseWriter, r *http.Request, status int, extra map[string]any) {
	acc, err := g.account.GetAccount(r.Context(), &tokenv1.GetAccountRequest{Browser: g.browser(r)})
	if err != nil {
		if apistatus.FromStatus(err).Code == codes.Unauthenticated {
			if t := r.URL.Query().Get("tenant"); t != "" && r.Method == http.MethodGet {
				redirect(w, r, "/account/signin?"+url.Values{"tenant": {t}, "ui_locales": {r.URL.Query().Get("ui_locales")}}.Encode())
				return
			}
			if r.Method == http.MethodPost {
				redirect(w, r, "/account")
				return
			}
			g.accountChooser(w, r, http.StatusOK, false)
			return
		}
		g.pageError(w, r, err)
		return
	}
	pc := acc.GetPage()
	if pc != nil {
		if ui := strings.Fields(r.URL.Query().Get("ui_locales")); len(ui) > 0 {
			pc.UiLocales = ui
		}
	}
	d := pageData(r, pc, "account.title")
	l := d["L"].(i18n.Localizer)
	d["Account"] = acc
	d["CSRF"] = g.accountCSRF(w, r)
	d["Recent"] = acc.GetRecentSignIn()
	d["ReauthURL"] = "/account/signin?" + url.Values{"tenant": {acc.GetTenantId()}, "reauth": {"1"}}.Encode()
	d["Passkeys"] = accountPasskeyRows(acc.GetPasskeys())
	d["Sessions"] = accountSessionRows(l, acc.GetSessions())
	d["Consents"] = accountConsentRows(l, acc.GetConsents())
	if n := r.URL.Query().Get("done"); accountNotices[n] && r.Method == http.MethodGet {
		d["Notice"] = l.T("account.notice." + n)
	}
	for k, v := range extra {
		d[k] = v
	}
	g.render(w, status, "account.html", d)
}

// accountTime formats a time for the page: language-neutral ISO 8601 in UTC.
func accountTime(t *timestamppb.Timestamp) string {
	if !t.IsValid() || t.AsTime().Unix() <= 0 {
		return ""
	}
	return t.AsTime().UTC().Format("2006-01-02 15:04") + " UTC"
}

// accountPasskeyRow is one passkey as the page's passkey section (template "account-passkeys") lists it.
type accountPasskeyRow struct {
	ID, Name, Created, LastUsed string
	Synced                      bool
}

func accountPasskeyRows(in []*tokenv1.AccountPasskey) []accountPasskeyRow {
	out := make([]accountPasskeyRow, 0, len(in))
	for _, p := range in {
		out = append(out, accountPasskeyRow{ID: p.GetId(), Name: p.GetName(), Created: accountTime(p.GetCreateTime()),
			LastUsed: accountTime(p.GetLastUsedTime()), Synced: p.GetSynced()})
	}
	return out
}

// accountSessionRow is one session as the page lists it.
type accountSessionRow struct {
	SID, AuthTime, Methods, Apps string
	Current                      bool
}

func accountSessionRows(l i18n.Localizer, in []*tokenv1.AccountSession) []accountSessionRow {
	out := make([]accountSessionRow, 0, len(in))
	for _, s := range in {
		out = append(out, accountSessionRow{SID: s.GetSid(), AuthTime: accountTime(s.GetAuthTime()), Methods: strings.Join(s.GetAmr(), ", "),
			Apps: strings.Join(s.GetClientNames(), ", "), Current: s.GetCurrent()})
	}
	return out
}

// accountConsentRow is one remembered consent as the page lists it.
type accountConsentRow struct {
	ClientID, ClientName, Expires string
	Scopes                        []scopeText
}

func accountConsentRows(l i18n.Localizer, in []*tokenv1.AccountConsent) []accountConsentRow {
	out := make([]accountConsentRow, 0, len(in))
	for _, c := range in {
		out = append(out, accountConsentRow{ClientID: c.GetClientId(), ClientName: c.GetClientName(), Expires: accountTime(c.GetExpireTime()),
			Scopes: scopeTexts(l, c.GetScopes())})
	}
	return out
}

// accountFailed answers a failed account call: not signed in → /account (the sign-in page); a sign-in too
// old → /account?done=reauth (the page offers to sign in again); a throttled attempt, a wrong field or a
// vanished item → the page again with the error in the page's language (status 4xx); anything else the
// error page.
func (g *accountPages) accountFailed(w http.ResponseWriter, r *http.Request, err error, extra map[string]any) {
	info := apistatus.FromStatus(err)
	key := ""
	status := apistatus.HTTPStatus(info.Code)
	switch {
	case info.Code == codes.Unauthenticated:
		redirect(w, r, "/account")
		return
	case info.Code == codes.FailedPrecondition && info.Message == "reauthentication_required":
		redirect(w, r, "/account?done=reauth")
		return
	case info.Code == codes.ResourceExhausted || info.HTTPStatus == http.StatusTooManyRequests || info.RetryAfter > 0:
		key, status = "account.error.throttled", http.StatusTooManyRequests
		if info.RetryAfter > 0 {
			w.Header().Set("Retry-After", apierror.RetryAfterSeconds(info.RetryAfter))
		}
	case info.Code == codes.InvalidArgument && info.Field == "current_password":
		key = "account.error.current_password"
	case info.Code == codes.InvalidArgument && (info.Field == "new_password" || info.Field == "newPassword"):
		key = "account.error.new_password"
	case info.Code == codes.InvalidArgument && (info.Field == "code" || info.Field == "enrollment"):
		key = "account.error.code"
	case info.Code == codes.NotFound:
		key = "account.error.not_found"
	case info.Code == codes.InvalidArgument:
		key = "account.error.invalid"
	default:
		g.pageError(w, r, err)
		return
	}
	if extra == nil {
		extra = map[string]any{}
	}
	extra["ErrorKey"], extra["ErrorDetail"] = key, ""
	if key == "account.error.new_password" || key == "account.error.invalid" {
		extra["ErrorDetail"] = info.Message // the registry's password rules, naming the rule broken
	}
	g.showAccount(w, r, status, extra)
}

// accountPassword serves POST /account/password.
func (g *accountPages) accountPassword(w http.ResponseWriter, r *http.Request) {
	form, ok := g.accountForm(w, r)
	if !ok {
		return
	}
	_, err := g.account.ChangeAccountPassword(r.Context(), &tokenv1.ChangeAccountPasswordRequest{
		Browser: g.browser(r), CurrentPassword: form.Get("current_password"), NewPassword: form.Get("new_password"),
	})
	if err != nil {
		g.accountFailed(w, r, err, nil)
		return
	}
	redirect(w, r, "/account?done=password_changed")
}

// accountTotpBegin serves POST /account/totp: the page with the new key's QR code and the code form.
func (g *accountPages) accountTotpBegin(w http.ResponseWriter, r *http.Request) {
	if _, ok := g.accountForm(w, r); !ok {
		return
	}
	resp, err := g.account.BeginAccountTotp(r.Context(), &tokenv1.BeginAccountTotpRequest{Browser: g.browser(r)})
	if err != nil {
		g.accountFailed(w, r, err, nil)
		return
	}
	g.showAccount(w, r, http.StatusOK, totpEnrolment(resp.GetEnrollment(), resp.GetSecret(), base64.StdEncoding.EncodeToString(resp.GetQrPng())))
}

// totpEnrolment is the page data of an open TOTP enrolment. qr is the PNG, base64 (only base64 characters
// reach the data: URI).
func totpEnrolment(enrollment, secret, qr string) map[string]any {
	d := map[string]any{"Enrollment": enrollment, "Secret": secret, "QRBase64": qr}
	if qr != "" && len(qr) <= 64<<10 && logoPattern.MatchString("data:image/png;base64,"+qr) {
		d["QR"] = template.URL("data:image/png;base64," + qr)
	}
	return d
}

// accountTotpConfirm serves POST /account/totp/confirm: on success the page showing the recovery codes once;
// with a wrong code the enrolment page again.
func (g *accountPages) accountTotpConfirm(w http.ResponseWriter, r *http.Request) {
	form, ok := g.accountForm(w, r)
	if !ok {
		return
	}
	resp, err := g.account.ConfirmAccountTotp(r.Context(), &tokenv1.ConfirmAccountTotpRequest{
		Browser: g.browser(r), Enrollment: form.Get("enrollment"), Code: form.Get("code"),
	})
	if err != nil {
		g.accountFailed(w, r, err, totpEnrolment(form.Get("enrollment"), form.Get("secret"), form.Get("qr")))
		return
	}
	g.showAccount(w, r, http.StatusOK, map[string]any{"RecoveryCodes": resp.GetRecoveryCodes(), "Notice": ""})
}

// accountTotpDelete serves POST /account/totp/delete.
func (g *accountPages) accountTotpDelete(w http.ResponseWriter, r *http.Request) {
	if _, ok := g.accountForm(w, r); !ok {
		return
	}
	if _, err := g.account.DeleteAccountTotp(r.Context(), &tokenv1.DeleteAccountTotpRequest{Browser: g.browser(r)}); err != nil {
		g.accountFailed(w, r, err, nil)
		return
	}
	redirect(w, r, "/account?done=totp_deleted")
}

// accountRecoveryCodes serves POST /account/recovery-codes: the new codes, shown once.
func (g *accountPages) accountRecoveryCodes(w http.ResponseWriter, r *http.Request) {
	if _, ok := g.accountForm(w, r); !ok {
		return
	}
	resp, err := g.account.RegenerateAccountRecoveryCodes(r.Context(), &tokenv1.RegenerateAccountRecoveryCodesRequest{Browser: g.browser(r)})
	if err != nil {
		g.accountFailed(w, r, err, nil)
		return
	}
	g.showAccount(w, r, http.StatusOK, map[string]any{"RecoveryCodes": resp.GetRecoveryCodes()})
}

// accountEndSession serves POST /account/sessions/end; ending the browser's own session clears its cookie
// and shows the signed-out page.
func (g *accountPages) accountEndSession(w http.ResponseWriter, r *http.Request) {
	form, ok := g.accountForm(w, r)
	if !ok {
		return
	}
	resp, err := g.account.EndAccountSession(r.Context(), &tokenv1.EndAccountSessionRequest{Browser: g.browser(r), Sid: form.Get("sid")})
	if err != nil {
		g.accountFailed(w, r, err, nil)
		return
	}
	if resp.GetCurrent() {
		g.signedOut(w, r, resp.GetSecureCookies(), "", true)
		return
	}
	redirect(w, r, "/account?done=session_ended")
}

// accountRevokeConsent serves POST /account/consents/revoke.
func (g *accountPages) accountRevokeConsent(w http.ResponseWriter, r *http.Request) {
	form, ok := g.accountForm(w, r)
	if !ok {
		return
	}
	if _, err := g.account.RevokeAccountConsent(r.Context(), &tokenv1.RevokeAccountConsentRequest{Browser: g.browser(r), ClientId: form.Get("client_id")}); err != nil {
		g.accountFailed(w, r, err, nil)
		return
	}
	redirect(w, r, "/account?done=consent_revoked")
}

// accountDeletePasskey serves POST /account/passkeys/delete.
func (g *accountPages) accountDeletePasskey(w http.ResponseWriter, r *http.Request) {
	form, ok := g.accountForm(w, r)
	if !ok {
		return
	}
	if _, err := g.account.DeleteAccountPasskey(r.Context(), &tokenv1.DeleteAccountPasskeyRequest{Browser: g.browser(r), Id: form.Get("id")}); err != nil {
		g.accountFailed(w, r, err, nil)
		return
	}
	redirect(w, r, "/account?done=passkey_deleted")
}
