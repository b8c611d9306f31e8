package i18n

import (
	"slices"
	"strings"
	"testing"
)

func TestMatchMore(t *testing.T) {
	cases := []struct {
		ui     []string
		accept string
		def    string
		want   string
	}{
		{nil, "i-klingon", "zh-Hant", TraditionalChinese}, // x/text calls Klingon close to English; it is not
		{nil, "tlh, ja;q=0.5", "zh-hans", SimplifiedChinese},
		{nil, "zh-TW;q=0, fr", "", English}, // q=0: not Chinese
		{nil, "de, zh-TW;q=0.1", "", TraditionalChinese},
		{nil, "zh-MO", "", TraditionalChinese},
		{nil, "zh-TW,zh;q=0.9;q=0.9,en;q=0.5;q=0.8", "", TraditionalChinese}, // one bad entry, not a bad header
		{nil, "??, zh-CN", "", SimplifiedChinese},
		{nil, "en;q=0.5, zh-TW", "", TraditionalChinese}, // quality beats order
		{nil, "en, zh-TW", "", English},                  // order breaks ties
		{nil, strings.Repeat("fr,", maxAcceptEntries) + "zh-TW", "", English},
		{nil, "zh-SG", "", SimplifiedChinese},
		{nil, "cmn", "", SimplifiedChinese},
		{nil, "zh-Latn", "zh-Hant", TraditionalChinese},
		{[]string{"ZH-tw"}, "", "", TraditionalChinese},
		{[]string{"zh-Hant"}, "zh-CN", "en", TraditionalChinese},
		{[]string{strings.Repeat("a", 40), "zh-TW"}, "", "", TraditionalChinese},
		{append(slices.Repeat([]string{"fr"}, maxUILocales), "zh-TW"), "", "", English}, // the 11th is not read
		{nil, strings.Repeat("fr,", 400) + "zh-TW", "", English},                        // beyond 1 KiB: ignored
	}
	for _, c := range cases {
		if got := Match(c.ui, c.accept, c.def); got != c.want {
			t.Errorf("Match(%q, %.40q, %q) = %q, want %q", c.ui, c.accept, c.def, got, c.want)
		}
	}
}

// mentionsSupported reports whether s could name English or Chinese: it contains one of their language
// codes (ISO 639-1, -2 and Mandarin). A Match input that mentions none must fall to the tenant default.
func mentionsSupported(s string) bool {
	s = strings.ToLower(s)
	for _, code := range []string{"en", "zh", "cmn", "chi", "zho", "eng"} {
		if strings.Contains(s, code) {
			return true
		}
	}
	return false
}

// FuzzMatch checks Match against what its contract says, without re-implementing it: the answer is always a
// supported language; a first ui_locale that is a supported language's own tag wins whatever follows;
// nothing but the tenant default (or English) comes out when no input names English or Chinese; the
// tenant default is used exactly when no input names a language; and the answer is the same when asked again.
func FuzzMatch(f *testing.F) {
	f.Add("zh-TW en", "zh-CN,en;q=0.5", "zh-Hant")
	f.Add("", "i-klingon", "zh-Hans")
	f.Add("fr de", "*;q=0.1, zh-HK", "en")
	f.Add("not a tag!", "garbage;;q", "")
	f.Add("", "", "ZH-HANT")
	f.Add("x-foo", "en;q=0", "fr")
	f.Fuzz(func(t *testing.T, ui, accept, def string) {
		tags := strings.Fields(ui)
		got := Match(tags, accept, def)
		if !slices.Contains(Locales, got) {
			t.Fatalf("Match = %q, not a supported language", got)
		}
		if got != Match(tags, accept, def) {
			t.Fatal("Match is not deterministic")
		}
		fallback := English
		for _, l := range Locales {
			if strings.EqualFold(l, def) {
				fallback = l
			}
		}
		if len(tags) > 0 {
			for _, l := range Locales {
				if tags[0] == l && got != l {
					t.Fatalf("first ui_locale %q, got %q", l, got)
				}
			}
		}
		read := tags[:min(len(tags), maxUILocales)]
		if !mentionsSupported(strings.Join(read, " ")) && (len(accept) > maxAcceptLanguage || !mentionsSupported(accept)) && got != fallback {
			t.Fatalf("Match(%q, %q, %q) = %q: nothing names English or Chinese, want the default %q", tags, accept, def, got, fallback)
		}
		if len(tags) == 0 && accept == "" && got != fallback {
			t.Fatalf("no preference: got %q, want the default %q", got, fallback)
		}
	})
}
