package gateway

import (
	"crypto/sha256"
	"encoding/base64"
	"html/template"
	"net/http"
	"net/url"
	"strings"

	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/apierror"
)

// OAuth 2.0 Form Post Response Mode §2: the authorization response is an HTML page whose form carries the
// response parameters as hidden fields and is POSTed to the client's redirect URI by a script as soon as the
// page loads (with a button for browsers that run no script). The page stays under a strict Content Security
// Policy: the one script it may run is allowed by its SHA-256 hash, and the form may only be sent to the
// redirect URI's origin.

// formPostScript is the page's only script. It is a constant: the CSP hash below allows exactly this text.
const formPostScript = `document.getElementById("formpost").submit();`

// formPostScriptSource is the CSP source expression of formPostScript (CSP Level 3 §2.3.1 hash-source).
var formPostScriptSource = func() string {
	h := sha256.Sum256([]byte(formPostScript))
	return "'sha256-" + base64.StdEncoding.EncodeToString(h[:]) + "'"
}()

// formPostCSP is the Content-Security-Policy of a form_post page sending to action: the page headers'
// policy plus the hash-allowed script and, when action's origin can be written as a CSP source, a
// form-action limited to it.
func formPostCSP(action string) string {
	csp := "default-src 'none'; script-src " + formPostScriptSource + "; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; base-uri 'none'"
	if o := cspOrigin(action); o != "" {
		csp += "; form-action " + o
	}
	return csp
}

// cspOrigin returns scheme://host[:port] of an http(s) URL when it is safe to put in a CSP header (only
// host characters, no separators), else "".
func cspOrigin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	for _, c := range u.Host {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune(".-:[]", c)) {
			return ""
		}
	}
	return u.Scheme + "://" + u.Host
}

// formPostParam is one hidden field of the page.
type formPostParam struct{ Name, Value string }

// formPost renders fp as the auto-submitting page (200, never cached: pageHeaders). Only http and https
// actions are rendered (the token service accepts form_post for no other redirect URI); the template
// escapes every name and value.
// The page speaks r's language (pageData with the step's page context pc, which may be nil).
func (g *Gateway) formPost(w http.ResponseWriter, r *http.Request, pc *tokenv1.PageContext, fp *tokenv1.FormPost) {
	if cspOrigin(fp.GetAction()) == "" {
		g.pageError(w, r, apierror.OAuthWithStatus(http.StatusBadRequest, apierror.InvalidRequest, "response_mode=form_post needs an http or https redirect_uri"))
		return
	}
	params := make([]formPostParam, 0, len(fp.GetParams()))
	for _, p := range fp.GetParams() {
		params = append(params, formPostParam{Name: p.GetName(), Value: p.GetValue()})
	}
	w.Header().Set("Content-Security-Policy", formPostCSP(fp.GetAction()))
	d := pageData(r, pc, "formpost.title")
	d["Action"], d["Params"], d["Script"] = fp.GetAction(), params, template.JS(formPostScript)
	g.render(w, http.StatusOK, "formpost.html", d)
}
