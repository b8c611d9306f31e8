package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	"github.com/authsuite/authsuite/services/token/jwt"
)

// The Envoy authorizer: envoy.service.auth.v3.Authorization/Check, as Envoy's ext_authz HTTP filter calls it
// (gRPC service, transport API v3), answered from the request's bearer token alone. The token is verified
// locally (verifyToken: cached signature, expiry, revocation, client and account liveness; no I/O), then
// held against the route the request's path and method select (AuthzRoutes): its aud must contain the
// route's audience and its scope every scope the route names.
//
// Who may call it: anyone who reaches the token role's gRPC port, like the other public token APIs. An
// answer is only about the token the request carries, and says nothing its holder cannot learn already: the
// claims are readable in the JWT, and whether it is live is what the check endpoint answers. Nothing is
// written. A caller can state a false path, method or certificate, but only Envoy's answer reaches an
// upstream, and Envoy reports what it saw.

// Upstream headers of an allowed request. Every incoming header starting with authzHeaderPrefix is
// replaced or removed, so an upstream can trust them.
const (
	authzHeaderPrefix   = "x-authsuite-"
	authzHeaderSubject  = "x-authsuite-sub"
	authzHeaderClientID = "x-authsuite-client-id"
	authzHeaderTenant   = "x-authsuite-tenant"
	authzHeaderScope    = "x-authsuite-scope"
	// maxAuthzHeaders bounds the headers of a request the authorizer looks at.
	maxAuthzHeaders = 256
	// maxPeerCertificate bounds the URL-encoded PEM certificate Envoy reports.
	maxPeerCertificate = 32 << 10
)

// Reasons a request is denied. Messages never contain the token.
var (
	errAuthzNoRoute       = errors.New("no route matches the request's method and path")
	errAuthzPathNotNormal = errors.New("the request path is not in normal form")
	errAuthzMalformed     = errors.New("the Authorization header is not a single Bearer token")
	errAuthzAudience      = errors.New("the token's audience does not include the route's resource")
	errAuthzScope         = errors.New("the token lacks a scope the route requires")
	errAuthzCertMissing   = errors.New("the token is bound to a client certificate and none was presented")
	errAuthzCertMismatch  = errors.New("the token is bound to another client certificate")
	errAuthzHeaderValue   = errors.New("the token's claims cannot be passed as header values")
	errAuthzHeaders       = errors.New("the request has too many headers")
)

// authorizer serves envoy.service.auth.v3.Authorization for a Server.
type authorizer struct {
	authv3.UnimplementedAuthorizationServer
	s      *Server
	routes *AuthzRoutes
}

// RegisterAuthz adds the Envoy authorizer (envoy.service.auth.v3.Authorization) to g, answering with routes.
// It is not behind the revision barrier: Envoy sends no barrier, and the answer depends on this replica's
// revocation view only, which the store's watch keeps current.
func (s *Server) RegisterAuthz(g grpc.ServiceRegistrar, routes *AuthzRoutes) {
	authv3.RegisterAuthorizationServer(g, &authorizer{s: s, routes: routes})
}

// Check answers whether Envoy may forward the request described by req. It always answers a decision, never
// an error, so Envoy's failure_mode_allow can never turn a refusal into an allow:
//   - no route for the request's method and path, or a path not in normal form: 403, PERMISSION_DENIED
//     (fail closed);
//   - no Bearer token: 401 with "WWW-Authenticate: Bearer" (RFC 6750 §3.1: no error code);
//   - a malformed Authorization header: 400 invalid_request (RFC 6750 §3.1), INVALID_ARGUMENT;
//   - a token that is invalid, expired or revoked, of a deleted client or of a disabled or deleted user, or
//     bound to a certificate (RFC 8705 §3) the caller did not present: 401 invalid_token, UNAUTHENTICATED;
//   - a token without the route's audience or one of its scopes: 403 insufficient_scope with the route's
//     scopes (RFC 6750 §3.1), PERMISSION_DENIED;
//   - otherwise OK, with the upstream headers x-authsuite-sub, x-authsuite-client-id, x-authsuite-tenant and
//     x-authsuite-scope overwriting any the client sent, and every other incoming x-authsuite-* header (and
//     those of the four whose value is empty) removed.
func (a *authorizer) Check(_ context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	attrs := req.GetAttributes()
	h := attrs.GetRequest().GetHttp()
	path := h.GetPath()
	if i := strings.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	if !authzNormalPath(path) {
		return authzDeny(http.StatusForbidden, "", errAuthzPathNotNormal, ""), nil
	}
	route, ok := a.routes.match(h.GetMethod(), path)
	if !ok {
		return authzDeny(http.StatusForbidden, "", errAuthzNoRoute, ""), nil
	}
	authorization, foreign, ok := authzHeaders(h)
	if !ok {
		return authzDeny(http.StatusBadRequest, "invalid_request", errAuthzHeaders, ""), nil
	}
	tok, err := bearerToken(authorization)
	if err != nil {
		return authzDeny(http.StatusBadRequest, "invalid_request", err, ""), nil
	}
	if tok == "" {
		return authzDeny(http.StatusUnauthorized, "", errTokenMissing, ""), nil
	}
	v, err := a.s.verifyToken(tok)
	if err != nil {
		return authzDeny(http.StatusUnauthorized, "invalid_token", err, ""), nil
	}
	c := v.claims
	if err := checkCertBinding(c.Confirmation, attrs.GetSource().GetCertificate()); err != nil {
		return authzDeny(http.StatusUnauthorized, "invalid_token", err, ""), nil
	}
	if !c.Audience.Contains(route.audience) {
		return authzDeny(http.StatusForbidden, "insufficient_scope", errAuthzAudience, route.challengeScope), nil
	}
	for _, want := range route.scopes {
		if !slices.Contains(v.scopes, want) {
			return authzDeny(http.StatusForbidden, "insufficient_scope", errAuthzScope, route.challengeScope), nil
		}
	}
	allow := &authv3.OkHttpResponse{}
	for _, kv := range [...][2]string{
		{authzHeaderSubject, c.Subject}, {authzHeaderClientID, c.ClientID}, {authzHeaderTenant, c.Tenant}, {authzHeaderScope, c.Scope},
	} {
		if kv[1] == "" {
			// Envoy drops a header set to an empty value rather than setting it: remove the client's copy.
			allow.HeadersToRemove = append(allow.HeadersToRemove, kv[0])
			continue
		}
		if !headerValueOK(kv[1]) {
			return authzDeny(http.StatusUnauthorized, "invalid_token", errAuthzHeaderValue, ""), nil
		}
		allow.Headers = append(allow.Headers, overwriteHeader(kv[0], kv[1]))
	}
	allow.HeadersToRemove = append(allow.HeadersToRemove, foreign...)
	return &authv3.CheckResponse{
		Status:       &rpcstatus.Status{Code: int32(codes.OK)},
		HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: allow},
	}, nil
}

// authzHeaders reads the request's headers as Envoy reports them: from header_map when Envoy sends raw
// headers (encode_raw_headers), from headers otherwise. It returns the Authorization value (Envoy joins
// repeated headers with ","; repeated header_map entries are joined the same way) and the lower-cased names
// of the x-authsuite-* headers other than the four the authorizer sets. Names are matched without regard to
// case (Envoy sends them lower-cased). ok is false beyond maxAuthzHeaders headers.
func authzHeaders(h *authv3.AttributeContext_HttpRequest) (authorization string, foreign []string, ok bool) {
	note := func(name, value string) {
		switch {
		case strings.EqualFold(name, "authorization"):
			if authorization != "" {
				authorization += ","
			}
			authorization += value
		case len(name) >= len(authzHeaderPrefix) && strings.EqualFold(name[:len(authzHeaderPrefix)], authzHeaderPrefix):
			if name := strings.ToLower(name); !isAuthzHeader(name) && !slices.Contains(foreign, name) {
				foreign = append(foreign, name)
			}
		}
	}
	if hm := h.GetHeaderMap().GetHeaders(); len(hm) > 0 {
		if len(hm) > maxAuthzHeaders {
			return "", nil, false
		}
		for _, hv := range hm {
			v := hv.GetValue()
			if raw := hv.GetRawValue(); len(raw) > 0 {
				v = string(raw)
			}
			note(hv.GetKey(), v)
		}
		return authorization, foreign, true
	}
	if len(h.GetHeaders()) > maxAuthzHeaders {
		return "", nil, false
	}
	for k, v := range h.GetHeaders() {
		note(k, v)
	}
	return authorization, foreign, true
}

// bearerToken reads an Authorization header value: "" with no error when it is empty or of another scheme
// (no bearer token sent), the token for "Bearer" 1*SP b64token (RFC 6750 §2.1; the scheme is matched
// without regard to case, RFC 9110 §11.1), and errAuthzMalformed for a Bearer value that is not exactly one
// b64token (Envoy joins repeated headers with ",", which b64token never contains).
func bearerToken(v string) (string, error) {
	scheme, rest, _ := strings.Cut(v, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", nil
	}
	tok := strings.TrimLeft(rest, " ")
	if !b64token(tok) {
		return "", errAuthzMalformed
	}
	return tok, nil
}

// b64tokenChars are the characters of an RFC 6750 §2.1 b64token before its "=" padding.
var b64tokenChars = func() (t [256]bool) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/") {
		t[c] = true
	}
	return t
}()

// b64token reports whether s is an RFC 6750 §2.1 b64token: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+"
// / "/" ) *"=".
func b64token(s string) bool {
	i := 0
	for i < len(s) && b64tokenChars[s[i]] {
		i++
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}

// checkCertBinding enforces RFC 8705 §3: a token with a cnf x5t#S256 is only good with the client
// certificate whose DER's SHA-256 it names; cert is what Envoy reports (attributes.source.certificate: the
// URL-encoded PEM of the downstream's TLS client certificate, sent with include_peer_certificate). A token
// without cnf needs no certificate.
func checkCertBinding(cnf *jwt.Confirmation, cert string) error {
	if cnf == nil || cnf.X5tS256 == "" {
		return nil
	}
	if cert == "" {
		return errAuthzCertMissing
	}
	if len(cert) > maxPeerCertificate {
		return errAuthzCertMismatch
	}
	der := peerCertificateDER(cert)
	if der == nil {
		return errAuthzCertMismatch
	}
	sum := sha256.Sum256(der)
	got := base64.RawURLEncoding.EncodeToString(sum[:])
	if subtle.ConstantTimeCompare([]byte(got), []byte(cnf.X5tS256)) != 1 {
		return errAuthzCertMismatch
	}
	return nil
}

// peerCertificateDER decodes the certificate Envoy reports: PEM, percent-encoded (Envoy escapes "\n", " ",
// "+", "/" and "=" as %XX). A value encoded as a query component ("+" for a space) is read too. nil when it
// is not one PEM CERTIFICATE block.
func peerCertificateDER(cert string) []byte {
	for _, unescape := range [...]func(string) (string, error){url.PathUnescape, url.QueryUnescape} {
		raw, err := unescape(cert)
		if err != nil {
			continue
		}
		if block, _ := pem.Decode([]byte(raw)); block != nil && block.Type == "CERTIFICATE" {
			return block.Bytes
		}
	}
	return nil
}

// authzDeny is a denial with HTTP status code. A 401 or 403 carries a WWW-Authenticate Bearer challenge (RFC
// 6750 §3) with errCode and, for insufficient_scope, the scopes needed; the gRPC status is UNAUTHENTICATED
// for 401, INVALID_ARGUMENT for 400 and PERMISSION_DENIED for 403, with reason as its message.
func authzDeny(code int, errCode string, reason error, scope string) *authv3.CheckResponse {
	st := codes.PermissionDenied
	switch code {
	case http.StatusUnauthorized:
		st = codes.Unauthenticated
	case http.StatusBadRequest:
		st = codes.InvalidArgument
	}
	denied := &authv3.DeniedHttpResponse{Status: &typev3.HttpStatus{Code: typev3.StatusCode(code)}}
	if errCode != "" || code == http.StatusUnauthorized {
		denied.Headers = []*corev3.HeaderValueOption{overwriteHeader("www-authenticate", bearerChallenge(errCode, reason.Error(), scope))}
	}
	return &authv3.CheckResponse{
		Status:       &rpcstatus.Status{Code: int32(st), Message: reason.Error()},
		HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: denied},
	}
}

// bearerChallenge is the WWW-Authenticate value of RFC 6750 §3: "Bearer", then error, error_description and
// scope when set. A description character outside those §3 allows (%x20-21 / %x23-5B / %x5D-7E) is
// replaced by a space; scope is made of scope-tokens, which exclude '"' and '\'.
func bearerChallenge(errCode, description, scope string) string {
	if errCode == "" {
		return "Bearer"
	}
	var b strings.Builder
	b.WriteString(`Bearer error="`)
	b.WriteString(errCode)
	b.WriteString(`", error_description="`)
	for i := 0; i < len(description); i++ {
		if c := description[i]; c < 0x20 || c == '"' || c == '\\' || c > 0x7e {
			b.WriteByte(' ')
		} else {
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	if errCode == "insufficient_scope" && scope != "" {
		b.WriteString(`, scope="`)
		b.WriteString(scope)
		b.WriteByte('"')
	}
	return b.String()
}

// overwriteHeader sets a header, replacing any value it had (OVERWRITE_IF_EXISTS_OR_ADD).
func overwriteHeader(name, value string) *corev3.HeaderValueOption {
	return &corev3.HeaderValueOption{
		Header:       &corev3.HeaderValue{Key: name, Value: value},
		AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
	}
}

func isAuthzHeader(name string) bool {
	switch name {
	case authzHeaderSubject, authzHeaderClientID, authzHeaderTenant, authzHeaderScope:
		return true
	}
	return false
}

// headerValueOK reports whether v can be a header field value (RFC 9110 §5.5): no control characters other
// than tab, no leading or trailing whitespace.
func headerValueOK(v string) bool {
	if v != strings.Trim(v, " \t") {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}
