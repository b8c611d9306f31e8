// Package grpcserver builds the gRPC servers of every authsuite role with the same interceptor chain:
// optional outer layers (metrics), the credential guard (internal/internalauth: internal APIs need the
// internal credential, browser-facing methods the gateway or internal credential), then domain-error mapping
// (apistatus), plus health and reflection.
package grpcserver

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"

	"github.com/authsuite/authsuite/internal/apistatus"
	"github.com/authsuite/authsuite/internal/internalauth"
)

// Server is a gRPC server with its health service exposed so roles can report readiness.
type Server struct {
	*grpc.Server
	Health *health.Server
}

// Layer is an outer interceptor pair, such as *metrics.Metrics.
type Layer interface {
	UnaryServerInterceptor() grpc.UnaryServerInterceptor
	StreamServerInterceptor() grpc.StreamServerInterceptor
}

// New returns a server running the chain of Interceptors with no outer layers, guarded by the internal
// credential alone (browser-facing methods then need it too). Extra options are appended (e.g. TLS
// credentials).
func New(log *slog.Logger, internalCredential string, opts ...grpc.ServerOption) *Server {
	unary, stream := Interceptors(log, internalauth.Guard{Internal: internalCredential})
	return NewWith(unary, stream, opts...)
}

// NewWith returns a server running the given interceptors, with health and reflection registered.
func NewWith(unary grpc.UnaryServerInterceptor, stream grpc.StreamServerInterceptor, opts ...grpc.ServerOption) *Server {
	base := []grpc.ServerOption{grpc.UnaryInterceptor(unary), grpc.StreamInterceptor(stream)}
	s := grpc.NewServer(append(base, opts...)...)
	hs := health.NewServer()
	healthpb.RegisterHealthServer(s, hs)
	reflection.Register(s)
	return &Server{Server: s, Health: hs}
}

// Interceptors returns the chain every authsuite gRPC endpoint runs, as single interceptors, so that the
// in-process channel (internal/inproc) applies exactly what the network server does: the outer layers
// (first outermost), panic recovery, the credential guard, then domain-error mapping.
func Interceptors(log *slog.Logger, guard internalauth.Guard, outer ...Layer) (grpc.UnaryServerInterceptor, grpc.StreamServerInterceptor) {
	unaries := []grpc.UnaryServerInterceptor{}
	streams := []grpc.StreamServerInterceptor{}
	for _, l := range outer {
		unaries = append(unaries, l.UnaryServerInterceptor())
		streams = append(streams, l.StreamServerInterceptor())
	}
	unaries = append(unaries, recoverUnary(log), guard.Unary(), apistatus.UnaryServerInterceptor(log))
	streams = append(streams, recoverStream(log), guard.Stream(), apistatus.StreamServerInterceptor(log))
	return chainUnary(unaries), chainStream(streams)
}

func chainUnary(is []grpc.UnaryServerInterceptor) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		for i := len(is) - 1; i >= 0; i-- {
			next, ic := h, is[i]
			h = func(ctx context.Context, req any) (any, error) { return ic(ctx, req, info, next) }
		}
		return h(ctx, req)
	}
}

func chainStream(is []grpc.StreamServerInterceptor) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		for i := len(is) - 1; i >= 0; i-- {
			next, ic := h, is[i]
			h = func(srv any, ss grpc.ServerStream) error { return ic(srv, ss, info, next) }
		}
		return h(srv, ss)
	}
}

// recoverUnary turns a handler panic into INTERNAL (logged once with its stack) so that no input can take
// the process down.
func recoverUnary(log *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (resp any, err error) {
		defer func() {
			if r := recover(); r != nil {
				err = panicked(log, info.FullMethod, r)
			}
		}()
		return h(ctx, req)
	}
}

// recoverStream is recoverUnary for streams.
func recoverStream(log *slog.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = panicked(log, info.FullMethod, r)
			}
		}()
		return h(srv, ss)
	}
}

func panicked(log *slog.Logger, method string, r any) error {
	if log != nil {
		log.Error("handler panicked", "method", method, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
	}
	return status.Error(codes.Internal, "internal error")
}
