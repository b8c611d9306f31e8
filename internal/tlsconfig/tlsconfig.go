// Package tlsconfig builds the mutual-TLS configuration authsuite roles, and the admin CLI, use between
// each other: every party holds a certificate signed by one CA; servers require and verify client
// certificates, clients verify servers against the CA.
package tlsconfig

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
)

// Mutual loads certFile/keyFile (PEM) and the CA in caFile (PEM). For a server the result requires client
// certificates signed by the CA; for a client it trusts servers signed by the CA and presents the
// certificate. Errors name the file that is wrong. TLS 1.2 at least.
func Mutual(certFile, keyFile, caFile string, server bool) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("certificate %s / key %s: %w", certFile, keyFile, err)
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA: no PEM certificate in %s", caFile)
	}
	c := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if server {
		c.ClientCAs, c.ClientAuth = pool, tls.RequireAndVerifyClientCert
	} else {
		c.RootCAs = pool
	}
	return c, nil
}
