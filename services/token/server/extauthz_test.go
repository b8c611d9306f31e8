package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/grpctest"
	"github.com/authsuite/authsuite/services/token/clients"
	"github.com/authsuite/authsuite/services/token/jwt"
)

// authzTestRoutes is the route table of the authorizer tests: the issuer stands in for an API resource
// (client_credentials tokens carry it as aud).
var authzTestRoutes = fmt.Sprintf(`{"routes": [
  {"prefix": "/api/", "audience": %[1]q, "scopes": ["read"]},
  {"prefix": "/api/admin/", "audience": %[1]q, "scopes": ["read", "adminapi"]},
  {"prefix": "/api/", "audience": %[1]q, "scopes": ["read", "adminapi"], "methods": ["DELETE"]},
  {"prefix": "/other/", "audience": "https://other.internal"}
]}`, testIssuer)

// authzEnv is a token server env with the authorizer served on its own loopback gRPC server, and a
// go-control-plane client to it without any credential, as Envoy connects.
func authzEnv(t *testing.T, routesJSON string) (*env, authv3.AuthorizationClient) {
	t.Helper()
	e := newEnv(t)
	routes, err := ParseAuthzRoutes([]byte(routesJSON))
	if err != nil {
		t.Fatal(err)
	}
	addr := grpctest.Serve(t, e.cred, func(g grpc.ServiceRegistrar) { e.srv.RegisterAuthz(g, routes) })
	return e, authv3.NewAuthorizationClient(grpctest.Dial(t, addr, ""))
}

// envoyCheck builds the CheckRequest Envoy's ext_authz filter sends for an HTTP request (lower-cased
// header names, :path with its query).
func envoyCheck(method, path string, headers map[string]string) *authv3.CheckRequest {
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source: &authv3.AttributeContext_Peer{Address: &corev3.Address{}},
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Id: "1", Method: method, Path: path, Host: "api.example", Scheme: "https", Protocol: "HTTP/1.1", Headers: headers,
		}},
	}}
}

// authzDecision is a CheckResponse reduced to what the tests compare.
type authzDecision struct {
	grpcCode   codes.Code
	httpStatus int // 200 for an allow
	challenge  string
	set        map[string]string // upstream headers set (allow)
	remove     []string          // upstream headers removed (allow)
}

func decide(t *testing.T, c authv3.AuthorizationClient, req *authv3.CheckRequest) authzDecision {
	t.Helper()
	resp, err := c.Check(context.Background(), req)
	if err != nil {
		t.Fatalf("Check: %v (the authorizer must answer a decision, never an error)", err)
	}
	d := authzDecision{grpcCode: codes.Code(resp.GetStatus().GetCode())}
	switch r := resp.GetHttpResponse().(type) {
	case *authv3.CheckResponse_OkResponse:
		d.httpStatus = 200
		d.set = map[string]string{}
		for _, h := range r.OkResponse.GetHeaders() {
			if h.GetAppendAction() != corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD || h.GetAppend() != nil {
				t.Fatalf("header %s is not set with overwrite semantics: %v", h.GetHeader().GetKey(), h)
			}
			d.set[h.GetHeader().GetKey()] = h.GetHeader().GetValue()
		}
		d.remove = slices.Sorted(slices.Values(r.OkResponse.GetHeadersToRemove()))
		if d.grpcCode != codes.OK {
			t.Fatalf("an OK response with status %v", d.grpcCode)
		}
	case *authv3.CheckResponse_DeniedResponse:
		d.httpStatus = int(r.DeniedResponse.GetStatus().GetCode())
		for _, h := range r.DeniedResponse.GetHeaders() {
			if h.GetHeader().GetKey() == "www-authenticate" {
				d.challenge = h.GetHeader().GetValue()
			}
		}
		if d.grpcCode == codes.OK {
			t.Fatal("a denial with status OK")
		}
	default:
		t.Fatalf("no HTTP response in %v", resp)
	}
	return d
}

func withBearer(tok string) map[string]string {
	return map[string]string{"authorization": "Bearer " + tok}
}

func TestAuthzAllowSetsUpstreamHeaders(t *testing.T) {
	e, c := authzEnv(t, authzTestRoutes)
	tok := e.mustToken("svc", svcSecret, "read")
	headers := withBearer(tok)
	// A client smuggling its own identity headers: the four are overwritten, the others removed.
	headers["x-authsuite-sub"] = "admin"
	headers["x-authsuite-tenant"] = "system"
	headers["x-authsuite-roles"] = "tenant_admin"
	headers["x-authsuite-act"] = "x"
	headers["x-other"] = "kept"
	d := decide(t, c, envoyCheck("GET", "/api/orders?limit=5", headers))
	want := map[string]string{"x-authsuite-sub": "svc", "x-authsuite-client-id": "svc", "x-authsuite-tenant": "default", "x-authsuite-scope": "read"}
	if d.httpStatus != 200 || fmt.Sprint(d.set) != fmt.Sprint(want) {
		t.Fatalf("decision %+v; want allow with %v", d, want)
	}
	if !slices.Equal(d.remove, []string{"x-authsuite-act", "x-authsuite-roles"}) {
		t.Fatalf("removed %q; want the smuggled x-authsuite-act and x-authsuite-roles", d.remove)
	}
	// Raw headers (encode_raw_headers: header_map with raw values) are read the same way.
	req := envoyCheck("GET", "/api/orders", nil)
	req.Attributes.Request.Http.HeaderMap = &corev3.HeaderMap{Headers: []*corev3.HeaderValue{
		{Key: "authorization", RawValue: []byte("Bearer " + tok)}, {Key: "x-authsuite-roles", RawValue: []byte("x")},
	}}
	if d := decide(t, c, req); d.httpStatus != 200 || d.set["x-authsuite-sub"] != "svc" || !slices.Equal(d.remove, []string{"x-authsuite-roles"}) {
		t.Fatalf("raw headers: %+v", d)
	}
}

func TestAuthzDenials(t *testing.T) {
	e, c := authzEnv(t, authzTestRoutes)
	read := e.mustToken("svc", svcSecret, "read")
	admin := e.mustToken("svc", svcSecret, "read adminapi")
	const invalidToken = `Bearer error="invalid_token", error_description="token is malformed or not signed by this issuer"`
	cases := []struct {
		name      string
		method    string
		path      string
		headers   map[string]string
		status    int
		code      codes.Code
		challenge string
	}{
		{"longest prefix allows", "GET", "/api/admin/users", withBearer(admin), 200, codes.OK, ""},
		{"longest prefix needs its scope", "GET", "/api/admin/users", withBearer(read), 403, codes.PermissionDenied,
			`Bearer error="insufficient_scope", error_description="the token lacks a scope the route requires", scope="read adminapi"`},
		{"query is not part of the path", "GET", "/api/admin?x=/api/", withBearer(read), 200, codes.OK, ""},
		{"method route wins at equal prefix", "DELETE", "/api/orders/1", withBearer(read), 403, codes.PermissionDenied,
			`Bearer error="insufficient_scope", error_description="the token lacks a scope the route requires", scope="read adminapi"`},
		{"method route allows", "DELETE", "/api/orders/1", withBearer(admin), 200, codes.OK, ""},
		{"wrong audience", "GET", "/other/x", withBearer(admin), 403, codes.PermissionDenied,
			`Bearer error="insufficient_scope", error_description="the token's audience does not include the route's resource"`},
		{"no route", "GET", "/metrics", withBearer(admin), 403, codes.PermissionDenied, ""},
		{"prefix is not a segment match", "GET", "/apix", withBearer(admin), 403, codes.PermissionDenied, ""},
		{"dot segment", "GET", "/api/../admin/x", withBearer(admin), 403, codes.PermissionDenied, ""},
		{"encoded dot segment", "GET", "/api/%2e%2e/admin", withBearer(admin), 403, codes.PermissionDenied, ""},
		{"encoded slash", "GET", "/api%2Fadmin", withBearer(admin), 403, codes.PermissionDenied, ""},
		{"empty segment", "GET", "/api//x", withBearer(admin), 403, codes.PermissionDenied, ""},
		{"no path", "GET", "", withBearer(admin), 403, codes.PermissionDenied, ""},
		{"no token", "GET", "/api/x", nil, 401, codes.Unauthenticated, "Bearer"},
		{"another scheme", "GET", "/api/x", map[string]string{"authorization": "Basic c3ZjOng="}, 401, codes.Unauthenticated, "Bearer"},
		{"token in the query is not read", "GET", "/api/x?access_token=" + read, nil, 401, codes.Unauthenticated, "Bearer"},
		{"lower-case scheme", "GET", "/api/x", map[string]string{"authorization": "bearer " + read}, 200, codes.OK, ""},
		{"two tokens", "GET", "/api/x", map[string]string{"authorization": "Bearer " + read + ",Bearer " + admin}, 400, codes.InvalidArgument,
			`Bearer error="invalid_request", error_description="the Authorization header is not a single Bearer token"`},
		{"token with a space", "GET", "/api/x", map[string]string{"authorization": "Bearer a b"}, 400, codes.InvalidArgument,
			`Bearer error="invalid_request", error_description="the Authorization header is not a single Bearer token"`},
		{"forged token", "GET", "/api/x", withBearer("eyJhbGciOiJFUzI1NiJ9.e30.c2ln"), 401, codes.Unauthenticated, invalidToken},
		{"tampered token", "GET", "/api/x", withBearer(read[:len(read)-4] + "AAAA"), 401, codes.Unauthenticated, invalidToken},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := decide(t, c, envoyCheck(tc.method, tc.path, tc.headers))
			if d.httpStatus != tc.status || d.grpcCode != tc.code || d.challenge != tc.challenge {
				t.Fatalf("got %d %v %q; want %d %v %q", d.httpStatus, d.grpcCode, d.challenge, tc.status, tc.code, tc.challenge)
			}
		})
	}
}

// A token that stops being good is denied at the next check: revoked, expired, or of a deleted client.
func TestAuthzTokenLiveness(t *testing.T) {
	e, c := authzEnv(t, authzTestRoutes)
	tok := e.mustToken("svc", svcSecret, "read")
	other := e.mustToken("svc", svcSecret, "read")
	if d := decide(t, c, envoyCheck("GET", "/api/x", withBearer(tok))); d.httpStatus != 200 {
		t.Fatalf("fresh token: %+v", d)
	}
	if _, err := e.oauth.Revoke(context.Background(), &tokenv1.RevokeRequest{Client: creds("svc", svcSecret), Token: tok}); err != nil {
		t.Fatal(err)
	}
	d := decide(t, c, envoyCheck("GET", "/api/x", withBearer(tok)))
	if d.httpStatus != 401 || d.challenge != `Bearer error="invalid_token", error_description="token has been revoked"` {
		t.Fatalf("revoked token: %+v", d)
	}
	if d := decide(t, c, envoyCheck("GET", "/api/x", withBearer(other))); d.httpStatus != 200 {
		t.Fatalf("another token of the client: %+v", d)
	}
	e.clock.Advance(3601 * time.Second)
	if d := decide(t, c, envoyCheck("GET", "/api/x", withBearer(other))); d.httpStatus != 401 || !strings.Contains(d.challenge, "token has expired") {
		t.Fatalf("expired token: %+v", d)
	}
	e.clock.Advance(-3601 * time.Second)
	e.reg.del("svc", false)
	e.awaitRegistry()
	if d := decide(t, c, envoyCheck("GET", "/api/x", withBearer(other))); d.httpStatus != 401 || d.grpcCode != codes.Unauthenticated {
		t.Fatalf("token of a deleted client: %+v", d)
	}
}

// A check reads nothing from the store and writes nothing.
func TestAuthzNoStoreAccess(t *testing.T) {
	e, c := authzEnv(t, authzTestRoutes)
	tok := e.mustToken("svc", svcSecret, "read")
	before := e.st.writes.Load()
	for range 10 {
		if d := decide(t, c, envoyCheck("GET", "/api/x", withBearer(tok))); d.httpStatus != 200 {
			t.Fatalf("%+v", d)
		}
	}
	if n := e.st.writes.Load() - before; n != 0 {
		t.Fatalf("%d store writes during checks", n)
	}
}

func TestAuthzCertificateBinding(t *testing.T) {
	der := selfSignedDER(t)
	other := selfSignedDER(t)
	sum := sha256.Sum256(der)
	cnf := &jwt.Confirmation{X5tS256: base64.RawURLEncoding.EncodeToString(sum[:])}
	encoded := func(der []byte) string {
		return url.QueryEscape(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	}
	cases := []struct {
		name string
		cnf  *jwt.Confirmation
		cert string
		want error
	}{
		{"unbound token, no certificate", nil, "", nil},
		{"unbound token, a certificate", nil, encoded(other), nil},
		{"bound, the certificate", cnf, encoded(der), nil},
		{"bound, path-escaped PEM", cnf, url.PathEscape(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))), nil},
		{"bound, no certificate", cnf, "", errAuthzCertMissing},
		{"bound, another certificate", cnf, encoded(other), errAuthzCertMismatch},
		{"bound, not PEM", cnf, "garbage", errAuthzCertMismatch},
		{"bound, a key instead", cnf, url.QueryEscape(string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))), errAuthzCertMismatch},
		{"bound, bad escape", cnf, "%zz", errAuthzCertMismatch},
	}
	for _, tc := range cases {
		if got := checkCertBinding(tc.cnf, tc.cert); got != tc.want {
			t.Errorf("%s: %v; want %v", tc.name, got, tc.want)
		}
	}
}

// envoyPEM is a certificate as Envoy reports it in attributes.source.certificate: PEM, with "\n", " ", "+",
// "/" and "=" percent-encoded.
func envoyPEM(der []byte) string {
	p := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	return strings.NewReplacer("\n", "%0A", " ", "%20", "+", "%2B", "/", "%2F", "=", "%3D").Replace(p)
}

// A certificate-bound token (RFC 8705 §3) issued at the token endpoint passes the authorizer only with the
// certificate Envoy reports for the downstream connection.
func TestAuthzBoundToken(t *testing.T) {
	ca := newTestCA(t)
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	e := newEnv(t, func(d *Deps) { d.ClientCAs, d.ClientCertificates = pool, true })
	routes, err := ParseAuthzRoutes([]byte(authzTestRoutes))
	if err != nil {
		t.Fatal(err)
	}
	addr := grpctest.Serve(t, e.cred, func(g grpc.ServiceRegistrar) { e.srv.RegisterAuthz(g, routes) })
	c := authv3.NewAuthorizationClient(grpctest.Dial(t, addr, ""))

	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cert := leafCert(t, &ca, pkix.Name{CommonName: "orders"}, key)
	r := e.reg.record("tls", "default", []string{GrantClientCredentials}, []string{"read"}, 3600)
	r.Client.TokenEndpointAuthMethod = clients.AuthTLS
	r.Client.TlsClientAuthSubjectDn = "CN=orders"
	r.Client.TlsClientCertificateBoundAccessTokens = true
	e.reg.put(r)
	e.awaitRegistry()
	resp, err := tokenv1.NewOAuthServiceClient(e.browserConn).Token(withCert(cert),
		&tokenv1.TokenRequest{GrantType: GrantClientCredentials, Client: &tokenv1.ClientCredentials{ClientId: "tls"}, Scope: "read"})
	if err != nil {
		t.Fatal(err)
	}
	if e.claimsOf(resp.GetAccessToken()).Confirmation == nil {
		t.Fatal("the token is not bound")
	}
	check := func(peerCert string) authzDecision {
		req := envoyCheck("GET", "/api/x", withBearer(resp.GetAccessToken()))
		req.Attributes.Source.Certificate = peerCert
		return decide(t, c, req)
	}
	if d := check(envoyPEM(cert.Raw)); d.httpStatus != 200 || d.set["x-authsuite-client-id"] != "tls" {
		t.Fatalf("with its certificate: %+v", d)
	}
	other := leafCert(t, &ca, pkix.Name{CommonName: "orders"}, key)
	for name, peerCert := range map[string]string{"none": "", "another": envoyPEM(other.Raw), "garbage": "%%%"} {
		if d := check(peerCert); d.httpStatus != 401 || d.grpcCode != codes.Unauthenticated || !strings.HasPrefix(d.challenge, `Bearer error="invalid_token"`) {
			t.Errorf("%s certificate: %+v", name, d)
		}
	}
}

func selfSignedDER(t *testing.T) []byte {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "svc"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestParseAuthzRoutesErrors(t *testing.T) {
	route := func(extra string) string {
		return `{"routes":[{"prefix":"/a/","audience":"https://a.internal"` + extra + `}]}`
	}
	cases := []struct{ doc, want string }{
		{``, "not valid JSON"},
		{`[]`, "the route document: want an object"},
		{`{"routes":[]}`, "at least one route"},
		{`{"routes":null}`, "routes: want an array"},
		{`{"Routes":[]}`, `unknown member "Routes"`},
		{`{"routes":[],"routes":[]}`, `member "routes" is repeated`},
		{route(`,"extra":1`), `routes[0]: unknown member "extra"`},
		{route(`,"Scopes":["a"]`), `routes[0]: unknown member "Scopes"`},
		{route(`,"prefix":"/b/"`), `routes[0]: member "prefix" is repeated`},
		{route(``) + ` {}`, "unexpected data after"},
		{`{"routes":[{"audience":"https://a.internal"}]}`, `routes[0] (""): prefix: is required`},
		{`{"routes":[{"prefix":"/a/"}]}`, `routes[0] ("/a/"): audience: is required`},
		{`{"routes":[{"prefix":null,"audience":"https://a.internal"}]}`, `routes[0].prefix: want a string`},
		{`{"routes":[{"prefix":"a","audience":"https://a.internal"}]}`, `routes[0] ("a"): prefix: want a path starting with /`},
		{`{"routes":[{"prefix":"/a?b","audience":"https://a.internal"}]}`, `prefix: want a path starting with /`},
		{`{"routes":[{"prefix":"/a/../b","audience":"https://a.internal"}]}`, `prefix: is not in normal form`},
		{`{"routes":[{"prefix":"/a","audience":"orders"}]}`, `routes[0] ("/a"): audience: want an absolute URI`},
		{`{"routes":[{"prefix":"/a","audience":"https://a#x"}]}`, `audience: want an absolute URI`},
		{`{"routes":[{"prefix":"/a","audience":"https://"}]}`, `audience: want an absolute URI`},
		{route(`,"scopes":"read"`), `routes[0].scopes: want an array`},
		{route(`,"scopes":[1]`), `routes[0].scopes[0]: want a string`},
		{route(`,"scopes":["a b"]`), `routes[0] ("/a/"): scopes[0]: "a b" is not a scope token`},
		{route(`,"scopes":["a","a"]`), `scopes[1]: "a" is listed twice`},
		{route(`,"methods":[]`), `methods: is empty`},
		{route(`,"methods":["GE T"]`), `methods[0]: "GE T" is not an HTTP method token`},
		{route(`,"methods":["GET","GET"]`), `methods[1]: GET is listed twice`},
		{`{"routes":[{"prefix":"/a","audience":"https://a"},{"prefix":"/a","audience":"https://b"}]}`, `routes[1] ("/a"): prefix: repeats routes[0]'s prefix`},
		{`{"routes":[{"prefix":"/a","audience":"https://a","methods":["GET"]},{"prefix":"/a","audience":"https://b","methods":["POST","GET"]}]}`,
			`routes[1] ("/a"): methods: GET is also in routes[0]`},
		{`{"routes":[` + strings.Repeat(`{"prefix":"/a","audience":"https://a"},`, MaxAuthzRoutes) + `{}]}`, "more than 1024 routes"},
		{route(`,"scopes":[` + strings.Repeat(`"s",`, maxRouteScopes) + `"s"]`), "routes[0].scopes: more than 64 entries"},
		{`{"routes":[{"prefix":"/` + strings.Repeat("a", maxRoutePrefix) + `","audience":"https://a"}]}`, "routes[0].prefix: longer than 1024 bytes"},
		{strings.Repeat(" ", MaxAuthzRoutesBytes+1), "bytes; at most"},
	}
	for _, tc := range cases {
		_, err := ParseAuthzRoutes([]byte(tc.doc))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseAuthzRoutes(%.80s) = %v; want an error containing %q", tc.doc, err, tc.want)
		}
	}
	// Valid: same prefix with disjoint methods, and a method route beside a catch-all one.
	ok := `{"routes":[{"prefix":"/a","audience":"https://a","methods":["GET"]},{"prefix":"/a","audience":"https://b","methods":["POST"]},
		{"prefix":"/a","audience":"urn:example:c","scopes":[]}]}`
	r, err := ParseAuthzRoutes([]byte(ok))
	if err != nil || r.Len() != 3 {
		t.Fatalf("ParseAuthzRoutes(valid) = %v, %v", r, err)
	}
	for method, aud := range map[string]string{"GET": "https://a", "POST": "https://b", "PUT": "urn:example:c"} {
		if got, ok := r.match(method, "/a/x"); !ok || got.audience != aud {
			t.Errorf("%s /a/x: %v %v; want %s", method, got, ok, aud)
		}
	}
}

func TestBearerToken(t *testing.T) {
	cases := []struct {
		in, tok string
		bad     bool
	}{
		{"", "", false},
		{"Basic abc", "", false},
		{"Bearer", "", true},
		{"Bearer ", "", true},
		{"Bearer abc", "abc", false},
		{"BEARER  abc==", "abc==", false},
		{"Bearer a=b", "", true},
		{"Bearer abc\t", "", true},
		{"Bearer a,Bearer b", "", true},
		{"Bearerabc", "", false},
	}
	for _, tc := range cases {
		tok, err := bearerToken(tc.in)
		if tok != tc.tok || (err != nil) != tc.bad {
			t.Errorf("bearerToken(%q) = %q, %v; want %q, error %v", tc.in, tok, err, tc.tok, tc.bad)
		}
	}
}

// The challenge keeps to the characters RFC 6750 §3 allows in error_description whatever the reason says.
func TestBearerChallenge(t *testing.T) {
	got := bearerChallenge("invalid_token", "bad \"x\" \\ §\n", "")
	if want := `Bearer error="invalid_token", error_description="bad  x` + strings.Repeat(" ", 7) + `"`; got != want {
		t.Fatalf("challenge %q; want %q", got, want)
	}
	if got := bearerChallenge("insufficient_scope", "d", "a b"); got != `Bearer error="insufficient_scope", error_description="d", scope="a b"` {
		t.Fatalf("challenge %q", got)
	}
	if got := bearerChallenge("", "ignored", "a"); got != "Bearer" {
		t.Fatalf("challenge %q", got)
	}
}
