package server

import (
	"regexp"
	"slices"
	"testing"
)

var accountLocaleRE = regexp.MustCompile(`^[A-Za-z0-9-]{1,35}$`)

// FuzzAccountUILocales: whatever ui_locales a browser sends, at most maxAccountLocales entries survive, each
// one of the input's entries, in input order, and each a plain tag of letters, digits and hyphens.
func FuzzAccountUILocales(f *testing.F) {
	for _, s := range [][2]string{{"en", "zh-Hant"}, {"", "zh-Hans-CN"}, {"x\x00y", "<script>"}, {"a-b-c-d-e-f-g-h-i-j-k-l-m-n-o-p-q-r-s", "fr"}} {
		f.Add(s[0], s[1], 3)
	}
	f.Fuzz(func(t *testing.T, a, b string, n int) {
		in := []string{a, b}
		for i := 0; i < n%20; i++ {
			in = append(in, a, b)
		}
		out := accountUILocales(in)
		if len(out) > maxAccountLocales {
			t.Fatalf("%d locales kept; at most %d", len(out), maxAccountLocales)
		}
		j := 0
		for _, l := range out {
			if !accountLocaleRE.MatchString(l) {
				t.Fatalf("kept %q", l)
			}
			k := slices.Index(in[j:], l)
			if k < 0 {
				t.Fatalf("kept %q, not in the input after position %d", l, j)
			}
			j += k + 1
		}
		if accountLocaleRE.MatchString(a) && len(out) == 0 {
			t.Fatalf("dropped the well-formed %q", a)
		}
	})
}
