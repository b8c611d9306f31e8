package gateway

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/authsuite/authsuite/internal/internalauth"
)

// TestClientCertForwarded: the token service's calls for a request carry the connection's client
// certificate chain, leaf first; a client cannot state one with a Grpc-Metadata- header, with or without a
// TLS certificate of its own.
func TestClientCertForwarded(t *testing.T) {
	rec := &mdRecorder{}
	g, err := New(context.Background(), Backends{Registry: rec, Token: rec}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	leaf, inter := &x509.Certificate{Raw: []byte("leaf-der")}, &x509.Certificate{Raw: []byte("intermediate-der")}
	forged := "Grpc-Metadata-" + internalauth.ClientCertMetadataKey
	for _, tc := range []struct {
		name, method, path string
		certs              []*x509.Certificate
		want               []string
	}{
		{"token form", "POST", "/connect/token", []*x509.Certificate{leaf, inter}, []string{"leaf-der", "intermediate-der"}},
		{"userinfo", "GET", "/connect/userinfo", []*x509.Certificate{leaf}, []string{"leaf-der"}},
		{"no certificate, forged header", "GET", "/api/oauth2/server/tokens/check?token=x", nil, nil},
		{"certificate, forged header", "GET", "/api/oauth2/server/tokens/check?token=x", []*x509.Certificate{leaf}, []string{"leaf-der"}},
		{"no TLS, token form", "POST", "/connect/token", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body *strings.Reader
			if tc.method == "POST" {
				body = strings.NewReader(url.Values{"grant_type": {"client_credentials"}, "client_id": {"svc"}, "client_secret": {"s"}}.Encode())
			} else {
				body = strings.NewReader("")
			}
			r := httptest.NewRequest(tc.method, tc.path, body)
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.Header.Set("Authorization", "Bearer t")
			if tc.method == "POST" {
				r.Header.Del("Authorization")
			}
			r.Header.Set(forged, "Zm9yZ2Vk") // base64 "forged"
			if tc.certs != nil {
				r.TLS = &tls.ConnectionState{PeerCertificates: tc.certs}
			}
			g.ServeHTTP(httptest.NewRecorder(), r)
			calls := rec.take()
			if len(calls) == 0 {
				t.Fatal("no backend call")
			}
			for _, md := range calls {
				got := md.Get(internalauth.ClientCertMetadataKey)
				if strings.Join(got, "|") != strings.Join(tc.want, "|") {
					t.Fatalf("forwarded %q, want %q", got, tc.want)
				}
			}
		})
	}
}
