package server_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	providerv1 "github.com/authsuite/authsuite/gen/authsuite/provider/v1"
	"github.com/authsuite/authsuite/internal/access"
	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/internal/bearer"
	"github.com/authsuite/authsuite/internal/grpctest"
	"github.com/authsuite/authsuite/internal/suitekey"
	"github.com/authsuite/authsuite/services/gateway"
	"github.com/authsuite/authsuite/services/provider"
	"github.com/authsuite/authsuite/services/provider/bboltstore"
	"github.com/authsuite/authsuite/services/provider/server"
)

const publicURL = "https://flow.example.com"

// fakeAuth is a bearer.Authenticator over a fixed table of tokens.
type fakeAuth map[string]bearer.TokenInfo

func (f fakeAuth) Authenticate(_ context.Context, tok string) (bearer.TokenInfo, error) {
	if ti, ok := f[tok]; ok {
		return ti, nil
	}
	return bearer.TokenInfo{}, apierror.Unauthenticated("invalid or expired access token")
}

var tokens = fakeAuth{
	"sys-admin":    {ClientID: "admin", TenantID: access.SystemTenant, Scopes: []string{access.ScopeAdminAPI}},
	"tenant-admin": {ClientID: "t2admin", TenantID: "t2", Scopes: []string{access.ScopeAdminAPI}},
	"alice":        {ClientID: "app", TenantID: access.SystemTenant, UserID: "alice", Scopes: []string{"openid"}},
	"bob":          {ClientID: "app", TenantID: access.SystemTenant, UserID: "bob", Scopes: []string{"openid"}},
	"carol-t2":     {ClientID: "app", TenantID: "t2", UserID: "carol", Scopes: []string{"openid"}},
}

// clock is an injectable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fakeProvider is a minimal RFC 6749 authorization server: /authorize redirects back with a code,
// /token exchanges codes (checking redirect_uri, PKCE S256 and HTTP Basic client auth) and refresh tokens
// (rotating them), /validate checks the configured headers, /revoke records revocations.
type fakeProvider struct {
	*httptest.Server
	clock     *clock
	mu        sync.Mutex
	codes     map[string]codeInfo
	access    map[string]time.Time // live access tokens → expiry
	refresh   map[string]bool      // live refresh tokens
	n         int
	refreshes atomic.Int32
	revoked   []string
	release   chan struct{} // when not nil, refresh answers wait for it
	refuse    atomic.Bool   // refresh answers invalid_grant (after waiting for release)
}

type codeInfo struct {
	redirect, challenge string
}

const fakeClientID, fakeSecret = "client-1", "s3cret:&=/"

func newFakeProvider(t testing.TB, c *clock) *fakeProvider {
	f := &fakeProvider{clock: c, codes: map[string]codeInfo{}, access: map[string]time.Time{}, refresh: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("response_type") != "code" || q.Get("client_id") != fakeClientID || q.Get("code_challenge_method") != "S256" || q.Get("state") == "" {
			http.Error(w, "bad authorization request", 400)
			return
		}
		f.mu.Lock()
		f.n++
		code := fmt.Sprintf("code-%d", f.n)
		f.codes[code] = codeInfo{redirect: q.Get("redirect_uri"), challenge: q.Get("code_challenge")}
		f.mu.Unlock()
		http.Redirect(w, r, q.Get("redirect_uri")+"?"+url.Values{"code": {code}, "state": {q.Get("state")}}.Encode(), http.StatusFound)
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		id, secret, ok := r.BasicAuth()
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
		if !ok || id != fakeClientID || secret != fakeSecret {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(401)
			io.WriteString(w, `{"error":"invalid_client"}`)
			return
		}
		r.ParseForm()
		f.mu.Lock()
		defer f.mu.Unlock()
		switch r.PostForm.Get("grant_type") {
		case "authorization_code":
			ci, ok := f.codes[r.PostForm.Get("code")]
			delete(f.codes, r.PostForm.Get("code"))
			sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
			if !ok || ci.redirect != r.PostForm.Get("redirect_uri") || base64.RawURLEncoding.EncodeToString(sum[:]) != ci.challenge {
				tokenError(w, "invalid_grant")
				return
			}
		case "refresh_token":
			if !f.refresh[r.PostForm.Get("refresh_token")] {
				tokenError(w, "invalid_grant")
				return
			}
			delete(f.refresh, r.PostForm.Get("refresh_token"))
			f.refreshes.Add(1)
			if f.release != nil {
				f.mu.Unlock()
				<-f.release
				f.mu.Lock()
			}
			if f.refuse.Load() {
				tokenError(w, "invalid_grant")
				return
			}
		default:
			tokenError(w, "unsupported_grant_type")
			return
		}
		f.n++
		at, rt := fmt.Sprintf("at-%d", f.n), fmt.Sprintf("rt-%d", f.n)
		f.access[at] = f.clock.Now().Add(time.Hour)
		f.refresh[rt] = true
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","expires_in":3600,"refresh_token":%q,"scope":"READ_PRIVILEGES"}`, at, rt)
	})
	mux.HandleFunc("GET /validate", func(w http.ResponseWriter, r *http.Request) {
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		f.mu.Lock()
		exp, ok := f.access[tok]
		f.mu.Unlock()
		if !ok || r.Header.Get("Content-Type") != "application/json" || f.clock.Now().After(exp) {
			w.WriteHeader(401)
			return
		}
		io.WriteString(w, `{"active":true}`)
	})
	mux.HandleFunc("POST /revoke", func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		f.mu.Lock()
		f.revoked = append(f.revoked, r.PostForm.Get("token"))
		delete(f.refresh, r.PostForm.Get("token"))
		f.mu.Unlock()
	})
	f.Server = httptest.NewServer(mux)
	t.Cleanup(f.Close)
	return f
}

func tokenError(w http.ResponseWriter, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(400)
	fmt.Fprintf(w, `{"error":%q}`, code)
}

// env is one provider service on loopback gRPC with the REST gateway in front of it.
type env struct {
	t        *testing.T
	srv      *server.Server
	conn     *grpc.ClientConn
	config   providerv1.ProviderConfigServiceClient
	conns    providerv1.ConnectorServiceClient
	internal providerv1.ProviderInternalServiceClient
	gw       *httptest.Server
	clock    *clock
	fake     *fakeProvider
	trello   *fakeTrello
	store    provider.Store
}

// newEnv is one provider service on a fresh bbolt store, in front of a fresh fake provider.
func newEnv(t testing.TB) *env {
	st, err := bboltstore.Open(filepath.Join(t.TempDir(), "provider.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return newUpstream(t).serve(t, st, 0)
}

// upstream is what replicas of the provider service share besides their store: the clock, the fake
// third parties, the suite's keyring and the catalog pointing at the fakes.
type upstream struct {
	clock  *clock
	fake   *fakeProvider
	trello *fakeTrello
	keys   *suitekey.Keyring
	cat    provider.Catalog
}

func newUpstream(t testing.TB) *upstream {
	c := &clock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	fake := newFakeProvider(t, c)
	trello := newFakeTrello(t, c)
	keys, err := suitekey.New(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	cat := provider.DefaultCatalog()
	od := cat["odata"]
	od.RevokeURL = fake.URL + "/revoke" // odata has no revocation endpoint; the fake does
	cat["odata"] = od
	tr := cat["trello"]
	tr.RequestTokenURL = trello.URL + "/1/OAuthGetRequestToken"
	tr.AuthURL = trello.URL + "/1/OAuthAuthorizeToken"
	tr.TokenURL = trello.URL + "/1/OAuthGetAccessToken"
	cat["trello"] = tr
	return &upstream{clock: c, fake: fake, trello: trello, keys: keys, cat: cat}
}

// serve starts one replica of the provider service on st (lease 0: the default refresh lease), following
// the store (Run) until the test ends, and returns once the replica follows it.
func (u *upstream) serve(t testing.TB, st provider.Store, lease time.Duration) *env {
	tt, _ := t.(*testing.T)
	srv := server.New(server.Deps{Store: st, Keyring: u.keys, Auth: tokens, Directory: directory, Sessions: fakeSessions{}, PublicURL: publicURL, Catalog: u.cat,
		HTTPClient: u.fake.Client(), Now: u.clock.Now, Log: slog.New(slog.DiscardHandler), RefreshLease: lease})
	ctx, stop := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { defer close(ran); srv.Run(ctx) }()
	t.Cleanup(func() { stop(); <-ran })
	if err := srv.WaitApplied(ctx, 0); err != nil {
		t.Fatal(err)
	}
	cred := u.keys.InternalCredential()
	addr := grpctest.Serve(t, cred, srv.Register)
	conn := grpctest.Dial(t, addr, cred)
	g, err := gateway.New(context.Background(), gateway.Backends{Registry: conn, Token: conn, Provider: conn}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	gw := httptest.NewServer(g)
	t.Cleanup(gw.Close)
	return &env{t: tt, srv: srv, conn: conn, config: providerv1.NewProviderConfigServiceClient(conn),
		conns: providerv1.NewConnectorServiceClient(conn), internal: providerv1.NewProviderInternalServiceClient(conn),
		gw: gw, clock: u.clock, fake: u.fake, trello: u.trello, store: st}
}

func as(tok string) context.Context {
	return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+tok)
}

// rest calls the gateway and returns status and body.
func (e *env) rest(t testing.TB, method, path, tok, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, e.gw.URL+path, strings.NewReader(body))
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// odataConfig is a provider pointing at the fake, with the validate headers and scope list of ThingWorx Flow's odata example.
func (e *env) odataConfig(name string) string {
	return fmt.Sprintf(`{"oauthConfigurations": {"odata": {%q: {
"CLIENT_ID": %q, "CLIENT_SECRET": %q,
"AUTH_URL": "%s/authorize", "TOKEN_URL": "%s/token", "REFRESH_URL": "%s/token", "VALIDATE_URL": "%s/validate",
"oauth2_validate_headers": ["{\"Authorization\":\"Bearer {access_token}\"}", "{\"Content-Type\":\"application/json\"}"],
"oauth2_params_scope": ["{\"READ\":\"READ_PRIVILEGES\"}"]}}}}`, name, fakeClientID, fakeSecret, e.fake.URL, e.fake.URL, e.fake.URL, e.fake.URL)
}

const loadPath = "/Thingworx/Subsystems/WorkflowSubsystem/Services/LoadOAuthConfiguration"

func (e *env) mustLoad(t testing.TB, body string) {
	t.Helper()
	if code, b := e.rest(t, "POST", loadPath, "sys-admin", body); code != 200 {
		t.Fatalf("load = %d %s", code, b)
	}
}

// fakeSessions resolves the SSO session cookie "sess-<token name>" to that token's user and tenant.
type fakeSessions struct{}

func (fakeSessions) ResolveSession(_ context.Context, tenantID, cookie string) (string, bool, error) {
	name, ok := strings.CutPrefix(cookie, "sess-")
	ti, known := tokens[name]
	if !ok || !known || ti.UserID == "" || ti.TenantID != tenantID {
		return "", false, nil
	}
	return ti.UserID, true, nil
}

// session is the SSO session cookie of tok's user (none for a client's token).
func session(tok string) *http.Cookie {
	if tokens[tok].UserID == "" {
		return nil
	}
	return &http.Cookie{Name: gateway.SessionCookie, Value: "sess-" + tok}
}

// visit GETs u (a public URL is sent to the gateway instead) with the cookies, without following redirects.
func (e *env) visit(t testing.TB, u string, cookies ...*http.Cookie) *http.Response {
	t.Helper()
	if strings.HasPrefix(u, publicURL) {
		u = e.gw.URL + strings.TrimPrefix(u, publicURL)
	}
	req, err := http.NewRequest("GET", u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cookies {
		if c != nil {
			req.AddCookie(c)
		}
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Header.Set("X-Body", string(b))
	return resp
}

// page is visit's status and body.
func (e *env) page(t testing.TB, u string, cookies ...*http.Cookie) (int, string) {
	t.Helper()
	resp := e.visit(t, u, cookies...)
	return resp.StatusCode, resp.Header.Get("X-Body")
}

// create creates a connector as tok and returns its id and authorizationUrl (authsuite's start URL).
func (e *env) create(t testing.TB, tok, body string) (string, string) {
	t.Helper()
	code, b := e.rest(t, "POST", "/api/provider/v1/connectors", tok, body)
	if code != 201 {
		t.Fatalf("create connector = %d %s", code, b)
	}
	var id, authURL string
	mustJSON(t, b, &struct {
		ConnectorID      *string `json:"connectorId"`
		AuthorizationURL *string `json:"authorizationUrl"`
	}{&id, &authURL})
	if !strings.HasPrefix(authURL, publicURL+"/api/provider/v1/connectors/"+id+"/start") {
		t.Fatalf("authorizationUrl %s is not the start URL", authURL)
	}
	return id, authURL
}

// start opens authURL in the browser of tok's user (with its session cookie) and returns the provider URL
// it is redirected to and the binding cookie it gets, checking the cookie's attributes.
func (e *env) start(t testing.TB, tok, authURL string) (string, *http.Cookie) {
	t.Helper()
	resp := e.visit(t, authURL, session(tok))
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("start = %d %s", resp.StatusCode, resp.Header.Get("X-Body"))
	}
	var binding *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == server.SecureBindingCookie {
			binding = c
		}
	}
	if binding == nil || !binding.HttpOnly || !binding.Secure || binding.SameSite != http.SameSiteLaxMode ||
		binding.Path != server.ReturnPath || binding.MaxAge != int(server.StateTTL/time.Second) || len(binding.Value) != 43 {
		t.Fatalf("binding cookie %+v (Set-Cookie %q)", binding, resp.Header.Values("Set-Cookie"))
	}
	return resp.Header.Get("Location"), &http.Cookie{Name: binding.Name, Value: binding.Value}
}

// begin creates a connector as tok and starts it in tok's browser: connector id, provider URL, binding.
func (e *env) begin(t testing.TB, tok, body string) (string, string, *http.Cookie) {
	t.Helper()
	id, authURL := e.create(t, tok, body)
	to, binding := e.start(t, tok, authURL)
	return id, to, binding
}

// atProvider lets the (fake) provider answer the authorization request at providerURL and returns the
// return URL it redirects the browser to.
func (e *env) atProvider(t testing.TB, providerURL string) string {
	t.Helper()
	resp, err := noRedirect.Get(providerURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if !strings.HasPrefix(loc, publicURL+server.ReturnPath+"?") {
		t.Fatalf("provider redirected to %q (status %d)", loc, resp.StatusCode)
	}
	return loc
}

// authorize creates a connector and walks tok's browser through the start step and the fake provider back
// to the gateway's return URL; it returns the connector id and the return URL's response (its URL in the
// X-Return-URL header).
func (e *env) authorize(t testing.TB, tok, body string) (string, *http.Response) {
	t.Helper()
	id, to, binding := e.begin(t, tok, body)
	back := e.atProvider(t, to)
	resp := e.visit(t, back, binding, session(tok))
	resp.Header.Set("X-Return-URL", back)
	return id, resp
}
