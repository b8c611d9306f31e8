package gateway

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestCSRFCookieHostPrefixUnderHTTPS: under https the CSRF cookie is __Host-authsuite_csrf (Secure, Path=/,
// no Domain) and only that name is read back; under http it is authsuite_csrf.
func TestCSRFCookieHostPrefixUnderHTTPS(t *testing.T) {
	for _, secure := range []bool{true, false} {
		g := &Gateway{csrfKey: []byte("k")}
		WithSecureCookies(secure)(g)
		w := httptest.NewRecorder()
		tok := g.formCSRF(w, httptest.NewRequest("GET", "/connect/authorize", nil), "interaction-1")
		cookies := w.Result().Cookies()
		if len(cookies) != 1 {
			t.Fatalf("secure=%v: cookies %v", secure, cookies)
		}
		c := cookies[0]
		want := CSRFCookie
		if secure {
			want = CSRFCookieSecure
		}
		if c.Name != want || c.Secure != secure || c.Path != "/" || c.Domain != "" || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
			t.Fatalf("secure=%v: cookie %+v", secure, c)
		}
		r := httptest.NewRequest("POST", "/connect/login", nil)
		r.AddCookie(&http.Cookie{Name: want, Value: c.Value})
		if !g.validCSRF(r, "interaction-1", tok) {
			t.Fatalf("secure=%v: the genuine pair was refused", secure)
		}
		if secure { // a cookie without the prefix (plantable from a sibling domain or over http) is not read
			r := httptest.NewRequest("POST", "/connect/login", nil)
			r.AddCookie(&http.Cookie{Name: CSRFCookie, Value: c.Value})
			if g.validCSRF(r, "interaction-1", tok) {
				t.Fatal("an unprefixed cookie was accepted under https")
			}
		}
	}
}

// FuzzCSRF: a token validates only with the cookie and the interaction it was made for, under the key it
// was made with; a token an attacker computes from the cookie alone never does.
func FuzzCSRF(f *testing.F) {
	f.Add([]byte("0123456789abcdef0123456789abcdef"), "s1.interaction", "s1.other", []byte("key"))
	f.Add([]byte("ab"), "c", "bc", []byte(""))
	f.Fuzz(func(t *testing.T, raw []byte, interaction, other string, otherKey []byte) {
		if len(raw) < 24 || len(raw) > 48 || interaction == "" {
			return
		}
		cookie := base64.RawURLEncoding.EncodeToString(raw) // 32–64 characters, as the gateway makes them
		g := &Gateway{csrfKey: []byte("server key")}
		req := func() *http.Request {
			r := httptest.NewRequest("POST", "/connect/login", nil)
			r.AddCookie(&http.Cookie{Name: CSRFCookie, Value: cookie})
			return r
		}
		tok := g.csrfToken(cookie, interaction)
		if !g.validCSRF(req(), interaction, tok) {
			t.Fatal("the genuine token was refused")
		}
		if other != interaction && g.validCSRF(req(), other, tok) {
			t.Fatalf("a token for %q validated for %q", interaction, other)
		}
		m := hmac.New(sha256.New, []byte(cookie))
		m.Write([]byte(interaction))
		if g.validCSRF(req(), interaction, base64.RawURLEncoding.EncodeToString(m.Sum(nil))) {
			t.Fatal("a token computed from the cookie alone validated")
		}
		if string(otherKey) != "server key" {
			h := &Gateway{csrfKey: otherKey}
			if h.validCSRF(req(), interaction, tok) {
				t.Fatal("a token validated under another key")
			}
		}
	})
}
