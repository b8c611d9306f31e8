package gateway

import (
	"net/http"

	"google.golang.org/grpc"

	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
)

// Upstream identity providers ("Sign in with X"). The token service decides everything; the gateway carries
// the login page's button to StartUpstream, keeps the browser-binding value StartUpstream answers in a
// cookie, and carries the provider's redirect back, with that cookie, to UpstreamCallback.

// Names of the binding cookie: under https with the __Host- prefix (RFC 6265bis §4.1.3.2: Secure, no
// Domain, Path=/; so neither a sibling domain nor a plain-http answer can plant one, which would let an
// attacker finish their own upstream sign-in in a victim's browser).
const (
	UpstreamCookie       = "authsuite_upstream"
	UpstreamCookieSecure = "__Host-authsuite_upstream"
)

// upstreamCookieMaxAge is the binding cookie's lifetime, the token service's upstream round trip (10 min).
const upstreamCookieMaxAge = 10 * 60

// Paths of the upstream routes; the callback is the redirect URI registered at providers.
const (
	upstreamStartPath    = "/connect/upstream/start"
	upstreamCallbackPath = "/connect/upstream/callback"
)

// registerUpstream registers the upstream identity provider start and callback routes.
func (g *Gateway) registerUpstream(cc grpc.ClientConnInterface) error {
	az := tokenv1.NewAuthorizeServiceClient(cc)
	if err := g.mux.HandlePath(http.MethodPost, upstreamStartPath, adapt(func(w http.ResponseWriter, r *http.Request) {
		g.upstreamStart(w, r, az)
	})); err != nil {
		return err
	}
	return g.mux.HandlePath(http.MethodGet, upstreamCallbackPath, adapt(func(w http.ResponseWriter, r *http.Request) {
		g.upstreamCallback(w, r, az)
	}))
}

func (g *Gateway) upstreamCookieName() string {
	if g.secureCookies {
		return UpstreamCookieSecure
	}
	return UpstreamCookie
}

// upstreamStart serves POST /connect/upstream/start, a "Sign in with X" button of the login page: the form
// carries the interaction, the provider and the login page's CSRF token (checked like the login form's).
// The browser is sent to the provider with the binding cookie set (HttpOnly, SameSite=Lax so that it comes
// back with the provider's top-level redirect, 10 minutes).
func (g *Gateway) upstreamStart(w http.ResponseWriter, r *http.Request, az tokenv1.AuthorizeServiceClient) {
	pageHeaders(w.Header())
	form, ok := g.pageForm(w, r)
	if !ok {
		return
	}
	resp, err := az.StartUpstream(r.Context(), &tokenv1.StartUpstreamRequest{
		InteractionId: form.Get("interaction"), ProviderId: form.Get("provider_id"), Browser: g.browser(r),
	})
	if err != nil {
		g.pageError(w, r, err)
		return
	}
	if v := resp.GetBindingCookie(); v != "" {
		http.SetCookie(w, &http.Cookie{Name: g.upstreamCookieName(), Value: v, Path: "/", MaxAge: upstreamCookieMaxAge,
			HttpOnly: true, Secure: g.secureCookies, SameSite: http.SameSiteLaxMode})
	}
	g.step(w, r, resp.GetStep())
}

// upstreamCallback serves GET /connect/upstream/callback, the provider's redirect back (OIDC Core §3.1.2.5):
// its query and the binding cookie go to the token service, the cookie is cleared once the callback was
// accepted (it served its one round trip; a refused one, perhaps forged, leaves it to the real one), and the answer is rendered like a login's (the client's redirect, consent, or the login page
// again). A callback the token service refuses (forged or used state, another browser) shows the error
// page and never redirects.
func (g *Gateway) upstreamCallback(w http.ResponseWriter, r *http.Request, az tokenv1.AuthorizeServiceClient) {
	pageHeaders(w.Header())
	var binding string
	if c, err := r.Cookie(g.upstreamCookieName()); err == nil {
		binding = c.Value
	}
	resp, err := az.UpstreamCallback(r.Context(), &tokenv1.UpstreamCallbackRequest{
		Parameters: r.URL.RawQuery, BindingCookie: binding, Browser: g.browser(r),
	})
	if err == nil && binding != "" {
		http.SetCookie(w, &http.Cookie{Name: g.upstreamCookieName(), Value: "", Path: "/", MaxAge: -1,
			HttpOnly: true, Secure: g.secureCookies, SameSite: http.SameSiteLaxMode})
	}
	if err != nil {
		g.pageError(w, r, err)
		return
	}
	g.step(w, r, resp.GetStep())
}
