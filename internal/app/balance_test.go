package app

import (
	"context"
	"net"
	"strings"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// replica is one in-process gRPC server with a health service, counting the unary calls it answers.
type replica struct {
	addr   string
	srv    *grpc.Server
	health *health.Server
	calls  atomic.Int64
}

func startReplica(t *testing.T) *replica {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &replica{addr: lis.Addr().String(), health: health.NewServer()}
	r.srv = grpc.NewServer(grpc.UnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		r.calls.Add(1)
		return h(ctx, req)
	}))
	healthpb.RegisterHealthServer(r.srv, r.health)
	go r.srv.Serve(lis)
	t.Cleanup(r.srv.Stop)
	return r
}

// A service given as two addresses is balanced over both replicas; a replica that reports NOT_SERVING, and
// then one that is stopped, gets no more calls while every call keeps succeeding through the other.
func TestDialServiceBalancesOverHealthyReplicas(t *testing.T) {
	a, b := startReplica(t), startReplica(t)
	cc, err := dialService(a.addr+","+b.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	client := healthpb.NewHealthClient(cc)
	call := func(what string) {
		t.Helper()
		// The probe names a service no replica knows, so a NOT_SERVING replica still answers it: a success says
		// the balancer picked a replica and the call went through, not what the replica's status is.
		if _, err := client.Check(context.Background(), &healthpb.HealthCheckRequest{Service: "probe"}); err != nil && !strings.Contains(err.Error(), "unknown service") {
			t.Fatalf("%s: %v", what, err)
		}
	}
	// waitFor makes calls until the replica's count stops growing for n calls in a row, each call a real
	// request the balancer routes (no sleeping): the balancer has seen the health change.
	waitFor := func(r *replica, what string) {
		t.Helper()
		for i, quiet := 0, 0; quiet < 50; i++ {
			if i > 10000 {
				t.Fatalf("%s: the replica still gets calls", what)
			}
			before := r.calls.Load()
			call(what)
			if r.calls.Load() == before {
				quiet++
			} else {
				quiet = 0
			}
		}
	}

	for range 40 {
		call("both serving")
	}
	if a.calls.Load() == 0 || b.calls.Load() == 0 {
		t.Fatalf("round robin over two replicas: %d and %d calls", a.calls.Load(), b.calls.Load())
	}

	a.health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	waitFor(a, "a not serving")
	bBefore := b.calls.Load()
	for range 40 {
		call("a not serving")
	}
	if got := b.calls.Load() - bBefore; got != 40 {
		t.Fatalf("with a NOT_SERVING, b answered %d of 40 calls", got)
	}

	a.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	for i := 0; a.calls.Load() == 0 || i == 0; i++ { // a gets calls again once it reports SERVING
		if i > 10000 {
			t.Fatal("a serves again but gets no calls")
		}
		a.calls.Store(0)
		call("a back")
	}

	// A replica that shuts down (health NOT_SERVING, then a graceful stop, as Suite.Shutdown does) loses no call.
	b.health.Shutdown()
	b.srv.GracefulStop()
	aBefore := a.calls.Load()
	for range 40 {
		call("b stopped")
	}
	if got := a.calls.Load() - aBefore; got != 40 {
		t.Fatalf("with b stopped, a answered %d of 40 calls", got)
	}
}

// One address is dialled as before lists existed; a malformed list is an error, not a connection.
func TestDialServiceSingleAndInvalid(t *testing.T) {
	a := startReplica(t)
	cc, err := dialService(a.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	if cc.CanonicalTarget() != "dns:///"+a.addr {
		t.Errorf("one address dialled as %s", cc.CanonicalTarget())
	}
	if _, err := healthpb.NewHealthClient(cc).Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
	for _, list := range []string{"", "a:1,,b:2", "a:1,a:1", "nohost"} {
		if cc, err := dialService(list, grpc.WithTransportCredentials(insecure.NewCredentials())); err == nil {
			cc.Close()
			t.Errorf("dialService(%q) connected", list)
		}
	}
}
