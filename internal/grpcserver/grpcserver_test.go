package grpcserver

import (
	"context"
	"log/slog"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/authsuite/authsuite/internal/internalauth"
)

func TestPanicBecomesInternal(t *testing.T) {
	unary, stream := Interceptors(slog.New(slog.DiscardHandler), internalauth.Guard{Internal: "cred"})
	_, err := unary(context.Background(), nil, &grpc.UnaryServerInfo{FullMethod: "/x.Public/Boom"},
		func(context.Context, any) (any, error) { panic("boom") })
	if status.Code(err) != codes.Internal {
		t.Fatalf("unary panic: %v", err)
	}
	err = stream(nil, nil, &grpc.StreamServerInfo{FullMethod: "/x.Public/Boom"},
		func(any, grpc.ServerStream) error { panic("boom") })
	if status.Code(err) != codes.Internal {
		t.Fatalf("stream panic: %v", err)
	}
}

func TestChainOrder(t *testing.T) {
	var order []string
	layer := func(name string) grpc.UnaryServerInterceptor {
		return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			order = append(order, name)
			return h(ctx, req)
		}
	}
	chained := chainUnary([]grpc.UnaryServerInterceptor{layer("a"), layer("b"), layer("c")})
	if _, err := chained(context.Background(), nil, &grpc.UnaryServerInfo{}, func(context.Context, any) (any, error) {
		order = append(order, "handler")
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	if got := order; len(got) != 4 || got[0] != "a" || got[1] != "b" || got[2] != "c" || got[3] != "handler" {
		t.Fatalf("order %v", got)
	}
}

func TestInternalServicesNeedTheCredential(t *testing.T) {
	unary, _ := Interceptors(slog.New(slog.DiscardHandler), internalauth.Guard{Internal: "cred"})
	_, err := unary(context.Background(), nil, &grpc.UnaryServerInfo{FullMethod: "/x.RegistryInternalService/Watch"},
		func(context.Context, any) (any, error) { return nil, nil })
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("internal call without credential: %v", err)
	}
}
