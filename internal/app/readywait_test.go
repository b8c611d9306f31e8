package app

import (
	"context"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// dialBackend dials list as dialBackends does, with the backend options.
func dialBackend(t *testing.T, list string) *grpc.ClientConn {
	t.Helper()
	var cc *grpc.ClientConn
	cc, err := dialService(list, append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, backendDialOptions(&cc)...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

// A call made before any replica listens (roles starting in any order, or a replica coming back) waits for
// one instead of failing at once: the server starts only after the connection has failed to connect, and
// the call, still waiting, succeeds. Without the wait it fails with UNAVAILABLE.
func TestCallWaitsForAReplicaToStart(t *testing.T) {
	for _, twoAddrs := range []bool{false, true} {
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := lis.Addr().String()
		lis.Close() // nothing listens there now
		list := addr
		if twoAddrs {
			other, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			list += "," + other.Addr().String()
			other.Close()
		}
		cc := dialBackend(t, list)
		done := make(chan error, 1)
		go func() {
			_, err := healthpb.NewHealthClient(cc).Check(context.Background(), &healthpb.HealthCheckRequest{})
			done <- err
		}()
		// Wait until the connection has tried and failed: the call is now waiting, not yet sent.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		for s := cc.GetState(); s != connectivity.TransientFailure; s = cc.GetState() {
			if !cc.WaitForStateChange(ctx, s) {
				t.Fatalf("connection never failed to connect (state %v)", s)
			}
		}
		cancel()
		select {
		case err := <-done:
			t.Fatalf("the call ended (%v) while no replica was up, instead of waiting for one", err)
		default:
		}
		lis, err = net.Listen("tcp", addr)
		if err != nil {
			t.Skipf("port %s taken by another process meanwhile: %v", addr, err)
		}
		srv := grpc.NewServer()
		healthpb.RegisterHealthServer(srv, health.NewServer())
		go srv.Serve(lis)
		if err := <-done; err != nil {
			t.Errorf("two addresses %v: the call failed although a replica started within the wait: %v", twoAddrs, err)
		}
		srv.Stop()
	}
}

// With no replica at all the call fails with UNAVAILABLE after the bounded wait, never hangs.
func TestCallWithoutReplicaFailsAfterTheWait(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	cc := dialBackend(t, addr)
	began := time.Now()
	_, err = healthpb.NewHealthClient(cc).Check(context.Background(), &healthpb.HealthCheckRequest{})
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("call with no replica: %v, want UNAVAILABLE", err)
	}
	if took := time.Since(began); took > readyWait+2*time.Second {
		t.Fatalf("call with no replica took %s, want about %s", took, readyWait)
	}
}
