package gateway

import (
	"net/http"

	"github.com/authsuite/authsuite/internal/i18n"
)

// errorPageData is the data of message.html showing an error to a person (writeAnswer's page renderings):
// the page speaks the browser's language (Accept-Language; an error page has no tenant, so no ui_locales,
// default language or branding), its heading is the text of titleKey (a title that is no catalogue key is
// shown as given), "Friendly" says in plain words what the error code means ("error.code.<code>", or
// "error.code.other" for codes the catalogues do not describe), and the service's description is shown as
// given: it names the field or the value at fault, which a translation could not.
func errorPageData(acceptLanguage, titleKey, code, desc string) map[string]any {
	l := i18n.For(i18n.Match(nil, acceptLanguage, ""))
	title := titleKey
	if i18n.Has(titleKey) {
		title = l.T(titleKey)
	}
	friendly := l.T("error.code.other")
	if i18n.Has("error.code." + code) {
		friendly = l.T("error.code." + code)
	}
	return map[string]any{"L": l, "Brand": brandOf(nil), "Title": title, "Code": code, "Friendly": friendly, "Message": desc}
}

// pageError shows err as the sign-in error page, in the language r's browser asks for (writeAnswer). Sign-in
// handlers use it rather than errorPage, which has no request and so answers in English.
func (g *Gateway) pageError(w http.ResponseWriter, r *http.Request, err error) {
	writeAnswer(w, err, answer{kind: signInPage, title: "error.signin_failed", accept: r.Header.Get("Accept-Language")}, g.log)
}
