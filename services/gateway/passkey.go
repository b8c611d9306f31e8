package gateway

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/apistatus"
	"github.com/authsuite/authsuite/services/gateway/i18n"
)

// Passkey pages (W3C WebAuthn). Every ceremony ends in an ordinary form POST, CSRF-protected like the
// sign-in forms: static/webauthn.js only runs navigator.credentials.get/create and puts the credential
// (JSON) in a hidden field. The token service verifies everything.
//
//	GET  /static/webauthn.js           the script (static.go)
//	POST /connect/login/passkey        password-less sign-in from the login page (interaction, csrf_token,
//	                                   webauthn_assertion) → AuthorizeService.PasskeyLogin
//	GET  /account/passkeys/new         the "add a passkey" page (creation options, sealed ceremony)
//	POST /account/passkeys             its form (csrf_token, ceremony, webauthn_attestation, name)
//	GET  /account/passkeys/delete?id=  the confirmation page of a deletion
//	POST /account/passkeys/delete      its form (csrf_token, id)
//
// Account forms are bound (CSRF) to the browser's CSRF cookie and its session cookie, so a token from one
// session does not serve another.

// passkeyPages serves the passkey pages with the token service's clients.
type passkeyPages struct {
	g       *Gateway
	authz   tokenv1.AuthorizeServiceClient
	account tokenv1.AccountServiceClient
}

// registerPasskey registers the passkey pages and the script.
func (g *Gateway) registerPasskey(cc grpc.ClientConnInterface) error {
	p := &passkeyPages{g: g, authz: tokenv1.NewAuthorizeServiceClient(cc), account: tokenv1.NewAccountServiceClient(cc)}
	routes := []struct {
		method, path string
		h            http.HandlerFunc
	}{
		{http.MethodGet, webauthnScriptPath, staticScript},
		{http.MethodPost, "/connect/login/passkey", p.login},
		{http.MethodGet, "/account/passkeys/new", p.newPage},
		{http.MethodPost, "/account/passkeys", p.create},
		{http.MethodGet, "/account/passkeys/delete", p.deletePage},
		{http.MethodPost, "/account/passkeys/delete", p.delete},
	}
	for _, r := range routes {
		if err := g.mux.HandlePath(r.method, r.path, adapt(r.h)); err != nil {
			return err
		}
	}
	return nil
}

// login serves POST /connect/login/passkey: the login page's password-less form.
func (p *passkeyPages) login(w http.ResponseWriter, r *http.Request) {
	passkeyPageHeaders(w.Header())
	form, ok := p.g.pageForm(w, r)
	if !ok {
		return
	}
	resp, err := p.authz.PasskeyLogin(r.Context(), &tokenv1.PasskeyLoginRequest{
		InteractionId: form.Get("interaction"), WebauthnAssertion: form.Get("webauthn_assertion"), Browser: p.g.browser(r),
	})
	if err != nil {
		p.g.pageError(w, r, err)
		return
	}
	p.g.step(w, r, resp.GetStep())
}

// passkeyCSRFBinding is what an account passkey form's CSRF token is bound to besides the CSRF cookie:
// the browser's session (its cookie's SHA-256, never the cookie itself).
func passkeyCSRFBinding(r *http.Request) string {
	c, err := r.Cookie(SessionCookie)
	if err != nil || c.Value == "" {
		return ""
	}
	h := sha256.Sum256([]byte(c.Value))
	return "account passkeys " + base64.RawURLEncoding.EncodeToString(h[:])
}

// accountForm parses an account passkey form and checks its CSRF token (403 page when it is wrong).
func (p *passkeyPages) accountForm(w http.ResponseWriter, r *http.Request) (map[string]string, bool) {
	form, err := ParseForm(r)
	if err != nil {
		p.g.pageError(w, r, err)
		return nil, false
	}
	b := passkeyCSRFBinding(r)
	if b == "" || !p.g.validCSRF(r, b, form.Get("csrf_token")) {
		p.g.pageError(w, r, status.Error(codes.PermissionDenied, "The form has expired or did not come from this site. Go back to your account and try again."))
		return nil, false
	}
	out := map[string]string{}
	for k := range form {
		out[k] = form.Get(k)
	}
	return out, true
}

// accountPage answers the account (page context, passkeys) of the browser's session, or sends a browser
// without one to /account (which signs it in) and answers nil.
func (p *passkeyPages) accountPage(w http.ResponseWriter, r *http.Request) *tokenv1.GetAccountResponse {
	acc, err := p.account.GetAccount(r.Context(), &tokenv1.GetAccountRequest{Browser: p.g.browser(r)})
	switch {
	case status.Code(err) == codes.Unauthenticated:
		redirect(w, r, "/account")
		return nil
	case err != nil:
		p.g.pageError(w, r, err)
		return nil
	}
	return acc
}

// refused shows why the token service refused an account passkey call: a sign-in that is not recent (a
// page to sign in again), or the error in the page's language.
func (p *passkeyPages) refused(w http.ResponseWriter, r *http.Request, pc *tokenv1.PageContext, err error) {
	st := status.Convert(err)
	if st.Code() == codes.Unauthenticated {
		redirect(w, r, "/account")
		return
	}
	if st.Code() == codes.FailedPrecondition && st.Message() == "reauthentication_required" {
		d := pageData(r, pc, "passkey.reauth_title")
		d["Message"] = d["L"].(i18n.Localizer).T("passkey.reauth")
		d["Next"] = accountReauthPath
		p.g.render(w, http.StatusForbidden, "passkey_reauth.html", d)
		return
	}
	p.g.pageError(w, r, err)
}

// accountReauthPath signs the browser in again for the account page (prompt=login).
const accountReauthPath = "/account?reauth=1"

// newPage serves GET /account/passkeys/new: the creation options of a new ceremony in the page.
func (p *passkeyPages) newPage(w http.ResponseWriter, r *http.Request) {
	passkeyPageHeaders(w.Header())
	acc := p.accountPage(w, r)
	if acc == nil {
		return
	}
	p.renderNew(w, r, acc.GetPage(), "", "")
}

// renderNew starts a registration and renders the "add a passkey" page with it (with errKey's message).
func (p *passkeyPages) renderNew(w http.ResponseWriter, r *http.Request, pc *tokenv1.PageContext, errKey, name string) {
	begin, err := p.account.BeginPasskeyRegistration(r.Context(), &tokenv1.BeginPasskeyRegistrationRequest{Browser: p.g.browser(r)})
	if err != nil {
		if status.Code(err) == codes.FailedPrecondition && status.Convert(err).Message() != "reauthentication_required" {
			errKey = "passkey.too_many"
			d := pageData(r, pc, "passkey.add_title")
			d["Message"] = d["L"].(i18n.Localizer).T(errKey)
			d["Next"] = "/account"
			p.g.render(w, http.StatusConflict, "passkey_reauth.html", d)
			return
		}
		p.refused(w, r, pc, err)
		return
	}
	d := pageData(r, pc, "passkey.add_title")
	if errKey != "" {
		d["Error"] = d["L"].(i18n.Localizer).T(errKey)
	}
	d["WebAuthnOptions"], d["Ceremony"], d["Name"] = begin.GetWebauthnOptions(), begin.GetCeremony(), name
	d["CSRF"] = p.g.formCSRF(w, r, passkeyCSRFBinding(r))
	st := http.StatusOK
	if errKey != "" {
		st = http.StatusBadRequest
	}
	p.g.render(w, st, "passkey_new.html", d)
}

// create serves POST /account/passkeys: the new credential is verified and stored; the browser goes back
// to /account. A refusal shows the page again with a new ceremony and the reason.
func (p *passkeyPages) create(w http.ResponseWriter, r *http.Request) {
	passkeyPageHeaders(w.Header())
	form, ok := p.accountForm(w, r)
	if !ok {
		return
	}
	_, err := p.account.FinishPasskeyRegistration(r.Context(), &tokenv1.FinishPasskeyRegistrationRequest{
		Browser: p.g.browser(r), Ceremony: form["ceremony"], WebauthnAttestation: form["webauthn_attestation"], Name: form["name"],
	})
	if err == nil {
		redirect(w, r, "/account#passkeys")
		return
	}
	errKey := ""
	switch status.Code(err) {
	case codes.InvalidArgument:
		errKey = "passkey.error"
		if apistatus.FromStatus(err).Field == "name" {
			errKey = "passkey.name_invalid"
		}
	case codes.AlreadyExists:
		errKey = "passkey.exists"
	}
	if errKey == "" {
		p.refused(w, r, nil, err)
		return
	}
	acc := p.accountPage(w, r)
	if acc == nil {
		return
	}
	name := form["name"]
	if len(name) > 256 {
		name = name[:256]
	}
	p.renderNew(w, r, acc.GetPage(), errKey, name)
}

// deletePage serves GET /account/passkeys/delete?id=: a confirmation naming the passkey.
func (p *passkeyPages) deletePage(w http.ResponseWriter, r *http.Request) {
	passkeyPageHeaders(w.Header())
	acc := p.accountPage(w, r)
	if acc == nil {
		return
	}
	id := r.URL.Query().Get("id")
	for _, k := range acc.GetPasskeys() {
		if k.GetId() == id && id != "" {
			d := pageData(r, acc.GetPage(), "passkey.delete_title")
			d["ID"], d["Name"] = k.GetId(), k.GetName()
			d["CSRF"] = p.g.formCSRF(w, r, passkeyCSRFBinding(r))
			p.g.render(w, http.StatusOK, "passkey_delete.html", d)
			return
		}
	}
	d := pageData(r, acc.GetPage(), "passkey.delete_title")
	d["Message"] = d["L"].(i18n.Localizer).T("passkey.not_found")
	d["Next"] = "/account"
	p.g.render(w, http.StatusNotFound, "passkey_reauth.html", d)
}

// delete serves POST /account/passkeys/delete; the browser goes back to /account.
func (p *passkeyPages) delete(w http.ResponseWriter, r *http.Request) {
	passkeyPageHeaders(w.Header())
	form, ok := p.accountForm(w, r)
	if !ok {
		return
	}
	if _, err := p.account.DeleteAccountPasskey(r.Context(), &tokenv1.DeleteAccountPasskeyRequest{Browser: p.g.browser(r), Id: form["id"]}); err != nil && status.Code(err) != codes.NotFound {
		p.refused(w, r, nil, err)
		return
	}
	redirect(w, r, "/account#passkeys")
}

// passkeyRow is one passkey as the account page's section ("account-passkeys") lists it.
type passkeyRow struct {
	ID, Name, Created, LastUsed string
	Synced                      bool
}

// passkeyRows are the account page's passkeys (GetAccountResponse.passkeys) for "account-passkeys": dates
// as YYYY-MM-DD (UTC), LastUsed empty when never used.
func passkeyRows(ps []*tokenv1.AccountPasskey) []passkeyRow {
	out := make([]passkeyRow, 0, len(ps))
	for _, k := range ps {
		row := passkeyRow{ID: k.GetId(), Name: k.GetName(), Synced: k.GetSynced()}
		if k.GetCreateTime() != nil {
			row.Created = k.GetCreateTime().AsTime().UTC().Format(time.DateOnly)
		}
		if k.GetLastUsedTime() != nil {
			row.LastUsed = k.GetLastUsedTime().AsTime().UTC().Format(time.DateOnly)
		}
		out = append(out, row)
	}
	return out
}
