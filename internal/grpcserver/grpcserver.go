// Package grpcserver builds the gRPC servers of every authsuite role with the same interceptor chain:
// internal-credential guard first, then domain-error mapping (apierror), plus health and reflection.
package grpcserver

import (
	"context"
	"log/slog"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/internal/internalauth"
)

// Server is a gRPC server with its health service exposed so roles can report readiness.
type Server struct {
	*grpc.Server
	Health *health.Server
}

// New returns a server whose internal services require internalCredential and whose handler errors are
// mapped by apierror.ToStatus. Extra options are appended (e.g. TLS credentials).
func New(log *slog.Logger, internalCredential string, opts ...grpc.ServerOption) *Server {
	unary, stream := Interceptors(log, internalCredential)
	base := []grpc.ServerOption{grpc.UnaryInterceptor(unary), grpc.StreamInterceptor(stream)}
	s := grpc.NewServer(append(base, opts...)...)
	hs := health.NewServer()
	healthpb.RegisterHealthServer(s, hs)
	reflection.Register(s)
	return &Server{Server: s, Health: hs}
}

// Interceptors returns the chain every authsuite gRPC endpoint runs, as single interceptors, so that the
// in-process channel (internal/inproc) applies exactly what the network server does: the internal-credential
// guard, then domain-error mapping.
func Interceptors(log *slog.Logger, internalCredential string) (grpc.UnaryServerInterceptor, grpc.StreamServerInterceptor) {
	guardU, mapU := internalauth.UnaryServerInterceptor(internalCredential), apierror.UnaryServerInterceptor(log)
	guardS, mapS := internalauth.StreamServerInterceptor(internalCredential), apierror.StreamServerInterceptor(log)
	unary := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		return guardU(ctx, req, info, func(ctx context.Context, req any) (any, error) { return mapU(ctx, req, info, h) })
	}
	stream := func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		return guardS(srv, ss, info, func(srv any, ss grpc.ServerStream) error { return mapS(srv, ss, info, h) })
	}
	return unary, stream
}
