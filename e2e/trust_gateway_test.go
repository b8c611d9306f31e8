package e2e

import (
	"context"
	"path/filepath"
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

// TestTrustBrowserFactsOnlyFromGateway (issue 8 item 6): the browser-facing RPCs, whose requests state the
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
