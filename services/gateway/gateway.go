// Package gateway is authsuite's REST face: one HTTP handler that serves every documented path of docs/reference.md
// and forwards each call to the owning service over gRPC. JSON routes are grpc-gateway handlers generated
// from proto/authsuite/gateway.yaml; the form-encoded OAuth endpoints (RFC 6749 §3.2, RFC 7662, RFC 7009)
// are written by hand here because their wire format (forms, HTTP Basic, OAuth error JSON) is not JSON-RPC.
package gateway

import (
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	opsv1 "github.com/authsuite/authsuite/gen/authsuite/ops/v1"
	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/access"
	"github.com/authsuite/authsuite/internal/audit"
	"github.com/authsuite/authsuite/internal/clientip"
)

// Backends are the gRPC connections the gateway forwards to. In the all-in-one process both point at the
// same server.
type Backends struct {
	Registry grpc.ClientConnInterface
	Token    grpc.ClientConnInterface
	Provider grpc.ClientConnInterface // optional: the provider service (docs/reference/providers.md)
}

// Gateway is the HTTP handler of the REST API.
type Gateway struct {
	mux   *runtime.ServeMux
	oauth tokenv1.OAuthServiceClient
	authz tokenv1.AuthorizeServiceClient
	// csrfKey keys the sign-in forms' CSRF tokens; secureCookies: the public URL is https (csrf.go).
	csrfKey       []byte
	secureCookies bool
	// simple checks bearer tokens before a large body is read; maxBody and maxProviderConfig bound
	// request bodies (body.go).
	simple                     tokenv1.SimpleTokenServiceClient
	maxBody, maxProviderConfig int64
	log                        *slog.Logger
	// proxies are the trusted reverse proxies (clientAddr); none by default.
	proxies clientip.Trusted
	// publicURL, serverSecret and console: the admin console under /console/ (console.go).
	publicURL, serverSecret string
	console                 http.Handler
}

// New builds the gateway. It does not dial anything: the backends' connections are used per request.
func New(ctx context.Context, b Backends, log *slog.Logger, opts ...Option) (*Gateway, error) {
	b.Registry, b.Token = revisionConn{b.Registry}, revisionConn{b.Token}
	b.Token = clientCertConn{b.Token} // the HTTP client's TLS certificate, for the token service (clientcert.go)
	if b.Provider != nil {
		b.Provider = revisionConn{b.Provider}
	}
	g := &Gateway{oauth: tokenv1.NewOAuthServiceClient(b.Token), simple: tokenv1.NewSimpleTokenServiceClient(b.Token), log: log, csrfKey: newCSRFKey()}
	for _, o := range opts {
		o(g)
	}
	g.mux = runtime.NewServeMux(
		runtime.WithMarshalerOption(runtime.MIMEWildcard, newCodec()), // strict bodies (codec.go)
		runtime.WithErrorHandler(withBodyFieldErrors(g.writeGRPCError)),
		runtime.WithRoutingErrorHandler(routingError),
		runtime.WithIncomingHeaderMatcher(headerMatcher),
		runtime.WithOutgoingHeaderMatcher(outgoingHeaderMatcher), // Authsuite-Revision: revision.go
		runtime.WithForwardResponseOption(responseHeaders),
		runtime.WithForwardResponseOption(providerResponseHeaders),
		runtime.WithDisableHTTPMethodOverride(),
		runtime.WithWriteContentLength(),
	)
	regs := []func(context.Context, *runtime.ServeMux, grpc.ClientConnInterface) error{
		func(ctx context.Context, m *runtime.ServeMux, c grpc.ClientConnInterface) error {
			return registryv1.RegisterTenantServiceHandlerClient(ctx, m, registryv1.NewTenantServiceClient(c))
		},
		func(ctx context.Context, m *runtime.ServeMux, c grpc.ClientConnInterface) error {
			return registryv1.RegisterClientServiceHandlerClient(ctx, m, registryv1.NewClientServiceClient(c))
		},
		func(ctx context.Context, m *runtime.ServeMux, c grpc.ClientConnInterface) error {
			return registryv1.RegisterUserServiceHandlerClient(ctx, m, registryv1.NewUserServiceClient(c))
		},
		func(ctx context.Context, m *runtime.ServeMux, c grpc.ClientConnInterface) error {
			return registryv1.RegisterApiResourceServiceHandlerClient(ctx, m, registryv1.NewApiResourceServiceClient(resourceIDConn{c}))
		},
		func(ctx context.Context, m *runtime.ServeMux, c grpc.ClientConnInterface) error {
			return registryv1.RegisterIdentityProviderServiceHandlerClient(ctx, m, registryv1.NewIdentityProviderServiceClient(c))
		},
	}
	for _, reg := range regs {
		if err := reg(ctx, g.mux, b.Registry); err != nil {
			return nil, err
		}
	}
	if err := tokenv1.RegisterSimpleTokenServiceHandlerClient(ctx, g.mux, tokenv1.NewSimpleTokenServiceClient(b.Token)); err != nil {
		return nil, err
	}
	if err := tokenv1.RegisterOAuthServiceHandlerClient(ctx, g.mux, g.oauth); err != nil {
		return nil, err
	}
	if err := tokenv1.RegisterSigningKeyServiceHandlerClient(ctx, g.mux, tokenv1.NewSigningKeyServiceClient(b.Token)); err != nil {
		return nil, err
	}
	if err := tokenv1.RegisterSessionServiceHandlerClient(ctx, g.mux, tokenv1.NewSessionServiceClient(b.Token)); err != nil {
		return nil, err
	}
	// Each service's audit log, through that service's own AuditService (audit.Router picks it by the path).
	auditConns := audit.Router{"token": b.Token, "registry": b.Registry, "provider": b.Provider}
	if err := opsv1.RegisterAuditServiceHandlerClient(ctx, g.mux, opsv1.NewAuditServiceClient(auditConns)); err != nil {
		return nil, err
	}
	for path, h := range map[string]http.HandlerFunc{
		"/connect/token":      g.token,
		"/connect/introspect": g.introspect,
		"/connect/revocation": g.revocation,
	} {
		if err := g.mux.HandlePath(http.MethodPost, path, adapt(noSudo(h))); err != nil {
			return nil, err
		}
	}
	// The browser pages: sign-in, the account page, mail links and registration, the device page, and
	// upstream identity providers.
	for _, register := range []func(grpc.ClientConnInterface) error{
		g.registerSignIn, g.registerAccount, g.registerSelfService, g.registerDevice, g.registerUpstream, g.registerPasskey,
	} {
		if err := register(b.Token); err != nil {
			return nil, err
		}
	}
	if b.Provider != nil {
		if err := g.registerProvider(ctx, b.Provider); err != nil {
			return nil, err
		}
	}
	if err := g.mountConsole(b); err != nil {
		return nil, err
	}
	return g, nil
}

// route is one hand-written route of the gateway: a page, a form or an endpoint not generated from
// proto/authsuite/gateway.yaml.
type route struct {
	method, path string
	h            http.HandlerFunc
}

// handle registers routes on the gateway's mux in order. Of two registrations of one method and path the
// later takes precedence (runtime.ServeMux tries the newest first).
func (g *Gateway) handle(routes ...route) error {
	for _, r := range routes {
		if err := g.mux.HandlePath(r.method, r.path, adapt(r.h)); err != nil {
			return fmt.Errorf("route %s %s: %w", r.method, r.path, err)
		}
	}
	return nil
}

func adapt(h http.HandlerFunc) runtime.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, _ map[string]string) { h(w, r) }
}

// ServeHTTP takes an API resource's percent-encoded URI out of the path (see resourcePath), normalizes the
// request (see normalize), answers CORS preflights (see cors), bounds the body (see limitBody) and routes it;
// every backend call made for it carries its Authsuite-Revision values and answers the revisions it produced
// in the response's Authsuite-Revision header (revision.go). A query that is not UTF-8 is refused first:
// protobuf strings must be UTF-8, and a service could otherwise not decode the request.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if g.serveConsole(w, r) {
		return
	}
	if r.URL.RawQuery != "" {
		if q, err := url.ParseQuery(r.URL.RawQuery); err != nil || !validUTF8(q) {
			g.writeError(w, r, invalidRequest("the query must be valid form encoding of UTF-8 text"))
			return
		}
	}
	if !sudoForwardable(r.Header) {
		g.writeError(w, r, invalidRequest("the Authsuite-Sudo* headers must be printable ASCII: send other values in the query or in the -Bin headers (base64)"))
		return
	}
	if !revisionForwardable(r.Header) {
		g.writeError(w, r, invalidRequest("the Authsuite-Revision header must be printable ASCII"))
		return
	}
	r = resourcePath(r)
	normalize(r)
	r = withRevision(w, r)
	r = withClientCert(r)
	if g.cors(w, r) || !g.limitBody(w, r) {
		return
	}
	g.mux.ServeHTTP(w, r)
}

func validUTF8(v url.Values) bool {
	for k, vs := range v {
		if !utf8.ValidString(k) {
			return false
		}
		for _, s := range vs {
			if !utf8.ValidString(s) {
				return false
			}
		}
	}
	return true
}

const (
	adminV1 = "/api/adminapi2/v1/"
	adminV2 = "/api/adminapi2/v2/"
)

// normalize makes the documented spellings of a path one route and moves credentials the simple token API
// allows in the query into the headers the services read:
//   - /api/adminapi2/v2/… is served as /api/adminapi2/v1/… (docs/reference/admin-api.md#base-path: the same handlers);
//   - a trailing slash is dropped (the admin API documents POST …/clients/);
//   - ?access_token= becomes Authorization: Bearer (RFC 6750 §2.3, docs/reference.md#bearer-tokens), unless the header is present;
//   - ?sudo= with ?tenantId= / ?tenantCode= become the sudo headers (docs/reference.md#sudo).
func normalize(r *http.Request) {
	p := r.URL.Path
	if strings.HasPrefix(p, adminV2) {
		p = adminV1 + p[len(adminV2):]
	}
	if len(p) > 1 && strings.HasSuffix(p, "/") {
		p = strings.TrimRight(p, "/")
		if p == "" {
			p = "/"
		}
	}
	if p != r.URL.Path {
		r.URL.Path = p
		r.URL.RawPath = ""
	}
	if r.URL.RawQuery == "" {
		return
	}
	q := r.URL.Query()
	if tok := q.Get("access_token"); tok != "" && r.Header.Get("Authorization") == "" {
		r.Header.Set("Authorization", "Bearer "+tok)
	}
	if sudo := q.Get("sudo"); sudo != "" {
		// Binary headers (base64 over HTTP, raw bytes in metadata): the values are UTF-8 that text metadata
		// cannot carry, and they win over any text header the client set.
		r.Header.Set(sudoBinHeader, base64.StdEncoding.EncodeToString([]byte(sudo)))
		r.Header.Set(sudoTenantIDBinHeader, base64.StdEncoding.EncodeToString([]byte(q.Get("tenantId"))))
		r.Header.Set(sudoTenantCodeBinHeader, base64.StdEncoding.EncodeToString([]byte(q.Get("tenantCode"))))
	}
}

var (
	sudoHeader           = textproto.CanonicalMIMEHeaderKey(access.MDSudo)
	sudoTenantIDHeader   = textproto.CanonicalMIMEHeaderKey(access.MDSudoTenantID)
	sudoTenantCodeHeader = textproto.CanonicalMIMEHeaderKey(access.MDSudoTenantCode)

	sudoBinHeader           = textproto.CanonicalMIMEHeaderKey(access.MDSudo + access.BinarySuffix)
	sudoTenantIDBinHeader   = textproto.CanonicalMIMEHeaderKey(access.MDSudoTenantID + access.BinarySuffix)
	sudoTenantCodeBinHeader = textproto.CanonicalMIMEHeaderKey(access.MDSudoTenantCode + access.BinarySuffix)
)

// sudoForwardable reports whether every sudo text header a client set can travel as gRPC metadata, whose
// text values are printable ASCII (gRPC PROTOCOL-HTTP2 "ASCII-Value"). grpc-gateway silently drops any other
// value, which would turn a sudo call into a call as the caller itself (docs/reference.md#sudo forbids that fallback). The
// query's sudo always travels in the binary headers (see normalize), which carry any UTF-8.
func sudoForwardable(h http.Header) bool {
	for _, k := range []string{sudoHeader, sudoTenantIDHeader, sudoTenantCodeHeader} {
		for _, v := range h.Values(k) {
			for i := 0; i < len(v); i++ {
				if v[i] < 0x20 || v[i] > 0x7e {
					return false
				}
			}
		}
	}
	return true
}

// headerMatcher forwards the sudo headers as metadata, and everything grpc-gateway forwards by default
// (Authorization becomes "authorization").
func headerMatcher(key string) (string, bool) {
	switch textproto.CanonicalMIMEHeaderKey(key) {
	case sudoHeader:
		return access.MDSudo, true
	case sudoTenantIDHeader:
		return access.MDSudoTenantID, true
	case sudoTenantCodeHeader:
		return access.MDSudoTenantCode, true
	case sudoBinHeader, sudoTenantIDBinHeader, sudoTenantCodeBinHeader:
		// grpc-gateway base64-decodes a "-Bin" header into the binary metadata value.
		return strings.ToLower(key), true
	}
	if textproto.CanonicalMIMEHeaderKey(key) == forgedCertHeader {
		return "", false // only the TLS handshake states a client certificate (clientcert.go)
	}
	return runtime.DefaultHeaderMatcher(key)
}

// responseHeaders sets what the REST contract asks beyond the body: 201 for creations (docs/reference.md#conventions), and
// no-store caching for responses carrying tokens or secrets (RFC 6749 §5.1). Messages are matched by full
// name because grpc-gateway hands response_body routes a wrapper type.
func responseHeaders(_ context.Context, w http.ResponseWriter, m proto.Message) error {
	name := m.ProtoReflect().Descriptor().FullName()
	if noStoreResponses[name] {
		noStore(w.Header())
	}
	if createdResponses[name] {
		w.WriteHeader(http.StatusCreated)
	}
	return nil
}

var (
	createdResponses = map[protoreflect.FullName]bool{}
	noStoreResponses = map[protoreflect.FullName]bool{}
)

func init() {
	for _, m := range []proto.Message{
		&registryv1.CreateTenantResponse{}, &registryv1.CreateClientResponse{},
		&registryv1.CreateClientSecretResponse{}, &registryv1.CreateUserResponse{},
		&registryv1.CreateApiResourceResponse{}, &registryv1.CreateIdentityProviderResponse{},
	} {
		createdResponses[m.ProtoReflect().Descriptor().FullName()] = true
	}
	for _, m := range []proto.Message{
		&registryv1.CreateClientSecretResponse{}, // the secret's only showing
		&tokenv1.GetTokenResponse{}, &tokenv1.CheckTokenResponse{},
	} {
		noStoreResponses[m.ProtoReflect().Descriptor().FullName()] = true
	}
}

func noStore(h http.Header) {
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
}
