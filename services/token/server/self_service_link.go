package server

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/authsuite/authsuite/internal/suitekey"
)

// Self-service link tokens: what a password-reset or e-mail verification mail links to. A token is
//
//	<key id> "." base64url(payload JSON) "." base64url(HMAC-SHA-256)
//
// where the MAC (suitekey Keyring.MAC, with a purpose per kind, so a verification token never passes as a
// reset token) covers the key id and the payload. The payload binds the token to its kind, tenant, user,
// account incarnation, and to the password state (reset) or the address (verification); it carries a
// random jti that is used up at most once (Store.UseAssertionID) and an expiry (linkLifetime). Tokens are
// bearer secrets: they are never logged.

// Kinds of link.
const (
	linkReset  = "reset"
	linkVerify = "verify"
)

// linkLifetime is how long a link of each kind is valid.
var linkLifetime = map[string]time.Duration{linkReset: 30 * time.Minute, linkVerify: 24 * time.Hour}

// maxLinkToken bounds a token's length before anything is decoded.
const maxLinkToken = 2048

// linkClaims are a link token's payload.
type linkClaims struct {
	Kind        string `json:"k"`
	TenantID    string `json:"t"`
	UserID      string `json:"u"`
	Incarnation string `json:"i"`
	// PasswordStamp (reset) is GetFactorsResponse.password_stamp when the link was made.
	PasswordStamp string `json:"s,omitempty"`
	// Email (verify) is the address the link was sent to.
	Email  string `json:"e,omitempty"`
	JTI    string `json:"j"`
	Expiry int64  `json:"x"`
}

// errBadLink is every failure of a token to verify: the pages show one message ("the link is invalid or
// has expired"), whatever was wrong.
var errBadLink = errors.New("invalid or expired link")

func linkPurpose(kind string) string { return "selfservice-link " + kind }

// newLinkJTI is 128 random bits, base64url.
func newLinkJTI() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// makeLink returns the token of c (Kind, tenant, user, incarnation and stamp or email set by the caller):
// it sets JTI and Expiry (now + the kind's lifetime) and signs with the keyring's primary key.
func makeLink(kr *suitekey.Keyring, c linkClaims, now time.Time) (string, linkClaims) {
	c.JTI = newLinkJTI()
	c.Expiry = now.Add(linkLifetime[c.Kind]).Unix()
	return signLink(kr, c), c
}

// signLink is the token of c as it is, under the keyring's primary key.
func signLink(kr *suitekey.Keyring, c linkClaims) string {
	payload, _ := json.Marshal(c) // strings and an int: cannot fail
	signed := kr.PrimaryID() + "." + base64.RawURLEncoding.EncodeToString(payload)
	_, sum := kr.Digest(linkPurpose(c.Kind), []byte(signed))
	return signed + "." + base64.RawURLEncoding.EncodeToString(sum)
}

// parseLink verifies tok as a token of kind at now: the MAC under the key it names, then the payload
// (unknown fields or trailing data refused), the kind, every identifying field present, and an
// expiry that has not passed and is not further than the kind's lifetime ahead. Every failure is
// errBadLink.
func parseLink(kr *suitekey.Keyring, kind, tok string, now time.Time) (linkClaims, error) {
	lifetime, ok := linkLifetime[kind]
	if !ok || len(tok) == 0 || len(tok) > maxLinkToken {
		return linkClaims{}, errBadLink
	}
	kid, rest, ok1 := strings.Cut(tok, ".")
	payloadB64, macB64, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || kid == "" || len(kid) > 64 {
		return linkClaims{}, errBadLink
	}
	sum, err := base64.RawURLEncoding.Strict().DecodeString(macB64)
	if err != nil {
		return linkClaims{}, errBadLink
	}
	want := kr.MAC(linkPurpose(kind), kid, []byte(kid+"."+payloadB64))
	if want == nil || !hmac.Equal(want, sum) {
		return linkClaims{}, errBadLink
	}
	payload, err := base64.RawURLEncoding.Strict().DecodeString(payloadB64)
	if err != nil {
		return linkClaims{}, errBadLink
	}
	var c linkClaims
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil || dec.More() {
		return linkClaims{}, errBadLink
	}
	exp := time.Unix(c.Expiry, 0)
	switch {
	case c.Kind != kind, c.TenantID == "", c.UserID == "", c.Incarnation == "", c.JTI == "", len(c.JTI) > 64:
		return linkClaims{}, errBadLink
	case kind == linkReset && (c.PasswordStamp == "" || c.Email != ""):
		return linkClaims{}, errBadLink
	case kind == linkVerify && (c.Email == "" || c.PasswordStamp != ""):
		return linkClaims{}, errBadLink
	case !now.Before(exp), exp.Sub(now) > lifetime+time.Minute:
		return linkClaims{}, errBadLink
	}
	return c, nil
}
