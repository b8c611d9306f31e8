package etcdstore

import (
	"bytes"
	"testing"
	"time"
)

var kinds = []string{kindInteraction, kindSession, kindCode, kindRefresh, kindConsent, kindFailures}

// FuzzIndexEntries holds the expiry index's keys to their two properties: entries sort as their expiries do,
// and parsing gives back exactly what made an entry (so a sweep deletes the record the entry names and no
// other), while anything else, whatever its bytes, is refused without a panic.
func FuzzIndexEntries(f *testing.F) {
	f.Add(int64(1_700_000_000), int64(-62135596800), uint8(1), []byte("0123456789abcdef0123456789abcdef"), []byte("7fffffff9a5c1c00/se/x"))
	f.Add(int64(0), int64(-1), uint8(5), []byte("k/with/slashes"), []byte("zz"))
	f.Add(int64(-1<<63), int64(1<<63-1), uint8(0), []byte{0}, []byte("80000000655394d0/jti"))
	f.Fuzz(func(t *testing.T, a, b int64, kindIdx uint8, key, raw []byte) {
		ta, tb := time.Unix(a, 0), time.Unix(b, 0)
		if (a < b) != (expKey(ta) < expKey(tb)) || (a == b) != (expKey(ta) == expKey(tb)) {
			t.Fatalf("expKey order: %d→%s, %d→%s", a, expKey(ta), b, expKey(tb))
		}
		kind := kinds[int(kindIdx)%len(kinds)]
		entry := signInEntry(kind, key, ta)
		exp, k, gotKey, ok := parseSignInEntry([]byte(entry))
		valid := len(key) > 0 && len(key) <= 512
		if ok != valid || ok && (exp != a || k != kind || !bytes.Equal(gotKey, key)) {
			t.Fatalf("parse(%q) = %d %q %q %v", entry, exp, k, gotKey, ok)
		}
		if len(key) > 0 {
			rexp, jti, ok := parseRevocationEntry([]byte(expKey(ta) + "/" + string(key)))
			if !ok || rexp != a || jti != string(key) {
				t.Fatalf("revocation entry: %d %q %v", rexp, jti, ok)
			}
		}
		// Arbitrary bytes: refused, or exactly what the builder would make from the parts.
		if exp, k, gotKey, ok := parseSignInEntry(raw); ok && signInEntry(k, gotKey, time.Unix(exp, 0)) != string(raw) {
			t.Fatalf("parse accepted %q as %d %q %q, which builds another entry", raw, exp, k, gotKey)
		}
		if exp, jti, ok := parseRevocationEntry(raw); ok && expKey(time.Unix(exp, 0))+"/"+jti != string(raw) {
			t.Fatalf("parse accepted %q as %d %q, which builds another entry", raw, exp, jti)
		}
		expiryOf(raw) // never panics
		decodeKeys(raw)
	})
}
