package app

import (
	"context"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/connectivity"
)

// Backend connections between roles: a replica that restarts is dialled again within reconnectMax (gRPC's
// default backoff grows to two minutes, which would leave a replica that is back unused for that long), and
// a unary call made while no replica is ready yet (the roles are starting, or one just came back) waits up
// to readyWait for one instead of failing at once. A call to a service with no replica at all still fails,
// readyWait later, with UNAVAILABLE. Streams (the client watch) reconnect on their own and are not held.
const (
	reconnectMax = time.Second
	readyWait    = 3 * time.Second
)

// backendDialOptions returns the options above for a connection whose *grpc.ClientConn will be stored in
// *cc once dialled (the interceptor needs the connection to watch its state).
func backendDialOptions(cc **grpc.ClientConn) []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: reconnectMax},
			MinConnectTimeout: 5 * time.Second,
		}),
		grpc.WithChainUnaryInterceptor(func(ctx context.Context, method string, req, reply any, conn *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			awaitReady(ctx, *cc, readyWait)
			return invoker(ctx, method, req, reply, conn, opts...)
		}),
	}
}

// awaitReady returns once conn is READY (some replica passes its health check), or after max, or when ctx
// ends, whichever comes first. It starts connecting an idle connection.
func awaitReady(ctx context.Context, conn *grpc.ClientConn, max time.Duration) {
	if conn == nil {
		return
	}
	state := conn.GetState()
	if state == connectivity.Ready {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, max)
	defer cancel()
	for state != connectivity.Ready && state != connectivity.Shutdown {
		if state == connectivity.Idle {
			conn.Connect()
		}
		if !conn.WaitForStateChange(ctx, state) {
			return
		}
		state = conn.GetState()
	}
}
