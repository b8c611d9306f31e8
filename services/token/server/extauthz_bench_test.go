package server

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/grpc"

	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/grpctest"
)

// BenchmarkAuthzCheck measures the Envoy authorizer allowing a request with a warm signature cache: the core
// alone (direct), and over gRPC on loopback as Envoy calls it, from 64 concurrent streams over 4 connections
// (grpc-64). checks/s is the throughput of the whole process (client and server share the machine).
func BenchmarkAuthzCheck(b *testing.B) {
	s := benchServer(b, "ES256", 0)
	r, err := s.Token(context.Background(), &tokenv1.TokenRequest{GrantType: GrantClientCredentials, Client: creds("svc", svcSecret), Scope: "read"})
	if err != nil {
		b.Fatal(err)
	}
	routes, err := ParseAuthzRoutes(fmt.Appendf(nil, `{"routes":[{"prefix":"/","audience":"https://other.internal"},
		{"prefix":"/api/","audience":%q,"scopes":["read"]},{"prefix":"/api/admin/","audience":%[1]q,"scopes":["sudo"]}]}`, testIssuer))
	if err != nil {
		b.Fatal(err)
	}
	req := envoyCheck("GET", "/api/orders/42?expand=items", map[string]string{
		"authorization": "Bearer " + r.GetAccessToken(), "host": "api.example", "user-agent": "bench", "accept": "*/*",
		"x-request-id": "0f8fad5b-d9cb-469f-a165-70867728950e", "x-forwarded-proto": "https",
	})
	allowed := func(b *testing.B, resp *authv3.CheckResponse) {
		if resp.GetStatus().GetCode() != int32(code.Code_OK) {
			b.Fatalf("denied: %v", resp.GetStatus())
		}
	}
	b.Run("direct", func(b *testing.B) {
		a := &authorizer{s: s, routes: routes}
		b.ReportAllocs()
		for b.Loop() {
			resp, _ := a.Check(context.Background(), req)
			allowed(b, resp)
		}
	})
	b.Run("grpc-64", func(b *testing.B) {
		addr := grpctest.Serve(b, "", func(g grpc.ServiceRegistrar) { s.RegisterAuthz(g, routes) })
		conns := make([]authv3.AuthorizationClient, 4)
		for i := range conns {
			conns[i] = authv3.NewAuthorizationClient(grpctest.Dial(b, addr, ""))
		}
		b.SetParallelism(max(1, 64/runtime.GOMAXPROCS(0)))
		b.ReportAllocs()
		b.ResetTimer()
		var next atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			c := conns[next.Add(1)%int64(len(conns))]
			for pb.Next() {
				resp, err := c.Check(context.Background(), req)
				if err != nil {
					b.Fatal(err)
				}
				allowed(b, resp)
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "checks/s")
	})
}
