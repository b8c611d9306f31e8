// Package jwt signs and verifies the access tokens of the token service: compact JWS (RFC 7515) with the
// algorithms of RFC 7518 §3 (ES256, RS256) and RFC 8037 (EdDSA over Ed25519), carrying the JWT access token
// profile of RFC 9068. It is deliberately small: it only accepts what it produces.
package jwt

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
)

// Alg is a JWS signature algorithm ("alg" header parameter, RFC 7515 §4.1.1).
type Alg string

// The supported algorithms.
const (
	// ES256 is ECDSA over P-256 with SHA-256 (RFC 7518 §3.4); the signature is R||S, 64 bytes.
	ES256 Alg = "ES256"
	// EdDSA is Ed25519 (RFC 8037 §3.1).
	EdDSA Alg = "EdDSA"
	// RS256 is RSASSA-PKCS1-v1_5 with SHA-256 (RFC 7518 §3.3) over 2048-bit keys.
	RS256 Alg = "RS256"
)

// RSABits is the size of generated RSA keys.
const RSABits = 2048

// ParseAlg returns the Alg named s (exact, case-sensitive as in RFC 7518), or an error naming the choices.
func ParseAlg(s string) (Alg, error) {
	switch Alg(s) {
	case ES256, EdDSA, RS256:
		return Alg(s), nil
	}
	return "", fmt.Errorf("signing algorithm %q: want ES256, EdDSA or RS256", s)
}

// PrivateKey is a signing key with its key id. It is immutable and safe for concurrent use.
type PrivateKey struct {
	pub    *PublicKey
	signer crypto.Signer
	ec     *ecdsa.PrivateKey
	header string // base64url of the protected header, precomputed
}

// PublicKey is a verification key with its key id and algorithm. It is immutable and safe for concurrent use.
type PublicKey struct {
	kid string
	alg Alg
	ec  *ecdsa.PublicKey
	ed  ed25519.PublicKey
	rsa *rsa.PublicKey
	jwk JWK
}

// Generate creates a new random key for alg. Its key id is the RFC 7638 JWK thumbprint.
func Generate(alg Alg) (*PrivateKey, error) {
	var signer crypto.Signer
	var err error
	switch alg {
	case ES256:
		signer, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case EdDSA:
		_, signer, err = ed25519.GenerateKey(rand.Reader)
	case RS256:
		signer, err = rsa.GenerateKey(rand.Reader, RSABits)
	default:
		return nil, fmt.Errorf("generate key: unsupported algorithm %q", alg)
	}
	if err != nil {
		return nil, fmt.Errorf("generate %s key: %w", alg, err)
	}
	return newPrivateKey(alg, signer)
}

// ParsePrivateKey reads a PKCS #8 DER private key made by MarshalPKCS8 and checks that it suits alg.
func ParsePrivateKey(alg Alg, der []byte) (*PrivateKey, error) {
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("parse %s private key: %w", alg, err)
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("parse %s private key: not a signing key", alg)
	}
	return newPrivateKey(alg, signer)
}

func newPrivateKey(alg Alg, signer crypto.Signer) (*PrivateKey, error) {
	pub, err := NewPublicKey(alg, signer.Public())
	if err != nil {
		return nil, err
	}
	k := &PrivateKey{pub: pub, signer: signer}
	if e, ok := signer.(*ecdsa.PrivateKey); ok {
		k.ec = e
	}
	k.header = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"` + string(alg) + `","kid":"` + pub.kid + `","typ":"at+jwt"}`))
	return k, nil
}

// NewPublicKey wraps a public key for alg (ES256: *ecdsa.PublicKey on P-256; EdDSA: ed25519.PublicKey;
// RS256: *rsa.PublicKey of at least 2048 bits). Its key id is the RFC 7638 thumbprint.
func NewPublicKey(alg Alg, key crypto.PublicKey) (*PublicKey, error) {
	p := &PublicKey{alg: alg}
	b64 := base64.RawURLEncoding.EncodeToString
	switch alg {
	case ES256:
		k, ok := key.(*ecdsa.PublicKey)
		if !ok || k.Curve != elliptic.P256() {
			return nil, errors.New("ES256 needs a P-256 ECDSA key")
		}
		raw, err := k.Bytes()
		if err != nil || len(raw) != 65 {
			return nil, errors.New("ES256: invalid public key")
		}
		p.ec = k
		p.jwk = JWK{Kty: "EC", Crv: "P-256", X: b64(raw[1:33]), Y: b64(raw[33:])}
	case EdDSA:
		k, ok := key.(ed25519.PublicKey)
		if !ok || len(k) != ed25519.PublicKeySize {
			return nil, errors.New("EdDSA needs an Ed25519 key")
		}
		p.ed = k
		p.jwk = JWK{Kty: "OKP", Crv: "Ed25519", X: b64(k)}
	case RS256:
		k, ok := key.(*rsa.PublicKey)
		if !ok || k.N.BitLen() < 2048 {
			return nil, errors.New("RS256 needs an RSA key of at least 2048 bits")
		}
		p.rsa = k
		p.jwk = JWK{Kty: "RSA", N: b64(k.N.Bytes()), E: b64(big.NewInt(int64(k.E)).Bytes())}
	default:
		return nil, fmt.Errorf("unsupported algorithm %q", alg)
	}
	p.kid = p.jwk.Thumbprint()
	p.jwk.Kid, p.jwk.Alg, p.jwk.Use = p.kid, string(alg), "sig"
	return p, nil
}

// KeyID is the key's "kid" (its RFC 7638 thumbprint).
func (k *PrivateKey) KeyID() string { return k.pub.kid }

// Alg is the key's algorithm.
func (k *PrivateKey) Alg() Alg { return k.pub.alg }

// Public returns the verification half.
func (k *PrivateKey) Public() *PublicKey { return k.pub }

// MarshalPKCS8 encodes the private key as PKCS #8 DER, for ParsePrivateKey. Callers encrypt it before
// storing it.
func (k *PrivateKey) MarshalPKCS8() ([]byte, error) { return x509.MarshalPKCS8PrivateKey(k.signer) }

// KeyID is the key's "kid".
func (p *PublicKey) KeyID() string { return p.kid }

// Alg is the key's algorithm.
func (p *PublicKey) Alg() Alg { return p.alg }

// JWK returns the key as a public JSON Web Key (RFC 7517 §4) with kid, alg and use=sig; only the members of
// its key type (RFC 7518 §6.2.1, §6.3.1; RFC 8037 §2) are non-empty.
func (p *PublicKey) JWK() JWK { return p.jwk }

// JWK is a public JSON Web Key. Members that do not apply to Kty are empty.
type JWK struct {
	Kty string // EC, OKP or RSA
	Kid string
	Use string // always "sig"
	Alg string
	Crv string // EC, OKP
	X   string // EC, OKP
	Y   string // EC
	N   string // RSA
	E   string // RSA
}

// Thumbprint is the RFC 7638 §3 SHA-256 thumbprint of the key's required members, base64url without padding.
func (j JWK) Thumbprint() string {
	var s string
	switch j.Kty {
	case "EC":
		s = `{"crv":"` + j.Crv + `","kty":"EC","x":"` + j.X + `","y":"` + j.Y + `"}`
	case "OKP":
		s = `{"crv":"` + j.Crv + `","kty":"OKP","x":"` + j.X + `"}`
	case "RSA":
		s = `{"e":"` + j.E + `","kty":"RSA","n":"` + j.N + `"}`
	}
	sum := sha256.Sum256([]byte(s))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
