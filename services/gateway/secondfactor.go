package gateway

import (
	"encoding/base64"
	"html/template"
	"net/http"

	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/i18n"
)

// The second-factor page (docs: sign-in, second factors): after a verified password the token service asks
// for a TOTP or recovery code, a passkey, a TOTP enrolment the tenant's policy requires (the key's QR code
// is a data: PNG), or shows the recovery codes of that enrolment once. Every form posts to
// /connect/secondfactor with the interaction and its CSRF token, like the login form.

// secondFactorPath is the second-factor form's endpoint.
const secondFactorPath = "/connect/secondfactor"

// maxQRPNG bounds the QR code image the page embeds (the token service's is a few KiB).
const maxQRPNG = 64 << 10

// secondFactorCSP is the page's Content-Security-Policy: pageHeaders' policy, plus images from data: URIs
// (the enrolment's QR code) and, when a passkey is offered, the gateway's own static script. There is no
// form-action: browsers apply it to the redirect that answers the form, which goes to the client.
func secondFactorCSP(h http.Header, passkey bool) {
	pageHeaders(h)
	csp := "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; base-uri 'none'"
	if passkey {
		csp = "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; base-uri 'none'"
	}
	h.Set("Content-Security-Policy", csp)
}

// secondFactor serves POST /connect/secondfactor: a code (TOTP, recovery, or the one confirming an
// enrolment), a passkey assertion, or nothing (continue after the recovery codes).
func (g *Gateway) secondFactor(w http.ResponseWriter, r *http.Request) {
	pageHeaders(w.Header())
	form, ok := g.pageForm(w, r)
	if !ok {
		return
	}
	resp, err := g.authz.SecondFactor(r.Context(), &tokenv1.SecondFactorRequest{
		InteractionId: form.Get("interaction"), Code: form.Get("code"), WebauthnAssertion: form.Get("webauthn_assertion"),
		Browser: g.browser(r),
	})
	if err != nil {
		g.pageError(w, r, err)
		return
	}
	g.step(w, r, resp.GetStep())
}

// renderSecondFactor renders the second-factor page of st.
func (g *Gateway) renderSecondFactor(w http.ResponseWriter, r *http.Request, st *tokenv1.Step, p *tokenv1.SecondFactorPage) {
	title := "secondfactor.title"
	switch {
	case len(p.GetRecoveryCodes()) > 0:
		title = "secondfactor.recovery_title"
	case p.GetEnrollment() != "":
		title = "secondfactor.enroll_title"
	}
	d := pageData(r, st.GetPage(), title)
	l := d["L"].(i18n.Localizer)
	d["ClientName"], d["UserName"], d["Interaction"] = p.GetClientName(), p.GetUserName(), p.GetInteractionId()
	d["CSRF"] = g.formCSRF(w, r, p.GetInteractionId())
	d["TOTP"], d["RecoveryCodes"] = p.GetTotp(), p.GetRecoveryCodes()
	if c := p.GetErrorCode(); c != "" {
		d["Error"] = l.T(c)
	}
	passkey := p.GetWebauthnOptions() != "" && len(p.GetRecoveryCodes()) == 0 && p.GetEnrollment() == ""
	if passkey {
		d["WebAuthnOptions"] = p.GetWebauthnOptions()
	}
	if p.GetEnrollment() != "" && len(p.GetRecoveryCodes()) == 0 {
		d["Enrollment"], d["Secret"] = true, p.GetEnrollmentSecret()
		if png := p.GetEnrollmentQrPng(); len(png) > 0 && len(png) <= maxQRPNG {
			// The token service's PNG, base64: nothing of it can leave the data: URI.
			d["QR"] = template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png))
		}
	}
	secondFactorCSP(w.Header(), passkey)
	g.render(w, http.StatusOK, "secondfactor.html", d)
}

// renderMessage renders an informational step (MessagePage): the message's catalogue text with its
// arguments.
func (g *Gateway) renderMessage(w http.ResponseWriter, r *http.Request, st *tokenv1.Step, m *tokenv1.MessagePage) {
	title := "message.title"
	if i18n.Has(m.GetMessageCode() + ".title") {
		title = m.GetMessageCode() + ".title"
	}
	d := pageData(r, st.GetPage(), title)
	l := d["L"].(i18n.Localizer)
	args := make([]any, 0, 2*len(m.GetArgs()))
	for k, v := range m.GetArgs() {
		args = append(args, k, v)
	}
	d["Message"] = l.T(m.GetMessageCode(), args...)
	g.render(w, http.StatusOK, "message.html", d)
}
