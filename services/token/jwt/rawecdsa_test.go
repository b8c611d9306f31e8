package jwt

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"math/big"
	"testing"
)

// TestRawECDSA: every deterministic signature converts to an R||S form that verifies, including the ones
// whose R or S has its high bit set (DER adds a zero byte) or is shorter than 32 bytes.
func TestRawECDSA(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sawPadded, sawShort := false, false
	for i := range 400 {
		h := sha256.Sum256([]byte{byte(i), byte(i >> 8)})
		der, err := ecdsa.SignASN1(rand.Reader, key, h[:])
		if err != nil {
			t.Fatal(err)
		}
		raw, err := rawECDSA(der)
		if err != nil {
			t.Fatal(err)
		}
		r, s := new(big.Int).SetBytes(raw[:32]), new(big.Int).SetBytes(raw[32:])
		if !ecdsa.Verify(&key.PublicKey, h[:], r, s) {
			t.Fatalf("signature %d does not verify after conversion", i)
		}
		sawPadded = sawPadded || raw[0]&0x80 != 0
		sawShort = sawShort || raw[0] == 0 || raw[32] == 0
	}
	if !sawPadded {
		t.Error("no signature with the high bit of R set was exercised")
	}
	_ = sawShort // a zero leading byte appears about once in 128 signatures; not required
	for _, bad := range [][]byte{nil, {0x30, 0x00}, {0x30, 0x03, 0x02, 0x01, 0x01}, {0x31, 0x00}} {
		if _, err := rawECDSA(bad); err == nil {
			t.Errorf("rawECDSA(%x) accepted", bad)
		}
	}
}
