package inproc

import (
	"context"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// TestMethodNamed: interceptors and handlers see the full method through grpc.Method, as on a grpc.Server
// (a regression: the registry's audit line read method="" for every in-process call).
func TestMethodNamed(t *testing.T) {
	methods := make(chan string, 4)
	u := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		m, ok := grpc.Method(ctx)
		if !ok {
			m = "<none>"
		}
		methods <- m
		return h(ctx, req)
	}
	s := func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		m, ok := grpc.Method(ss.Context())
		if !ok {
			m = "<none>"
		}
		methods <- m
		return nil // end the watch at once
	}
	ch := New(u, s, nil)
	healthpb.RegisterHealthServer(ch, health.NewServer())
	client := healthpb.NewHealthClient(ch)
	if _, err := client.Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
	if got, want := <-methods, healthpb.Health_Check_FullMethodName; got != want {
		t.Errorf("unary: grpc.Method = %q, want %q", got, want)
	}
	w, err := client.Watch(context.Background(), &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	w.Recv() // io.EOF once the interceptor returned
	if got, want := <-methods, healthpb.Health_Watch_FullMethodName; got != want {
		t.Errorf("stream: grpc.Method = %q, want %q", got, want)
	}
}
