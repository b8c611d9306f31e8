package gateway

import "net/http"

// errSudoRefused is the answer of an endpoint that cannot act as another user.
var errSudoRefused = invalidRequest("sudo is not accepted here")

// sudoAsked reports whether r asks to act as another user: a sudo query parameter, or a sudo header in
// text or binary (-Bin) form, with a value.
func sudoAsked(r *http.Request) bool {
	if r.URL.Query().Get("sudo") != "" {
		return true
	}
	for _, k := range []string{sudoHeader, sudoBinHeader} {
		for _, v := range r.Header.Values(k) {
			if v != "" {
				return true
			}
		}
	}
	return false
}

// noSudo guards an endpoint whose answer is about the caller's own credentials (the token, introspection,
// revocation and userinfo endpoints, RFC 6749 §3.2, RFC 7662 §2, RFC 7009 §2, OIDC Core §5.3): it cannot act
// as another user, so a request asking for sudo is refused with 400 invalid_request (RFC 6749 §5.2) before
// anything happens, instead of being answered as the caller, which a client would take for the user's
// answer.
func noSudo(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if sudoAsked(r) {
			noStore(w.Header())
			writeOAuthError(w, errSudoRefused, false)
			return
		}
		h(w, r)
	}
}
