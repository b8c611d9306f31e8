package gateway

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/grpctest"
)

// revisionBackend answers like a service on the revision barrier: each call records the authsuite-revision
// metadata it received and answers its own revision as response header metadata.
type revisionBackend struct {
	registryv1.UnimplementedTenantServiceServer
	tokenv1.UnimplementedOAuthServiceServer
	tokenv1.UnimplementedAuthorizeServiceServer

	mu   sync.Mutex
	seen map[string][]string // method → authsuite-revision values received
}

func (b *revisionBackend) record(ctx context.Context, answer string) error {
	md, _ := metadata.FromIncomingContext(ctx)
	method, _ := grpc.Method(ctx)
	b.mu.Lock()
	b.seen[method] = md.Get(revisionMetadata)
	b.mu.Unlock()
	return grpc.SetHeader(ctx, metadata.Pairs(revisionMetadata, answer))
}

func (b *revisionBackend) received(method string) ([]string, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	v, ok := b.seen[method]
	return v, ok
}

func (b *revisionBackend) CreateTenant(ctx context.Context, req *registryv1.CreateTenantRequest) (*registryv1.CreateTenantResponse, error) {
	if err := b.record(ctx, "registry:7"); err != nil {
		return nil, err
	}
	return &registryv1.CreateTenantResponse{Tenant: req.GetTenant()}, nil
}

func (b *revisionBackend) Revoke(ctx context.Context, _ *tokenv1.RevokeRequest) (*tokenv1.RevokeResponse, error) {
	if err := b.record(ctx, "token:9"); err != nil {
		return nil, err
	}
	return &tokenv1.RevokeResponse{}, nil
}

func (b *revisionBackend) CheckCorsOrigin(ctx context.Context, _ *tokenv1.CheckCorsOriginRequest) (*tokenv1.CheckCorsOriginResponse, error) {
	return &tokenv1.CheckCorsOriginResponse{Allowed: true}, nil
}

// TestRevisionHeaderThroughREST drives the gateway over HTTP against real gRPC backends: the request's
// Authsuite-Revision reaches the service as metadata authsuite-revision, for grpc-gateway routes and
// hand-written ones alike, and the service's answered revision comes back as the Authsuite-Revision response
// header (not as Grpc-Metadata-Authsuite-Revision).
func TestRevisionHeaderThroughREST(t *testing.T) {
	const cred = "internal-credential"
	backend := &revisionBackend{seen: map[string][]string{}}
	addr := grpctest.Serve(t, cred, func(s grpc.ServiceRegistrar) {
		registryv1.RegisterTenantServiceServer(s, backend)
		tokenv1.RegisterOAuthServiceServer(s, backend)
		tokenv1.RegisterAuthorizeServiceServer(s, backend)
	})
	cc := grpctest.Dial(t, addr, cred)
	gw, err := New(context.Background(), Backends{Registry: cc, Token: cc}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)

	tenant := func(revision string) *http.Request {
		r, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/adminapi2/v1/tenants", strings.NewReader(`{"code":"acme"}`))
		r.Header.Set("Content-Type", "application/json")
		if revision != "" {
			r.Header.Set(revisionHeader, revision)
		}
		return r
	}
	revocation := func(revision string) *http.Request {
		form := url.Values{"token": {"t"}, "client_id": {"c"}, "client_secret": {"s"}}
		r, _ := http.NewRequest(http.MethodPost, srv.URL+"/connect/revocation", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if revision != "" {
			r.Header.Set(revisionHeader, revision)
		}
		return r
	}
	for _, tc := range []struct {
		name, method string
		req          func(string) *http.Request
		sent         string
		answer       string
	}{
		{"grpc-gateway route", "/authsuite.registry.v1.TenantService/CreateTenant", tenant, "token:3, registry:2", "registry:7"},
		{"grpc-gateway route without header", "/authsuite.registry.v1.TenantService/CreateTenant", tenant, "", "registry:7"},
		{"hand-written route", "/authsuite.token.v1.OAuthService/Revoke", revocation, "registry:5", "token:9"},
		{"hand-written route without header", "/authsuite.token.v1.OAuthService/Revoke", revocation, "", "token:9"},
	} {
		resp, err := http.DefaultClient.Do(tc.req(tc.sent))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			t.Fatalf("%s: status %d", tc.name, resp.StatusCode)
		}
		got, _ := backend.received(tc.method)
		if tc.sent == "" && len(got) != 0 || tc.sent != "" && (len(got) != 1 || got[0] != tc.sent) {
			t.Errorf("%s: the service received authsuite-revision %q, want %q", tc.name, got, tc.sent)
		}
		if got := resp.Header.Values(revisionHeader); len(got) != 1 || got[0] != tc.answer {
			t.Errorf("%s: response Authsuite-Revision %q, want %q", tc.name, got, tc.answer)
		}
		if got := resp.Header.Get("Grpc-Metadata-Authsuite-Revision"); got != "" {
			t.Errorf("%s: the revision is answered twice (Grpc-Metadata-Authsuite-Revision: %s)", tc.name, got)
		}
	}

	// A value gRPC metadata cannot carry is refused by name before any call.
	backend.mu.Lock()
	clear(backend.seen)
	backend.mu.Unlock()
	resp, err := http.DefaultClient.Do(tenant("registry:é1"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if _, called := backend.received("/authsuite.registry.v1.TenantService/CreateTenant"); resp.StatusCode != http.StatusBadRequest || called {
		t.Errorf("non-printable Authsuite-Revision: status %d, service called %t; want 400 and no call", resp.StatusCode, called)
	}

	// Browsers may send and read the header cross-origin on the CORS endpoints.
	pre, _ := http.NewRequest(http.MethodOptions, srv.URL+"/connect/token", nil)
	pre.Header.Set("Origin", "https://app.example")
	pre.Header.Set("Access-Control-Request-Method", "POST")
	pre.Header.Set("Access-Control-Request-Headers", "authsuite-revision")
	resp, err = http.DefaultClient.Do(pre)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if !strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), revisionHeader) ||
		resp.Header.Get("Access-Control-Expose-Headers") != revisionHeader {
		t.Errorf("CORS preflight: allow %q, expose %q; want both to name %s", resp.Header.Get("Access-Control-Allow-Headers"),
			resp.Header.Get("Access-Control-Expose-Headers"), revisionHeader)
	}
}
