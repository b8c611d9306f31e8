package jwt

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"reflect"
	"slices"
	"strings"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"

	"github.com/authsuite/authsuite/internal/claimnames"
)

// MaxTokenSize bounds the length of a token Verify looks at; longer input is rejected unread.
const MaxTokenSize = 8 << 10

// Errors of Verify. Their messages never contain the token.
var (
	// ErrMalformed: not a compact JWS of this package's shape (RFC 7515 §7.1), or its claims are not valid JSON
	// with the required members.
	ErrMalformed = errors.New("jwt: malformed token")
	// ErrUnknownKey: the "kid" names no key the caller trusts, or the header's "alg" does not match that key.
	ErrUnknownKey = errors.New("jwt: unknown signing key")
	// ErrSignature: the signature does not verify.
	ErrSignature = errors.New("jwt: invalid signature")
)

// Claims are the claims of an RFC 9068 access token (§2.2), plus the tenant and, under sudo, the actor
// (RFC 8693 §4.1). Times are seconds since the epoch.
type Claims struct {
	Issuer   string   `json:"iss"`
	Subject  string   `json:"sub"`
	Audience Audience `json:"aud"`
	ClientID string   `json:"client_id"`
	Scope    string   `json:"scope,omitempty"`
	Tenant   string   `json:"tenant,omitempty"`
	Expiry   int64    `json:"exp"`
	IssuedAt int64    `json:"iat"`
	ID       string   `json:"jti"`
	Act      *Actor   `json:"act,omitempty"`
	// AuthTime is set on tokens issued to a signed-in user (OIDC Core §2 auth_time): it is what tells a
	// user token from a client token.
	AuthTime int64 `json:"auth_time,omitempty"`
	// FamilyID (private claim) names the authorization code / refresh token family the token was issued
	// from; revoking the family revokes the token (RFC 9700 §4.14.2).
	FamilyID string `json:"fid,omitempty"`
	// SID is the SSO session the token was issued in (OIDC Front-/Back-Channel Logout sid).
	SID string `json:"sid,omitempty"`
	// Incarnation (private claim) is the incarnation of the user account the token was issued to (the
	// registry's per-account random value): a user deleted and created again with the same id is another
	// account, and this token is not good for it.
	Incarnation string `json:"uinc,omitempty"`
	// Confirmation binds the token to a client certificate (RFC 8705 §3.1): only a caller presenting
	// that certificate may use it.
	Confirmation *Confirmation `json:"cnf,omitempty"`
	// Parents (private claim) are the jtis of the tokens this one was exchanged from (RFC 8693), nearest
	// first: revoking any of them revokes this one too.
	Parents []string `json:"pjti,omitempty"`
	// MayAct names the party allowed to act for the subject (RFC 8693 §4.4): a client named here may
	// exchange this token.
	MayAct *Actor `json:"may_act,omitempty"`
	// Roles and Groups are the user's roles and groups (scopes roles and groups; RFC 9068 §2.2.3.1 and
	// RFC 7643 §4.1.2 give the names).
	Roles  []string `json:"roles,omitempty"`
	Groups []string `json:"groups,omitempty"`
	// Extra are further top-level string claims: client static claims and claim mappings. A name that is a
	// registered claim (IsRegisteredClaim) is never written from here, so it cannot overwrite one; Verify
	// reads back every top-level string member that is not registered.
	Extra map[string]string `json:"-"`
}

// claimsNoExtra has Claims' fields and tags without its methods: what Sign marshals directly.
type claimsNoExtra Claims

// registeredClaims are the member names this package's tokens use (Claims' fields) and every name
// claimnames reserves (registered JWT, OpenID Connect, logout token and authsuite claims): Extra never
// writes them. The registry refuses the same names, from the same list, when a client is written.
var registeredClaims = func() map[string]bool {
	m := map[string]bool{}
	t := reflect.TypeFor[Claims]()
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			m[name] = true
		}
	}
	for _, n := range claimnames.All() {
		m[n] = true
	}
	return m
}()

// IsRegisteredClaim reports whether name is a claim authsuite sets itself (see registeredClaims), compared
// case-insensitively with Unicode simple folding: encoding/json, and decoders like it, match member names
// that way, so an extra "SUB" or "ſub" written after "sub" would replace it for them. A mapped or static
// claim of such a name is never written.
func IsRegisteredClaim(name string) bool {
	if registeredClaims[name] {
		return true
	}
	for r := range registeredClaims {
		if strings.EqualFold(name, r) {
			return true
		}
	}
	return false
}

// marshalClaims is the JSON payload of c: encoding/json's rendering of its fields, then, when Extra is not
// empty, its members that are not registered claims, in name order, appended to the object without a
// second encoding pass.
func marshalClaims(c *Claims) ([]byte, error) {
	b, err := json.Marshal((*claimsNoExtra)(c))
	if err != nil || len(c.Extra) == 0 {
		return b, err
	}
	keys := make([]string, 0, len(c.Extra))
	for k := range c.Extra {
		if k != "" && !IsRegisteredClaim(k) {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return b, nil
	}
	slices.Sort(keys)
	b = b[:len(b)-1] // drop '}'; the object is never empty (iss, sub and aud are always written)
	for _, k := range keys {
		kb, err := json.Marshal(k)
		if err != nil {
			return nil, err
		}
		vb, err := json.Marshal(c.Extra[k])
		if err != nil {
			return nil, err
		}
		b = append(b, ',')
		b = append(b, kb...)
		b = append(b, ':')
		b = append(b, vb...)
	}
	return append(b, '}'), nil
}

// readExtra collects the top-level string members of payload that are not registered claims into c.Extra
// (nil when there are none). Members of other types are not Extra and are left out.
func readExtra(payload []byte, c *Claims) error {
	var all map[string]json.RawMessage
	if err := json.Unmarshal(payload, &all); err != nil {
		return err
	}
	for k, v := range all {
		if IsRegisteredClaim(k) || len(v) == 0 || v[0] != '"' {
			continue
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return err
		}
		if c.Extra == nil {
			c.Extra = map[string]string{}
		}
		c.Extra[k] = s
	}
	return nil
}

// Actor is the acting party of a delegated token (RFC 8693 §4.1); Act is the party that acted before it,
// in a chain of delegations.
type Actor struct {
	ClientID string `json:"client_id,omitempty"`
	Subject  string `json:"sub,omitempty"`
	Act      *Actor `json:"act,omitempty"`
}

// Confirmation is the cnf claim of a certificate-bound token (RFC 8705 §3.1).
type Confirmation struct {
	// X5tS256 is the base64url SHA-256 thumbprint of the DER client certificate.
	X5tS256 string `json:"x5t#S256"`
}

// Audience is the "aud" claim (RFC 7519 §4.1.3): written as a string when it has one member, read from a
// string or an array of strings.
type Audience []string

// MarshalJSON writes a single audience as a string.
func (a Audience) MarshalJSON() ([]byte, error) {
	if len(a) == 1 {
		return json.Marshal(a[0])
	}
	return json.Marshal([]string(a))
}

// UnmarshalJSON reads a string or an array of strings.
func (a *Audience) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*a = Audience{s}
		return nil
	}
	var l []string
	if err := json.Unmarshal(b, &l); err != nil {
		return errors.New("aud: want a string or an array of strings")
	}
	*a = l
	return nil
}

// Contains reports whether s is one of the audiences.
func (a Audience) Contains(s string) bool {
	for _, v := range a {
		if v == s {
			return true
		}
	}
	return false
}

// Sign returns the compact JWS (RFC 7515 §7.1) of c with the protected header {"alg","kid","typ":"at+jwt"}
// (RFC 9068 §2.1).
func (k *PrivateKey) Sign(c *Claims) (string, error) {
	payload, err := marshalClaims(c)
	if err != nil {
		return "", fmt.Errorf("jwt: encode claims: %w", err)
	}
	enc := base64.RawURLEncoding
	buf := make([]byte, 0, len(k.header)+1+enc.EncodedLen(len(payload))+1+enc.EncodedLen(512))
	buf = append(buf, k.header...)
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, payload)
	sig, err := k.sign(buf)
	if err != nil {
		return "", err
	}
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, sig)
	return string(buf), nil
}

func (k *PrivateKey) sign(input []byte) ([]byte, error) {
	switch k.pub.alg {
	case ES256:
		// Deterministic ECDSA (RFC 6979, what crypto/ecdsa does with a nil random source): no nonce-reuse risk
		// from a weak RNG, and a quarter cheaper than the hedged variant. Payloads never repeat (jti).
		h := sha256.Sum256(input)
		der, err := k.ec.Sign(nil, h[:], crypto.SHA256)
		if err != nil {
			return nil, fmt.Errorf("jwt: sign: %w", err)
		}
		return rawECDSA(der)
	case EdDSA:
		return k.signer.Sign(nil, input, crypto.Hash(0))
	case RS256:
		h := sha256.Sum256(input)
		return k.signer.Sign(rand.Reader, h[:], crypto.SHA256)
	}
	return nil, fmt.Errorf("jwt: sign: unsupported algorithm %q", k.pub.alg)
}

// rawECDSA turns an ASN.1 ECDSA-Sig-Value into the JWS form: R and S as 32-byte big-endian integers,
// concatenated (RFC 7518 §3.4).
func rawECDSA(der []byte) ([]byte, error) {
	var seq, r, s cryptobyte.String
	in := cryptobyte.String(der)
	if !in.ReadASN1(&seq, asn1.SEQUENCE) || !in.Empty() ||
		!seq.ReadASN1(&r, asn1.INTEGER) || !seq.ReadASN1(&s, asn1.INTEGER) || !seq.Empty() {
		return nil, errors.New("jwt: sign: malformed ECDSA signature")
	}
	sig := make([]byte, 64)
	for i, v := range [][]byte{r, s} {
		for len(v) > 0 && v[0] == 0 { // DER INTEGERs carry a leading zero when the high bit is set
			v = v[1:]
		}
		if len(v) > 32 {
			return nil, errors.New("jwt: sign: malformed ECDSA signature")
		}
		copy(sig[i*32+32-len(v):(i+1)*32], v)
	}
	return sig, nil
}

// KeyLookup finds a trusted verification key by "kid".
type KeyLookup func(kid string) (*PublicKey, bool)

type header struct {
	Alg  string          `json:"alg"`
	Kid  string          `json:"kid"`
	Typ  string          `json:"typ"`
	Crit json.RawMessage `json:"crit"`
}

var strict = base64.RawURLEncoding.Strict()

// Verify checks that token is a compact JWS access token (typ at+jwt, RFC 9068 §4) signed by a key that
// lookup returns, with that key's algorithm (never the "none" algorithm, never an algorithm the header picks
// on its own), and returns its claims, Roles, Groups and Extra included. iss, sub, client_id, exp, iat and
// jti must be present; time, issuer and audience checks are the caller's. Errors wrap ErrMalformed,
// ErrUnknownKey or ErrSignature. Verify never panics on any input.
func Verify(token string, lookup KeyLookup) (*Claims, error) {
	pb, err := verifyCompact(token, "at+jwt", lookup)
	if err != nil {
		return nil, err
	}
	// One pass for a token with only known members (the usual case); a token with further members
	// (Extra) is decoded again leniently and its extra members collected.
	var c Claims
	dec := json.NewDecoder(bytes.NewReader(pb))
	dec.DisallowUnknownFields()
	if err := dec.Decode((*claimsNoExtra)(&c)); err != nil || dec.More() {
		c = Claims{}
		dec = json.NewDecoder(bytes.NewReader(pb))
		if err := dec.Decode((*claimsNoExtra)(&c)); err != nil || dec.More() {
			return nil, ErrMalformed
		}
		if err := readExtra(pb, &c); err != nil {
			return nil, ErrMalformed
		}
	}
	if c.Issuer == "" || c.Subject == "" || c.ClientID == "" || c.ID == "" || c.Expiry == 0 || c.IssuedAt == 0 {
		return nil, fmt.Errorf("%w: missing required claim", ErrMalformed)
	}
	return &c, nil
}

// SignTyped returns the compact JWS of claims (any JSON-encodable value) with the protected header
// {"alg","kid","typ":typ}: "JWT" for ID tokens (OIDC Core §2), "logout+jwt" for logout tokens (Back-Channel
// Logout 1.0 §2.4).
func (k *PrivateKey) SignTyped(typ string, claims any) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("jwt: encode claims: %w", err)
	}
	hdr, err := json.Marshal(map[string]string{"alg": string(k.pub.alg), "kid": k.pub.kid, "typ": typ})
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	buf := enc.AppendEncode(nil, hdr)
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, payload)
	sig, err := k.sign(buf)
	if err != nil {
		return "", err
	}
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, sig)
	return string(buf), nil
}

// VerifyTyped checks that token is a compact JWS whose typ is typ (case-insensitive, optionally with the
// "application/" prefix) signed by a key lookup returns, with that key's algorithm, and decodes its claims
// into out. Claim checks are the caller's. Errors wrap ErrMalformed, ErrUnknownKey or ErrSignature; it never
// panics on any input.
func VerifyTyped(token, typ string, lookup KeyLookup, out any) error {
	pb, err := verifyCompact(token, typ, lookup)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(pb))
	if err := dec.Decode(out); err != nil || dec.More() {
		return ErrMalformed
	}
	return nil
}

// verifyCompact checks the header and signature of a compact JWS of the given typ and returns its payload.
func verifyCompact(token, typ string, lookup KeyLookup) ([]byte, error) {
	// RFC 7515 §7.1: the parts are base64url without line breaks. encoding/base64 skips CR and LF even in
	// Strict mode, which would give one token many spellings (each a separate entry of any cache keyed on
	// the token string), so they are refused here.
	if len(token) == 0 || len(token) > MaxTokenSize || strings.ContainsAny(token, "\r\n") {
		return nil, ErrMalformed
	}
	h64, rest, ok := strings.Cut(token, ".")
	if !ok {
		return nil, ErrMalformed
	}
	p64, s64, ok := strings.Cut(rest, ".")
	if !ok || strings.Contains(s64, ".") {
		return nil, ErrMalformed
	}
	hb, err := strict.DecodeString(h64)
	if err != nil {
		return nil, ErrMalformed
	}
	var h header
	if err := json.Unmarshal(hb, &h); err != nil {
		return nil, ErrMalformed
	}
	// RFC 7515 §4.1.11: we understand no extensions, so a crit header cannot be honoured.
	if h.Crit != nil {
		return nil, fmt.Errorf("%w: crit header not supported", ErrMalformed)
	}
	if t := strings.ToLower(h.Typ); t != typ && t != "application/"+typ {
		return nil, fmt.Errorf("%w: unexpected token type (typ)", ErrMalformed)
	}
	if h.Kid == "" {
		return nil, fmt.Errorf("%w: no kid", ErrUnknownKey)
	}
	key, ok := lookup(h.Kid)
	if !ok || key == nil || string(key.alg) != h.Alg {
		return nil, ErrUnknownKey
	}
	sig, err := strict.DecodeString(s64)
	if err != nil {
		return nil, ErrMalformed
	}
	if !key.verify([]byte(token[:len(h64)+1+len(p64)]), sig) {
		return nil, ErrSignature
	}
	pb, err := strict.DecodeString(p64)
	if err != nil {
		return nil, ErrMalformed
	}
	return pb, nil
}

func (p *PublicKey) verify(input, sig []byte) bool {
	switch p.alg {
	case ES256:
		if len(sig) != 64 {
			return false
		}
		h := sha256.Sum256(input)
		r := new(big.Int).SetBytes(sig[:32])
		s := new(big.Int).SetBytes(sig[32:])
		return ecdsa.Verify(p.ec, h[:], r, s)
	case EdDSA:
		return len(sig) == ed25519.SignatureSize && ed25519.Verify(p.ed, input, sig)
	case RS256:
		h := sha256.Sum256(input)
		return rsa.VerifyPKCS1v15(p.rsa, crypto.SHA256, h[:], sig) == nil
	}
	return false
}
