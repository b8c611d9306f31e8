package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	"github.com/authsuite/authsuite/internal/apistatus"
)

// Full method names whose success issues a token.
const (
	oauthTokenMethod  = "/authsuite.token.v1.OAuthService/Token"
	simpleTokenMethod = "/authsuite.token.v1.SimpleTokenService/GetToken"
)

// grantTyped is what a token request offers; the generated TokenRequest implements it, so this package need
// not import the generated code.
type grantTyped interface{ GetGrantType() string }

type grpcKey struct {
	method string
	code   codes.Code
}

type grpcSeries struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

// UnaryServerInterceptor counts and times every unary RPC (authsuite_grpc_requests_total,
// authsuite_grpc_request_duration_seconds), counts failures by OAuth or gRPC code (authsuite_errors_total)
// and counts tokens issued by a successful OAuthService/Token (by the request's grant type) or
// SimpleTokenService/GetToken (client_credentials).
//
// A failure is classified as apistatus.ToStatus maps it, so the labels are those the client sees whether this
// interceptor runs outside or inside apistatus.UnaryServerInterceptor; put it first in the chain so its
// duration covers the others. It never changes the request, the response or the error.
func (m *Metrics) UnaryServerInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		start := time.Now()
		resp, err := handler(ctx, req)
		m.observeRPC(info.FullMethod, start, err)
		if err == nil {
			switch info.FullMethod {
			case oauthTokenMethod:
				if r, ok := req.(grantTyped); ok {
					m.tokenSeries.get(r.GetGrantType()).Inc()
				}
			case simpleTokenMethod:
				m.tokenSeries.get("client_credentials").Inc()
			}
		}
		return resp, err
	}
}

// StreamServerInterceptor is UnaryServerInterceptor for streams: a stream is counted once, when its handler
// returns, and its duration is the stream's whole life. Streams issue no tokens.
func (m *Metrics) StreamServerInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		start := time.Now()
		err := handler(srv, ss)
		m.observeRPC(info.FullMethod, start, err)
		return err
	}
}

// observeRPC records one finished RPC. Success allocates nothing once the method has been seen.
func (m *Metrics) observeRPC(method string, start time.Time, err error) {
	code := codes.OK
	if err != nil {
		info := apistatus.Of(err)
		code = info.Code
		if code > codes.Unauthenticated {
			code = codes.Unknown // not a gRPC code: keep the label set closed
		}
		label := info.OAuthCode
		if label == "" {
			label = apistatus.CodeName(code)
		}
		m.errorSeries.get(label).Inc()
	}
	s := m.grpcSeries.get(grpcKey{method: method, code: code})
	s.requests.Inc()
	s.duration.Observe(time.Since(start).Seconds())
}
