// Package i18n holds the page texts of the browser pages in English, Simplified Chinese and Traditional
// Chinese, and picks a page's language (OpenID Connect Core §3.1.2.1 ui_locales, then the browser's
// Accept-Language, then the tenant's default).
//
// The texts live in message catalogues, one JSON object per page area and language under
// locales/{en,zh-Hans,zh-Hant}/, mapping a key ("login.title") to a text. A text may name arguments in
// braces ("Sign in to {client}"); Localizer.T fills them. Every language has exactly the keys English has
// (checked by the package's tests).
package i18n

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"golang.org/x/text/language"
)

// The supported languages, as BCP 47 tags. English is the fallback.
const (
	English            = "en"
	SimplifiedChinese  = "zh-Hans"
	TraditionalChinese = "zh-Hant"
)

// Locales are the supported languages, English first.
var Locales = []string{English, SimplifiedChinese, TraditionalChinese}

// names are the languages' names in themselves (endonyms), as a language switcher shows them.
var names = map[string]string{English: "English", SimplifiedChinese: "简体中文", TraditionalChinese: "繁體中文"}

// Name is lang's name in lang itself ("简体中文"), or lang when it is not supported.
func Name(lang string) string {
	if n, ok := names[lang]; ok {
		return n
	}
	return lang
}

//go:embed locales
var files embed.FS

// catalogues maps a language to its texts by key.
var catalogues = mustLoad(files)

var matcher = language.NewMatcher([]language.Tag{
	language.English, language.SimplifiedChinese, language.TraditionalChinese,
})

func mustLoad(fsys fs.FS) map[string]map[string]string {
	c, err := load(fsys)
	if err != nil {
		panic(err) // the catalogues are embedded: a broken one fails every test, never a running server
	}
	return c
}

// load reads every locales/<lang>/*.json file of fsys. A key defined twice for one language is an error.
func load(fsys fs.FS) (map[string]map[string]string, error) {
	out := map[string]map[string]string{}
	for _, lang := range Locales {
		m := map[string]string{}
		names, err := fs.Glob(fsys, path.Join("locales", lang, "*.json"))
		if err != nil {
			return nil, err
		}
		for _, name := range names {
			b, err := fs.ReadFile(fsys, name)
			if err != nil {
				return nil, err
			}
			var texts map[string]string
			if err := json.Unmarshal(b, &texts); err != nil {
				return nil, fmt.Errorf("i18n: %s: %w", name, err)
			}
			for k, v := range texts {
				if _, dup := m[k]; dup {
					return nil, fmt.Errorf("i18n: %s: key %q is defined twice", name, k)
				}
				m[k] = v
			}
		}
		out[lang] = m
	}
	return out, nil
}

// Limits on what Match reads: the first maxUILocales ui_locales of at most maxTagBytes each (RFC 5646
// §4.4.1: 35 characters hold every tag that matters) and an Accept-Language header of at most
// maxAcceptLanguage bytes; anything beyond is ignored, so a hostile request costs bounded work.
const (
	maxUILocales      = 10
	maxTagBytes       = 35
	maxAcceptLanguage = 1024
)

// Match picks the page language: the first of uiLocales (OIDC Core §3.1.2.1, in order of preference) that
// matches a supported language, else the best match of the Accept-Language header (RFC 9110 §12.5.4,
// highest quality first; q=0 means "not this one"), else tenantDefault when it is supported (any case),
// else English. Only English and Chinese tags match: "zh-TW", "zh-HK", "zh-MO" and "zh-Hant" give
// Traditional Chinese, "zh", "zh-CN", "zh-SG" and "zh-Hans" Simplified Chinese; a tag of another language
// (even one x/text calls close to English, such as Klingon) never does. Malformed tags are skipped.
func Match(uiLocales []string, acceptLanguage, tenantDefault string) string {
	for i, l := range uiLocales {
		if i == maxUILocales {
			break
		}
		if len(l) > maxTagBytes {
			continue
		}
		if tag, err := language.Parse(l); err == nil {
			if m, ok := match(tag); ok {
				return m
			}
		}
	}
	if acceptLanguage != "" && len(acceptLanguage) <= maxAcceptLanguage {
		for _, tag := range acceptedTags(acceptLanguage) {
			if m, ok := match(tag); ok {
				return m
			}
		}
	}
	for _, l := range Locales {
		if strings.EqualFold(l, tenantDefault) {
			return l
		}
	}
	return English
}

// maxAcceptEntries bounds the entries of an Accept-Language header that are read.
const maxAcceptEntries = 32

// acceptedTags returns the languages of an Accept-Language header (RFC 9110 §12.5.4), highest quality
// first (ties in the header's order), without those of quality 0. Each entry is read on its own, so one
// malformed entry ("zh;q=0.9;q=0.9", "??") is skipped rather than discarding the whole header; at most
// maxAcceptEntries entries are read.
func acceptedTags(header string) []language.Tag {
	type weighted struct {
		tag language.Tag
		q   float32
	}
	var ws []weighted
	for i, entry := range strings.Split(header, ",") {
		if i == maxAcceptEntries {
			break
		}
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		tags, qs, err := language.ParseAcceptLanguage(entry)
		if err != nil || len(tags) != 1 {
			continue
		}
		ws = append(ws, weighted{tags[0], qs[0]})
	}
	slices.SortStableFunc(ws, func(a, b weighted) int {
		switch {
		case a.q > b.q:
			return -1
		case a.q < b.q:
			return 1
		}
		return 0
	})
	out := make([]language.Tag, 0, len(ws))
	for _, w := range ws {
		out = append(out, w.tag)
	}
	return out
}

var (
	baseEnglish, _ = language.English.Base()
	baseChinese, _ = language.Chinese.Base()
)

// match maps one tag to a supported language: only a tag of the English or Chinese language (Mandarin
// included) does, and then only when the matcher is at least fairly confident (so "zh-Latn" does not).
func match(tag language.Tag) (string, bool) {
	base, _ := tag.Base()
	if base != baseEnglish && base != baseChinese && base.String() != "cmn" {
		return "", false
	}
	_, i, conf := matcher.Match(tag)
	if conf < language.High {
		return "", false
	}
	return Locales[i], true
}

// Localizer gives the texts of one language.
type Localizer struct {
	// Lang is the language (one of Locales), for <html lang>.
	Lang string
}

// For returns the Localizer of lang, or of English when lang is not supported.
func For(lang string) Localizer {
	if _, ok := catalogues[lang]; !ok {
		lang = English
	}
	return Localizer{Lang: lang}
}

// T returns the text of key with its {name} arguments replaced by the values that follow key as name,
// value pairs (T("consent.heading", "client", "Shop")). A key missing in the language falls back to
// English, then to the key itself, so a page never shows nothing.
func (l Localizer) T(key string, args ...any) string {
	text, ok := catalogues[l.Lang][key]
	if !ok {
		if text, ok = catalogues[English][key]; !ok {
			return key
		}
	}
	if len(args) == 0 || !strings.Contains(text, "{") {
		return text
	}
	pairs := make([]string, 0, len(args))
	for i := 0; i+1 < len(args); i += 2 {
		pairs = append(pairs, "{"+fmt.Sprint(args[i])+"}", fmt.Sprint(args[i+1]))
	}
	return strings.NewReplacer(pairs...).Replace(text)
}

// Has reports whether key has a text in English.
func Has(key string) bool {
	_, ok := catalogues[English][key]
	return ok
}

// Keys returns the keys of lang's catalogue (for tests and tools).
func Keys(lang string) []string {
	out := make([]string, 0, len(catalogues[lang]))
	for k := range catalogues[lang] {
		out = append(out, k)
	}
	return out
}
