package gateway

import (
	"net/http"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/apistatus"
	"github.com/authsuite/authsuite/internal/i18n"
)

// Passkey pages (W3C WebAuthn). Every ceremony ends in an ordinary form POST, CSRF-protected like the
// sign-in and account forms: static/webauthn.js only runs navigator.credentials.get/create and puts the
// credential (JSON) in a hidden field. The token service verifies everything.
//
//	GET  /static/webauthn.js      the script (static.go)
//	POST /connect/login/passkey   password-less sign-in from the login page (interaction, csrf_token,
//	                              webauthn_assertion) → AuthorizeService.PasskeyLogin
//	GET  /account/passkeys/new    the "add a passkey" page (creation options, sealed ceremony)
//	POST /account/passkeys        its form (csrf_token, ceremony, webauthn_attestation, name)
//
// The account page lists passkeys (template "account-passkeys", pages/passkey.html) and deletes them
// (POST /account/passkeys/delete, account.go). Account forms carry the account page's CSRF token
// (accountCSRF: bound to the CSRF cookie and the session).

// passkeyPages serves the passkey pages with the token service's clients.
type passkeyPages struct {
	acc   *accountPages
	authz tokenv1.AuthorizeServiceClient
}

// registerPasskey registers the passkey pages and the script.
func (g *Gateway) registerPasskey(cc grpc.ClientConnInterface) error {
	p := &passkeyPages{acc: &accountPages{Gateway: g, account: tokenv1.NewAccountServiceClient(cc)}, authz: tokenv1.NewAuthorizeServiceClient(cc)}
	return g.handle([]route{
		{http.MethodGet, webauthnScriptPath, staticScript},
		{http.MethodPost, "/connect/login/passkey", p.login},
		{http.MethodGet, "/account/passkeys/new", p.newPage},
		{http.MethodPost, "/account/passkeys", p.create},
	}...)
}

// login serves POST /connect/login/passkey: the login page's password-less form.
func (p *passkeyPages) login(w http.ResponseWriter, r *http.Request) {
	g := p.acc.Gateway
	passkeyPageHeaders(w.Header())
	form, ok := g.pageForm(w, r)
	if !ok {
		return
	}
	resp, err := p.authz.PasskeyLogin(r.Context(), &tokenv1.PasskeyLoginRequest{
		InteractionId: form.Get("interaction"), WebauthnAssertion: form.Get("webauthn_assertion"), Browser: g.browser(r),
	})
	if err != nil {
		g.pageError(w, r, err)
		return
	}
	g.step(w, r, resp.GetStep())
}

// newPage serves GET /account/passkeys/new: a new ceremony's creation options in the page. A browser
// without a session goes to /account (which signs it in); a sign-in that is not recent to
// /account?done=reauth.
func (p *passkeyPages) newPage(w http.ResponseWriter, r *http.Request) {
	passkeyPageHeaders(w.Header())
	acc, err := p.acc.account.GetAccount(r.Context(), &tokenv1.GetAccountRequest{Browser: p.acc.browser(r)})
	if err != nil {
		p.acc.accountFailed(w, r, err, nil)
		return
	}
	p.renderNew(w, r, acc.GetPage(), http.StatusOK, "", "")
}

// renderNew starts a registration and renders the "add a passkey" page with it (with errKey's message).
func (p *passkeyPages) renderNew(w http.ResponseWriter, r *http.Request, pc *tokenv1.PageContext, st int, errKey, name string) {
	begin, err := p.acc.account.BeginPasskeyRegistration(r.Context(), &tokenv1.BeginPasskeyRegistrationRequest{Browser: p.acc.browser(r)})
	if err != nil {
		info := apistatus.FromStatus(err)
		switch {
		case info.Code == codes.FailedPrecondition && info.Message != "reauthentication_required":
			p.acc.showMessage(w, r, pc, http.StatusConflict, "passkey.too_many", nil)
		default:
			p.acc.accountFailed(w, r, err, nil)
		}
		return
	}
	d := pageData(r, pc, "passkey.add_title")
	if errKey != "" {
		d["Error"] = d["L"].(i18n.Localizer).T(errKey)
	}
	d["WebAuthnOptions"], d["Ceremony"], d["Name"] = begin.GetWebauthnOptions(), begin.GetCeremony(), name
	d["CSRF"] = p.acc.accountCSRF(w, r)
	p.acc.render(w, st, "passkey_new.html", d)
}

// create serves POST /account/passkeys: the new credential is verified and stored; the browser goes back
// to /account?done=passkey_added. A refused credential or name shows the page again with a new ceremony
// and the reason.
func (p *passkeyPages) create(w http.ResponseWriter, r *http.Request) {
	form, ok := p.acc.accountForm(w, r)
	if !ok {
		return
	}
	passkeyPageHeaders(w.Header())
	_, err := p.acc.account.FinishPasskeyRegistration(r.Context(), &tokenv1.FinishPasskeyRegistrationRequest{
		Browser: p.acc.browser(r), Ceremony: form.Get("ceremony"), WebauthnAttestation: form.Get("webauthn_attestation"), Name: form.Get("name"),
	})
	if err == nil {
		redirect(w, r, "/account?done=passkey_added")
		return
	}
	info := apistatus.FromStatus(err)
	errKey := ""
	switch {
	case info.Code == codes.InvalidArgument && info.Field == "name":
		errKey = "passkey.name_invalid"
	case info.Code == codes.InvalidArgument:
		errKey = "passkey.error"
	case info.Code == codes.AlreadyExists:
		errKey = "passkey.exists"
	default:
		p.acc.accountFailed(w, r, err, nil)
		return
	}
	acc, aerr := p.acc.account.GetAccount(r.Context(), &tokenv1.GetAccountRequest{Browser: p.acc.browser(r)})
	if aerr != nil {
		p.acc.accountFailed(w, r, aerr, nil)
		return
	}
	name := form.Get("name")
	if len(name) > 256 {
		name = name[:256]
	}
	p.renderNew(w, r, acc.GetPage(), http.StatusBadRequest, errKey, name)
}
