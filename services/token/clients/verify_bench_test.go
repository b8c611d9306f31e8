package clients

import (
	"testing"
	"time"

	"github.com/authsuite/authsuite/internal/suitekey"
)

// BenchmarkVerifySecret verifies the newest of three secrets (two rotated ones first), as a client in the
// middle of a rotation presents it, in parallel.
func BenchmarkVerifySecret(b *testing.B) {
	kr, err := suitekey.New(make([]byte, 32))
	if err != nil {
		b.Fatal(err)
	}
	c := &Client{ID: "c"}
	for i, v := range []string{"old-secret-value-1", "old-secret-value-2", "current-secret-value"} {
		kid, sum := kr.Digest(DigestPurpose, []byte(v))
		c.Secrets = append(c.Secrets, Secret{ID: string(rune('a' + i)), KeyID: kid, Digest: sum})
	}
	now := time.Now()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, ok := c.VerifySecret(kr, "current-secret-value", now); !ok {
				b.Fatal("secret not verified")
			}
		}
	})
}

// TestVerifySecretAcrossKeys: secrets digested under the current and an older master key, several per key,
// and one under a key the ring no longer has: each valid one verifies, nothing else does.
func TestVerifySecretAcrossKeys(t *testing.T) {
	newKey, oldKey, goneKey := make([]byte, 32), make([]byte, 32), make([]byte, 32)
	newKey[0], oldKey[0], goneKey[0] = 1, 2, 3
	ring, _ := suitekey.New(newKey, oldKey)
	oldRing, _ := suitekey.New(oldKey)
	goneRing, _ := suitekey.New(goneKey)
	now := time.Unix(1_700_000_000, 0)
	c := &Client{ID: "c"}
	add := func(kr *suitekey.Keyring, id, value string, notAfter time.Time) {
		kid, sum := kr.Digest(DigestPurpose, []byte(value))
		c.Secrets = append(c.Secrets, Secret{ID: id, KeyID: kid, Digest: sum, NotAfter: notAfter})
	}
	add(goneRing, "gone", "gone-value", time.Time{})
	add(oldRing, "old1", "old-value-1", time.Time{})
	add(ring, "new1", "new-value-1", time.Time{})
	add(oldRing, "old2", "old-value-2", time.Time{})
	add(ring, "new2", "new-value-2", time.Time{})
	add(ring, "expired", "expired-value", now)
	for value, want := range map[string]string{
		"old-value-1": "old1", "old-value-2": "old2", "new-value-1": "new1", "new-value-2": "new2",
		"gone-value": "", "expired-value": "", "nothing": "",
	} {
		if id, ok := c.VerifySecret(ring, value, now); id != want || ok != (want != "") {
			t.Errorf("VerifySecret(%q) = %q, %v; want %q", value, id, ok, want)
		}
	}
}
