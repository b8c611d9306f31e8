// Package internalauth guards what authsuite's gRPC services offer only to trusted callers:
//   - the *InternalService APIs, which services offer each other: calls must present the suite's internal
//     credential (derived from the shared master key);
//   - browser-facing methods, marked in their proto with (authsuite.options.v1.browser_facing) or, for a
//     whole service, (authsuite.options.v1.service_browser_facing): their requests state facts only the
//     REST gateway observed (a browser's cookies and address, a third party's redirect back), so calls must
//     present the gateway credential or the internal credential.
//
// The gateway credential opens browser-facing methods only, never an internal API. Public services are not
// affected.
package internalauth

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"strings"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	optionsv1 "github.com/authsuite/authsuite/gen/authsuite/options/v1"
	"github.com/authsuite/authsuite/internal/suitekey"
)

// Metadata keys of the two credentials.
const (
	// MetadataKey carries the internal credential.
	MetadataKey = "authsuite-internal"
	// GatewayMetadataKey carries the gateway credential.
	GatewayMetadataKey = "authsuite-gateway"
	// ClientCertMetadataKey carries the TLS client certificate chain (DER, leaf first, one value each) that
	// the REST gateway received on a request's connection (RFC 8705 §2). Services believe it only on calls
	// that carry the gateway or the internal credential; the gateway never forwards it from HTTP headers.
	ClientCertMetadataKey = "authsuite-client-cert-bin"
)

// gatewayPurpose labels the derivation of the gateway credential, so it differs from every other key the
// master key yields (the internal credential, sealing and digest keys).
const gatewayPurpose = "gateway-rpc"

// GatewayCredential derives the gateway credential from the keyring's primary key: HMAC-SHA-256 under the
// key's HKDF subkey for the purpose "gateway-rpc", base64url. Every process holding the same keyring derives
// the same value; the value reveals neither the master key nor the internal credential.
func GatewayCredential(kr *suitekey.Keyring) string {
	_, sum := kr.Digest(gatewayPurpose, []byte("authsuite gateway credential v1"))
	return base64.RawURLEncoding.EncodeToString(sum)
}

// Credentials returns per-RPC credentials that attach the internal credential cred to every call of a
// connection. They work over plaintext loopback connections (use TLS between hosts).
func Credentials(cred string) credentials.PerRPCCredentials { return perRPC{MetadataKey, cred} }

// GatewayCredentials is Credentials for the gateway credential.
func GatewayCredentials(cred string) credentials.PerRPCCredentials {
	return perRPC{GatewayMetadataKey, cred}
}

type perRPC struct{ key, cred string }

func (p perRPC) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{p.key: p.cred}, nil
}

func (perRPC) RequireTransportSecurity() bool { return false }

// Guard is the access rule a gRPC server enforces before any handler runs. An empty credential opens
// nothing.
type Guard struct {
	Internal string // opens every method
	Gateway  string // opens browser-facing methods only
}

// isInternal reports whether a full method name ("/pkg.Service/Method") belongs to an internal service.
func isInternal(fullMethod string) bool {
	svc, _, _ := strings.Cut(strings.TrimPrefix(fullMethod, "/"), "/")
	return strings.HasSuffix(svc, "InternalService")
}

// browserFacingCache memoizes BrowserFacing per full method name. Only methods with a registered
// descriptor are stored, so its size is bounded by the registered APIs.
var browserFacingCache sync.Map // string → bool

// BrowserFacing reports whether the method named fullMethod ("/pkg.Service/Method") is marked browser-facing
// in its registered descriptor: the method carries (authsuite.options.v1.browser_facing) or its service
// (authsuite.options.v1.service_browser_facing). A method without a registered descriptor is not.
func BrowserFacing(fullMethod string) bool {
	if v, ok := browserFacingCache.Load(fullMethod); ok {
		return v.(bool)
	}
	svcName, methodName, ok := strings.Cut(strings.TrimPrefix(fullMethod, "/"), "/")
	if !ok {
		return false
	}
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(svcName))
	if err != nil {
		return false
	}
	sd, ok := d.(protoreflect.ServiceDescriptor)
	if !ok {
		return false
	}
	md := sd.Methods().ByName(protoreflect.Name(methodName))
	if md == nil {
		return false
	}
	marked := proto.GetExtension(sd.Options(), optionsv1.E_ServiceBrowserFacing).(bool) ||
		proto.GetExtension(md.Options(), optionsv1.E_BrowserFacing).(bool)
	browserFacingCache.Store(fullMethod, marked)
	return marked
}

func (g Guard) check(ctx context.Context, fullMethod string) error {
	switch {
	case isInternal(fullMethod):
		if HasCredential(ctx, g.Internal) {
			return nil
		}
		return status.Error(codes.PermissionDenied, "internal API: missing or wrong internal credential")
	case BrowserFacing(fullMethod):
		if HasCredential(ctx, g.Internal) || hasValue(ctx, GatewayMetadataKey, g.Gateway) {
			return nil
		}
		return status.Error(codes.PermissionDenied, "browser-facing API: only the REST gateway may call it (missing or wrong gateway credential)")
	}
	return nil
}

// HasCredential reports, in constant time per value, whether the incoming call carries the internal
// credential cred. An empty cred matches nothing.
func HasCredential(ctx context.Context, cred string) bool { return hasValue(ctx, MetadataKey, cred) }

func hasValue(ctx context.Context, key, cred string) bool {
	if cred == "" {
		return false
	}
	md, _ := metadata.FromIncomingContext(ctx)
	for _, v := range md.Get(key) {
		if subtle.ConstantTimeCompare([]byte(v), []byte(cred)) == 1 {
			return true
		}
	}
	return false
}

// Unary rejects, with PERMISSION_DENIED, calls the guard does not open.
func (g Guard) Unary() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if err := g.check(ctx, info.FullMethod); err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// Stream is Unary for streams.
func (g Guard) Stream() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if err := g.check(ss.Context(), info.FullMethod); err != nil {
			return err
		}
		return handler(srv, ss)
	}
}

// UnaryServerInterceptor is Guard{Internal: cred}.Unary(): browser-facing methods then need the internal
// credential too.
func UnaryServerInterceptor(cred string) grpc.UnaryServerInterceptor {
	return Guard{Internal: cred}.Unary()
}

// StreamServerInterceptor is Guard{Internal: cred}.Stream().
func StreamServerInterceptor(cred string) grpc.StreamServerInterceptor {
	return Guard{Internal: cred}.Stream()
}
