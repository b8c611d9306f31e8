package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/authsuite/authsuite/internal/app"
	"github.com/authsuite/authsuite/internal/cli"
	"github.com/authsuite/authsuite/internal/config"
	"github.com/authsuite/authsuite/internal/suitekey"
)

// testPKI writes a CA and one certificate for 127.0.0.1 (server and client use) into dir.
func testPKI(t *testing.T, dir string) (caFile, certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "authsuite test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "authsuite"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pool = x509.NewCertPool()
	pool.AddCert(ca)
	return write("ca.pem", "CERTIFICATE", caDER), write("cert.pem", "CERTIFICATE", leafDER), write("key.pem", "EC PRIVATE KEY", keyDER), pool
}

// TestTLS runs the four roles in one test process, each with its own listeners and store, connected by
// mutual TLS, behind an HTTPS gateway.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	caFile, certFile, keyFile, pool := testPKI(t, dir)
	addr := map[string]string{}
	for _, n := range []string{"gateway", "token", "registry", "provider"} {
		addr[n] = freeAddr(t)
	}
	base := "https://" + addr["gateway"]
	env := []string{"AUTHSUITE_MASTER_KEY=" + suitekey.Generate(), "AUTHSUITE_BOOTSTRAP_SECRET=" + bootstrapSecret}
	mtls := []string{"--grpc-tls-ca", caFile, "--grpc-tls-cert", certFile, "--grpc-tls-key", keyFile,
		"--token-addr", addr["token"], "--registry-addr", addr["registry"], "--provider-addr", addr["provider"], "--issuer", base}
	for _, role := range []config.Role{config.RoleRegistry, config.RoleToken, config.RoleProvider, config.RoleGateway} {
		args := append([]string{"--http-addr", "127.0.0.1:0"}, mtls...)
		if role == config.RoleGateway {
			args = append(mtls, "--http-addr", addr["gateway"], "--admin-addr", "127.0.0.1:0", "--tls-cert", certFile, "--tls-key", keyFile)
		} else {
			args = append(args, "--grpc-addr", addr[string(role)], "--data-dir", filepath.Join(dir, string(role)))
		}
		cfg, err := config.Load(role, args, env, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		s, err := app.Start(context.Background(), cfg, slog.New(slog.DiscardHandler), io.Discard)
		if err != nil {
			t.Fatalf("%s: %v", role, err)
		}
		t.Cleanup(func() { s.Shutdown(context.Background()) })
	}

	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	prev := http.DefaultClient
	http.DefaultClient = client
	t.Cleanup(func() { http.DefaultClient = prev })
	waitReadyWithin(t, base+"/readyz", 10*time.Second)
	s := &suite{t: t, base: base}
	var admin string
	eventually(t, 10*time.Second, "admin token over HTTPS and mutual TLS", func() bool {
		r := s.form("/connect/token", "grant_type=client_credentials&scope=adminapi", "admin", bootstrapSecret)
		if r.status == 200 {
			admin = r.json(t)["access_token"].(string)
		}
		return r.status == 200
	})
	if d := expect(t, "discovery", s.call("GET", "/.well-known/openid-configuration", "", nil), 200); d["issuer"] != base {
		t.Fatalf("issuer %v, want %s", d["issuer"], base)
	}
	expect(t, "admin API through mutual TLS", s.call("GET", "/api/adminapi2/v1/tenants", admin, nil), 200)

	// The admin CLI reaches a role over mutual TLS (in split mode with a token obtained over HTTPS).
	var out, errOut strings.Builder
	cliArgs := []string{"tenant", "list", "--grpc-addr", addr["registry"], "--token", admin, "--output", "json"}
	stdio := cli.IO{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut}
	if err := cli.Run(context.Background(), append(cliArgs, "--grpc-tls-ca", caFile, "--grpc-tls-cert", certFile, "--grpc-tls-key", keyFile), nil, stdio); err != nil {
		t.Fatalf("cli over mutual TLS: %v\n%s", err, errOut.String())
	}
	if !strings.Contains(out.String(), `"code": "default"`) && !strings.Contains(out.String(), `"code":"default"`) {
		t.Fatalf("cli listed %s", out.String())
	}
	if err := cli.Run(context.Background(), append(cliArgs, "--timeout", "2s"), nil, stdio); cli.ExitCode(err) != cli.ExitUnavailable {
		t.Fatalf("cli without TLS: %v (exit %d)", err, cli.ExitCode(err))
	}

	// The services refuse plaintext and clients without a certificate.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for name, creds := range map[string]credentials.TransportCredentials{
		"plaintext": insecure.NewCredentials(),
		"no cert":   credentials.NewTLS(&tls.Config{RootCAs: pool}),
	} {
		cc, err := grpc.NewClient(addr["registry"], grpc.WithTransportCredentials(creds))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{}); err == nil {
			t.Errorf("%s client reached the registry", name)
		}
		cc.Close()
	}
}
