package e2e

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	providerv1 "github.com/authsuite/authsuite/gen/authsuite/provider/v1"
	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/internalauth"
	"github.com/authsuite/authsuite/internal/suitekey"
)

// dialGRPC connects to the suite's gRPC port as a direct caller, with per-RPC credentials when given.
func dialGRPC(t testing.TB, s *suite, creds ...grpcCred) *grpc.ClientConn {
	t.Helper()
	opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	for _, c := range creds {
		opts = append(opts, grpc.WithPerRPCCredentials(c.perRPC()))
	}
	cc, err := grpc.NewClient(s.grpcAddr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

type grpcCred struct{ internal, gateway string }

func (c grpcCred) perRPC() credentials.PerRPCCredentials {
	if c.internal != "" {
		return internalauth.Credentials(c.internal)
	}
	return internalauth.GatewayCredentials(c.gateway)
}

// suiteKeys reads the master key the all-in-one suite generated in its data directory.
func suiteKeys(t testing.TB, s *suite) *suitekey.Keyring {
	t.Helper()
	kr, err := suitekey.LoadOrCreateFile(filepath.Join(s.dataDir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// TestTrustBrowserFactsOnlyFromGateway: the browser-facing RPCs, whose requests state the
// browser's cookies and address, answer PERMISSION_DENIED to a direct gRPC caller; the gateway credential
// opens them but no internal API; the REST sign-in, which goes through the gateway, still works.
func TestTrustBrowserFactsOnlyFromGateway(t *testing.T) {
	f := newSigninFixture(t)
	s := f.s
	ctx := context.Background()
	_, challenge := pkce()
	params := "response_type=code&client_id=spa&scope=openid&code_challenge_method=S256&code_challenge=" + challenge +
		"&redirect_uri=" + f.callback

	direct := dialGRPC(t, s)
	authz := tokenv1.NewAuthorizeServiceClient(direct)
	forged := &tokenv1.Browser{RemoteAddr: "203.0.113.7", SessionCookie: "planted"}
	calls := map[string]func() error{
		"Authorize": func() error {
			_, err := authz.Authorize(ctx, &tokenv1.AuthorizeRequest{Parameters: params, Browser: forged})
			return err
		},
		"Login": func() error {
			_, err := authz.Login(ctx, &tokenv1.LoginRequest{InteractionId: "x", Username: "alice", Password: "guess", Browser: forged})
			return err
		},
		"Consent": func() error {
			_, err := authz.Consent(ctx, &tokenv1.ConsentRequest{InteractionId: "x", Allow: true, Browser: forged})
			return err
		},
		"EndSession": func() error {
			_, err := authz.EndSession(ctx, &tokenv1.EndSessionRequest{Browser: forged})
			return err
		},
		"CompleteAuthorization": func() error {
			_, err := providerv1.NewConnectorServiceClient(direct).CompleteAuthorization(ctx, &providerv1.CompleteAuthorizationRequest{State: "x", Code: "y"})
			return err
		},
	}
	for name, call := range calls {
		if err := call(); status.Code(err) != codes.PermissionDenied {
			t.Errorf("direct %s without the gateway credential: %v, want PermissionDenied", name, err)
		}
	}

	kr := suiteKeys(t, s)
	gw := dialGRPC(t, s, grpcCred{gateway: internalauth.GatewayCredential(kr)})
	resp, err := tokenv1.NewAuthorizeServiceClient(gw).Authorize(ctx, &tokenv1.AuthorizeRequest{Parameters: params, Browser: &tokenv1.Browser{RemoteAddr: "127.0.0.1"}})
	if err != nil || resp.GetStep().GetLogin() == nil {
		t.Fatalf("Authorize with the gateway credential: %v, %v; want the login step", resp, err)
	}
	if _, err := tokenv1.NewTokenInternalServiceClient(gw).AuthenticateToken(ctx, &tokenv1.AuthenticateTokenRequest{Token: "x"}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("internal API with the gateway credential: %v, want PermissionDenied", err)
	}
	internal := dialGRPC(t, s, grpcCred{internal: kr.InternalCredential()})
	if _, err := tokenv1.NewAuthorizeServiceClient(internal).Authorize(ctx, &tokenv1.AuthorizeRequest{Parameters: params}); err != nil {
		t.Errorf("Authorize with the internal credential: %v", err)
	}
	wrong := dialGRPC(t, s, grpcCred{gateway: kr.InternalCredential() + "x"})
	if _, err := tokenv1.NewAuthorizeServiceClient(wrong).Authorize(ctx, &tokenv1.AuthorizeRequest{Parameters: params}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("Authorize with a wrong gateway credential: %v, want PermissionDenied", err)
	}

	// Through the gateway, the sign-in works end to end.
	if code := f.codeFor(t, newBrowser(t), "spa", "openid", challenge); code == "" {
		t.Fatal("no code through the REST sign-in")
	}
}

// metricValue scrapes /metrics (on the admin listener) and returns the value of the sample whose line starts
// with prefix.
func metricValue(t testing.TB, s *suite, prefix string) float64 {
	t.Helper()
	r := s.adminGet("/metrics")
	if r.status != 200 {
		t.Fatalf("/metrics: %d", r.status)
	}
	for _, line := range strings.Split(string(r.body), "\n") {
		if rest, ok := strings.CutPrefix(line, prefix+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err != nil {
				t.Fatalf("metric %s: %v", line, err)
			}
			return v
		}
	}
	t.Fatalf("no metric %s in /metrics", prefix)
	return 0
}

const tokenPagesWritten = `authsuite_store_pages_written_total{store="token"}`

// TestTrustAuthorizeWritesNothing: unauthenticated authorization requests store nothing
// until the user submits the login form (the login page carries the request sealed); the login still works
// from such a page, and a tampered sealed value is refused.
func TestTrustAuthorizeWritesNothing(t *testing.T) {
	f := newSigninFixture(t)
	s := f.s
	_, challenge := pkce()
	// A round of unauthenticated requests must not write token.db. The client snapshot the fixture's setup
	// caused is persisted in the background (within 250 ms), so one earlier round may see that write; a
	// round takes longer than that, and the old code wrote once per request in every round.
	var pages []page
	clean := false
	for round := 0; round < 3 && !clean; round++ {
		before := metricValue(t, s, tokenPagesWritten)
		pages = pages[:0]
		for i := 0; i < 100; i++ {
			p := newBrowser(t).get(f.authorizeURL("spa", "openid", "st", "n-1", challenge))
			if !p.isLogin() {
				t.Fatalf("request %d: want the login page, got %d %s", i, p.status, p.body)
			}
			if i < 3 {
				pages = append(pages, p)
			}
		}
		after := metricValue(t, s, tokenPagesWritten)
		t.Logf("round %d: token.db pages written %v → %v", round, before, after)
		clean = after == before
	}
	if !clean {
		t.Fatal("100 unauthenticated authorization requests wrote to token.db in every round")
	}

	// The login works from a page whose request was never stored.
	b := newBrowser(t)
	p := b.get(f.authorizeURL("spa", "openid", "st", "n-1", challenge))
	if q := redirectParams(t, b.login(s.base, p, "alice", alicePassword), f.callback); q.Get("code") == "" || q.Get("state") != "st" {
		t.Fatalf("no code after the login: %v", q)
	}

	// A tampered sealed value is refused by the token service (asked as the gateway would)…
	interaction := pages[0].hidden(t).Get("interaction")
	raw := []byte(interaction)
	if raw[len(raw)/2] == 'A' { // another base64url character: the value still decodes, but does not open
		raw[len(raw)/2] = 'B'
	} else {
		raw[len(raw)/2] = 'A'
	}
	authz := tokenv1.NewAuthorizeServiceClient(dialGRPC(t, s, grpcCred{gateway: internalauth.GatewayCredential(suiteKeys(t, s))}))
	for name, id := range map[string]string{"tampered": string(raw), "truncated": interaction[:len(interaction)-4], "foreign prefix": "s1." + interaction[3:20]} {
		_, err := authz.Login(context.Background(), &tokenv1.LoginRequest{InteractionId: id, Username: "alice", Password: alicePassword,
			Browser: &tokenv1.Browser{RemoteAddr: "127.0.0.1"}})
		if status.Code(err) != codes.FailedPrecondition {
			t.Errorf("%s sealed interaction: %v, want FailedPrecondition", name, err)
		}
	}
	// …and through the gateway nothing is signed in with it.
	b2 := newBrowser(t)
	p2 := b2.get(f.authorizeURL("spa", "openid", "st", "n-1", challenge))
	form := p2.hidden(t)
	form.Set("interaction", string(raw))
	form.Set("username", "alice")
	form.Set("password", alicePassword)
	if r := b2.post(s.base+"/connect/login", form); r.status < 400 || r.location != "" {
		t.Fatalf("login with a tampered interaction: %d %q", r.status, r.location)
	}
}
