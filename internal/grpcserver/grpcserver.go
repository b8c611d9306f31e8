// Package grpcserver builds the gRPC servers of every authsuite role with the same interceptor chain:
// internal-credential guard first, then domain-error mapping (apierror), plus health and reflection.
package grpcserver

import (
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
	base := []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(
			internalauth.UnaryServerInterceptor(internalCredential),
			apierror.UnaryServerInterceptor(log),
		),
		grpc.ChainStreamInterceptor(
			internalauth.StreamServerInterceptor(internalCredential),
			apierror.StreamServerInterceptor(log),
		),
	}
	s := grpc.NewServer(append(base, opts...)...)
	hs := health.NewServer()
	healthpb.RegisterHealthServer(s, hs)
	reflection.Register(s)
	return &Server{Server: s, Health: hs}
}
