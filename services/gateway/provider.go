package gateway

import (
	"bytes"
	"context"
	"html/template"
	"io"
	"net/http"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	providerv1 "github.com/authsuite/authsuite/gen/authsuite/provider/v1"
	"github.com/authsuite/authsuite/internal/apierror"
)

// providerReturnPath is the OAuth return (redirect) URL registered at third parties (docs/reference/providers.md#return-url).
const providerReturnPath = "/Thingworx/Oauths/oauth/return"

// registerProvider adds the provider service's generated REST handlers and the browser return URL.
func (g *Gateway) registerProvider(ctx context.Context, cc grpc.ClientConnInterface) error {
	config := providerv1.NewProviderConfigServiceClient(cc)
	if err := providerv1.RegisterProviderConfigServiceHandlerClient(ctx, g.mux, config); err != nil {
		return err
	}
	// Registered after the generated handlers, so it takes their LoadOAuthConfiguration route (the mux
	// tries the latest registration first).
	if err := g.mux.HandlePath(http.MethodPost, providerConfigLoadPath, g.providerLoad(config)); err != nil {
		return err
	}
	connectors := providerv1.NewConnectorServiceClient(cc)
	if err := providerv1.RegisterConnectorServiceHandlerClient(ctx, g.mux, connectors); err != nil {
		return err
	}
	if err := g.mux.HandlePath(http.MethodGet, providerStartPath, g.providerStart(connectors)); err != nil {
		return err
	}
	return g.mux.HandlePath(http.MethodGet, providerReturnPath, adapt(g.providerReturn(connectors)))
}

// providerStartPath is where a connector's authorizationUrl points: the start step in the owner's browser.
const providerStartPath = "/api/provider/v1/connectors/{connector_id}/start"

// Binding cookie names the provider service sets (see providerv1.BindingCookie): under an https public URL
// the "__Secure-" one.
const (
	bindingCookie       = "authsuite_connector"
	secureBindingCookie = "__Secure-" + bindingCookie
)

// cookieValue is the value of the request's cookie name, or "".
func cookieValue(r *http.Request, name string) string {
	if c, err := r.Cookie(name); err == nil {
		return c.Value
	}
	return ""
}

// providerStart serves a connector's start URL (RFC 6749 §10.12, RFC 9700 §4.7): it states the browser's SSO
// session and binding cookies (and the start_token of a client's connector) to the provider service, which
// decides; on success it sets the binding cookie it was given (HttpOnly, SameSite=Lax, scoped to the return
// path) and redirects (303) to the provider. A refusal is an error page: 401 asks the owner to sign in to
// authsuite first, 403 says the link belongs to someone else or was used, and nothing changes.
func (g *Gateway) providerStart(c providerv1.ConnectorServiceClient) runtime.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, params map[string]string) {
		browserPageHeaders(w.Header())
		if r.URL.Query().Has("sudo") {
			g.connectorErrorPage(w, "Cannot start authorization", errBrowserSudo)
			return
		}
		resp, err := c.StartAuthorization(r.Context(), &providerv1.StartAuthorizationRequest{
			ConnectorId: params["connector_id"], StartToken: r.URL.Query().Get("start_token"),
			SessionCookie:       cookieValue(r, SessionCookie),
			BindingCookie:       cookieValue(r, bindingCookie),
			SecureBindingCookie: cookieValue(r, secureBindingCookie),
		})
		if err != nil {
			g.connectorErrorPage(w, "Cannot start authorization", err)
			return
		}
		if bc := resp.GetBindingCookie(); bc.GetValue() != "" {
			http.SetCookie(w, &http.Cookie{Name: bc.GetName(), Value: bc.GetValue(), Path: bc.GetPath(), MaxAge: int(bc.GetMaxAge()),
				HttpOnly: true, Secure: bc.GetSecure(), SameSite: http.SameSiteLaxMode})
		}
		http.Redirect(w, r, resp.GetRedirectUrl(), http.StatusSeeOther)
	}
}

// errBrowserSudo refuses sudo on the connector start and return steps: they act for the browser's own
// signed-in user (or a client's single-use start link), never for an impersonated one, so a sudo there
// would otherwise be silently ignored.
var errBrowserSudo = apierror.Invalid("sudo", "is not accepted here: the start and return steps act for the user signed in to this browser; create the connector under sudo instead")

// browserPageHeaders: never cached, no Referer (URLs carry states and codes), nothing active.
func browserPageHeaders(h http.Header) {
	noStore(h)
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
}

// connectorErrorPage shows a start or return refusal as a page (writeAnswer) with the status its code stands
// for; a refusal for want of a session is titled "Sign in first".
func (g *Gateway) connectorErrorPage(w http.ResponseWriter, title string, err error) {
	writeAnswer(w, err, answer{kind: connectorPage, title: title}, g.log)
}

// providerResponseHeaders: 201 for a created connector (docs/reference.md#conventions) and no-store for connector tokens
// (RFC 6749 §5.1).
func providerResponseHeaders(_ context.Context, w http.ResponseWriter, m proto.Message) error {
	switch m.(type) {
	case *providerv1.CreateConnectorResponse:
		w.WriteHeader(http.StatusCreated)
	case *providerv1.GetConnectorTokenResponse:
		noStore(w.Header())
	}
	return nil
}

var returnPage = template.Must(template.New("return").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title></head>
<body><h1>{{.Title}}</h1><p>{{.Message}}</p></body></html>
`))

// providerReturn completes a connector's authorization (RFC 6749 §4.1.2; for OAuth 1.0a RFC 5849 §2.2,
// oauth_token and oauth_verifier) when the provider sends the browser back, stating the browser's binding
// and SSO session cookies (RFC 6749 §10.12, RFC 9700 §4.7): it redirects (303) to the connector's returnTo,
// or shows a short success page. A forged, expired or replayed state or oauth_token, a browser that did not
// start the flow, or a provider's refusal, shows an error page (400, or 403 for another signed-in user) and
// stores nothing. The page is never cached and sends no Referer (the URL carried the code).
func (g *Gateway) providerReturn(c providerv1.ConnectorServiceClient) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		browserPageHeaders(w.Header())
		q := r.URL.Query()
		if q.Has("sudo") {
			g.connectorErrorPage(w, "Authorization failed", errBrowserSudo)
			return
		}
		resp, err := c.CompleteAuthorization(r.Context(), &providerv1.CompleteAuthorizationRequest{
			State: q.Get("state"), Code: q.Get("code"), Error: q.Get("error"), ErrorDescription: q.Get("error_description"),
			OauthToken: q.Get("oauth_token"), OauthVerifier: q.Get("oauth_verifier"),
			SessionCookie:       cookieValue(r, SessionCookie),
			BindingCookie:       cookieValue(r, bindingCookie),
			SecureBindingCookie: cookieValue(r, secureBindingCookie),
		})
		if err != nil {
			g.connectorErrorPage(w, "Authorization failed", err)
			return
		}
		if resp.GetReturnTo() != "" {
			http.Redirect(w, r, resp.GetReturnTo(), http.StatusSeeOther)
			return
		}
		writePage(w, http.StatusOK, "Connected", "The connector is authorized. You can close this window.")
	}
}

func writePage(w http.ResponseWriter, status int, title, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	returnPage.Execute(w, struct{ Title, Message string }{title, msg})
}

// loadMethod is the gRPC method the LoadOAuthConfiguration route calls.
const loadMethod = "/authsuite.provider.v1.ProviderConfigService/LoadOAuthConfiguration"

// providerLoad serves LoadOAuthConfiguration over REST. The body is the configuration file itself, in
// either shape (the wrapped {"oauthConfigurations": {...}} or the bare {<connector type>: {...}} object
// ThingWorx Flow's template prints), forwarded byte for byte as the request's document: the provider
// service parses it, so a syntax error is answered with its line and column. The body was already bounded
// (limitBody); a body over the limit is answered 413 by the error writer. Authorization, sudo and errors
// are those of every generated route.
func (g *Gateway) providerLoad(c providerv1.ProviderConfigServiceClient) runtime.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, _ map[string]string) {
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		_, outbound := runtime.MarshalerForRequest(g.mux, r)
		ctx, err := runtime.AnnotateContext(ctx, g.mux, r, loadMethod, runtime.WithHTTPPathPattern(providerConfigLoadPath))
		if err != nil {
			runtime.HTTPError(ctx, g.mux, outbound, w, r, err)
			return
		}
		doc, err := io.ReadAll(r.Body)
		if err != nil {
			runtime.HTTPError(ctx, g.mux, outbound, w, r, apierror.Invalid("body", "could not be read"))
			return
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			runtime.HTTPError(ctx, g.mux, outbound, w, r, apierror.Invalid("body", "must be the OAuth configuration file: a JSON object"))
			return
		}
		var md runtime.ServerMetadata
		resp, err := c.LoadOAuthConfiguration(ctx, &providerv1.LoadOAuthConfigurationRequest{Document: doc}, grpc.Header(&md.HeaderMD), grpc.Trailer(&md.TrailerMD))
		ctx = runtime.NewServerMetadataContext(ctx, md)
		if err != nil {
			runtime.HTTPError(ctx, g.mux, outbound, w, r, err)
			return
		}
		runtime.ForwardResponseMessage(ctx, g.mux, outbound, w, r, resp, g.mux.GetForwardResponseOptions()...)
	}
}
