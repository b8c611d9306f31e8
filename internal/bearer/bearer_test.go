package bearer_test

import (
	"context"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/apistatus"
	"github.com/authsuite/authsuite/internal/bearer"
)

// fakeTokenService answers AuthenticateToken for NewTokenService; any other method is not called (the
// embedded nil interface would panic).
type fakeTokenService struct {
	tokenv1.TokenInternalServiceClient
	resp *tokenv1.AuthenticateTokenResponse
	err  error
}

func (f fakeTokenService) AuthenticateToken(context.Context, *tokenv1.AuthenticateTokenRequest, ...grpc.CallOption) (*tokenv1.AuthenticateTokenResponse, error) {
	return f.resp, f.err
}

func TestTokenAuthenticator(t *testing.T) {
	ok := bearer.NewTokenService(fakeTokenService{resp: &tokenv1.AuthenticateTokenResponse{
		Subject: "s", ClientId: "c", TenantId: "t", Scopes: []string{"adminapi"}, UserId: "u",
	}})
	info, err := ok.Authenticate(context.Background(), "tok")
	if err != nil || info.ClientID != "c" || info.TenantID != "t" || info.UserID != "u" || info.Subject != "s" || len(info.Scopes) != 1 {
		t.Fatalf("Authenticate = %+v, %v", info, err)
	}
	bad := bearer.NewTokenService(fakeTokenService{err: status.Error(codes.Unauthenticated, "expired")})
	if _, err := bad.Authenticate(context.Background(), "tok"); apistatus.FromStatus(apistatus.ToStatus(err)).Code != codes.Unauthenticated {
		t.Fatalf("unauthenticated answer → %v", err)
	}
	down := bearer.NewTokenService(fakeTokenService{err: status.Error(codes.Unavailable, "connection refused")})
	if _, err := down.Authenticate(context.Background(), "tok"); apistatus.FromStatus(apistatus.ToStatus(err)).Code != codes.Unavailable {
		t.Fatalf("unavailable token service → %v", err)
	}
}

func TestFromContext(t *testing.T) {
	for _, tt := range []struct {
		header, want string
		ok           bool
	}{
		{"Bearer abc", "abc", true},
		{"bearer  abc ", "abc", true},
		{"Basic abc", "", false},
		{"Bearer", "", false},
		{"", "", false},
	} {
		ctx := context.Background()
		if tt.header != "" {
			ctx = metadata.NewIncomingContext(ctx, metadata.Pairs("authorization", tt.header))
		}
		got, err := bearer.FromContext(ctx)
		if tt.ok != (err == nil) || got != tt.want {
			t.Errorf("FromContext(%q) = %q, %v", tt.header, got, err)
		}
		if err != nil && apistatus.FromStatus(apistatus.ToStatus(err)).Code != codes.Unauthenticated {
			t.Errorf("FromContext(%q) error is not UNAUTHENTICATED: %v", tt.header, err)
		}
	}
}
