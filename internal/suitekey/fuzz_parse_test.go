package suitekey_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/authsuite/authsuite/internal/suitekey"
)

// refDecode is the reference for one key of a key list: 32 bytes in standard or URL-safe base64, padded or
// not, or in hex (the Parse documentation), decoded with encoding/base64 and encoding/hex directly.
func refDecode(s string) ([]byte, bool) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == suitekey.KeySize {
			return b, true
		}
	}
	if b, err := hex.DecodeString(s); err == nil && len(b) == suitekey.KeySize {
		return b, true
	}
	return nil, false
}

// sameKey reports whether two keyrings have the same primary key: same id, and what one seals the other opens.
func sameKey(t *testing.T, a, b *suitekey.Keyring) bool {
	t.Helper()
	if a.PrimaryID() != b.PrimaryID() {
		return false
	}
	pt, err := b.Open(a.Seal([]byte("probe"), []byte("ad")), []byte("ad"))
	return err == nil && bytes.Equal(pt, []byte("probe"))
}

// FuzzParse checks suitekey.Parse (the AUTHSUITE_MASTER_KEY and key-file format) on arbitrary specs:
//   - it accepts a spec exactly when the reference decoder accepts every non-blank comma-separated part and
//     there is at least one, and then the primary key is the first part's bytes (what the parsed ring seals,
//     a ring built from the reference bytes opens) and every listed key opens what its own ring sealed;
//   - a refused spec's error does not depend on what its refused parts hold (the message may reach logs),
//     and never contains a valid key;
//   - round trip: 32 arbitrary bytes written in each documented encoding, with blanks around, parse back to
//     the same key.
func FuzzParse(f *testing.F) {
	k := bytes.Repeat([]byte{0xfb}, suitekey.KeySize)
	for _, s := range []string{
		base64.StdEncoding.EncodeToString(k),
		base64.RawURLEncoding.EncodeToString(k) + "," + hex.EncodeToString(k),
		" " + hex.EncodeToString(k) + " ,, ",
		"", ",", "short", "00112233", strings.Repeat("A", 43) + "=",
		base64.StdEncoding.EncodeToString(k) + ",not-a-key-at-all-0123456789",
		hex.EncodeToString(k)[:63] + "g",
	} {
		f.Add(s, k)
	}
	f.Fuzz(func(t *testing.T, spec string, raw []byte) {
		kr, err := suitekey.Parse(spec)
		var refs [][]byte
		refOK := true
		for _, part := range strings.Split(spec, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			b, ok := refDecode(part)
			if !ok {
				refOK = false
				continue
			}
			refs = append(refs, b)
			if err != nil && strings.Contains(err.Error(), part) {
				t.Fatalf("Parse error %q quotes a valid key", err)
			}
		}
		refOK = refOK && len(refs) > 0
		if err != nil {
			// The message may reach logs: it must not depend on what the refused parts hold, so the same spec
			// with every refused part replaced by "!" is refused with the same words.
			parts := strings.Split(spec, ",")
			for i, part := range parts {
				if p := strings.TrimSpace(part); p != "" {
					if _, ok := refDecode(p); !ok {
						parts[i] = "!"
					}
				}
			}
			if _, err2 := suitekey.Parse(strings.Join(parts, ",")); err2 == nil || err2.Error() != err.Error() {
				t.Fatalf("Parse(%q) error %q depends on the refused key text (%v)", spec, err, err2)
			}
		}
		if (err == nil) != refOK {
			t.Fatalf("Parse(%q) error %v; reference accepts: %v", spec, err, refOK)
		}
		if err == nil {
			ref, rerr := suitekey.New(refs[0])
			if rerr != nil || !sameKey(t, kr, ref) {
				t.Fatalf("Parse(%q): primary key is not the first key's bytes", spec)
			}
			for _, b := range refs {
				one, _ := suitekey.New(b)
				if pt, err := kr.Open(one.Seal([]byte("x"), nil), nil); err != nil || string(pt) != "x" {
					t.Fatalf("Parse(%q): a listed key does not open what it sealed", spec)
				}
			}
		}

		if len(raw) != suitekey.KeySize {
			return
		}
		want, _ := suitekey.New(raw)
		for _, text := range []string{
			base64.StdEncoding.EncodeToString(raw), base64.RawStdEncoding.EncodeToString(raw),
			base64.URLEncoding.EncodeToString(raw), base64.RawURLEncoding.EncodeToString(raw), hex.EncodeToString(raw),
		} {
			got, err := suitekey.Parse(" \t" + text + " ,")
			if err != nil || !sameKey(t, got, want) {
				t.Fatalf("Parse(%q) = %v: round trip lost the key", text, err)
			}
		}
	})
}
