package server

import (
	"strings"
	"testing"
	"unicode"
)

// FuzzNormalizeUserCode: whatever is typed, normalizeUserCode never panics and accepts exactly the inputs
// that are 8 letters of the alphabet (either case) once dashes and spaces are dropped; what it accepts is
// a fixed point (normalizing the shown form gives it back).
func FuzzNormalizeUserCode(f *testing.F) {
	for _, s := range []string{"BCDF-GHJK", "bcdf ghjk", "BCDFGHJK", "BCDF-GHJ", "BCDF-GHJKL", "AEIOU-123", "", "----", "BCDF\u2011GHJK", "ＢＣＤＦＧＨＪＫ", "ß"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, typed string) {
		got, ok := normalizeUserCode(typed)
		// The oracle: an independent statement of the rule.
		var kept []rune
		valid := len(typed) <= maxUserCodeInput
		for _, r := range typed {
			if r == '-' || unicode.IsSpace(r) || r == '\u2010' || r == '\u2011' || r == '\u2013' || r == '\u2212' {
				continue
			}
			up := r
			if r >= 'a' && r <= 'z' {
				up = r - 32
			}
			if !strings.ContainsRune(userCodeAlphabet, up) {
				valid = false
			}
			kept = append(kept, up)
		}
		want := valid && len(kept) == userCodeLen
		// Separators the normalizer does not drop (other Unicode spaces) make the input invalid for it: the
		// oracle may accept more spaces than the code does, never fewer letters.
		if ok && !want {
			t.Fatalf("normalizeUserCode(%q) = %q, accepted; the rule refuses it", typed, got)
		}
		if ok {
			if got != string(kept) {
				t.Fatalf("normalizeUserCode(%q) = %q; want %q", typed, got, string(kept))
			}
			if again, ok2 := normalizeUserCode(formatUserCode(got)); !ok2 || again != got {
				t.Fatalf("shown form %q of %q normalizes to %q, %v", formatUserCode(got), got, again, ok2)
			}
		}
		if !ok && want && !strings.ContainsFunc(typed, func(r rune) bool { return unicode.IsSpace(r) && r != ' ' && r != '\t' && r != '\u00a0' }) {
			t.Fatalf("normalizeUserCode(%q) refused a valid code (%q)", typed, string(kept))
		}
	})
}

// TestNewUserCode: drawn codes are 8 letters of the alphabet, normalize to themselves, and every letter
// occurs (a biased or stuck generator fails).
func TestNewUserCode(t *testing.T) {
	seen := map[rune]bool{}
	for range 200 {
		c := newUserCode()
		if n, ok := normalizeUserCode(strings.ToLower(formatUserCode(c))); !ok || n != c {
			t.Fatalf("newUserCode() = %q does not normalize to itself (%q, %v)", c, n, ok)
		}
		for _, r := range c {
			seen[r] = true
		}
	}
	if len(seen) != len(userCodeAlphabet) {
		t.Fatalf("200 codes used %d of the %d letters", len(seen), len(userCodeAlphabet))
	}
}
