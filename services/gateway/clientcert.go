package gateway

import (
	"context"
	"net/http"
	"net/textproto"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/authsuite/authsuite/internal/internalauth"
)

// maxForwardedCerts bounds the client certificate chain forwarded to the token service.
const maxForwardedCerts = 4

// clientCertKey is the request context key of the client certificate chain (clientCerts).
type clientCertKey struct{}

// clientCerts is the DER chain, leaf first, that the HTTP client presented in its TLS handshake.
type clientCerts []string

// withClientCert notes the TLS client certificate chain of r's connection (RFC 8705 §2), when there is one,
// so that the token service's calls made for r forward it (clientCertConn). The certificates are not
// verified here: the listener only requests them, since whether a certificate authenticates a client
// depends on the client (a CA-issued certificate for tls_client_auth, a self-signed one for
// self_signed_tls_client_auth); the token service decides.
func withClientCert(r *http.Request) *http.Request {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return r
	}
	n := min(len(r.TLS.PeerCertificates), maxForwardedCerts)
	chain := make(clientCerts, n)
	for i, c := range r.TLS.PeerCertificates[:n] {
		chain[i] = string(c.Raw)
	}
	return r.WithContext(context.WithValue(r.Context(), clientCertKey{}, chain))
}

// clientCertConn is the token service connection: calls made within a request that withClientCert
// prepared carry its client certificate chain in internalauth.ClientCertMetadataKey, beside the gateway
// credential that makes the token service believe it.
type clientCertConn struct{ grpc.ClientConnInterface }

func (c clientCertConn) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	return c.ClientConnInterface.Invoke(withCertMetadata(ctx), method, args, reply, opts...)
}

func (c clientCertConn) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	return c.ClientConnInterface.NewStream(withCertMetadata(ctx), desc, method, opts...)
}

func withCertMetadata(ctx context.Context) context.Context {
	chain, _ := ctx.Value(clientCertKey{}).(clientCerts)
	for _, der := range chain {
		ctx = metadata.AppendToOutgoingContext(ctx, internalauth.ClientCertMetadataKey, der)
	}
	return ctx
}

// forgedCertHeader is the HTTP spelling of the certificate metadata (grpc-gateway's Grpc-Metadata- prefix):
// a client that sends it is stating a certificate it may not hold, so headerMatcher never forwards it.
var forgedCertHeader = textproto.CanonicalMIMEHeaderKey(runtime.MetadataHeaderPrefix + internalauth.ClientCertMetadataKey)
