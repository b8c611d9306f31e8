package gateway

import (
	"html/template"
	"net/http"
	"regexp"
	"strings"

	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/services/gateway/i18n"
)

// Brand is how a page looks for its tenant (TenantBranding, carried by the token service's PageContext).
type Brand struct {
	// Name is shown in titles and headings: the tenant's branded name, or "authsuite".
	Name string
	// Logo is the tenant's logo as a data URI, or empty.
	Logo template.URL
	// Color is the primary colour, "#rrggbb".
	Color template.CSS
}

// defaultColor is the primary colour of pages without branding.
const defaultColor = "#1a56db"

var (
	colorPattern = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)
	logoPattern  = regexp.MustCompile(`^data:image/(png|jpeg|gif|webp);base64,[A-Za-z0-9+/]+={0,2}$`)
)

// brandOf returns the branding of pc, checked again here: only a #rrggbb colour reaches the style sheet
// and only a base64 raster-image data URI reaches an <img src> (the registry validates both; the gateway
// does not rely on it, since the values are written into CSS and URLs).
func brandOf(pc *tokenv1.PageContext) Brand {
	b := Brand{Name: "authsuite", Color: defaultColor}
	if n := strings.TrimSpace(pc.GetBrandName()); n != "" {
		b.Name = n
	}
	if c := pc.GetPrimaryColor(); colorPattern.MatchString(c) {
		b.Color = template.CSS(c)
	}
	if l := pc.GetLogoDataUri(); len(l) <= 64<<10 && logoPattern.MatchString(l) {
		b.Logo = template.URL(l)
	}
	return b
}

// pageData starts the data of a page for the browser's request r and the token service's page context pc
// (nil: no tenant): "L" is the page's Localizer (ui_locales, then Accept-Language, then the tenant's
// default), "Brand" its Brand, "Title" its localized title (titleKey). Pages add their own fields.
func pageData(r *http.Request, pc *tokenv1.PageContext, titleKey string) map[string]any {
	l := i18n.For(i18n.Match(pc.GetUiLocales(), r.Header.Get("Accept-Language"), pc.GetDefaultLocale()))
	return map[string]any{"L": l, "Brand": brandOf(pc), "Title": l.T(titleKey)}
}
