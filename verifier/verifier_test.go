package verifier

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/services/token/jwt"
)

func TestVerifyChecksSignatureIssuerAudienceAndTime(t *testing.T) {
	f := newFakeIssuer(t)
	v := newTestVerifier(t, f, nil)
	ctx := context.Background()

	good := f.claims()
	good.Act = &jwt.Actor{ClientID: "b", Act: &jwt.Actor{ClientID: "a"}}
	tok, err := v.Verify(ctx, f.sign(good), nil, "orders.read")
	if err != nil {
		t.Fatal(err)
	}
	if tok.Subject != "user-1" || tok.Tenant != "acme" || !tok.HasScope("orders.read") || tok.Actor.ClientID != "b" ||
		tok.Actor.Actor.ClientID != "a" || tok.Claims["client_id"] != "web" {
		t.Fatalf("token %+v", tok)
	}

	other := newFakeIssuer(t)
	now := time.Now().Unix()
	for name, c := range map[string]jwt.Claims{
		"another issuer":       func() jwt.Claims { c := f.claims(); c.Issuer = "https://evil.example"; return c }(),
		"another audience":     func() jwt.Claims { c := f.claims(); c.Audience = jwt.Audience{testIssuer}; return c }(),
		"expired":              func() jwt.Claims { c := f.claims(); c.Expiry = now - 10; return c }(),
		"issued in the future": func() jwt.Claims { c := f.claims(); c.IssuedAt = now + 60; return c }(),
	} {
		if _, err := v.Verify(ctx, f.sign(c), nil); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("%s: %v, want ErrInvalidToken", name, err)
		}
	}
	if _, err := v.Verify(ctx, other.sign(f.claims()), nil); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("another key: %v", err)
	}
	// Within the leeway.
	c := f.claims()
	c.Expiry = now - 1
	if _, err := v.Verify(ctx, f.sign(c), nil); err != nil {
		t.Errorf("expired a second ago, within the leeway: %v", err)
	}
	if _, err := v.Verify(ctx, f.sign(f.claims()), nil, "orders.write"); !errors.Is(err, ErrInsufficientScope) {
		t.Errorf("missing scope: %v", err)
	}
	if _, err := v.Verify(ctx, "", nil); !errors.Is(err, ErrNoToken) {
		t.Errorf("empty: %v", err)
	}
	// Tampering with a verified token's claims breaks it.
	raw := f.sign(f.claims())
	parts := strings.Split(raw, ".")
	parts[1] = base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"` + testIssuer + `","sub":"admin","aud":"` + testAudience + `","client_id":"web","exp":9999999999,"iat":1,"jti":"x"}`))
	if _, err := v.Verify(ctx, strings.Join(parts, "."), nil); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("tampered: %v", err)
	}
}

func TestVerifyRefetchesKeysForAnUnknownKidAtMostOncePerInterval(t *testing.T) {
	f := newFakeIssuer(t)
	v := newTestVerifier(t, f, nil, func(c *Config) { c.KeyRefreshEvery = time.Hour })
	ctx := context.Background()
	f.rotate()
	before := f.fetches.Load()
	// New fetched moments ago: within KeyRefreshEvery no token can make it fetch again.
	for range 10 {
		if _, err := v.Verify(ctx, f.sign(f.claims()), nil); !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("new key within the interval: %v", err)
		}
	}
	if n := f.fetches.Load() - before; n != 0 {
		t.Fatalf("%d fetches within the interval", n)
	}

	v2 := newTestVerifier(t, f, nil, func(c *Config) { c.KeyRefreshEvery = time.Millisecond })
	f.rotate()
	before = f.fetches.Load()
	deadline := time.Now().Add(time.Second)
	for {
		_, err := v2.Verify(ctx, f.sign(f.claims()), nil)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("rotated key never verified: %v", err)
		}
	}
	if n := f.fetches.Load() - before; n < 1 {
		t.Fatalf("%d fetches", n)
	}
}

func TestVerifyRefusesRevokedTokensFromTheWatch(t *testing.T) {
	f := newFakeIssuer(t)
	revs := &fakeRevocations{}
	early := f.claims()
	revs.push(&tokenv1.Revocation{Jti: early.ID, ExpireTime: early.Expiry})
	v := newTestVerifier(t, f, revs)
	ctx := context.Background()
	if _, err := v.Verify(ctx, f.sign(early), nil); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("revoked in the full state: %v", err)
	}

	parent := f.claims()
	child := f.claims()
	child.Parents = []string{"grandparent", parent.ID}
	family := f.claims()
	family.FamilyID = "fam-1"
	userTok := f.claims()
	userTok.Subject, userTok.AuthTime = "user-9", userTok.IssuedAt
	clientTok := f.claims()
	clientTok.ClientID, clientTok.Subject = "deleted-client", "deleted-client"
	toks := map[string]string{}
	for name, c := range map[string]jwt.Claims{"child": child, "family": family, "user": userTok, "client": clientTok} {
		toks[name] = f.sign(c)
		if _, err := v.Verify(ctx, toks[name], nil); err != nil {
			t.Fatalf("%s before revocation: %v", name, err)
		}
	}
	var last int64
	for _, r := range []*tokenv1.Revocation{
		{Jti: parent.ID, ExpireTime: parent.Expiry},
		{FamilyId: "fam-1", ExpireTime: family.Expiry},
		{TenantId: "acme", Subject: "user-9", IssuedBefore: userTok.IssuedAt, ExpireTime: userTok.Expiry},
		{TenantId: "acme", ClientId: "deleted-client", IssuedBefore: clientTok.IssuedAt, ExpireTime: clientTok.Expiry},
	} {
		last = revs.push(r)
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := v.WaitRevision(wctx, last); err != nil {
		t.Fatal(err)
	}
	for name, tok := range toks {
		if _, err := v.Verify(ctx, tok, nil); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("%s after revocation: %v", name, err)
		}
	}
	// A cutoff ends what was issued up to it, not what came later.
	later := userTok
	later.IssuedAt++
	later.ID = "later"
	if _, err := v.Verify(ctx, f.sign(later), nil); err != nil {
		t.Errorf("user token issued after the cutoff: %v", err)
	}
	// Another tenant's user of the same id is not affected.
	otherTenant := userTok
	otherTenant.Tenant, otherTenant.ID = "globex", "other-tenant"
	if _, err := v.Verify(ctx, f.sign(otherTenant), nil); err != nil {
		t.Errorf("same subject in another tenant: %v", err)
	}
}

func TestWatchResumesFromTheLastRevisionAndAppliesReset(t *testing.T) {
	f := newFakeIssuer(t)
	revs := &fakeRevocations{}
	v := newTestVerifier(t, f, revs)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	a := f.claims()
	rev := revs.push(&tokenv1.Revocation{Jti: a.ID, ExpireTime: a.Expiry})
	if err := v.WaitRevision(ctx, rev); err != nil {
		t.Fatal(err)
	}
	revs.breakStreams()
	b := f.claims()
	rev = revs.push(&tokenv1.Revocation{Jti: b.ID, ExpireTime: b.Expiry})
	if err := v.WaitRevision(ctx, rev); err != nil {
		t.Fatal(err)
	}
	revs.mu.Lock()
	froms := append([]int64(nil), revs.froms...)
	revs.mu.Unlock()
	if len(froms) < 2 || froms[0] != 0 || froms[len(froms)-1] != 1 {
		t.Fatalf("watch started from %v; want 0, then resumed from 1", froms)
	}
	if _, err := v.Verify(ctx, f.sign(b), nil); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("revoked while reconnecting: %v", err)
	}

	// The server lost its history: reset, and the full state replaces what was held.
	revs.mu.Lock()
	revs.resetAbove = 1
	revs.log = revs.log[:1] // b's revocation is gone with the history
	revs.mu.Unlock()
	revs.breakStreams()
	waitUntil(t, func() bool { _, err := v.Verify(ctx, f.sign(b), nil); return err == nil })
	if _, err := v.Verify(ctx, f.sign(a), nil); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("kept revocation lost at reset: %v", err)
	}
}

// waitUntil polls cond (a state another goroutine changes on an event this test cannot observe directly).
func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition never held")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestVerifyFailsClosedUntilSyncedAndAfterMaxStale(t *testing.T) {
	f := newFakeIssuer(t)
	revs := &fakeRevocations{refuse: true}
	tok := f.sign(f.claims())
	v2 := newTestVerifierUnsynced(t, f, revs, false)
	if _, err := v2.Verify(context.Background(), tok, nil); !errors.Is(err, ErrNotReady) {
		t.Fatalf("before sync: %v, want ErrNotReady", err)
	}
	if v2.Ready() {
		t.Fatal("ready before sync")
	}
	open := newTestVerifierUnsynced(t, f, revs, true)
	if _, err := open.Verify(context.Background(), tok, nil); err != nil {
		t.Fatalf("AllowUnsynced: %v", err)
	}
}

// newTestVerifierUnsynced is a verifier whose watch has not synced (revs refuses).
func newTestVerifierUnsynced(t *testing.T, f *fakeIssuer, revs *fakeRevocations, allow bool) *Verifier {
	t.Helper()
	v, err := New(context.Background(), Config{Issuer: testIssuer, Audience: testAudience, JWKSURL: f.srv.URL,
		Revocations: serveRevocations(t, revs), TokenSource: staticToken, AllowUnsynced: allow})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

func TestMaxStale(t *testing.T) {
	f := newFakeIssuer(t)
	revs := &fakeRevocations{}
	var offset atomic.Int64
	clock := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	v := newTestVerifier(t, f, revs, func(c *Config) { c.Now = clock; c.MaxStale = time.Minute })
	tok := f.sign(f.claims())
	revs.mu.Lock()
	revs.refuse = true
	revs.mu.Unlock()
	revs.breakStreams()
	waitUntil(t, func() bool { return revs.connects.Load() >= 2 })
	if _, err := v.Verify(context.Background(), tok, nil); err != nil {
		t.Fatalf("within MaxStale: %v", err)
	}
	offset.Store(int64(2 * time.Minute))
	c := f.claims()
	c.IssuedAt, c.Expiry = clock().Unix(), clock().Unix()+600
	if _, err := v.Verify(context.Background(), f.sign(c), nil); !errors.Is(err, ErrNotReady) {
		t.Fatalf("after MaxStale: %v, want ErrNotReady", err)
	}
}

func selfSigned(t testing.TB) *x509.Certificate {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "svc"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCertificateBoundTokens(t *testing.T) {
	f := newFakeIssuer(t)
	v := newTestVerifier(t, f, nil)
	cert, other := selfSigned(t), selfSigned(t)
	sum := sha256.Sum256(cert.Raw)
	c := f.claims()
	c.Confirmation = &jwt.Confirmation{X5tS256: base64.RawURLEncoding.EncodeToString(sum[:])}
	tok := f.sign(c)
	ctx := context.Background()
	if _, err := v.Verify(ctx, tok, cert); err != nil {
		t.Fatalf("with its certificate: %v", err)
	}
	for name, peer := range map[string]*x509.Certificate{"none": nil, "another": other} {
		if _, err := v.Verify(ctx, tok, peer); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("%s certificate: %v", name, err)
		}
	}
}

func TestUnaryInterceptor(t *testing.T) {
	f := newFakeIssuer(t)
	v := newTestVerifier(t, f, nil)
	icpt := v.UnaryServerInterceptor(Rules{
		"/orders.v1.Orders/Get": {"orders.read"},
		"/orders.v1.Orders/":    {"orders.write"},
		"/orders.v1.Public/":    {},
	})
	var seen *Token
	handler := func(ctx context.Context, _ any) (any, error) { seen, _ = FromContext(ctx); return "ok", nil }
	call := func(method, tok string) error {
		ctx := context.Background()
		if tok != "" {
			ctx = metadata.NewIncomingContext(ctx, metadata.Pairs("authorization", "Bearer "+tok))
		}
		_, err := icpt(ctx, nil, &grpc.UnaryServerInfo{FullMethod: method}, handler)
		return err
	}
	read := f.sign(f.claims())
	if err := call("/orders.v1.Orders/Get", read); err != nil || seen == nil || seen.Subject != "user-1" {
		t.Fatalf("allowed call: %v, token %v", err, seen)
	}
	for _, tc := range []struct {
		method, tok string
		code        codes.Code
	}{
		{"/orders.v1.Orders/Delete", read, codes.PermissionDenied}, // prefix rule wants orders.write
		{"/orders.v1.Unknown/Get", read, codes.PermissionDenied},   // no rule: denied
		{"/orders.v1.Orders/Get", "", codes.Unauthenticated},
		{"/orders.v1.Orders/Get", "garbage", codes.Unauthenticated},
		{"/orders.v1.Public/Ping", read, codes.OK},
	} {
		if err := call(tc.method, tc.tok); status.Code(err) != tc.code {
			t.Errorf("%s: %v, want %v", tc.method, err, tc.code)
		}
	}
}

func TestMiddleware(t *testing.T) {
	f := newFakeIssuer(t)
	v := newTestVerifier(t, f, nil)
	h := v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, _ := FromContext(r.Context())
		w.Write([]byte(tok.Subject))
	}), "orders.read")
	read := f.sign(f.claims())
	noScope := f.claims()
	noScope.Scope = "other"
	for _, tc := range []struct {
		auth, wantAuth string
		status         int
	}{
		{"Bearer " + read, "", 200},
		{"", "Bearer", 401},
		{"Bearer nope.nope.nope", `Bearer error="invalid_token"`, 401},
		{"Bearer " + f.sign(noScope), `Bearer error="insufficient_scope", scope="orders.read"`, 403},
		{"Basic abc", `Bearer error="invalid_request"`, 400},
	} {
		req := httptest.NewRequest("GET", "/orders", nil)
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tc.status || !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), tc.wantAuth) {
			t.Errorf("%.20q: %d %q, want %d %q", tc.auth, rec.Code, rec.Header().Get("WWW-Authenticate"), tc.status, tc.wantAuth)
		}
	}
}

func TestNewRefusesIncompleteConfig(t *testing.T) {
	f := newFakeIssuer(t)
	for name, cfg := range map[string]Config{
		"no issuer":        {Audience: testAudience, JWKSURL: f.srv.URL},
		"no audience":      {Issuer: testIssuer, JWKSURL: f.srv.URL},
		"watch, no bearer": {Issuer: testIssuer, Audience: testAudience, JWKSURL: f.srv.URL, Revocations: serveRevocations(t, &fakeRevocations{})},
		"keys unreachable": {Issuer: testIssuer, Audience: testAudience, JWKSURL: "http://127.0.0.1:1/jwks"},
	} {
		if _, err := New(context.Background(), cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

type fakeServerStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s fakeServerStream) Context() context.Context { return s.ctx }

func TestStreamInterceptor(t *testing.T) {
	f := newFakeIssuer(t)
	v := newTestVerifier(t, f, nil)
	icpt := v.StreamServerInterceptor(Rules{"/orders.v1.Orders/Watch": {"orders.read"}})
	var seen *Token
	handler := func(_ any, ss grpc.ServerStream) error { seen, _ = FromContext(ss.Context()); return nil }
	info := &grpc.StreamServerInfo{FullMethod: "/orders.v1.Orders/Watch", IsServerStream: true}
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("authorization", "bearer "+f.sign(f.claims())))
	if err := icpt(nil, fakeServerStream{ctx: ctx}, info, handler); err != nil || seen == nil || seen.Subject != "user-1" {
		t.Fatalf("stream with a token: %v, %v", err, seen)
	}
	if err := icpt(nil, fakeServerStream{ctx: context.Background()}, info, handler); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("stream without a token: %v", err)
	}
	two := metadata.NewIncomingContext(context.Background(), metadata.Pairs("authorization", "Bearer a", "authorization", "Bearer b"))
	if err := icpt(nil, fakeServerStream{ctx: two}, info, handler); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("two authorization values: %v", err)
	}
}

func TestMiddlewareCertificateBinding(t *testing.T) {
	f := newFakeIssuer(t)
	v := newTestVerifier(t, f, nil)
	h := v.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	cert := selfSigned(t)
	sum := sha256.Sum256(cert.Raw)
	c := f.claims()
	c.Confirmation = &jwt.Confirmation{X5tS256: base64.RawURLEncoding.EncodeToString(sum[:])}
	tok := f.sign(c)
	for name, tc := range map[string]struct {
		state  *tls.ConnectionState
		status int
	}{
		"its certificate":     {&tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert}}, 200},
		"another certificate": {&tls.ConnectionState{PeerCertificates: []*x509.Certificate{selfSigned(t)}}, 401},
		"no TLS":              {nil, 401},
	} {
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.TLS = tc.state
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tc.status {
			t.Errorf("%s: %d, want %d", name, rec.Code, tc.status)
		}
	}
}
