package server

import (
	"context"
	"net"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/internal/apistatus"
	"github.com/authsuite/authsuite/services/token/clients"
)

// BenchmarkDevicePollGRPC measures pending device polls (RFC 8628 §3.4) through the token endpoint over
// loopback gRPC, 256 pending device codes polled concurrently (GOMAXPROCS×4 callers) on the bbolt store:
// each poll authenticates the public client, reads the device code (one store read, no write) and
// answers authorization_pending, or slow_down for a code polled again within its interval (the same
// work). Reported: polls/s.
func BenchmarkDevicePollGRPC(b *testing.B) {
	s := benchServer(b, "ES256", 0)
	notSecret := false
	if err := clients.TestingPut(s.cache, &registryv1.ClientRecord{Client: &registryv1.Client{ClientId: "tv", TenantId: "default",
		AllowedGrantTypes: []string{GrantDeviceCode}, AllowedScopes: []string{"openid"}, RequireClientSecret: &notSecret}}); err != nil {
		b.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	g := grpc.NewServer(grpc.UnaryInterceptor(apistatus.UnaryServerInterceptor(s.log))) // OAuth errors as in production
	tokenv1.RegisterOAuthServiceServer(g, s)
	go g.Serve(lis)
	b.Cleanup(g.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	oauth := tokenv1.NewOAuthServiceClient(conn)
	codes := make([]string, 256)
	for i := range codes {
		r, err := deviceService{s: s}.DeviceAuthorization(context.Background(), &tokenv1.DeviceAuthorizationRequest{
			Client: &tokenv1.ClientCredentials{ClientId: "tv"}, Scope: "openid"})
		if err != nil {
			b.Fatal(err)
		}
		codes[i] = r.GetDeviceCode()
	}
	var next atomic.Int64
	b.SetParallelism(4)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			code := codes[next.Add(1)%int64(len(codes))]
			_, err := oauth.Token(context.Background(), &tokenv1.TokenRequest{GrantType: GrantDeviceCode,
				Client: &tokenv1.ClientCredentials{ClientId: "tv"}, DeviceCode: code})
			if c := apistatus.FromStatus(err).OAuthCode; c != apierror.AuthorizationPending && c != apierror.SlowDown {
				b.Fatalf("poll: %v", err)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "polls/s")
}
