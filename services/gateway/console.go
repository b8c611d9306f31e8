package gateway

import (
	"net/http"

	"github.com/authsuite/authsuite/services/gateway/console"
)

// The admin console (package console) is served under /console/ when the gateway knows its public URL
// (WithPublicURL): the console's sign-in redirects there. Its cookies are sealed under keys derived from the
// same server secret as the CSRF key (WithServerKey), each with its own label.

// WithPublicURL is the suite's public base URL (the issuer); it enables the admin console.
func WithPublicURL(u string) Option {
	return func(g *Gateway) { g.publicURL = u }
}

// mountConsole builds the console when the public URL is known.
func (g *Gateway) mountConsole(b Backends) error {
	if g.publicURL == "" {
		return nil
	}
	c, err := console.New(console.Config{
		PublicURL: g.publicURL, Secret: g.serverSecret, Secure: g.secureCookies,
		Registry: b.Registry, Token: b.Token, Provider: b.Provider,
		MaxUpload: g.bodyLimit(providerConfigLoadPath), Log: g.log,
	})
	if err != nil {
		return err
	}
	g.console = c
	return nil
}

// serveConsole answers the console's paths; it reports whether it did.
func (g *Gateway) serveConsole(w http.ResponseWriter, r *http.Request) bool {
	if g.console == nil || !console.Owns(r.URL.Path) {
		return false
	}
	g.console.ServeHTTP(w, r)
	return true
}
