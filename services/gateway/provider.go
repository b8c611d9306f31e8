package gateway

import (
	"context"
	"html/template"
	"net/http"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	providerv1 "github.com/authsuite/authsuite/gen/authsuite/provider/v1"
	"github.com/authsuite/authsuite/internal/apierror"
)

// providerReturnPath is the OAuth return (redirect) URL registered at third parties (seed 000).
const providerReturnPath = "/Thingworx/Oauths/oauth/return"

// registerProvider adds the provider service's generated REST handlers and the browser return URL.
func (g *Gateway) registerProvider(ctx context.Context, cc grpc.ClientConnInterface) error {
	if err := providerv1.RegisterProviderConfigServiceHandlerClient(ctx, g.mux, providerv1.NewProviderConfigServiceClient(cc)); err != nil {
		return err
	}
	connectors := providerv1.NewConnectorServiceClient(cc)
	if err := providerv1.RegisterConnectorServiceHandlerClient(ctx, g.mux, connectors); err != nil {
		return err
	}
	return g.mux.HandlePath(http.MethodGet, providerReturnPath, adapt(g.providerReturn(connectors)))
}

// providerResponseHeaders: 201 for a created connector (SPEC §1) and no-store for connector tokens
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
// oauth_token and oauth_verifier) when the provider sends the browser back: it redirects (303) to the
// connector's returnTo, or shows a short success page. A forged, expired or replayed state or oauth_token,
// or a provider's refusal, shows an error page (400) and changes nothing else.
// The page is never cached and sends no Referer (the URL carried the code).
func (g *Gateway) providerReturn(c providerv1.ConnectorServiceClient) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		noStore(h)
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", "default-src 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		q := r.URL.Query()
		resp, err := c.CompleteAuthorization(r.Context(), &providerv1.CompleteAuthorizationRequest{
			State: q.Get("state"), Code: q.Get("code"), Error: q.Get("error"), ErrorDescription: q.Get("error_description"),
			OauthToken: q.Get("oauth_token"), OauthVerifier: q.Get("oauth_verifier"),
		})
		if err != nil {
			info := apierror.FromStatus(err)
			status := http.StatusBadRequest
			msg := info.Message
			switch info.Code {
			case codes.InvalidArgument, codes.FailedPrecondition, codes.NotFound:
			case codes.Unavailable:
				status = http.StatusBadGateway
			default:
				status, msg = http.StatusInternalServerError, "internal error"
			}
			writePage(w, status, "Authorization failed", msg)
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
