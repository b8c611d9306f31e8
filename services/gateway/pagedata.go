package gateway

import (
	"html/template"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"

	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/i18n"
)

// Brand is how a page looks for its tenant (TenantBranding, carried by the token service's PageContext).
type Brand struct {
	// Name is shown in titles and headings: the tenant's branded name, or "authsuite".
	Name string
	// Logo is the tenant's logo as a data URI, or empty.
	Logo template.URL
	// Color is the primary colour, "#rrggbb": the background of buttons.
	Color template.CSS
	// OnColor is the text colour on Color, black or white, whichever contrasts more (WCAG 2.2 §1.4.3).
	OnColor template.CSS
	// Link is the colour of links on the white page: Color when it contrasts at least 4.5:1 with white
	// (WCAG 2.2 §1.4.3, normal text), else a dark grey, so a pale brand colour never makes links unreadable.
	Link template.CSS
}

// defaultColor is the primary colour of pages without branding.
const defaultColor = "#1a56db"

// linkFallback is the link colour when the primary colour is too pale on white.
const linkFallback = "#1f2937"

// maxBrandName bounds the brand name shown (the registry allows 100 characters).
const maxBrandName = 100

var (
	colorPattern = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)
	logoPattern  = regexp.MustCompile(`^data:(?i:image/(png|jpeg|gif|webp);base64),[A-Za-z0-9+/]+={0,2}$`)
)

// maxLogoURI bounds the logo's data URI: the registry's 48 KiB image, base64-encoded, with its prefix.
const maxLogoURI = 2 * 48 << 10

// brandOf returns the branding of pc, checked again here: only a #rrggbb colour reaches the style sheet
// and only a base64 raster-image data URI (no SVG: it can carry script) reaches an
// <img src> (the registry validates both; the gateway does not rely on it, since the values are written
// into CSS and URLs), and at most maxLogoURI long. A name longer than maxBrandName runes is cut.
func brandOf(pc *tokenv1.PageContext) Brand {
	b := Brand{Name: "authsuite", Color: defaultColor}
	if n := strings.TrimSpace(pc.GetBrandName()); n != "" {
		if r := []rune(n); len(r) > maxBrandName {
			n = string(r[:maxBrandName])
		}
		b.Name = n
	}
	if c := pc.GetPrimaryColor(); colorPattern.MatchString(c) {
		b.Color = template.CSS(strings.ToLower(c))
	}
	if l := pc.GetLogoDataUri(); len(l) <= maxLogoURI && logoPattern.MatchString(l) {
		b.Logo = template.URL(l)
	}
	b.OnColor, b.Link = "#ffffff", b.Color
	if onBlack, onWhite := contrast(string(b.Color), "#000000"), contrast(string(b.Color), "#ffffff"); onBlack > onWhite {
		b.OnColor = "#000000"
	}
	if contrast(string(b.Color), "#ffffff") < 4.5 {
		b.Link = linkFallback
	}
	return b
}

// pageData starts the data of a page for the browser's request r and the token service's page context pc
// (nil: no tenant): "L" is the page's Localizer (ui_locales, then Accept-Language, then the tenant's
// default), "Brand" its Brand, "Title" its localized title (titleKey). Pages add their own fields.
func pageData(r *http.Request, pc *tokenv1.PageContext, titleKey string) map[string]any {
	l := i18n.For(i18n.Match(pc.GetUiLocales(), r.Header.Get("Accept-Language"), pc.GetDefaultLocale()))
	return map[string]any{"L": l, "Brand": brandOf(pc), "Title": l.T(titleKey), "Languages": languageLinks(r, l.Lang)}
}

// languageLink is one entry of a page's language switcher.
type languageLink struct {
	Tag, Name string
	// Href repeats the authorization request with ui_locales set to Tag; empty for the current language.
	Href string
}

// languageLinks is the language switcher of a page answering r in lang: for an authorization request by
// GET (OIDC Core §3.1.2.1), the same request with ui_locales set to each supported language, so a person
// can change the language of the login page (the relying party's own ui_locales is replaced by the choice).
// Other pages (a POSTed form, the account and device pages) get none: nil.
func languageLinks(r *http.Request, lang string) []languageLink {
	if r.Method != http.MethodGet || r.URL.Path != "/connect/authorize" {
		return nil
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil
	}
	out := make([]languageLink, 0, len(i18n.Locales))
	for _, tag := range i18n.Locales {
		link := languageLink{Tag: tag, Name: i18n.Name(tag)}
		if tag != lang {
			q.Set("ui_locales", tag)
			link.Href = "/connect/authorize?" + q.Encode()
		}
		out = append(out, link)
	}
	return out
}

// withPageDefaults gives a page's data the "L" (English) and "Brand" (no branding) every page's layout
// needs, when whoever rendered it did not start from pageData: a page then still renders, in English.
func withPageDefaults(data any) any {
	m, ok := data.(map[string]any)
	if !ok {
		return data
	}
	if _, ok := m["L"]; !ok {
		m["L"] = i18n.For(i18n.English)
	}
	if _, ok := m["Brand"]; !ok {
		m["Brand"] = brandOf(nil)
	}
	return m
}

// showMessage renders message.html for an informational page: the text of the catalogue key code with
// args filled in ({name} → value), titled by the key code+".title" when the catalogues have one, else by
// "message.title". A code the catalogues lack is shown as the generic "message.done" text (never the raw
// key). pc may be nil (no tenant: the browser's language, no branding).
func (g *Gateway) showMessage(w http.ResponseWriter, r *http.Request, pc *tokenv1.PageContext, status int, code string, args map[string]string) {
	titleKey := "message.title"
	if i18n.Has(code + ".title") {
		titleKey = code + ".title"
	}
	data := pageData(r, pc, titleKey)
	l := data["L"].(i18n.Localizer)
	if !i18n.Has(code) {
		code = "message.done"
	}
	names := make([]string, 0, len(args))
	for k := range args {
		names = append(names, k)
	}
	slices.Sort(names)
	pairs := make([]any, 0, 2*len(args))
	for _, k := range names {
		pairs = append(pairs, k, args[k])
	}
	data["Message"] = l.T(code, pairs...)
	g.render(w, status, "message.html", data)
}

// loginError is the login page's message for the user: the translation of errorCode (LoginPage.error_code,
// a catalogue key such as "login.bad_credentials") when the catalogues have it, else the service's own text.
func loginError(l i18n.Localizer, errorCode, text string) string {
	if errorCode != "" && i18n.Has(errorCode) {
		return l.T(errorCode)
	}
	return text
}

// scopeText is how the consent page names a scope: its description in the page's language ("scope.<name>")
// for the scopes the catalogues describe, the scope itself otherwise. Scopes are shown as text (escaped).
type scopeText struct {
	Name        string
	Description string
}

// scopeTexts describes scopes in l's language, in order.
func scopeTexts(l i18n.Localizer, scopes []string) []scopeText {
	out := make([]scopeText, 0, len(scopes))
	for _, s := range scopes {
		d := s
		if i18n.Has("scope." + s) {
			d = l.T("scope." + s)
		}
		out = append(out, scopeText{Name: s, Description: d})
	}
	return out
}

// contrast is the WCAG 2.2 contrast ratio of two #rrggbb colours (1 to 21).
func contrast(a, b string) float64 {
	la, lb := luminance(a), luminance(b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

// luminance is the WCAG 2.2 relative luminance of a #rrggbb colour (0 black to 1 white); anything else
// counts as black.
func luminance(c string) float64 {
	if !colorPattern.MatchString(c) {
		return 0
	}
	lin := func(hex string) float64 {
		var v int
		for _, ch := range strings.ToLower(hex) {
			v *= 16
			if ch >= 'a' {
				v += int(ch-'a') + 10
			} else {
				v += int(ch - '0')
			}
		}
		s := float64(v) / 255
		if s <= 0.04045 {
			return s / 12.92
		}
		return math.Pow((s+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(c[1:3]) + 0.7152*lin(c[3:5]) + 0.0722*lin(c[5:7])
}
