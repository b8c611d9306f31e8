// Package grpctest starts real gRPC servers on loopback for tests.
package grpctest

import (
	"log/slog"
	"net"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/authsuite/authsuite/internal/grpcserver"
	"github.com/authsuite/authsuite/internal/internalauth"
)

// Serve starts an authsuite gRPC server (grpcserver.New) on 127.0.0.1:0 with the services that register
// adds, and stops it when the test ends. It returns the listen address.
func Serve(t testing.TB, internalCredential string, register func(grpc.ServiceRegistrar)) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpcserver.New(slog.New(slog.DiscardHandler), internalCredential)
	register(s.Server)
	go s.Serve(lis)
	t.Cleanup(s.Stop)
	return lis.Addr().String()
}

// Dial connects to addr over plaintext; with a non-empty internalCredential every call carries it.
func Dial(t testing.TB, addr, internalCredential string) *grpc.ClientConn {
	t.Helper()
	opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	if internalCredential != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(internalauth.Credentials(internalCredential)))
	}
	cc, err := grpc.NewClient(addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}
