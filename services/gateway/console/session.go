package console

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"time"
)

// The console's browser state lives in two cookies sealed with AES-256-GCM (NIST SP 800-38D) under keys
// derived with HKDF-SHA-256 (RFC 5869) from the gateway's secret, each with its own purpose label, so every
// gateway instance in front of the same services opens the others' cookies and a cookie of one kind never
// opens as the other:
//   - the session (sessionCookie): the signed-in user's access token, ID token, expiry, user and tenant;
//   - the sign-in in progress (loginCookie): state, nonce and PKCE verifier of one authorization request.
//
// Both are HttpOnly, SameSite=Lax (the authorization response arrives by a top-level GET from the login page)
// and Path=/; under https they are Secure and carry the __Host- prefix (RFC 6265bis §4.1.3.2), so a sibling
// domain or a plain-http answer can neither plant nor overwrite them. The sealed value binds the cookie's
// name as additional data: a login cookie pasted into the session cookie does not open.

// Cookie names (http); under https each is prefixed with "__Host-".
const (
	sessionCookieName = "authsuite_console"
	loginCookieName   = "authsuite_console_login"
)

// Key purposes (HKDF info).
const (
	sessionKeyLabel = "authsuite console session v1"
	loginKeyLabel   = "authsuite console login v1"
	flashKeyLabel   = "authsuite console flash v1"
)

// maxCookieBytes bounds a sealed cookie value: browsers keep cookies up to 4096 bytes (RFC 6265 §6.1).
const maxCookieBytes = 4000

var errSealed = errors.New("console: the cookie does not open")

// sealer seals and opens the values of one cookie kind.
type sealer struct {
	aead cipher.AEAD
	name string // the cookie's name, bound as additional data
}

// newSealer derives the AES-256 key of purpose label from secret (HKDF-SHA-256, RFC 5869 §2).
func newSealer(secret []byte, label, name string) (*sealer, error) {
	key, err := hkdf.Key(sha256.New, secret, nil, label, 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead, name: name}, nil
}

// seal returns base64url(nonce ‖ AES-GCM(JSON(v))).
func (s *sealer) seal(v any) (string, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	rand.Read(nonce) // never fails (crypto/rand)
	out := base64.RawURLEncoding.EncodeToString(s.aead.Seal(nonce, nonce, plain, []byte(s.name)))
	if len(out) > maxCookieBytes {
		return "", errors.New("console: the session is too large for a cookie")
	}
	return out, nil
}

// open reverses seal into v. Anything altered, truncated, oversized or sealed for another purpose is
// errSealed.
func (s *sealer) open(value string, v any) error {
	if len(value) > maxCookieBytes {
		return errSealed
	}
	raw, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil || len(raw) < s.aead.NonceSize()+s.aead.Overhead() {
		return errSealed
	}
	plain, err := s.aead.Open(nil, raw[:s.aead.NonceSize()], raw[s.aead.NonceSize():], []byte(s.name))
	if err != nil {
		return errSealed
	}
	if json.Unmarshal(plain, v) != nil {
		return errSealed
	}
	return nil
}

// Session is the signed-in user as the console knows it. AccessToken is sent to the APIs as the bearer
// token of every call; the APIs alone decide what it may do. System records that the API answered
// ListTenants at sign-in (a system administrator): it only chooses what the pages offer.
type Session struct {
	AccessToken string    `json:"at"`
	IDToken     string    `json:"idt,omitempty"`
	Expiry      time.Time `json:"exp"`
	Subject     string    `json:"sub"`
	Name        string    `json:"name,omitempty"`
	TenantID    string    `json:"tid"`
	TenantCode  string    `json:"tc,omitempty"`
	ClientID    string    `json:"cid"`
	System      bool      `json:"sys,omitempty"`
	// CSRF is the session's synchronizer token: every form posts it back (OWASP CSRF prevention).
	CSRF string `json:"csrf"`
}

// valid reports whether the session can still be used at now.
func (s *Session) valid(now time.Time) bool {
	return s != nil && s.AccessToken != "" && s.CSRF != "" && now.Before(s.Expiry)
}

// pendingLogin is one authorization request in flight (OIDC Core §3.1.2.1 with PKCE, RFC 7636 §4.1).
type pendingLogin struct {
	State      string    `json:"st"`
	Nonce      string    `json:"n"`
	Verifier   string    `json:"v"`
	ClientID   string    `json:"cid"`
	TenantID   string    `json:"tid"`
	TenantCode string    `json:"tc"`
	Return     string    `json:"ret,omitempty"`
	Expiry     time.Time `json:"exp"`
}

// loginLifetime bounds how long a user may take on the login page.
const loginLifetime = 15 * time.Minute

func (c *Console) cookieName(base string) string {
	if c.secure {
		return "__Host-" + base
	}
	return base
}

func (c *Console) setCookie(w http.ResponseWriter, base, value string, expires time.Time) {
	http.SetCookie(w, &http.Cookie{
		Name: c.cookieName(base), Value: value, Path: "/", Expires: expires,
		HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteLaxMode,
	})
}

func (c *Console) clearCookie(w http.ResponseWriter, base string) {
	http.SetCookie(w, &http.Cookie{
		Name: c.cookieName(base), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteLaxMode,
	})
}

// session returns the request's valid session, or nil.
func (c *Console) session(r *http.Request) *Session {
	ck, err := r.Cookie(c.cookieName(sessionCookieName))
	if err != nil {
		return nil
	}
	var s Session
	if c.sessions.open(ck.Value, &s) != nil || !s.valid(c.now()) {
		return nil
	}
	return &s
}

// randomString is n random bytes, base64url.
func randomString(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}
