package verifier

import (
	"context"
	"crypto/x509"
	"errors"
	"sort"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// Rules map gRPC methods to the scopes they require. A key is a full method name ("/pkg.Service/Method")
// or a prefix ending in "/" ("/pkg.Service/" for every method of a service); the exact name wins, then the
// longest prefix. A method no key matches is refused (PERMISSION_DENIED) even with a valid token. An empty
// scope list requires a valid token and no scope.
type Rules map[string][]string

// compiledRules is Rules prepared for lookups.
type compiledRules struct {
	exact    map[string][]string
	prefixes []string // longest first
	byPrefix map[string][]string
}

func compile(r Rules) *compiledRules {
	c := &compiledRules{exact: map[string][]string{}, byPrefix: map[string][]string{}}
	for k, scopes := range r {
		if strings.HasSuffix(k, "/") {
			c.prefixes = append(c.prefixes, k)
			c.byPrefix[k] = scopes
		} else {
			c.exact[k] = scopes
		}
	}
	sort.Slice(c.prefixes, func(i, j int) bool { return len(c.prefixes[i]) > len(c.prefixes[j]) })
	return c
}

func (c *compiledRules) scopes(method string) ([]string, bool) {
	if s, ok := c.exact[method]; ok {
		return s, true
	}
	for _, p := range c.prefixes {
		if strings.HasPrefix(method, p) {
			return c.byPrefix[p], true
		}
	}
	return nil, false
}

// UnaryServerInterceptor checks the bearer token of every call (metadata "authorization: Bearer …",
// RFC 6750 §2.1) against rules and puts the *Token into the handler's context (FromContext). Refusals:
// UNAUTHENTICATED (no or invalid token), PERMISSION_DENIED (a scope missing, or a method no rule names),
// UNAVAILABLE (ErrNotReady).
func (v *Verifier) UnaryServerInterceptor(rules Rules) grpc.UnaryServerInterceptor {
	c := compile(rules)
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ctx, err := v.authorizeCall(ctx, c, info.FullMethod)
		if err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// StreamServerInterceptor is UnaryServerInterceptor for streaming calls; the token is checked once, when
// the stream opens.
func (v *Verifier) StreamServerInterceptor(rules Rules) grpc.StreamServerInterceptor {
	c := compile(rules)
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx, err := v.authorizeCall(ss.Context(), c, info.FullMethod)
		if err != nil {
			return err
		}
		return handler(srv, &tokenStream{ServerStream: ss, ctx: ctx})
	}
}

type tokenStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *tokenStream) Context() context.Context { return s.ctx }

func (v *Verifier) authorizeCall(ctx context.Context, c *compiledRules, method string) (context.Context, error) {
	scopes, ok := c.scopes(method)
	if !ok {
		return nil, status.Errorf(codes.PermissionDenied, "%s is not open to any token", method)
	}
	raw, err := grpcBearer(ctx)
	if err != nil {
		return nil, err
	}
	t, err := v.Verify(ctx, raw, grpcPeerCert(ctx), scopes...)
	if err != nil {
		return nil, grpcError(err)
	}
	return NewContext(ctx, t), nil
}

// grpcBearer reads "authorization: Bearer <token>" (scheme case-insensitive).
func grpcBearer(ctx context.Context) (string, error) {
	vals := metadata.ValueFromIncomingContext(ctx, "authorization")
	if len(vals) == 0 {
		return "", status.Error(codes.Unauthenticated, "a bearer token is required (authorization metadata)")
	}
	if len(vals) > 1 {
		return "", status.Error(codes.Unauthenticated, "more than one authorization value")
	}
	scheme, tok, ok := strings.Cut(vals[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return "", status.Error(codes.Unauthenticated, "the authorization metadata must be Bearer <token>")
	}
	return strings.TrimSpace(tok), nil
}

// grpcPeerCert is the caller's verified TLS client certificate, if any.
func grpcPeerCert(ctx context.Context) *x509.Certificate {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return nil
	}
	if ti, ok := p.AuthInfo.(credentials.TLSInfo); ok && len(ti.State.PeerCertificates) > 0 {
		return ti.State.PeerCertificates[0]
	}
	return nil
}

// grpcError maps a Verify error to its status.
func grpcError(err error) error {
	switch {
	case errors.Is(err, ErrInsufficientScope):
		return status.Error(codes.PermissionDenied, err.Error())
	case errors.Is(err, ErrNotReady):
		return status.Error(codes.Unavailable, err.Error())
	}
	return status.Error(codes.Unauthenticated, err.Error())
}

type ctxKey struct{}

// NewContext returns ctx carrying t.
func NewContext(ctx context.Context, t *Token) context.Context {
	return context.WithValue(ctx, ctxKey{}, t)
}

// FromContext returns the verified token the interceptors or Middleware put into ctx.
func FromContext(ctx context.Context) (*Token, bool) {
	t, ok := ctx.Value(ctxKey{}).(*Token)
	return t, ok
}
