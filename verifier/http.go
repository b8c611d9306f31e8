package verifier

import (
	"crypto/x509"
	"errors"
	"net/http"
	"strconv"
	"strings"
)

// Middleware checks the bearer token of every request (Authorization: Bearer, RFC 6750 §2.1) and that it
// grants every scope of required, then calls next with the *Token in the request's context (FromContext).
// Refusals follow RFC 6750 §3: 401 with WWW-Authenticate: Bearer (no error code when no token was sent,
// error="invalid_token" otherwise), 403 with error="insufficient_scope" and the scope needed; 503 with
// Retry-After when the verifier is not ready. The client certificate of a TLS request (r.TLS) is the one a
// certificate-bound token must match (RFC 8705 §3).
func (v *Verifier) Middleware(next http.Handler, required ...string) http.Handler {
	scope := strings.Join(required, " ")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, ok := httpBearer(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_request", error_description="the Authorization header must be Bearer <token>"`)
			http.Error(w, "invalid bearer token", http.StatusBadRequest)
			return
		}
		var cert *x509.Certificate
		if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
			cert = r.TLS.PeerCertificates[0]
		}
		t, err := v.Verify(r.Context(), raw, cert, required...)
		switch {
		case err == nil:
			next.ServeHTTP(w, r.WithContext(NewContext(r.Context(), t)))
		case errors.Is(err, ErrNoToken):
			w.Header().Set("WWW-Authenticate", `Bearer`)
			http.Error(w, "a bearer token is required", http.StatusUnauthorized)
		case errors.Is(err, ErrInsufficientScope):
			w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_scope", scope=`+strconv.Quote(scope))
			http.Error(w, "insufficient scope", http.StatusForbidden)
		case errors.Is(err, ErrNotReady):
			w.Header().Set("Retry-After", "1")
			http.Error(w, "token verification is not available yet", http.StatusServiceUnavailable)
		default:
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			http.Error(w, "invalid token", http.StatusUnauthorized)
		}
	})
}

// httpBearer reads the bearer token: "" and true when the request has no Authorization header, false when
// the header is not Bearer <token>.
func httpBearer(r *http.Request) (string, bool) {
	vals := r.Header.Values("Authorization")
	if len(vals) == 0 {
		return "", true
	}
	if len(vals) > 1 {
		return "", false
	}
	scheme, tok, ok := strings.Cut(vals[0], " ")
	tok = strings.TrimSpace(tok)
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return "", false
	}
	return tok, true
}
