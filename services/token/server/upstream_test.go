package server

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/apistatus"
	"github.com/authsuite/authsuite/internal/grpctest"
	"github.com/authsuite/authsuite/internal/suitekey"
)

// upstreamFactors is a fake registry FactorInternalService for the upstream tests: the tenant's settings
// and a LinkFederatedIdentity that links every subject to alice, or fails with linkErr.
type upstreamFactors struct {
	registryv1.UnimplementedFactorInternalServiceServer
	mu        sync.Mutex
	providers []*registryv1.UpstreamProvider
	policy    *registryv1.MfaPolicy
	linkErr   error
	links     []*registryv1.LinkFederatedIdentityRequest
}

func (f *upstreamFactors) GetSignInSettings(_ context.Context, req *registryv1.GetSignInSettingsRequest) (*registryv1.GetSignInSettingsResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := defaultSignInSettings(req.GetTenantId())
	st.UpstreamProviders = f.providers
	if f.policy != nil {
		st.MfaPolicy = f.policy
	}
	return &registryv1.GetSignInSettingsResponse{Settings: st}, nil
}

func (f *upstreamFactors) LinkFederatedIdentity(_ context.Context, req *registryv1.LinkFederatedIdentityRequest) (*registryv1.LinkFederatedIdentityResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.links = append(f.links, req)
	if f.linkErr != nil {
		return nil, f.linkErr
	}
	return &registryv1.LinkFederatedIdentityResponse{User: &registryv1.User{UserId: "u-alice", TenantId: "t-acme", LoginName: "alice"}, Linked: len(f.links) == 1}, nil
}

// GetFactors: alice has TOTP.
func (f *upstreamFactors) GetFactors(_ context.Context, req *registryv1.GetFactorsRequest) (*registryv1.GetFactorsResponse, error) {
	if req.GetUserId() != "u-alice" {
		return nil, status.Error(codes.NotFound, "no such user")
	}
	return &registryv1.GetFactorsResponse{User: &registryv1.User{UserId: "u-alice", TenantId: "t-acme", LoginName: "alice"}, TotpEnrolled: true}, nil
}

// testOP is an OpenID provider on loopback: discovery, an authorization endpoint the test calls itself
// (authorize), a token endpoint that checks client_secret_basic and PKCE, JWKS and userinfo.
type testOP struct {
	t      *testing.T
	srv    *httptest.Server
	key    *ecdsa.PrivateKey
	now    func() time.Time
	secret string

	mu    sync.Mutex
	codes map[string]url.Values // code → the authorization request
	// tamper, when set, changes the ID token claims before signing.
	tamper func(map[string]any)
	// issParam is announced as authorization_response_iss_parameter_supported.
	issParam bool
	// tokenCalls counts token requests.
	tokenCalls int
	// state is the last authorization request's state.
	state string
}

func (op *testOP) lastState() string {
	op.mu.Lock()
	defer op.mu.Unlock()
	return op.state
}

func newTestOP(t *testing.T, now func() time.Time) *testOP {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	op := &testOP{t: t, key: key, now: now, secret: "up-secret", codes: map[string]url.Values{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{
			"issuer": op.srv.URL, "authorization_endpoint": op.srv.URL + "/authorize", "token_endpoint": op.srv.URL + "/token",
			"jwks_uri": op.srv.URL + "/jwks", "userinfo_endpoint": op.srv.URL + "/userinfo",
			"id_token_signing_alg_values_supported":          []string{"ES256"},
			"authorization_response_iss_parameter_supported": op.issParam,
		})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	})
	mux.HandleFunc("POST /token", op.token)
	mux.HandleFunc("GET /userinfo", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer at-1" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"sub": "up-sub-1", "email": "alice@up.example", "email_verified": true,
			"preferred_username": "alice.up", "name": "Alice Up"})
	})
	op.srv = httptest.NewServer(mux)
	t.Cleanup(op.srv.Close)
	return op
}

// authorize plays the provider's authorization endpoint for the redirect StartUpstream answered: it checks
// the request and answers the callback query (code, state, iss).
func (op *testOP) authorize(redirect string) url.Values {
	op.t.Helper()
	u, err := url.Parse(redirect)
	if err != nil || u.Scheme+"://"+u.Host+u.Path != op.srv.URL+"/authorize" {
		op.t.Fatalf("redirect %q is not the authorization endpoint", redirect)
	}
	q := u.Query()
	for k, want := range map[string]string{"response_type": "code", "client_id": "authsuite-at-up",
		"redirect_uri": testIssuer + "/connect/upstream/callback", "code_challenge_method": "S256"} {
		if q.Get(k) != want {
			op.t.Fatalf("authorization request %s = %q, want %q", k, q.Get(k), want)
		}
	}
	if !slices.Contains(strings.Fields(q.Get("scope")), "openid") || q.Get("nonce") == "" || len(q.Get("code_challenge")) != 43 || !validUpstreamState(q.Get("state")) {
		op.t.Fatalf("authorization request %v", q)
	}
	code := newSecret()
	op.mu.Lock()
	op.codes[code] = q
	op.state = q.Get("state")
	op.mu.Unlock()
	return url.Values{"code": {code}, "state": {q.Get("state")}, "iss": {op.srv.URL}}
}

func (op *testOP) token(w http.ResponseWriter, r *http.Request) {
	op.mu.Lock()
	defer op.mu.Unlock()
	op.tokenCalls++
	id, secret, ok := r.BasicAuth()
	if !ok || id != "authsuite-at-up" || secret != op.secret {
		w.WriteHeader(http.StatusUnauthorized)
		json.NewEncoder(w).Encode(map[string]string{"error": "invalid_client"})
		return
	}
	r.ParseForm()
	q, ok := op.codes[r.PostForm.Get("code")]
	delete(op.codes, r.PostForm.Get("code"))
	h := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	if !ok || r.PostForm.Get("grant_type") != "authorization_code" || r.PostForm.Get("redirect_uri") != q.Get("redirect_uri") ||
		base64.RawURLEncoding.EncodeToString(h[:]) != q.Get("code_challenge") {
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]string{"error": "invalid_grant"})
		return
	}
	now := op.now()
	claims := map[string]any{"iss": op.srv.URL, "sub": "up-sub-1", "aud": "authsuite-at-up", "exp": now.Add(5 * time.Minute).Unix(),
		"iat": now.Unix(), "nonce": q.Get("nonce"), "auth_time": now.Add(-time.Minute).Unix()}
	if op.tamper != nil {
		op.tamper(claims)
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"access_token": "at-1", "token_type": "Bearer", "expires_in": 300, "id_token": op.sign(claims)})
}

func (op *testOP) sign(claims map[string]any) string {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: op.key}, (&jose.SignerOptions{}).WithHeader("kid", "k1").WithType("JWT"))
	if err != nil {
		op.t.Fatal(err)
	}
	b, _ := json.Marshal(claims)
	jws, err := signer.Sign(b)
	if err != nil {
		op.t.Fatal(err)
	}
	s, _ := jws.CompactSerialize()
	return s
}

type upstreamEnv struct {
	e       *env
	az      tokenv1.AuthorizeServiceClient
	op      *testOP
	factors *upstreamFactors
}

func newUpstreamEnv(t *testing.T) *upstreamEnv {
	f := &upstreamFactors{}
	// newEnv's keyring is made from 32 zero bytes: the fake registry accepts its internal credential.
	kr, err := suitekey.New(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	addr := grpctest.Serve(t, kr.InternalCredential(), func(s grpc.ServiceRegistrar) { registryv1.RegisterFactorInternalServiceServer(s, f) })
	ue := upstreamEnv{factors: f}
	ue.e = newEnv(t, func(d *Deps) {
		d.SessionLifetime = time.Hour
		d.Factors = registryv1.NewFactorInternalServiceClient(grpctest.Dial(t, addr, kr.InternalCredential()))
	})
	r := ue.e.reg.record("web", "t-acme", []string{GrantAuthorizationCode}, []string{"openid", "profile"}, 3600)
	r.Client.RedirectUris = []string{webCallback}
	r.Client.RequireClientSecret = new(false)
	ue.e.reg.put(r)
	ue.e.reg.mu.Lock()
	ue.e.reg.users = append(ue.e.reg.users, &registryv1.User{UserId: "u-alice", TenantId: "t-acme", LoginName: "alice"})
	ue.e.reg.mu.Unlock()
	ue.e.awaitRegistry()
	ue.az = tokenv1.NewAuthorizeServiceClient(ue.e.browserConn)
	ue.op = newTestOP(t, ue.e.clock.Now)
	f.providers = []*registryv1.UpstreamProvider{{ProviderId: "up", DisplayName: "Upstream", Issuer: ue.op.srv.URL,
		ClientId: "authsuite-at-up", ClientSecret: new(ue.op.secret)}}
	return &ue
}

// start shows the login page and clicks the provider's button: the redirect and the binding cookie.
func (ue *upstreamEnv) start(t *testing.T, extra ...string) (string, string) {
	t.Helper()
	ctx := context.Background()
	a, err := ue.az.Authorize(ctx, &tokenv1.AuthorizeRequest{Parameters: authorizeParams(extra...)})
	if err != nil || a.GetStep().GetLogin() == nil {
		t.Fatalf("authorize: %v, %v", a, err)
	}
	s, err := ue.az.StartUpstream(ctx, &tokenv1.StartUpstreamRequest{InteractionId: a.GetStep().GetLogin().GetInteractionId(), ProviderId: "up"})
	if err != nil || s.GetStep().GetRedirectUri() == "" || s.GetBindingCookie() == "" {
		t.Fatalf("start upstream: %v, %v", s, err)
	}
	return s.GetStep().GetRedirectUri(), s.GetBindingCookie()
}

func (ue *upstreamEnv) callback(q url.Values, binding string) (*tokenv1.UpstreamCallbackResponse, error) {
	return ue.az.UpstreamCallback(context.Background(), &tokenv1.UpstreamCallbackRequest{Parameters: q.Encode(), BindingCookie: binding,
		Browser: &tokenv1.Browser{RemoteAddr: "192.0.2.7"}})
}

// TestUpstreamSignIn: the whole round trip. The provider is asked with PKCE S256, a nonce, the scopes and
// the login_hint; the code is redeemed with client_secret_basic and the verifier; the ID token's subject
// and the userinfo claims reach LinkFederatedIdentity; the client gets a code and the session has amr fed.
// The same callback again, even with its cookie, is refused.
func TestUpstreamSignIn(t *testing.T) {
	ue := newUpstreamEnv(t)
	to, binding := ue.start(t, "login_hint", "alice@up.example", "prompt", "login")
	u, _ := url.Parse(to)
	if u.Query().Get("login_hint") != "alice@up.example" || u.Query().Get("prompt") != "login" ||
		strings.Join(strings.Fields(u.Query().Get("scope")), " ") != "openid email profile" {
		t.Fatalf("authorization request %v", u.Query())
	}
	q := ue.op.authorize(to)
	r, err := ue.callback(q, binding)
	if err != nil || !strings.HasPrefix(r.GetStep().GetRedirectUri(), webCallback+"?") || r.GetStep().GetSetSessionCookie() == "" {
		t.Fatalf("callback: %v, %v", r, err)
	}
	back, _ := url.Parse(r.GetStep().GetRedirectUri())
	if back.Query().Get("code") == "" || back.Query().Get("state") != "s" || back.Query().Get("iss") != testIssuer {
		t.Fatalf("client callback %v", back.Query())
	}
	ue.factors.mu.Lock()
	link := ue.factors.links[0]
	ue.factors.mu.Unlock()
	if link.GetSubject() != "up-sub-1" || link.GetProviderId() != "up" || link.GetTenantId() != "t-acme" || link.GetEmail() != "alice@up.example" ||
		!link.GetEmailVerified() || link.GetLoginName() != "alice.up" || link.GetDisplayName() != "Alice Up" {
		t.Fatalf("link request %v", link)
	}
	sess, err := ue.e.st.Session(context.Background(), digest(r.GetStep().GetSetSessionCookie()))
	if err != nil || sess.UserID != "u-alice" || !slices.Equal(sess.AMR, []string{"fed"}) || sess.ACR != ACRPassword {
		t.Fatalf("session %+v, %v", sess, err)
	}
	// Used up: the same answer again is refused, and the provider is not asked again.
	if _, err := ue.callback(q, binding); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("replayed callback: %v", err)
	}
	if ue.op.tokenCalls != 1 {
		t.Fatalf("%d token requests", ue.op.tokenCalls)
	}
}

// TestUpstreamCallbackBinding: a callback without the browser's binding cookie, or with another, or with a
// forged or expired state, is refused, and a refused attempt does not use the state up.
func TestUpstreamCallbackBinding(t *testing.T) {
	ue := newUpstreamEnv(t)
	to, binding := ue.start(t)
	q := ue.op.authorize(to)
	for _, b := range []string{"", newSecret(), binding + "x"} {
		if _, err := ue.callback(q, b); status.Code(err) != codes.FailedPrecondition {
			t.Fatalf("binding %q: %v", b, err)
		}
	}
	forged := url.Values{"code": q["code"], "state": {newSecret()}, "iss": q["iss"]}
	if _, err := ue.callback(forged, binding); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("forged state: %v", err)
	}
	for _, bad := range []url.Values{{"code": q["code"]}, {"code": q["code"], "state": {"short"}}, {"state": q["state"]},
		{"code": q["code"], "state": {q.Get("state"), q.Get("state")}}} {
		if _, err := ue.callback(bad, binding); status.Code(err) != codes.InvalidArgument {
			t.Fatalf("malformed %v: %v", bad, err)
		}
	}
	if ue.op.tokenCalls != 0 {
		t.Fatalf("%d token requests for refused callbacks", ue.op.tokenCalls)
	}
	if r, err := ue.callback(q, binding); err != nil || r.GetStep().GetRedirectUri() == "" {
		t.Fatalf("the real callback after the refused ones: %v, %v", r, err)
	}
	// A round trip older than upstreamLifetime is over.
	to, binding = ue.start(t)
	q = ue.op.authorize(to)
	ue.e.clock.Advance(upstreamLifetime + time.Second)
	if _, err := ue.callback(q, binding); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("expired round trip: %v", err)
	}
}

// TestUpstreamConcurrentCallbacks: of concurrent callbacks with one state, exactly one signs in.
func TestUpstreamConcurrentCallbacks(t *testing.T) {
	ue := newUpstreamEnv(t)
	to, binding := ue.start(t)
	q := ue.op.authorize(to)
	const n = 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for range n {
		wg.Go(func() {
			if r, err := ue.callback(q, binding); err == nil && r.GetStep().GetSetSessionCookie() != "" {
				mu.Lock()
				ok++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if ok != 1 {
		t.Fatalf("%d of %d concurrent callbacks signed in", ok, n)
	}
}

// TestUpstreamRefusals: what the provider or the registry refuses ends on the login page with a message
// (or, for access_denied, at the client with access_denied), and never with a session.
func TestUpstreamRefusals(t *testing.T) {
	ue := newUpstreamEnv(t)
	loginAgain := func(what string, q url.Values, binding, key string) {
		t.Helper()
		r, err := ue.callback(q, binding)
		if err != nil || r.GetStep().GetLogin().GetErrorCode() != key || r.GetStep().GetSetSessionCookie() != "" ||
			!isSealedInteraction(r.GetStep().GetLogin().GetInteractionId()) {
			t.Fatalf("%s: %v, %v", what, r, err)
		}
	}
	cases := []struct {
		name   string
		tamper func(map[string]any)
	}{
		{"wrong nonce", func(c map[string]any) { c["nonce"] = "other" }},
		{"wrong audience", func(c map[string]any) { c["aud"] = "someone-else" }},
		{"wrong issuer", func(c map[string]any) { c["iss"] = "https://evil.example" }},
		{"expired", func(c map[string]any) { c["exp"] = ue.e.clock.Now().Add(-time.Minute).Unix() }},
		{"several audiences without azp", func(c map[string]any) { c["aud"] = []string{"authsuite-at-up", "other"} }},
		{"foreign azp", func(c map[string]any) { c["azp"] = "other" }},
		{"empty sub", func(c map[string]any) { c["sub"] = "" }},
	}
	for _, c := range cases {
		ue.op.mu.Lock()
		ue.op.tamper = c.tamper
		ue.op.mu.Unlock()
		to, binding := ue.start(t)
		loginAgain(c.name, ue.op.authorize(to), binding, upstreamErrFailed)
	}
	ue.op.mu.Lock()
	ue.op.tamper = nil
	ue.op.mu.Unlock()

	// max_age is passed on, and an auth_time older than it (or none) is refused.
	to, binding := ue.start(t, "max_age", "600")
	if u, _ := url.Parse(to); u.Query().Get("max_age") != "600" {
		t.Fatalf("max_age not passed on: %s", to)
	}
	if r, err := ue.callback(ue.op.authorize(to), binding); err != nil || r.GetStep().GetSetSessionCookie() == "" {
		t.Fatalf("recent auth_time: %v, %v", r, err)
	}
	for _, tamper := range []func(map[string]any){
		func(c map[string]any) { c["auth_time"] = ue.e.clock.Now().Add(-20 * time.Minute).Unix() },
		func(c map[string]any) { delete(c, "auth_time") },
	} {
		ue.op.mu.Lock()
		ue.op.tamper = tamper
		ue.op.mu.Unlock()
		to, binding := ue.start(t, "max_age", "600")
		loginAgain("auth_time", ue.op.authorize(to), binding, upstreamErrFailed)
	}
	ue.op.mu.Lock()
	ue.op.tamper = nil
	ue.op.mu.Unlock()

	// RFC 9207: an iss that is not the provider's.
	to, binding = ue.start(t)
	q := ue.op.authorize(to)
	q.Set("iss", "https://evil.example")
	loginAgain("mix-up", q, binding, upstreamErrFailed)
	// A wrong client secret: the token endpoint refuses.
	ue.factors.mu.Lock()
	ue.factors.providers[0].ClientSecret = new("wrong")
	ue.factors.mu.Unlock()
	ue.e.srv.settings.forget("t-acme")
	to, binding = ue.start(t)
	loginAgain("wrong secret", ue.op.authorize(to), binding, upstreamErrFailed)
	ue.factors.mu.Lock()
	ue.factors.providers[0].ClientSecret = new(ue.op.secret)
	ue.factors.mu.Unlock()
	ue.e.srv.settings.forget("t-acme")

	// The registry: a disabled user, nobody to link to.
	for _, c := range []struct {
		err error
		key string
	}{{status.Error(codes.PermissionDenied, "disabled"), upstreamErrDisabled}, {status.Error(codes.NotFound, "nobody"), upstreamErrNoAccount}} {
		ue.factors.mu.Lock()
		ue.factors.linkErr = c.err
		ue.factors.mu.Unlock()
		to, binding := ue.start(t)
		loginAgain(c.key, ue.op.authorize(to), binding, c.key)
	}
	ue.factors.mu.Lock()
	ue.factors.linkErr = nil
	ue.factors.mu.Unlock()

	// The person said no at the provider: the client hears access_denied (RFC 6749 §4.1.2.1).
	to, binding = ue.start(t)
	q = ue.op.authorize(to)
	r, err := ue.callback(url.Values{"error": {"access_denied"}, "state": q["state"], "iss": q["iss"]}, binding)
	back, _ := url.Parse(r.GetStep().GetRedirectUri())
	if err != nil || back.Query().Get("error") != "access_denied" || back.Query().Get("state") != "s" {
		t.Fatalf("access_denied: %v, %v", r, err)
	}
	// Another error: the login page.
	to, binding = ue.start(t)
	q = ue.op.authorize(to)
	loginAgain("server_error", url.Values{"error": {"server_error"}, "state": q["state"]}, binding, upstreamErrFailed)
}

// TestUpstreamProviders: a disabled or unknown provider cannot be started and shows no button; a provider
// that is down answers the login page with a message while the others keep working; a provider announcing
// the iss parameter (RFC 9207 §3) must send it.
func TestUpstreamProviders(t *testing.T) {
	ue := newUpstreamEnv(t)
	ctx := context.Background()
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	ue.factors.mu.Lock()
	ue.factors.providers = append(ue.factors.providers,
		&registryv1.UpstreamProvider{ProviderId: "down", DisplayName: "Down", Issuer: down.URL, ClientId: "x"},
		&registryv1.UpstreamProvider{ProviderId: "off", DisplayName: "Off", Issuer: ue.op.srv.URL, ClientId: "x", Disabled: true},
		&registryv1.UpstreamProvider{ProviderId: "plain", DisplayName: "Plain", Issuer: "http://idp.example", ClientId: "x"})
	ue.factors.mu.Unlock()
	st, err := ue.e.srv.settings.get(ctx, "t-acme")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, b := range ue.e.srv.upstreamButtons(st) {
		ids = append(ids, b.GetProviderId())
	}
	if !slices.Equal(ids, []string{"up", "down", "plain"}) {
		t.Fatalf("buttons %v", ids)
	}
	a, err := ue.az.Authorize(ctx, &tokenv1.AuthorizeRequest{Parameters: authorizeParams()})
	if err != nil {
		t.Fatal(err)
	}
	iid := a.GetStep().GetLogin().GetInteractionId()
	for _, id := range []string{"off", "nope", ""} {
		if _, err := ue.az.StartUpstream(ctx, &tokenv1.StartUpstreamRequest{InteractionId: iid, ProviderId: id}); status.Code(err) != codes.InvalidArgument {
			t.Fatalf("provider %q: %v", id, err)
		}
	}
	if _, err := ue.az.StartUpstream(ctx, &tokenv1.StartUpstreamRequest{InteractionId: "s1.forged", ProviderId: "up"}); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("forged interaction: %v", err)
	}
	for _, id := range []string{"down", "plain"} {
		s, err := ue.az.StartUpstream(ctx, &tokenv1.StartUpstreamRequest{InteractionId: iid, ProviderId: id})
		if err != nil || s.GetStep().GetLogin().GetErrorCode() != upstreamErrUnavailable || s.GetBindingCookie() != "" {
			t.Fatalf("provider %s: %v, %v", id, s, err)
		}
	}
	to, binding := ue.start(t)
	if r, err := ue.callback(ue.op.authorize(to), binding); err != nil || r.GetStep().GetSetSessionCookie() == "" {
		t.Fatalf("the working provider beside a broken one: %v, %v", r, err)
	}

	// RFC 9207 §2.4: a provider that announces iss must send it.
	strict := newTestOP(t, ue.e.clock.Now)
	strict.issParam = true
	ue.factors.mu.Lock()
	ue.factors.providers = []*registryv1.UpstreamProvider{{ProviderId: "up", DisplayName: "Strict", Issuer: strict.srv.URL,
		ClientId: "authsuite-at-up", ClientSecret: new(strict.secret)}}
	ue.factors.mu.Unlock()
	ue.e.srv.settings.forget("t-acme")
	ue.op = strict
	to, binding = ue.start(t)
	q := strict.authorize(to)
	q.Del("iss")
	if r, err := ue.callback(q, binding); err != nil || r.GetStep().GetLogin().GetErrorCode() != upstreamErrFailed {
		t.Fatalf("no iss from a provider that announces it: %v, %v", r, err)
	}
	to, binding = ue.start(t)
	if r, err := ue.callback(strict.authorize(to), binding); err != nil || r.GetStep().GetSetSessionCookie() == "" {
		t.Fatalf("with iss: %v, %v", r, err)
	}
}

// TestUpstreamSecondFactorPolicy: a federated sign-in skips authsuite's second factor, unless the tenant's
// policy requires one: then the callback answers the second-factor page (no session yet) for the user.
func TestUpstreamSecondFactorPolicy(t *testing.T) {
	ue := newUpstreamEnv(t)
	ue.factors.mu.Lock()
	ue.factors.policy = &registryv1.MfaPolicy{Requirement: registryv1.MfaPolicy_REQUIREMENT_ALL}
	ue.factors.mu.Unlock()
	to, binding := ue.start(t)
	r, err := ue.callback(ue.op.authorize(to), binding)
	if err != nil || r.GetStep().GetSecondFactor() == nil || !r.GetStep().GetSecondFactor().GetTotp() {
		t.Fatalf("policy ALL: %v, %v", r, err)
	}
	// The page's interaction is not the state that travelled through the provider.
	if id := r.GetStep().GetSecondFactor().GetInteractionId(); id == "" || bytes.Equal(digest(id), digest(ue.op.lastState())) {
		t.Fatalf("second-factor interaction %q", id)
	}
}

// TestUpstreamSlowProviderBlocksNobody: while one provider's discovery hangs, a sign-in through another
// provider of the same tenant completes.
func TestUpstreamSlowProviderBlocksNobody(t *testing.T) {
	ue := newUpstreamEnv(t)
	release := make(chan struct{})
	var releaseOnce sync.Once
	free := func() { releaseOnce.Do(func() { close(release) }) }
	asked := make(chan struct{}, 1)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case asked <- struct{}{}:
		default:
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(slow.Close)
	t.Cleanup(free) // runs before slow.Close
	ue.factors.mu.Lock()
	ue.factors.providers = append(ue.factors.providers, &registryv1.UpstreamProvider{ProviderId: "slow", DisplayName: "Slow", Issuer: slow.URL, ClientId: "x"})
	ue.factors.mu.Unlock()
	ctx := context.Background()
	a, err := ue.az.Authorize(ctx, &tokenv1.AuthorizeRequest{Parameters: authorizeParams()})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		ue.az.StartUpstream(ctx, &tokenv1.StartUpstreamRequest{InteractionId: a.GetStep().GetLogin().GetInteractionId(), ProviderId: "slow"})
	}()
	<-asked // the slow provider's discovery is in flight
	to, binding := ue.start(t)
	if r, err := ue.callback(ue.op.authorize(to), binding); err != nil || r.GetStep().GetSetSessionCookie() == "" {
		t.Fatalf("sign-in beside a hanging provider: %v, %v", r, err)
	}
	select {
	case <-done:
		t.Fatal("the hanging provider's start returned before it was released")
	default:
	}
	free()
	<-done
}

// TestUpstreamStartLimit: an address may start upstreamStartsPerWindow round trips per window; the next is
// answered 429 temporarily_unavailable with Retry-After without storing anything, another address is not
// affected, and the next window allows it again.
func TestUpstreamStartLimit(t *testing.T) {
	ue := newUpstreamEnv(t)
	ctx := context.Background()
	a, err := ue.az.Authorize(ctx, &tokenv1.AuthorizeRequest{Parameters: authorizeParams()})
	if err != nil {
		t.Fatal(err)
	}
	start := func(addr string) error {
		_, err := ue.az.StartUpstream(ctx, &tokenv1.StartUpstreamRequest{InteractionId: a.GetStep().GetLogin().GetInteractionId(), ProviderId: "up",
			Browser: &tokenv1.Browser{RemoteAddr: addr}})
		return err
	}
	for i := range upstreamStartsPerWindow {
		if err := start("192.0.2.9"); err != nil {
			t.Fatalf("start %d: %v", i, err)
		}
	}
	err = start("192.0.2.9")
	wantOAuth(t, err, "temporarily_unavailable", http.StatusTooManyRequests)
	if info := apistatus.FromStatus(err); info.RetryAfter <= 0 || info.RetryAfter > upstreamStartWindow {
		t.Fatalf("retry after %v", info.RetryAfter)
	}
	if err := start("192.0.2.10"); err != nil {
		t.Fatalf("another address: %v", err)
	}
	ue.e.clock.Advance(upstreamStartWindow)
	if err := start("192.0.2.9"); err != nil {
		t.Fatalf("next window: %v", err)
	}
}
