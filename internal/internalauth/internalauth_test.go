package internalauth

import (
	"context"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	_ "github.com/authsuite/authsuite/gen/authsuite/provider/v1"
	_ "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/suitekey"
)

// TestBrowserFacingFromDescriptors: the marks are read from the registered descriptors, per service and per
// method; unknown names are not browser-facing.
func TestBrowserFacingFromDescriptors(t *testing.T) {
	for method, want := range map[string]bool{
		"/authsuite.token.v1.AuthorizeService/Authorize":                true,
		"/authsuite.token.v1.AuthorizeService/Login":                    true,
		"/authsuite.token.v1.AuthorizeService/CheckCorsOrigin":          true,
		"/authsuite.provider.v1.ConnectorService/CompleteAuthorization": true,
		"/authsuite.provider.v1.ConnectorService/GetConnector":          false,
		"/authsuite.token.v1.OAuthService/Token":                        false,
		"/authsuite.token.v1.AuthorizeService/NoSuchMethod":             false,
		"/no.such.Service/Method":                                       false,
		"garbage":                                                       false,
	} {
		if got := BrowserFacing(method); got != want {
			t.Errorf("BrowserFacing(%q) = %v, want %v", method, got, want)
		}
	}
}

// TestGuard: the internal credential opens everything; the gateway credential browser-facing methods only;
// nothing else opens either; public methods need nothing.
func TestGuard(t *testing.T) {
	kr, err := suitekey.New(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	g := Guard{Internal: kr.InternalCredential(), Gateway: GatewayCredential(kr)}
	if g.Gateway == g.Internal || g.Gateway == "" {
		t.Fatal("the gateway credential must differ from the internal one")
	}
	with := func(key, v string) context.Context {
		return metadata.NewIncomingContext(context.Background(), metadata.Pairs(key, v))
	}
	const (
		browser  = "/authsuite.token.v1.AuthorizeService/Login"
		internal = "/authsuite.token.v1.TokenInternalService/AuthenticateToken"
		public   = "/authsuite.token.v1.OAuthService/Token"
	)
	for _, tt := range []struct {
		name   string
		ctx    context.Context
		method string
		want   codes.Code
	}{
		{"no credential, browser-facing", context.Background(), browser, codes.PermissionDenied},
		{"no credential, internal", context.Background(), internal, codes.PermissionDenied},
		{"no credential, public", context.Background(), public, codes.OK},
		{"gateway, browser-facing", with(GatewayMetadataKey, g.Gateway), browser, codes.OK},
		{"gateway, internal", with(GatewayMetadataKey, g.Gateway), internal, codes.PermissionDenied},
		{"gateway value under the internal key", with(MetadataKey, g.Gateway), internal, codes.PermissionDenied},
		{"internal, browser-facing", with(MetadataKey, g.Internal), browser, codes.OK},
		{"internal, internal", with(MetadataKey, g.Internal), internal, codes.OK},
		{"wrong gateway value", with(GatewayMetadataKey, g.Gateway+"x"), browser, codes.PermissionDenied},
		{"empty gateway value", with(GatewayMetadataKey, ""), browser, codes.PermissionDenied},
	} {
		if got := status.Code(g.check(tt.ctx, tt.method)); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
	if c := (Guard{Internal: "i"}); status.Code(c.check(with(GatewayMetadataKey, ""), browser)) != codes.PermissionDenied {
		t.Error("a guard without a gateway credential opened a browser-facing method to an empty value")
	}
}
