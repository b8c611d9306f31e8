package metrics

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func BenchmarkUnaryInterceptor(b *testing.B) {
	m := New("bench")
	ic := m.UnaryServerInterceptor()
	handler := func(context.Context, any) (any, error) { return nil, nil }
	ctx := context.Background()
	for _, bc := range []struct {
		name, method string
		req          any
	}{
		{"check", "/grpc.health.v1.Health/Check", nil},
		{"token", oauthTokenMethod, tokenRequest{wrapperspb.String("client_credentials")}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			info := &grpc.UnaryServerInfo{FullMethod: bc.method}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					ic(ctx, bc.req, info, handler)
				}
			})
		})
	}
}

// discardWriter is a ResponseWriter that keeps nothing, so the benchmark measures the middleware alone.
type discardWriter struct{ h http.Header }

func (w discardWriter) Header() http.Header       { return w.h }
func (discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (discardWriter) WriteHeader(int)             {}

func BenchmarkHTTPMiddleware(b *testing.B) {
	m := New("bench")
	h := m.HTTPMiddleware(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusCreated)
	}))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		req := httptest.NewRequest(http.MethodPost, "/api/adminapi2/v2/tenants/acme/clients/c-42/secrets/", nil)
		w := discardWriter{h: http.Header{}}
		for pb.Next() {
			h.ServeHTTP(w, req)
		}
	})
}

// TestHotPathsDoNotAllocate guards the benchmarks' 0 allocs/op: once a label combination has been seen, a
// successful RPC or an HTTP request allocates nothing in this package.
func TestHotPathsDoNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	m := New("alloc")
	ic := m.UnaryServerInterceptor()
	handler := func(context.Context, any) (any, error) { return nil, nil }
	info := &grpc.UnaryServerInfo{FullMethod: oauthTokenMethod}
	req := tokenRequest{wrapperspb.String("refresh_token")}
	if n := testing.AllocsPerRun(100, func() { ic(t.Context(), req, info, handler) }); n != 0 {
		t.Errorf("unary interceptor: %v allocs/op", n)
	}
	h := m.HTTPMiddleware(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write(nil) }))
	r := httptest.NewRequest(http.MethodGet, "/api/provider/v1/connectors/k1/token", nil)
	w := discardWriter{h: http.Header{}}
	if n := testing.AllocsPerRun(100, func() { h.ServeHTTP(w, r) }); n != 0 {
		t.Errorf("HTTP middleware: %v allocs/op", n)
	}
}
