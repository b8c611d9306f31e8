package app

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"

	"github.com/authsuite/authsuite/internal/jwksfetch"
	"github.com/authsuite/authsuite/internal/outbound"
)

// clientCAs reads the CA bundle of --tls-client-ca (PEM), which verifies tls_client_auth client
// certificates (RFC 8705 §2.1); nil when the flag is not set. A file without a certificate fails the start.
func clientCAs(path string) (*x509.CertPool, error) {
	if path == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--tls-client-ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("--tls-client-ca: %s holds no PEM certificate", path)
	}
	return pool, nil
}

// restTLS is the TLS configuration of the HTTPS REST listener: it asks every client for a certificate and
// accepts the connection with or without one, unverified (tls.RequestClientCert). Whether a certificate
// authenticates a client depends on the client's method (RFC 8705 §2.1 CA-issued, §2.2 self-signed), so
// the token service verifies it per request; browsers that hold no certificate are not affected.
func restTLS() *tls.Config {
	return &tls.Config{ClientAuth: tls.RequestClientCert, MinVersion: tls.VersionTLS12}
}

// jwksFetcher fetches clients' jwks_uri under the outbound rules (--allow-private-outbound lifts the address
// check), with the fetcher's own time and size bounds.
func jwksFetcher(allowPrivate bool) *jwksfetch.Fetcher {
	return jwksfetch.New(jwksfetch.Options{Client: outbound.New(outbound.Options{
		AllowPrivate: allowPrivate, Timeout: jwksfetch.DefaultTimeout, MaxResponseBytes: jwksfetch.MaxBodyBytes,
	})})
}
