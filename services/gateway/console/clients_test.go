package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	"github.com/authsuite/authsuite/internal/apierror"
)

// clientStore is a hand-written ClientService of one tenant ("t-acme") for the clients pages: clients in
// client_id order, paged by the last id as the token, and a check of the bearer token every call carries.
type clientStore struct {
	mu      sync.Mutex
	clients []*registryv1.Client
	secrets map[string][]*registryv1.ClientSecret
	refuse  error // CreateClient/UpdateClient answer this when set
	calls   []string
}

func (s *clientStore) handle(ctx context.Context, method string, req any) (proto.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if md, _ := metadata.FromOutgoingContext(ctx); len(md.Get("authorization")) != 1 || md.Get("authorization")[0] != "Bearer at-1" {
		return nil, status.Error(codes.Unauthenticated, "no token")
	}
	s.calls = append(s.calls, method[strings.LastIndexByte(method, '/')+1:])
	tenantOf := func(r interface{ GetTenantId() string }) error {
		if r.GetTenantId() != "t-acme" {
			return status.Error(codes.PermissionDenied, "not an administrator of tenant "+r.GetTenantId())
		}
		return nil
	}
	switch r := req.(type) {
	case *registryv1.ListClientsRequest:
		if err := tenantOf(r); err != nil {
			return nil, err
		}
		all := s.clients
		if f := r.GetFilter(); f != "" {
			all = nil
			for _, c := range s.clients {
				if Contains(f, c.GetClientId(), c.GetClientName()) {
					all = append(all, c)
				}
			}
		}
		i, _ := slices.BinarySearchFunc(all, r.GetPageToken(), func(c *registryv1.Client, id string) int { return strings.Compare(c.GetClientId(), id) })
		if r.GetPageToken() != "" {
			i++
		}
		end := min(i+int(r.GetPageSize()), len(all))
		resp := &registryv1.ListClientsResponse{Items: all[i:end]}
		if end < len(all) {
			resp.NextPageToken = all[end-1].GetClientId()
		}
		return resp, nil
	case *registryv1.GetClientRequest:
		if err := tenantOf(r); err != nil {
			return nil, err
		}
		for _, c := range s.clients {
			if c.GetClientId() == r.GetClientId() {
				return &registryv1.GetClientResponse{Client: c}, nil
			}
		}
		return nil, status.Error(codes.NotFound, "client not found")
	case *registryv1.CreateClientRequest:
		if s.refuse != nil {
			return nil, s.refuse
		}
		c := proto.Clone(r.GetClient()).(*registryv1.Client)
		s.clients = append(s.clients, c)
		slices.SortFunc(s.clients, func(a, b *registryv1.Client) int { return strings.Compare(a.GetClientId(), b.GetClientId()) })
		return &registryv1.CreateClientResponse{Client: c}, nil
	case *registryv1.UpdateClientRequest:
		if s.refuse != nil {
			return nil, s.refuse
		}
		return &registryv1.UpdateClientResponse{Client: r.GetClient()}, nil
	case *registryv1.ListClientSecretsRequest:
		return &registryv1.ListClientSecretsResponse{Items: s.secrets[r.GetClientId()]}, nil
	case *registryv1.CreateClientSecretRequest:
		v := "s3cr3t-value-only-once"
		sec := &registryv1.ClientSecret{SecretId: "sec-1", Description: r.GetSecret().GetDescription(), Value: &v, ValueDisplay: "s3c"}
		s.secrets[r.GetClientId()] = append(s.secrets[r.GetClientId()], &registryv1.ClientSecret{SecretId: "sec-1", ValueDisplay: "s3c"})
		return &registryv1.CreateClientSecretResponse{Secret: sec}, nil
	case *registryv1.ListTenantsRequest:
		return &registryv1.ListTenantsResponse{Items: []*registryv1.Tenant{{TenantId: "t-acme", Code: "acme", Name: "Acme"}}}, nil
	}
	return nil, status.Error(codes.Unimplemented, method)
}

const clientsIssuer = "https://id.example"

// clientsConn answers unary calls with handle, a stand-in for the registry.
type clientsConn struct {
	handle func(ctx context.Context, method string, req any) (proto.Message, error)
}

func (f clientsConn) Invoke(ctx context.Context, method string, args, reply any, _ ...grpc.CallOption) error {
	resp, err := f.handle(ctx, method, args)
	if err != nil {
		return err
	}
	proto.Merge(reply.(proto.Message), resp)
	return nil
}

func (clientsConn) NewStream(context.Context, *grpc.StreamDesc, string, ...grpc.CallOption) (grpc.ClientStream, error) {
	return nil, errors.New("no streams")
}

// clientsJar is a browser's cookies.
type clientsJar map[string]*http.Cookie

func (j clientsJar) do(c *Console, method, target string, body url.Values) *httptest.ResponseRecorder {
	var r *http.Request
	if body != nil {
		r = httptest.NewRequest(method, clientsIssuer+target, strings.NewReader(body.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		r = httptest.NewRequest(method, clientsIssuer+target, nil)
	}
	for _, ck := range j {
		r.AddCookie(ck)
	}
	w := httptest.NewRecorder()
	c.ServeHTTP(w, r)
	return w
}

// signedIn is a console over store with a session cookie of a system administrator of t-acme.
func signedIn(t testing.TB, store *clientStore) (*Console, clientsJar, string) {
	t.Helper()
	conn := clientsConn{handle: store.handle}
	c, err := New(Config{PublicURL: clientsIssuer, Secret: "test secret", Secure: true, Registry: conn, Token: conn})
	if err != nil {
		t.Fatal(err)
	}
	s := Session{AccessToken: "at-1", Expiry: time.Now().Add(time.Hour), Subject: "u-1", TenantID: "t-acme", TenantCode: "acme", System: true, CSRF: "csrf-1"}
	sealed, err := c.sessions.seal(&s)
	if err != nil {
		t.Fatal(err)
	}
	return c, clientsJar{"__Host-" + sessionCookieName: {Name: "__Host-" + sessionCookieName, Value: sealed}}, s.CSRF
}

func manyClients(n int) []*registryv1.Client {
	out := make([]*registryv1.Client, n)
	for i := range out {
		out[i] = &registryv1.Client{ClientId: fmt.Sprintf("client-%05d", i), ClientName: fmt.Sprintf("Service %d", i),
			AllowedGrantTypes: []string{"client_credentials"}, TokenEndpointAuthMethod: "client_secret_basic"}
	}
	return out
}

func TestClientsListPagesAndFilters(t *testing.T) {
	store := &clientStore{clients: manyClients(120)}
	c, j, _ := signedIn(t, store)
	resp := j.do(c, "GET", "/console/clients", nil)
	if resp.Code != http.StatusSeeOther || resp.Header().Get("Location") != "/console/clients/t-acme" {
		t.Fatalf("/console/clients: %d %s", resp.Code, resp.Header().Get("Location"))
	}
	resp = j.do(c, "GET", "/console/clients/t-acme", nil)
	body := resp.Body.String()
	if resp.Code != 200 || strings.Count(body, `<tr><td><a href="/console/clients/t-acme/`) != DefaultPageSize ||
		!strings.Contains(body, `href="/console/clients/t-acme?page=client-00049"`) {
		t.Fatalf("first page: %d\n%s", resp.Code, body)
	}
	resp = j.do(c, "GET", "/console/clients/t-acme?q=service+11", nil)
	body = resp.Body.String()
	// "Service 11" and "Service 110" … "Service 119".
	if n := strings.Count(body, `<tr><td><a href=`); n != 11 {
		t.Fatalf("filtered: %d rows\n%s", n, body)
	}
	if resp := j.do(c, "GET", "/console/clients/t-other", nil); resp.Code != http.StatusForbidden {
		t.Fatalf("another tenant: %d", resp.Code)
	}
}

func TestClientFormKeepsInputAndShowsAPIMessages(t *testing.T) {
	store := &clientStore{clients: manyClients(1), refuse: apierror.Invalid("redirectUris[1]", "must not have a fragment")}
	c, j, csrf := signedIn(t, store)
	form := url.Values{"csrf": {csrf}, "clientId": {"web-1"}, "clientName": {"Web <one>"}, "allowedGrantTypes": {"authorization_code"},
		"requireClientSecret": {"1"}, "redirectUris": {"https://a.example/cb\nhttps://a.example/cb#x"}}
	resp := j.do(c, "POST", "/console/clients/t-acme/~new", form)
	body := resp.Body.String()
	if resp.Code != http.StatusBadRequest || !strings.Contains(body, `<p class="field-error" id="e-redirectUris">entry 2: must not have a fragment</p>`) ||
		!strings.Contains(body, "https://a.example/cb#x</textarea>") || !strings.Contains(body, `value="Web &lt;one&gt;"`) {
		t.Fatalf("refused create: %d\n%s", resp.Code, body)
	}
	// What the console cannot read is marked without a call.
	store.refuse = nil
	form.Set("jwks", "{not json")
	form.Set("claims", "role")
	resp = j.do(c, "POST", "/console/clients/t-acme/~new", form)
	body = resp.Body.String()
	if resp.Code != http.StatusBadRequest || !strings.Contains(body, `id="e-jwks"`) || !strings.Contains(body, `id="e-claims">entry 1: want name=value`) {
		t.Fatalf("unreadable fields: %d\n%s", resp.Code, body)
	}
	if slices.Contains(store.calls, "CreateClient") != true {
		t.Fatal("the first create was not sent to the API")
	}
	form.Del("jwks")
	form.Set("claims", "role=reader")
	resp = j.do(c, "POST", "/console/clients/t-acme/~new", form)
	if resp.Code != http.StatusSeeOther || resp.Header().Get("Location") != "/console/clients/t-acme/web-1" {
		t.Fatalf("create: %d %s", resp.Code, resp.Body)
	}
	resp = j.do(c, "GET", "/console/clients/t-acme/web-1", nil)
	if resp.Code != 200 || !strings.Contains(resp.Body.String(), "role=reader</textarea>") {
		t.Fatalf("client page: %d\n%s", resp.Code, resp.Body)
	}
}

func TestSecretValueOnlyInTheCreatingResponse(t *testing.T) {
	store := &clientStore{clients: manyClients(1), secrets: map[string][]*registryv1.ClientSecret{}}
	c, j, csrf := signedIn(t, store)
	page := j.do(c, "GET", "/console/clients/t-acme/client-00000/secrets", nil).Body.String()
	_, rest, _ := strings.Cut(page, `name="state" value="`)
	state, _, _ := strings.Cut(rest, `"`)
	form := url.Values{"csrf": {csrf}, "description": {"ci"}, "state": {state}}
	resp := j.do(c, "POST", "/console/clients/t-acme/client-00000/secrets", form)
	if resp.Code != http.StatusCreated || !strings.Contains(resp.Body.String(), `<code id="secret-value">s3cr3t-value-only-once</code>`) ||
		resp.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("create secret: %d %v\n%s", resp.Code, resp.Header(), resp.Body)
	}
	for _, ck := range resp.Result().Cookies() {
		if strings.Contains(ck.Value, "s3cr3t") {
			t.Fatal("the value is in a cookie")
		}
	}
	// The same form again (a reload of the answer): refused, no second secret, no value.
	resp = j.do(c, "POST", "/console/clients/t-acme/client-00000/secrets", form)
	if resp.Code != http.StatusConflict || strings.Contains(resp.Body.String(), "s3cr3t-value") || len(store.secrets["client-00000"]) != 1 {
		t.Fatalf("form sent twice: %d, %d secrets\n%s", resp.Code, len(store.secrets["client-00000"]), resp.Body)
	}
	resp = j.do(c, "GET", "/console/clients/t-acme/client-00000/secrets", nil)
	if resp.Code != 200 || strings.Contains(resp.Body.String(), "s3cr3t-value") || !strings.Contains(resp.Body.String(), "s3c…") {
		t.Fatalf("secrets after create: %d\n%s", resp.Code, resp.Body)
	}
	_, rest, _ = strings.Cut(resp.Body.String(), `name="state" value="`)
	state, _, _ = strings.Cut(rest, `"`)
	resp = j.do(c, "POST", "/console/clients/t-acme/client-00000/secrets", url.Values{"csrf": {csrf}, "expiration": {"tomorrow"}, "state": {state}})
	if resp.Code != http.StatusBadRequest || !strings.Contains(resp.Body.String(), `id="e-expiration"`) {
		t.Fatalf("bad date: %d\n%s", resp.Code, resp.Body)
	}
}

func TestClientFormRoundTrip(t *testing.T) {
	in := &registryv1.Client{ClientId: "svc", ClientName: "Svc", AllowedGrantTypes: []string{"client_credentials"},
		TokenEndpointAuthMethod: "private_key_jwt", RequireClientSecret: proto.Bool(true), AllowRememberConsent: proto.Bool(false),
		BackChannelLogoutSessionRequired: proto.Bool(true), RedirectUris: []string{"https://a/cb", "https://b/cb"},
		AllowedScopes: []string{"read"}, JwksUri: "https://svc.example/jwks", Claims: map[string]string{"role": "a=b", "tier": "gold"},
		ClaimMappings:   []*registryv1.ClaimMapping{{UserAttribute: "dept", Claim: "department", Scope: "profile"}, {UserAttribute: "x", Claim: "y"}},
		ServesResources: []string{"https://api.example"}, AccessTokenLifetime: proto.Int32(300), TlsClientCertificateBoundAccessTokens: true}
	v := url.Values{}
	f := formOfClient(in)
	v.Set("clientId", f.ID)
	v.Set("clientName", f.Name)
	v["allowedGrantTypes"] = f.GrantTypes
	v.Set("tokenEndpointAuthMethod", f.AuthMethod)
	v.Set("requireClientSecret", "1")
	v.Set("backChannelLogoutSessionRequired", "1")
	v.Set("tlsClientCertificateBoundAccessTokens", "1")
	v.Set("redirectUris", f.RedirectURIs+"\n\n")
	v.Set("allowedScopes", f.Scopes)
	v.Set("jwksUri", f.JWKSURI)
	v.Set("claims", f.Claims)
	v.Set("claimMappings", f.Mappings)
	v.Set("servesResources", f.ServesResources)
	v.Set("accessTokenLifetime", f.AccessLifetime)
	out, bad := clientFormOf(v).client()
	if len(bad) > 0 || !proto.Equal(in, out) {
		t.Fatalf("round trip: %v\n in %v\nout %v", bad, in, out)
	}
}

func TestGroupFieldErrors(t *testing.T) {
	got := groupFieldErrors(map[string]string{"redirectUris[1]": "bad", "claims.sub": "reserved", "claimMappings[0].claim": "reserved",
		"allowedGrantTypes[0]": "client_credentials requires a secret", "clientName": "too long", "jwks.keys[0].kty": "unknown"})
	want := map[string]string{"redirectUris[1]": "bad", "redirectUris": "entry 2: bad", "claims.sub": "reserved", "claims": "sub: reserved",
		"claimMappings[0].claim": "reserved", "claimMappings": "entry 1, claim: reserved", "allowedGrantTypes[0]": "client_credentials requires a secret",
		"allowedGrantTypes": "client_credentials requires a secret", "clientName": "too long", "jwks.keys[0].kty": "unknown", "jwks": "keys[0].kty: unknown"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v", got)
	}
}

// FuzzClientFormText: the textarea readers never panic, and what they read is written back to text that
// reads the same (the form shows a stored client as it would send it).
func FuzzClientFormText(f *testing.F) {
	for _, s := range []string{"", "a=b", "a=b\nc=d=e", " k = v \n\n", "=x", "attr=claim scope", "a=b c d", "x\r\ny", "{\"keys\":[]}", "[1]", "12", "-1", "99999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if lines, err := parseLines(s); err == nil {
			again, _ := parseLines(joinLines(lines))
			if !slices.Equal(lines, again) {
				t.Fatalf("lines %q → %q", lines, again)
			}
		}
		if m, err := parseClaims(s); err == nil {
			again, err := parseClaims(formatClaims(m))
			if err != nil || (len(m) > 0 && !reflect.DeepEqual(m, again)) {
				t.Fatalf("claims %q → %q, %v", m, again, err)
			}
		}
		if ms, err := parseMappings(s); err == nil {
			again, err := parseMappings(formatMappings(ms))
			if err != nil || len(again) != len(ms) {
				t.Fatalf("mappings %v → %v, %v", ms, again, err)
			}
			for i := range ms {
				if !proto.Equal(ms[i], again[i]) {
					t.Fatalf("mapping %v → %v", ms[i], again[i])
				}
			}
		}
		if j, err := parseJWKS(s); err == nil && j != nil && strings.TrimSpace(s) == "" {
			t.Fatal("blank JWKS read as a set")
		}
		if n, err := parseSeconds(s); err == nil && n != nil {
			if again, err := parseSeconds(fmt.Sprint(*n)); err != nil || *again != *n {
				t.Fatalf("seconds %q → %d → %v, %v", s, *n, again, err)
			}
		}
		_ = groupFieldErrors(map[string]string{s: "m"})
	})
}

// BenchmarkClientsList10000 renders the clients list of a tenant with 10,000 clients: the first page, a
// later page, and a filter that matches one client near the end (the fake filters as the API does).
func BenchmarkClientsList10000(b *testing.B) {
	store := &clientStore{clients: manyClients(10000)}
	c, j, _ := signedIn(b, store)
	for _, tc := range []struct{ name, path string }{
		{"first", "/console/clients/t-acme"},
		{"page", "/console/clients/t-acme?page=client-05000"},
		{"filter", "/console/clients/t-acme?q=service+9999"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				r := httptest.NewRequest("GET", clientsIssuer+tc.path, nil)
				for _, ck := range j {
					r.AddCookie(ck)
				}
				w := httptest.NewRecorder()
				c.ServeHTTP(w, r)
				if w.Code != 200 {
					b.Fatal(w.Code)
				}
			}
		})
	}
}
