package server

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"golang.org/x/text/language"

	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
)

// Limits on the ui_locales a page context carries (OIDC Core §3.1.2.1: a space-separated list of BCP 47
// tags, RFC 5646). A longer list or tag is not a language preference but an attack on the page renderer.
const (
	maxUILocales     = 10
	maxUILocaleBytes = 35 // RFC 5646 §4.4.1: 35 characters hold every tag that matters
)

// pageContextLogEvery is how often at most a registry failure while building a page context is logged: a
// registry outage must not turn every login page into a log line.
const pageContextLogEvery = time.Minute

// pageContextLogged is when such a failure was last logged (unix nanoseconds).
var pageContextLogged atomic.Int64

// pageContext is what the gateway needs to render a sign-in page of tenantID: its branding, its default
// language and the request's ui_locales. It never fails: when the registry cannot answer, the page gets the
// defaults (no branding, English) and the failure is logged at most once a minute, so sign-in keeps working
// through a registry outage. uiLocales are filtered (validUILocales): at most maxUILocales well-formed
// BCP 47 tags survive. An empty tenantID (a page with no tenant, such as an error before the client is
// known) gets the defaults without asking the registry.
func (s *Server) pageContext(ctx context.Context, tenantID string, uiLocales []string) *tokenv1.PageContext {
	pc := &tokenv1.PageContext{TenantId: tenantID, UiLocales: validUILocales(uiLocales), DefaultLocale: "en"}
	if tenantID == "" {
		return pc
	}
	st, err := s.settings.get(ctx, tenantID)
	if err != nil {
		now := time.Now().UnixNano()
		last := pageContextLogged.Load()
		if now-last >= int64(pageContextLogEvery) && pageContextLogged.CompareAndSwap(last, now) {
			s.log.Warn("sign-in page without the tenant's branding: the registry did not answer its settings",
				slog.String("tenant_id", tenantID), slog.String("error", err.Error()))
		}
		return pc
	}
	if l := st.GetDefaultLocale(); l != "" {
		pc.DefaultLocale = l
	}
	b := st.GetBranding()
	pc.BrandName = b.GetDisplayName()
	if pc.BrandName == "" {
		pc.BrandName = st.GetTenantName()
	}
	pc.LogoDataUri = b.GetLogoDataUri()
	pc.PrimaryColor = b.GetPrimaryColor()
	return pc
}

// validUILocales returns the well-formed BCP 47 tags of in (RFC 5646 §2.1, as golang.org/x/text parses
// them, at most maxUILocaleBytes long), in order, at most maxUILocales of them. Malformed entries are
// dropped: ui_locales is a preference (OIDC Core §3.1.2.1), not an error when unsupported. Nil when none.
func validUILocales(in []string) []string {
	var out []string
	for _, t := range in {
		if len(out) == maxUILocales {
			break
		}
		if !wellFormedTag(t) {
			continue
		}
		out = append(out, t)
	}
	return out
}

// wellFormedTag reports whether t is 1-35 ASCII letters, digits and hyphens, with no empty subtag, that
// golang.org/x/text parses as a language tag.
func wellFormedTag(t string) bool {
	if t == "" || len(t) > maxUILocaleBytes || t[0] == '-' || t[len(t)-1] == '-' {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-':
			if t[i-1] == '-' {
				return false
			}
		default:
			return false
		}
	}
	_, err := language.Parse(t)
	return err == nil
}
