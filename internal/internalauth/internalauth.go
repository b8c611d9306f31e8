// Package internalauth guards the gRPC services that authsuite services offer only to each other (the
// *InternalService APIs): calls must present the suite's internal credential, derived from the shared master
// key, in metadata. Public services are not affected.
package internalauth

import (
	"context"
	"crypto/subtle"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// MetadataKey carries the internal credential.
const MetadataKey = "authsuite-internal"

// Credentials returns per-RPC credentials that attach cred to every call of a connection. They work over
// plaintext loopback connections (use TLS between hosts).
func Credentials(cred string) credentials.PerRPCCredentials { return perRPC(cred) }

type perRPC string

func (p perRPC) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{MetadataKey: string(p)}, nil
}

func (perRPC) RequireTransportSecurity() bool { return false }

// isInternal reports whether a full method name ("/pkg.Service/Method") belongs to an internal service.
func isInternal(fullMethod string) bool {
	svc, _, _ := strings.Cut(strings.TrimPrefix(fullMethod, "/"), "/")
	return strings.HasSuffix(svc, "InternalService")
}

func check(ctx context.Context, cred, fullMethod string) error {
	if !isInternal(fullMethod) || HasCredential(ctx, cred) {
		return nil
	}
	return status.Error(codes.PermissionDenied, "internal API: missing or wrong internal credential")
}

// HasCredential reports, in constant time per value, whether the incoming call carries cred. An empty cred
// matches nothing.
func HasCredential(ctx context.Context, cred string) bool {
	if cred == "" {
		return false
	}
	md, _ := metadata.FromIncomingContext(ctx)
	for _, v := range md.Get(MetadataKey) {
		if subtle.ConstantTimeCompare([]byte(v), []byte(cred)) == 1 {
			return true
		}
	}
	return false
}

// UnaryServerInterceptor rejects calls to internal services that lack cred with PERMISSION_DENIED.
func UnaryServerInterceptor(cred string) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if err := check(ctx, cred, info.FullMethod); err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// StreamServerInterceptor is UnaryServerInterceptor for streams.
func StreamServerInterceptor(cred string) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if err := check(ss.Context(), cred, info.FullMethod); err != nil {
			return err
		}
		return handler(srv, ss)
	}
}
