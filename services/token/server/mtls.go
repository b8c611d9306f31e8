package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/internal/internalauth"
	"github.com/authsuite/authsuite/services/token/clients"
	"github.com/authsuite/authsuite/services/token/jwt"
)

// ClientCertMetadataKey carries the client certificate chain the REST gateway received (internalauth).
const ClientCertMetadataKey = internalauth.ClientCertMetadataKey

// maxClientCerts bounds the chain read from a call.
const maxClientCerts = 4

// clientCerts is the certificate chain the caller presented, leaf first, or nil:
//   - on a call from the gateway or another service (gateway or internal credential), what it forwarded
//     in ClientCertMetadataKey: the certificate of the HTTP client, never the gateway's own connection
//     certificate;
//   - on any other call, the certificates of the gRPC connection's TLS handshake. A direct caller cannot
//     state a certificate in metadata: that is ignored.
//
// An unparsable forwarded chain counts as none.
func (s *Server) clientCerts(ctx context.Context) []*x509.Certificate {
	md, _ := metadata.FromIncomingContext(ctx)
	if s.trustedCaller(md) {
		vals := md.Get(ClientCertMetadataKey)
		if len(vals) == 0 || len(vals) > maxClientCerts {
			return nil
		}
		chain := make([]*x509.Certificate, 0, len(vals))
		for _, v := range vals {
			c, err := x509.ParseCertificate([]byte(v))
			if err != nil {
				return nil
			}
			chain = append(chain, c)
		}
		return chain
	}
	p, ok := peer.FromContext(ctx)
	if !ok {
		return nil
	}
	ti, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(ti.State.PeerCertificates) == 0 || len(ti.State.PeerCertificates) > maxClientCerts {
		return nil
	}
	return ti.State.PeerCertificates
}

// trustedCaller reports whether md carries the internal or the gateway credential, in constant time per
// value.
func (s *Server) trustedCaller(md metadata.MD) bool {
	internal, gateway := s.kr.InternalCredential(), internalauth.GatewayCredential(s.kr)
	for key, cred := range map[string]string{internalauth.MetadataKey: internal, internalauth.GatewayMetadataKey: gateway} {
		for _, v := range md.Get(key) {
			if cred != "" && subtle.ConstantTimeCompare([]byte(v), []byte(cred)) == 1 {
				return true
			}
		}
	}
	return false
}

// certThumbprint is the x5t#S256 of a certificate (RFC 8705 §3.1): base64url of the SHA-256 of its DER.
func certThumbprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// certConfirmation is the cnf claim (RFC 8705 §3.1) of an access token issued to cl in the call ctx: the
// thumbprint of the client certificate the caller presented when cl binds its tokens, nil otherwise (no
// certificate: the token is a plain bearer token, RFC 8705 §3 leaves that to the server).
func (s *Server) certConfirmation(ctx context.Context, cl *clients.Client) *jwt.Confirmation {
	if cl == nil || !cl.CertBoundTokens {
		return nil
	}
	chain := s.clientCerts(ctx)
	if len(chain) == 0 {
		return nil
	}
	return &jwt.Confirmation{X5tS256: certThumbprint(chain[0])}
}

// requireBoundCert refuses a certificate-bound access token (RFC 8705 §3) presented on a call without the
// certificate it is bound to: 401 invalid_token (RFC 8705 §3, RFC 6750 §3.1). Unbound tokens pass.
func (s *Server) requireBoundCert(ctx context.Context, c *jwt.Claims) error {
	if c.Confirmation == nil {
		return nil
	}
	want := c.Confirmation.X5tS256
	chain := s.clientCerts(ctx)
	if want == "" || len(chain) == 0 || subtle.ConstantTimeCompare([]byte(certThumbprint(chain[0])), []byte(want)) != 1 {
		return apierror.OAuth(apierror.InvalidToken, "the access token is bound to a client certificate the request did not present (RFC 8705 §3)")
	}
	return nil
}
