package i18n

import (
	"slices"
	"testing"
)

// Every language has exactly the keys English has, and no text is empty.
func TestCataloguesComplete(t *testing.T) {
	en := Keys(English)
	slices.Sort(en)
	if len(en) == 0 {
		t.Fatal("the English catalogue is empty")
	}
	for _, lang := range Locales[1:] {
		got := Keys(lang)
		slices.Sort(got)
		for _, k := range en {
			if _, ok := slices.BinarySearch(got, k); !ok {
				t.Errorf("%s lacks %q", lang, k)
			}
		}
		for _, k := range got {
			if _, ok := slices.BinarySearch(en, k); !ok {
				t.Errorf("%s has %q, which English lacks", lang, k)
			}
		}
	}
	for _, lang := range Locales {
		for k, v := range catalogues[lang] {
			if v == "" {
				t.Errorf("%s %q is empty", lang, k)
			}
		}
	}
}

func TestMatch(t *testing.T) {
	cases := []struct {
		ui     []string
		accept string
		def    string
		want   string
	}{
		{nil, "", "", English},
		{nil, "", "zh-Hant", TraditionalChinese},
		{nil, "", "fr", English},
		{[]string{"zh-CN"}, "en", "", SimplifiedChinese},
		{[]string{"fr", "zh-TW"}, "en", "", TraditionalChinese},
		{[]string{"fr"}, "zh-HK,zh;q=0.8", "", TraditionalChinese},
		{nil, "zh", "en", SimplifiedChinese},
		{nil, "zh-Hans-CN", "", SimplifiedChinese},
		{nil, "fr-FR,de;q=0.5", "zh-Hans", SimplifiedChinese},
		{[]string{"not a tag!"}, "garbage;;q", "", English},
		{nil, "en-GB", "zh-Hant", English},
	}
	for _, c := range cases {
		if got := Match(c.ui, c.accept, c.def); got != c.want {
			t.Errorf("Match(%q, %q, %q) = %q, want %q", c.ui, c.accept, c.def, got, c.want)
		}
	}
}

func TestT(t *testing.T) {
	l := For("xx")
	if l.Lang != English {
		t.Fatalf("For(xx).Lang = %q", l.Lang)
	}
	if got := l.T("no.such.key"); got != "no.such.key" {
		t.Errorf("missing key: %q", got)
	}
	if got := For(SimplifiedChinese).T("common.language"); got != "语言" {
		t.Errorf("zh-Hans common.language = %q", got)
	}
}
