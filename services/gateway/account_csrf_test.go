package gateway

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// accountRequest is a request with the given CSRF and session cookies ("" leaves one out).
func accountRequest(csrf, session string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/account/password", nil)
	if csrf != "" {
		r.AddCookie(&http.Cookie{Name: CSRFCookie, Value: csrf})
	}
	if session != "" {
		r.AddCookie(&http.Cookie{Name: SessionCookie, Value: session})
	}
	return r
}

// FuzzAccountCSRF: an account form's token is accepted only with the CSRF cookie and the session it was
// made for; another session, another CSRF cookie, no session, or any other token is refused.
func FuzzAccountCSRF(f *testing.F) {
	f.Add("session-a-0123456789", "session-b-0123456789", "csrf-cookie-0123456789-0123456789", "forged")
	f.Add("s", "s2", "short", "")
	f.Add("", "x", "csrf-cookie-0123456789-0123456789-0123456789", "AAAA")
	g := &Gateway{csrfKey: []byte("0123456789abcdef0123456789abcdef")}
	f.Fuzz(func(t *testing.T, sessA, sessB, cookie, forged string) {
		w := httptest.NewRecorder()
		r := accountRequest(cookie, sessA)
		tok := g.accountCSRF(w, r)
		// The cookie the browser holds after accountCSRF: the one it sent when valid, else the one just set.
		held := ""
		if c, err := r.Cookie(CSRFCookie); err == nil {
			held = c.Value // as the server read it (the HTTP library drops bytes a cookie cannot carry)
		}
		if !validCSRFCookie(held) {
			for _, c := range w.Result().Cookies() {
				if c.Name == CSRFCookie {
					held = c.Value
				}
			}
		}
		if !validCSRFCookie(held) {
			t.Fatalf("no valid CSRF cookie after accountCSRF (sent %q)", cookie)
		}
		// effective is the session cookie the server reads from a request made with s (the HTTP library
		// drops bytes a cookie cannot carry): "" when none.
		effective := func(s string) string {
			c, err := accountRequest(held, s).Cookie(SessionCookie)
			if err != nil {
				return ""
			}
			return c.Value
		}
		a, b := effective(sessA), effective(sessB)
		if a != "" && !g.validAccountCSRF(accountRequest(held, sessA), tok) {
			t.Fatal("the token of the session is refused")
		}
		if g.validAccountCSRF(accountRequest(held, ""), tok) {
			t.Fatal("accepted without a session")
		}
		if b != a && g.validAccountCSRF(accountRequest(held, sessB), tok) {
			t.Fatalf("a token of session %q accepted for session %q", a, b)
		}
		if forged != tok && g.validAccountCSRF(accountRequest(held, sessA), forged) {
			t.Fatalf("accepted the forged token %q", forged)
		}
		other := "other-csrf-cookie-0123456789-0123456789"
		if other != held && g.validAccountCSRF(accountRequest(other, sessA), tok) {
			t.Fatal("accepted with another CSRF cookie")
		}
	})
}
