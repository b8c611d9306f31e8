package server

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
)

// TestResolveSession: the provider service authenticates a connector's owner by the browser's SSO session
// through ResolveSession. It names the user of a live session of the asked tenant only; another tenant, an
// unknown or oversized cookie and an expired session answer UNAUTHENTICATED alike, and the call is an
// internal API (a public caller is refused).
func TestResolveSession(t *testing.T) {
	e, az := signinEnv(t)
	ctx := context.Background()
	cookie := signInAlice(t, az).GetSetSessionCookie()
	r, err := e.internal.ResolveSession(ctx, &tokenv1.ResolveSessionRequest{SessionCookie: cookie, TenantId: "t-acme"})
	if err != nil || r.GetUserId() != "u-alice" || r.GetTenantId() != "t-acme" {
		t.Fatalf("ResolveSession = %v, %v", r, err)
	}
	for name, req := range map[string]*tokenv1.ResolveSessionRequest{
		"another tenant":    {SessionCookie: cookie, TenantId: "default"},
		"an unknown cookie": {SessionCookie: cookie + "x", TenantId: "t-acme"},
		"no cookie":         {TenantId: "t-acme"},
		"an oversized one":  {SessionCookie: string(make([]byte, 200)), TenantId: "t-acme"},
	} {
		if _, err := e.internal.ResolveSession(ctx, req); status.Code(err) != codes.Unauthenticated {
			t.Errorf("%s: %v, want Unauthenticated", name, err)
		}
	}
	if _, err := e.internal.ResolveSession(ctx, &tokenv1.ResolveSessionRequest{SessionCookie: cookie}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("no tenant: %v, want InvalidArgument", err)
	}
	if _, err := tokenv1.NewTokenInternalServiceClient(e.publicConn).ResolveSession(ctx, &tokenv1.ResolveSessionRequest{SessionCookie: cookie, TenantId: "t-acme"}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("public caller: %v, want PermissionDenied", err)
	}
	e.clock.Advance(2 * time.Hour)
	if _, err := e.internal.ResolveSession(ctx, &tokenv1.ResolveSessionRequest{SessionCookie: cookie, TenantId: "t-acme"}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("expired session: %v, want Unauthenticated", err)
	}
}
