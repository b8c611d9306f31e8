package console

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
)

const testIssuer = "https://id.example"

// fakeConn answers unary calls with handle: a hand-written stand-in for the services.
type fakeConn struct {
	handle func(ctx context.Context, method string, req any) (proto.Message, error)
}

func (f fakeConn) Invoke(ctx context.Context, method string, args, reply any, _ ...grpc.CallOption) error {
	resp, err := f.handle(ctx, method, args)
	if err != nil {
		return err
	}
	proto.Merge(reply.(proto.Message), resp)
	return nil
}

func (fakeConn) NewStream(context.Context, *grpc.StreamDesc, string, ...grpc.CallOption) (grpc.ClientStream, error) {
	return nil, errors.New("no streams")
}

// unsignedJWT is a compact JWS with claims and no signature the console would check.
func unsignedJWT(claims map[string]any) string {
	b, _ := json.Marshal(claims)
	return "eyJhbGciOiJSUzI1NiJ9." + base64.RawURLEncoding.EncodeToString(b) + ".c2ln"
}

// world is the fake services of one test: what the token endpoint answers and who is an administrator.
type world struct {
	idClaims    func(nonce string) map[string]any
	system      bool // ListTenants answers
	tenantAdmin bool // GetTenant answers
	gotVerifier string
	gotBearer   []string
	lastNonce   string
}

func (w *world) console(t *testing.T) *Console {
	t.Helper()
	conn := fakeConn{handle: func(ctx context.Context, method string, req any) (proto.Message, error) {
		if md, ok := metadata.FromOutgoingContext(ctx); ok {
			w.gotBearer = append(w.gotBearer, md.Get("authorization")...)
		}
		switch method {
		case "/authsuite.registry.v1.ConsoleService/FindConsoleClient":
			if req.(*registryv1.FindConsoleClientRequest).GetTenantCode() != "acme" {
				return nil, status.Error(codes.NotFound, "tenant")
			}
			return &registryv1.FindConsoleClientResponse{TenantId: "t-acme", ClientId: "console.t-acme"}, nil
		case "/authsuite.token.v1.OAuthService/Token":
			r := req.(*tokenv1.TokenRequest)
			w.gotVerifier = r.GetCodeVerifier()
			if r.GetCode() != "good-code" || r.GetClient().GetClientId() != "console.t-acme" || r.GetRedirectUri() != testIssuer+"/console/callback" {
				return nil, status.Error(codes.InvalidArgument, "invalid_grant")
			}
			at := unsignedJWT(map[string]any{"iss": testIssuer, "sub": "u-1", "tenant": "t-acme", "exp": time.Now().Add(time.Hour).Unix()})
			return &tokenv1.TokenResponse{AccessToken: at, TokenType: "Bearer", ExpiresIn: 3600, IdToken: proto.String(unsignedJWT(w.idClaims(w.lastNonce)))}, nil
		case "/authsuite.registry.v1.TenantService/ListTenants":
			if !w.system {
				return nil, status.Error(codes.PermissionDenied, "manage tenants needs a system administrator")
			}
			return &registryv1.ListTenantsResponse{Items: []*registryv1.Tenant{{TenantId: "t-acme", Code: "acme", Name: "Acme"}}}, nil
		case "/authsuite.registry.v1.TenantService/GetTenant":
			if !w.system {
				return nil, status.Error(codes.PermissionDenied, "manage tenants needs a system administrator")
			}
			return &registryv1.GetTenantResponse{Tenant: &registryv1.Tenant{TenantId: "t-acme", Code: "acme", Name: "Acme"}}, nil
		case "/authsuite.registry.v1.ClientService/ListClients":
			if !w.tenantAdmin && !w.system || req.(*registryv1.ListClientsRequest).GetTenantId() != "t-acme" {
				return nil, status.Error(codes.PermissionDenied, "not an administrator of this tenant")
			}
			return &registryv1.ListClientsResponse{}, nil
		}
		return nil, status.Error(codes.Unimplemented, method)
	}}
	c, err := New(Config{PublicURL: testIssuer, Secret: "test secret", Secure: true, Registry: conn, Token: conn})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func goodClaims(nonce string) map[string]any {
	return map[string]any{"iss": testIssuer, "aud": "console.t-acme", "sub": "u-1", "nonce": nonce, "name": "Ada", "exp": time.Now().Add(time.Hour).Unix()}
}

type jar map[string]*http.Cookie

func (j jar) do(c *Console, method, target string, body url.Values) *httptest.ResponseRecorder {
	var r *http.Request
	if body != nil {
		r = httptest.NewRequest(method, testIssuer+target, strings.NewReader(body.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		r = httptest.NewRequest(method, testIssuer+target, nil)
	}
	for _, ck := range j {
		r.AddCookie(ck)
	}
	w := httptest.NewRecorder()
	c.ServeHTTP(w, r)
	for _, ck := range w.Result().Cookies() {
		if ck.MaxAge < 0 {
			delete(j, ck.Name)
		} else {
			j[ck.Name] = ck
		}
	}
	return w
}

// startLogin runs GET /console/login?tenant=acme and returns the authorization request's parameters.
func startLogin(t *testing.T, c *Console, j jar, w *world) url.Values {
	t.Helper()
	resp := j.do(c, "GET", "/console/login?tenant=acme&return=/console/clients", nil)
	if resp.Code != http.StatusSeeOther {
		t.Fatalf("login: %d %s", resp.Code, resp.Body)
	}
	loc, _ := url.Parse(resp.Header().Get("Location"))
	if loc.Scheme+"://"+loc.Host+loc.Path != testIssuer+"/connect/authorize" {
		t.Fatalf("login redirects to %s", loc)
	}
	q := loc.Query()
	w.lastNonce = q.Get("nonce")
	return q
}

func TestLoginStartsPKCEAuthorization(t *testing.T) {
	w := &world{idClaims: goodClaims, system: true}
	c := w.console(t)
	j := jar{}
	q := startLogin(t, c, j, w)
	if q.Get("client_id") != "console.t-acme" || q.Get("response_type") != "code" || q.Get("code_challenge_method") != "S256" ||
		q.Get("scope") != "openid profile adminapi" || q.Get("redirect_uri") != testIssuer+"/console/callback" ||
		len(q.Get("state")) < 32 || len(q.Get("nonce")) < 32 || len(q.Get("code_challenge")) != 43 {
		t.Fatalf("authorization request %v", q)
	}
	ck := j["__Host-"+loginCookieName]
	if ck == nil || !ck.Secure || !ck.HttpOnly || ck.Path != "/" || ck.SameSite != http.SameSiteLaxMode {
		t.Fatalf("login cookie %+v", ck)
	}
	// The callback redeems the code with the verifier whose S256 challenge went out (RFC 7636 §4.6).
	resp := j.do(c, "GET", "/console/callback?code=good-code&state="+url.QueryEscape(q.Get("state")), nil)
	if resp.Code != http.StatusSeeOther || resp.Header().Get("Location") != "/console/clients" {
		t.Fatalf("callback: %d %s %s", resp.Code, resp.Header().Get("Location"), resp.Body)
	}
	if pkceChallenge(w.gotVerifier) != q.Get("code_challenge") || len(w.gotVerifier) < 43 {
		t.Fatalf("verifier %q does not match challenge %q", w.gotVerifier, q.Get("code_challenge"))
	}
	if j["__Host-"+loginCookieName] != nil {
		t.Fatal("the login cookie outlived its callback")
	}
	sess := j["__Host-"+sessionCookieName]
	if sess == nil || !sess.Secure || !sess.HttpOnly || strings.Contains(sess.Value, "eyJ") {
		t.Fatalf("session cookie %+v", sess)
	}
	// The session's token reaches the APIs as the bearer token.
	w.gotBearer = nil
	if resp := j.do(c, "GET", "/console/tenants", nil); resp.Code != 200 || !strings.Contains(resp.Body.String(), "acme") {
		t.Fatalf("tenants: %d %s", resp.Code, resp.Body)
	}
	if len(w.gotBearer) == 0 || !strings.HasPrefix(w.gotBearer[0], "Bearer eyJ") {
		t.Fatalf("API calls carried %q", w.gotBearer)
	}
	// The same callback again (replayed response): no login in progress any more.
	if resp := j.do(c, "GET", "/console/callback?code=good-code&state="+url.QueryEscape(q.Get("state")), nil); resp.Code != 400 {
		t.Fatalf("replayed callback: %d", resp.Code)
	}
}

func TestPKCEChallengeRFC7636AppendixB(t *testing.T) {
	if got := pkceChallenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"); got != "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM" {
		t.Fatalf("S256 challenge %q", got)
	}
}

func TestCallbackRefusals(t *testing.T) {
	for _, tc := range []struct {
		name   string
		claims func(string) map[string]any
		state  func(string) string
		code   string
		want   int
	}{
		{"wrong state", goodClaims, func(string) string { return "forged" }, "good-code", 400},
		{"no state", goodClaims, func(string) string { return "" }, "good-code", 400},
		{"code refused", goodClaims, nil, "bad-code", 400},
		{"wrong nonce", func(string) map[string]any { return goodClaims("another") }, nil, "good-code", 400},
		{"no nonce", func(string) map[string]any { c := goodClaims(""); delete(c, "nonce"); return c }, nil, "good-code", 400},
		{"wrong audience", func(n string) map[string]any { c := goodClaims(n); c["aud"] = []string{"web"}; return c }, nil, "good-code", 400},
		{"wrong issuer", func(n string) map[string]any { c := goodClaims(n); c["iss"] = "https://evil.example"; return c }, nil, "good-code", 400},
		{"expired ID token", func(n string) map[string]any { c := goodClaims(n); c["exp"] = 1; return c }, nil, "good-code", 400},
		{"audience array", func(n string) map[string]any {
			c := goodClaims(n)
			c["aud"] = []string{"x", "console.t-acme"}
			return c
		}, nil, "good-code", 303},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := &world{idClaims: tc.claims, system: true}
			c := w.console(t)
			j := jar{}
			q := startLogin(t, c, j, w)
			state := q.Get("state")
			if tc.state != nil {
				state = tc.state(state)
			}
			resp := j.do(c, "GET", "/console/callback?code="+tc.code+"&state="+url.QueryEscape(state), nil)
			if resp.Code != tc.want {
				t.Fatalf("status %d, want %d: %s", resp.Code, tc.want, resp.Body)
			}
			if (j["__Host-"+sessionCookieName] != nil) != (tc.want == 303) {
				t.Fatalf("session cookie set: %v", j["__Host-"+sessionCookieName] != nil)
			}
		})
	}
}

func TestRoleDecidedByTheAPI(t *testing.T) {
	for _, tc := range []struct {
		name                string
		system, tenantAdmin bool
		want                int
	}{
		{"system admin", true, false, 303},
		{"tenant admin", false, true, 303},
		{"plain user", false, false, 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := &world{idClaims: goodClaims, system: tc.system, tenantAdmin: tc.tenantAdmin}
			c := w.console(t)
			j := jar{}
			q := startLogin(t, c, j, w)
			resp := j.do(c, "GET", "/console/callback?code=good-code&state="+url.QueryEscape(q.Get("state")), nil)
			if resp.Code != tc.want {
				t.Fatalf("status %d, want %d", resp.Code, tc.want)
			}
			if tc.want == 403 {
				if j["__Host-"+sessionCookieName] != nil || !strings.Contains(resp.Body.String(), `id="forbidden"`) {
					t.Fatalf("refused user: cookie %v, page %s", j["__Host-"+sessionCookieName], resp.Body)
				}
				return
			}
			var s Session
			if err := c.sessions.open(j["__Host-"+sessionCookieName].Value, &s); err != nil || s.System != tc.system || s.TenantCode != "acme" {
				t.Fatalf("session %+v, %v", s, err)
			}
		})
	}
}

func TestFormsNeedTheSessionCSRFToken(t *testing.T) {
	w := &world{idClaims: goodClaims, system: true}
	c := w.console(t)
	j := jar{}
	q := startLogin(t, c, j, w)
	j.do(c, "GET", "/console/callback?code=good-code&state="+url.QueryEscape(q.Get("state")), nil)
	var s Session
	if err := c.sessions.open(j["__Host-"+sessionCookieName].Value, &s); err != nil {
		t.Fatal(err)
	}
	for _, csrf := range []string{"", "forged", s.CSRF + "x"} {
		if resp := j.do(c, "POST", "/console/tenants", url.Values{"code": {"x"}, "csrf": {csrf}}); resp.Code != 403 {
			t.Fatalf("csrf %q: %d", csrf, resp.Code)
		}
	}
	// A cross-site POST is refused even with the token.
	r := httptest.NewRequest("POST", testIssuer+"/console/logout", strings.NewReader("csrf="+url.QueryEscape(s.CSRF)))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Origin", "https://evil.example")
	r.AddCookie(j["__Host-"+sessionCookieName])
	rec := httptest.NewRecorder()
	c.ServeHTTP(rec, r)
	if rec.Code != 403 {
		t.Fatalf("cross-site logout: %d", rec.Code)
	}
	// With the token: sign-out clears the cookie and ends the authsuite session with the ID token as hint.
	resp := j.do(c, "POST", "/console/logout", url.Values{"csrf": {s.CSRF}})
	loc, _ := url.Parse(resp.Header().Get("Location"))
	if resp.Code != 303 || loc.Path != "/connect/endsession" || loc.Query().Get("id_token_hint") == "" ||
		loc.Query().Get("post_logout_redirect_uri") != testIssuer+"/console/" || j["__Host-"+sessionCookieName] != nil {
		t.Fatalf("logout: %d %s", resp.Code, loc)
	}
}

func TestExpiredSessionSignsInAgain(t *testing.T) {
	w := &world{idClaims: goodClaims, system: true}
	c := w.console(t)
	sealed, err := c.sessions.seal(Session{AccessToken: "x", CSRF: "y", Expiry: time.Now().Add(-time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	j := jar{"__Host-" + sessionCookieName: {Name: "__Host-" + sessionCookieName, Value: sealed}}
	resp := j.do(c, "GET", "/console/tenants?q=a", nil)
	if resp.Code != 303 || resp.Header().Get("Location") != "/console/?return=%2Fconsole%2Ftenants%3Fq%3Da" {
		t.Fatalf("expired session: %d %s", resp.Code, resp.Header().Get("Location"))
	}
}

func TestLocalReturn(t *testing.T) {
	for in, want := range map[string]string{
		"/console/clients?q=a": "/console/clients?q=a",
		"/console/":            "/console/",
		"//evil.example/":      "",
		"/console//evil":       "",
		"https://evil.example": "",
		"/console/\\evil":      "",
		"/other":               "",
	} {
		if got := localReturn(in); got != want {
			t.Errorf("localReturn(%q) = %q, want %q", in, got, want)
		}
	}
}
