package gateway

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"net/http"
)

// CSRF protection of the sign-in forms (login, consent, logout confirmation), RFC 6749 §10.12 and the
// double-submit pattern with a server key:
//   - the browser holds a random CSRF cookie (HttpOnly, SameSite=Strict; under https named with the
//     __Host- prefix, so a sibling domain or a plain-http response cannot plant or overwrite it, RFC 6265bis
//     §4.1.3.2);
//   - each form carries HMAC-SHA-256(server key, cookie, interaction id). Only the gateway can compute it:
//     a cookie an attacker planted with a token of their own making is refused, and a token is good for one
//     interaction only.

// CSRFCookie names the browser's CSRF cookie under http; under https it is CSRFCookieSecure.
const (
	CSRFCookie       = "authsuite_csrf"
	CSRFCookieSecure = "__Host-authsuite_csrf"
)

// csrfKeyLabel derives the CSRF key from the gateway's server secret.
const csrfKeyLabel = "authsuite gateway csrf v1"

// WithServerKey keys the CSRF tokens with a key derived from secret (the gateway credential): every
// gateway instance in front of the same services then accepts the others' forms. Without it, a random key
// per process is used.
func WithServerKey(secret string) Option {
	return func(g *Gateway) {
		if secret == "" {
			return
		}
		g.serverSecret = secret
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte(csrfKeyLabel))
		g.csrfKey = m.Sum(nil)
	}
}

// WithSecureCookies says the public URL is https: the CSRF cookie is then Secure and __Host- prefixed.
func WithSecureCookies(secure bool) Option {
	return func(g *Gateway) { g.secureCookies = secure }
}

// newCSRFKey is the per-process key used when no server key is configured.
func newCSRFKey() []byte {
	k := make([]byte, 32)
	rand.Read(k) // never fails (crypto/rand)
	return k
}

func (g *Gateway) csrfCookieName() string {
	if g.secureCookies {
		return CSRFCookieSecure
	}
	return CSRFCookie
}

// csrfToken is HMAC-SHA-256(the gateway's CSRF key, len(cookie) ‖ cookie ‖ interaction), base64url. The
// length prefix keeps (cookie, interaction) pairs from colliding by moving bytes between the two.
func (g *Gateway) csrfToken(cookie, interaction string) string {
	m := hmac.New(sha256.New, g.csrfKey)
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(cookie)))
	m.Write(n[:])
	m.Write([]byte(cookie))
	m.Write([]byte(interaction))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// validCSRF reports whether a submitted form's token matches the browser's CSRF cookie and the form's
// interaction, in constant time.
func (g *Gateway) validCSRF(r *http.Request, interaction, token string) bool {
	c, err := r.Cookie(g.csrfCookieName())
	if err != nil || !validCSRFCookie(c.Value) || interaction == "" {
		return false
	}
	return hmac.Equal([]byte(g.csrfToken(c.Value, interaction)), []byte(token))
}

func validCSRFCookie(v string) bool { return len(v) >= 32 && len(v) <= 64 }

// csrfCookie returns the browser's CSRF cookie value, setting a new one when it has none.
func (g *Gateway) csrfCookie(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(g.csrfCookieName()); err == nil && validCSRFCookie(c.Value) {
		return c.Value
	}
	var b [32]byte
	rand.Read(b[:])
	v := base64.RawURLEncoding.EncodeToString(b[:])
	// Path=/ and no Domain: required by the __Host- prefix, and the same under http.
	http.SetCookie(w, &http.Cookie{Name: g.csrfCookieName(), Value: v, Path: "/", HttpOnly: true, Secure: g.secureCookies, SameSite: http.SameSiteStrictMode})
	return v
}

// formCSRF returns the CSRF token of a form for interaction, setting the browser's cookie when needed.
func (g *Gateway) formCSRF(w http.ResponseWriter, r *http.Request, interaction string) string {
	return g.csrfToken(g.csrfCookie(w, r), interaction)
}
