package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"testing"
)

// softAuthenticator is a software WebAuthn authenticator (W3C WebAuthn §6) for tests: one ES256 credential,
// "none" attestation, flags as configured. It speaks the JSON a browser posts (PublicKeyCredential.toJSON).
type softAuthenticator struct {
	t          testing.TB
	origin     string
	rpID       string
	key        *ecdsa.PrivateKey
	credID     []byte
	userHandle []byte
	counter    uint32
	// Flags of the next gesture.
	uv, be, bs bool
}

func newSoftAuthenticator(t testing.TB, origin, rpID string) *softAuthenticator {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id := make([]byte, 32)
	rand.Read(id)
	return &softAuthenticator{t: t, origin: origin, rpID: rpID, key: k, credID: id, uv: true}
}

const (
	flagUP = 0x01
	flagUV = 0x04
	flagBE = 0x08
	flagBS = 0x10
	flagAT = 0x40
)

func (a *softAuthenticator) flags() byte {
	f := byte(flagUP)
	if a.uv {
		f |= flagUV
	}
	if a.be {
		f |= flagBE
	}
	if a.bs {
		f |= flagBS
	}
	return f
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// cborBytes is the CBOR byte string b (major type 2).
func cborBytes(b []byte) []byte {
	switch n := len(b); {
	case n < 24:
		return append([]byte{0x40 | byte(n)}, b...)
	case n < 256:
		return append([]byte{0x58, byte(n)}, b...)
	default:
		return append([]byte{0x59, byte(n >> 8), byte(n)}, b...)
	}
}

// cborText is the CBOR text string s (major type 3, short).
func cborText(s string) []byte { return append([]byte{0x60 | byte(len(s))}, s...) }

// coseKey is the COSE_Key (RFC 9053 §7.1.1) of the credential's public key: EC2, ES256, P-256.
func (a *softAuthenticator) coseKey() []byte {
	x, y := make([]byte, 32), make([]byte, 32)
	a.key.PublicKey.X.FillBytes(x)
	a.key.PublicKey.Y.FillBytes(y)
	k := []byte{0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21}
	k = append(k, cborBytes(x)...)
	k = append(k, 0x22)
	return append(k, cborBytes(y)...)
}

func (a *softAuthenticator) clientData(typ, challenge, origin string) []byte {
	b, _ := json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": origin, "crossOrigin": false})
	return b
}

// challengeOf reads the challenge of creation or request options (JSON, as the browser gets them).
func challengeOf(t testing.TB, optionsJSON string) string {
	t.Helper()
	var o struct {
		Challenge string `json:"challenge"`
		User      struct {
			ID string `json:"id"`
		} `json:"user"`
	}
	if err := json.Unmarshal([]byte(optionsJSON), &o); err != nil || o.Challenge == "" {
		t.Fatalf("options %s: %v", optionsJSON, err)
	}
	return o.Challenge
}

// create answers PublicKeyCredentialCreationOptions: a registration response (JSON).
func (a *softAuthenticator) create(optionsJSON string) string {
	a.t.Helper()
	var o struct {
		Challenge string `json:"challenge"`
		User      struct {
			ID string `json:"id"`
		} `json:"user"`
	}
	if err := json.Unmarshal([]byte(optionsJSON), &o); err != nil {
		a.t.Fatal(err)
	}
	uh, err := base64.RawURLEncoding.DecodeString(o.User.ID)
	if err != nil {
		a.t.Fatalf("user.id %q: %v", o.User.ID, err)
	}
	a.userHandle = uh
	rpHash := sha256.Sum256([]byte(a.rpID))
	auth := append(rpHash[:], a.flags()|flagAT)
	auth = binary.BigEndian.AppendUint32(auth, a.counter)
	auth = append(auth, make([]byte, 16)...) // AAGUID
	auth = binary.BigEndian.AppendUint16(auth, uint16(len(a.credID)))
	auth = append(auth, a.credID...)
	auth = append(auth, a.coseKey()...)
	att := []byte{0xa3}
	att = append(att, cborText("fmt")...)
	att = append(att, cborText("none")...)
	att = append(att, cborText("attStmt")...)
	att = append(att, 0xa0)
	att = append(att, cborText("authData")...)
	att = append(att, cborBytes(auth)...)
	b, _ := json.Marshal(map[string]any{
		"id": b64(a.credID), "rawId": b64(a.credID), "type": "public-key", "clientExtensionResults": map[string]any{},
		"response": map[string]any{
			"clientDataJSON":    b64(a.clientData("webauthn.create", o.Challenge, a.origin)),
			"attestationObject": b64(att), "transports": []string{"internal"},
		},
	})
	return string(b)
}

// get answers PublicKeyCredentialRequestOptions: an assertion (JSON) with the next sign count.
func (a *softAuthenticator) get(optionsJSON string) string {
	a.t.Helper()
	return a.getFrom(challengeOf(a.t, optionsJSON), a.origin)
}

// getFrom signs an assertion for challenge as if from origin.
func (a *softAuthenticator) getFrom(challenge, origin string) string {
	a.t.Helper()
	a.counter++
	rpHash := sha256.Sum256([]byte(a.rpID))
	auth := append(rpHash[:], a.flags())
	auth = binary.BigEndian.AppendUint32(auth, a.counter)
	cd := a.clientData("webauthn.get", challenge, origin)
	cdHash := sha256.Sum256(cd)
	digest := sha256.Sum256(append(append([]byte{}, auth...), cdHash[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, a.key, digest[:])
	if err != nil {
		a.t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]any{
		"id": b64(a.credID), "rawId": b64(a.credID), "type": "public-key", "clientExtensionResults": map[string]any{},
		"response": map[string]any{
			"clientDataJSON": b64(cd), "authenticatorData": b64(auth), "signature": b64(sig), "userHandle": b64(a.userHandle),
		},
	})
	return string(b)
}
