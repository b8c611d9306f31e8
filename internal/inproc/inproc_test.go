package inproc

import (
	"context"
	"errors"
	"io"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// recordingInterceptors capture the incoming metadata each call carried.
func recordingInterceptors(seen *[]metadata.MD) (grpc.UnaryServerInterceptor, grpc.StreamServerInterceptor) {
	u := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		*seen = append(*seen, md)
		if md.Get("deny") != nil {
			return nil, status.Error(codes.PermissionDenied, "denied")
		}
		return h(ctx, req)
	}
	s := func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		md, _ := metadata.FromIncomingContext(ss.Context())
		*seen = append(*seen, md)
		return h(srv, ss)
	}
	return u, s
}

func TestUnary(t *testing.T) {
	var seen []metadata.MD
	u, s := recordingInterceptors(&seen)
	ch := New(u, s, metadata.Pairs("fixed", "1"))
	hs := health.NewServer()
	healthpb.RegisterHealthServer(ch, hs)
	client := healthpb.NewHealthClient(ch)

	ctx := metadata.AppendToOutgoingContext(context.Background(), "caller", "x")
	resp, err := client.Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("Check: %v %v", resp, err)
	}
	if got := seen[0]; got.Get("caller")[0] != "x" || got.Get("fixed")[0] != "1" {
		t.Fatalf("incoming metadata %v", got)
	}
	// Errors keep their status; views carry their own metadata.
	_, err = client.Check(ctx, &healthpb.HealthCheckRequest{Service: "unknown"})
	if status.Code(err) != codes.NotFound {
		t.Fatalf("unknown service: %v", err)
	}
	view := healthpb.NewHealthClient(ch.WithMetadata(metadata.Pairs("deny", "1")))
	if _, err := view.Check(context.Background(), &healthpb.HealthCheckRequest{}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("view: %v", err)
	}
	if err := ch.Invoke(context.Background(), "/no.Such/Method", &healthpb.HealthCheckRequest{}, &healthpb.HealthCheckResponse{}); status.Code(err) != codes.Unimplemented {
		t.Fatalf("unknown method: %v", err)
	}
}

func TestStream(t *testing.T) {
	var seen []metadata.MD
	u, s := recordingInterceptors(&seen)
	ch := New(u, s, nil)
	hs := health.NewServer()
	healthpb.RegisterHealthServer(ch, hs)
	client := healthpb.NewHealthClient(ch)

	ctx, cancel := context.WithCancel(context.Background())
	w, err := client.Watch(ctx, &healthpb.HealthCheckRequest{Service: "svc"})
	if err != nil {
		t.Fatal(err)
	}
	first, err := w.Recv()
	if err != nil || first.GetStatus() != healthpb.HealthCheckResponse_SERVICE_UNKNOWN {
		t.Fatalf("first: %v %v", first, err)
	}
	hs.SetServingStatus("svc", healthpb.HealthCheckResponse_SERVING)
	second, err := w.Recv()
	if err != nil || second.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("second: %v %v", second, err)
	}
	cancel()
	for {
		_, err := w.Recv()
		if err == nil {
			continue
		}
		if status.Code(err) != codes.Canceled && !errors.Is(err, io.EOF) {
			t.Fatalf("after cancel: %v", err)
		}
		break
	}
	if len(seen) != 1 {
		t.Fatalf("stream interceptor ran %d times", len(seen))
	}
}

func TestMessagesAreCopied(t *testing.T) {
	ch := New(nil, nil, nil)
	var got *healthpb.HealthCheckRequest
	healthpb.RegisterHealthServer(ch, checkFunc(func(_ context.Context, r *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
		got = r
		return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
	}))
	req := &healthpb.HealthCheckRequest{Service: "a"}
	if _, err := healthpb.NewHealthClient(ch).Check(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if got == req || got.GetService() != "a" {
		t.Fatal("the handler saw the caller's message itself")
	}
}

type checkFunc func(context.Context, *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error)

func (f checkFunc) Check(ctx context.Context, r *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	return f(ctx, r)
}
func (checkFunc) List(context.Context, *healthpb.HealthListRequest) (*healthpb.HealthListResponse, error) {
	return nil, status.Error(codes.Unimplemented, "")
}
func (checkFunc) Watch(*healthpb.HealthCheckRequest, healthpb.Health_WatchServer) error {
	return status.Error(codes.Unimplemented, "")
}

func TestUnaryHeadersReachCaller(t *testing.T) {
	u := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		if err := grpc.SetHeader(ctx, metadata.Pairs("answer", "42")); err != nil {
			return nil, err
		}
		if err := grpc.SetTrailer(ctx, metadata.Pairs("after", "1")); err != nil {
			return nil, err
		}
		return h(ctx, req)
	}
	ch := New(u, nil, nil)
	healthpb.RegisterHealthServer(ch, health.NewServer())
	client := healthpb.NewHealthClient(ch)
	for _, service := range []string{"", "unknown"} { // success, and an error: headers arrive either way
		var header, trailer metadata.MD
		_, err := client.Check(context.Background(), &healthpb.HealthCheckRequest{Service: service}, grpc.Header(&header), grpc.Trailer(&trailer))
		if service == "" && err != nil {
			t.Fatal(err)
		}
		if got := header.Get("answer"); len(got) != 1 || got[0] != "42" {
			t.Errorf("service %q: header %v, want answer=42", service, header)
		}
		if got := trailer.Get("after"); len(got) != 1 || got[0] != "1" {
			t.Errorf("service %q: trailer %v, want after=1", service, trailer)
		}
	}
}
