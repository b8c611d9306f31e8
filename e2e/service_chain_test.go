package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2/clientcredentials"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/authsuite/authsuite/verifier"
)

// A chain of three internal gRPC services A → B → C, each protected by the verifier's interceptor with its
// own audience (an API resource created over REST), each exchanging the token it received for one for the
// next hop (RFC 8693). Revoking the user's original token makes the whole chain fail within a second, with
// no call to authsuite per request: the verifiers learn it from the revocation watch.

const tokenExchangeGrant = "urn:ietf:params:oauth:grant-type:token-exchange"

// chainHop is one service of the chain: a gRPC server whose Health.Check (the method stands for any API
// call) is guarded by a verifier, and which calls the next hop, if any, with an exchanged token.
type chainHop struct {
	name, resource, scope string
	secret                string
	v                     *verifier.Verifier
	addr                  string
	next                  *chainHop
	mu                    sync.Mutex
	seen                  *verifier.Token // the last token the hop accepted
	keysOverGRPC          bool
	healthpb.UnimplementedHealthServer
	s *suite
}

func (h *chainHop) Check(ctx context.Context, _ *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	tok, ok := verifier.FromContext(ctx)
	if !ok {
		return nil, status.Error(codes.Internal, "no token in the context")
	}
	h.mu.Lock()
	h.seen = tok
	h.mu.Unlock()
	if h.next == nil {
		return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
	}
	raw, _ := metadata.FromIncomingContext(ctx)
	subject := strings.TrimPrefix(raw.Get("authorization")[0], "Bearer ")
	nextTok, err := h.exchange(subject)
	if err != nil {
		return nil, status.Error(codes.PermissionDenied, err.Error())
	}
	return h.next.call(ctx, nextTok)
}

// lastSeen is the last token the hop accepted.
func (h *chainHop) lastSeen() *verifier.Token {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.seen
}

// exchange trades subject for a token for the next hop (RFC 8693 §2.1), as this hop's client.
func (h *chainHop) exchange(subject string) (string, error) {
	form := url.Values{"grant_type": {tokenExchangeGrant}, "subject_token": {subject},
		"subject_token_type": {"urn:ietf:params:oauth:token-type:access_token"}, "resource": {h.next.resource}}
	r := h.s.form("/connect/token", form.Encode(), h.name, h.secret)
	if r.status != 200 {
		return "", errors.New("exchange refused: " + string(r.body))
	}
	var body struct {
		AccessToken     string `json:"access_token"`
		IssuedTokenType string `json:"issued_token_type"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil || body.AccessToken == "" {
		return "", errors.New("exchange answer " + string(r.body))
	}
	return body.AccessToken, nil
}

// call calls the hop with tok as bearer.
func (h *chainHop) call(ctx context.Context, tok string) (*healthpb.HealthCheckResponse, error) {
	cc, err := grpc.NewClient(h.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	defer cc.Close()
	ctx = metadata.NewOutgoingContext(ctx, metadata.Pairs("authorization", "Bearer "+tok))
	return healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{})
}

// serve starts the hop's verifier (watching revocations with a client_credentials token of its own) and
// gRPC server.
func (h *chainHop) serve(t *testing.T, grpcAddr string) {
	t.Helper()
	ctx := context.Background()
	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	// The watch's bearer names the issuer (scope "revocations" belongs to no API resource).
	cc := clientcredentials.Config{ClientID: h.name, ClientSecret: h.secret, TokenURL: h.s.base + "/connect/token", Scopes: []string{"revocations"}}
	cfg := verifier.Config{Issuer: h.s.base, Audience: h.resource, Revocations: conn, TokenSource: cc.TokenSource(ctx)}
	if h.keysOverGRPC {
		cfg.KeysConn = conn // OAuthService.GetJwks instead of the jwks_uri
	}
	h.v, err = verifier.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.v.Close() })
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := h.v.WaitSynced(wctx); err != nil {
		t.Fatalf("%s: revocation watch never synced: %v", h.name, err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.UnaryInterceptor(h.v.UnaryServerInterceptor(verifier.Rules{"/grpc.health.v1.Health/Check": {h.scope}})))
	healthpb.RegisterHealthServer(srv, h)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	h.addr = lis.Addr().String()
}

func TestServiceChainExchangesAndStopsWithinASecondOfARevocation(t *testing.T) {
	f := newSigninFixture(t)
	s := f.s
	base := "/api/adminapi2/v1/tenants/" + f.tenantID
	hops := []*chainHop{
		{name: "svc-a", resource: "https://a.internal", scope: "orders.read", s: s},
		{name: "svc-b", resource: "https://b.internal", scope: "orders.read", s: s},
		{name: "svc-c", resource: "https://c.internal", scope: "orders.read", s: s, keysOverGRPC: true},
	}
	for i, h := range hops {
		// Created: 201 as the other admin resources answer, or 200.
		if r := s.call("POST", base+"/resources/", f.adminToken, map[string]any{
			"resourceId": h.resource, "displayName": h.name, "scopes": []string{h.scope}}); r.status != 201 && r.status != 200 {
			t.Fatalf("resource %s: status %d: %s", h.resource, r.status, r.body)
		}
		scopes := []string{"revocations"}
		if i+1 < len(hops) {
			h.next = hops[i+1]
			scopes = append(scopes, h.next.scope)
		}
		expect(t, "client "+h.name, s.call("POST", base+"/clients/", f.adminToken, map[string]any{
			"clientId": h.name, "allowedGrantTypes": []string{"client_credentials", tokenExchangeGrant},
			"allowedScopes": scopes, "servesResources": []string{h.resource}}), 201)
		h.secret = expect(t, "secret "+h.name, s.call("POST", base+"/clients/"+h.name+"/secrets/", f.adminToken, map[string]any{}), 201)["value"].(string)
	}
	expect(t, "frontend", s.call("POST", base+"/clients/", f.adminToken, map[string]any{
		"clientId": "frontend", "allowRopc": true, "allowedGrantTypes": []string{"password"}, "allowedScopes": []string{"orders.read"}}), 201)
	frontendSecret := expect(t, "frontend secret", s.call("POST", base+"/clients/frontend/secrets/", f.adminToken, map[string]any{}), 201)["value"].(string)
	s.sync()
	for _, h := range hops {
		h.serve(t, s.running.GRPCAddr.String())
	}

	// Alice's token for A, from the frontend. The three resources define the one scope the chain carries
	// (an exchange never widens the scope); each token names only its next hop as audience.
	login := expect(t, "alice's token", s.form("/connect/token", "grant_type=password&scope=orders.read&resource="+url.QueryEscape("https://a.internal")+"&username=alice&password="+url.QueryEscape(alicePassword),
		"frontend", frontendSecret), 200)
	original := login["access_token"].(string)
	ctx := context.Background()
	if _, err := hops[0].call(ctx, original); err != nil {
		t.Fatalf("chain with a live token: %v", err)
	}
	seenByC := hops[2].lastSeen()
	if seenByC.Subject != f.aliceID || seenByC.Tenant != f.tenantID || !seenByC.HasScope("orders.read") ||
		len(seenByC.Audience) != 1 || seenByC.Audience[0] != "https://c.internal" {
		t.Fatalf("C saw %+v", seenByC)
	}
	// RFC 8693 §4.1: the current actor first, the earlier ones nested.
	if a := seenByC.Actor; a == nil || a.ClientID != "svc-b" || a.Actor == nil || a.Actor.ClientID != "svc-a" {
		t.Fatalf("C's act chain %+v", seenByC.Actor)
	}
	if len(seenByC.Parents) != 2 || seenByC.Parents[1] != hops[0].lastSeen().ID {
		t.Fatalf("C's parents %v, want B's token then the original (%s)", seenByC.Parents, hops[0].lastSeen().ID)
	}
	// A token for one hop is refused by another: each checks its own audience.
	if _, err := hops[1].call(ctx, original); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("A's token at B: %v, want UNAUTHENTICATED", err)
	}
	// A token for C, minted from the original before the revocation, to be refused after it.
	cToken, err := hops[1].exchange(mustExchange(t, hops[0], original))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hops[2].call(ctx, cToken); err != nil {
		t.Fatalf("C token before the revocation: %v", err)
	}

	// Revoke the original (RFC 7009) and time until every hop refuses.
	start := time.Now()
	r := s.form("/connect/revocation", "token="+url.QueryEscape(original)+"&token_type_hint=access_token", "frontend", frontendSecret)
	expect(t, "revoke", r, 200)
	rev := tokenRevision(t, r.header.Values(revisionHeader))
	wctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	for _, h := range hops {
		if err := h.v.WaitRevision(wctx, rev); err != nil {
			t.Fatalf("%s had not applied revision %d a second after the revocation (applied %d)", h.name, rev, h.v.Revision())
		}
	}
	latency := time.Since(start)
	t.Logf("revocation applied by all three services %v after the revoke request was sent", latency)
	if _, err := hops[0].call(ctx, original); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("chain after revocation: %v, want UNAUTHENTICATED", err)
	}
	// Downstream tokens exchanged from it are refused too (pjti), though never revoked themselves.
	if _, err := hops[2].call(ctx, cToken); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("C token exchanged from the revoked one: %v, want UNAUTHENTICATED", err)
	}

	// Per-request introspection mode (RFC 7662) gives the same answers, one call to the token service each.
	conn, err := grpc.NewClient(s.running.GRPCAddr.String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	introspecting := func(audience string) *verifier.Verifier {
		iv, err := verifier.New(ctx, verifier.Config{Issuer: s.base, Audience: audience,
			Introspection: &verifier.Introspection{Conn: conn, ClientID: "svc-a", ClientSecret: hops[0].secret}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { iv.Close() })
		return iv
	}
	ia := introspecting(hops[0].resource)
	if _, err := ia.Verify(ctx, original, nil); !errors.Is(err, verifier.ErrInvalidToken) {
		t.Fatalf("introspection of the revoked token: %v, want ErrInvalidToken", err)
	}
	fresh := expect(t, "alice's next token", s.form("/connect/token", "grant_type=password&scope=orders.read&resource="+url.QueryEscape("https://a.internal")+"&username=alice&password="+url.QueryEscape(alicePassword),
		"frontend", frontendSecret), 200)["access_token"].(string)
	if tok, err := ia.Verify(ctx, fresh, nil, "orders.read"); err != nil || tok.Subject != f.aliceID || tok.Tenant != f.tenantID {
		t.Fatalf("introspection of a live token: %+v, %v", tok, err)
	}
	if _, err := introspecting(hops[1].resource).Verify(ctx, fresh, nil); !errors.Is(err, verifier.ErrInvalidToken) {
		t.Fatalf("introspection for another audience: %v, want ErrInvalidToken", err)
	}
}

// mustExchange exchanges subject at hop h for h's next hop.
func mustExchange(t *testing.T, h *chainHop, subject string) string {
	t.Helper()
	tok, err := h.exchange(subject)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// tokenRevision is the token service's revision among Authsuite-Revision values ("token:<n>").
func tokenRevision(t *testing.T, values []string) int64 {
	t.Helper()
	for _, v := range values {
		for elem := range strings.SplitSeq(v, ",") {
			if n, ok := strings.CutPrefix(strings.TrimSpace(elem), "token:"); ok {
				rev, err := strconv.ParseInt(n, 10, 64)
				if err != nil {
					t.Fatalf("revision %q", v)
				}
				return rev
			}
		}
	}
	t.Fatalf("no token revision in %q", values)
	return 0
}
