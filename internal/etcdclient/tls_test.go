package etcdclient

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// A real etcd serving https with client-certificate authentication: the CA and client certificate files open
// it; without the client certificate, or trusting another CA, the start fails within the dial timeout naming
// the endpoint.
func TestDialMutualTLS(t *testing.T) {
	dir := t.TempDir()
	ca, caKey := newCA(t, "etcdclient test CA")
	writeCert(t, dir, "ca", ca, caKey, nil)
	otherCA, otherKey := newCA(t, "another CA")
	writeCert(t, dir, "other-ca", otherCA, otherKey, nil)
	writeCert(t, dir, "server", ca, caKey, &x509.Certificate{
		Subject: pkix.Name{CommonName: "etcd"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	writeCert(t, dir, "client", ca, caKey, &x509.Certificate{
		Subject: pkix.Name{CommonName: "authsuite"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	endpoint := startTLSEtcd(t, dir)

	file := func(name string) string { return filepath.Join(dir, name) }
	ok := Options{Endpoints: []string{endpoint}, Prefix: "/authsuite/", DialTimeout: 30 * time.Second,
		CAFile: file("ca.pem"), CertFile: file("client.pem"), KeyFile: file("client-key.pem")}
	cli, err := Dial(context.Background(), ok) // also waits for the member's first answer
	if err != nil {
		t.Fatalf("mutual TLS: %v", err)
	}
	if _, err := cli.Put(context.Background(), "/authsuite/tls", "ok"); err != nil {
		t.Fatalf("write over TLS: %v", err)
	}
	cli.Close()

	noCert := ok
	noCert.CertFile, noCert.KeyFile, noCert.DialTimeout = "", "", time.Second
	otherTrust := ok
	otherTrust.CAFile, otherTrust.DialTimeout = file("other-ca.pem"), time.Second
	for name, o := range map[string]Options{"without a client certificate": noCert, "trusting another CA": otherTrust} {
		cli, err := Dial(context.Background(), o)
		if err == nil {
			cli.Close()
			t.Errorf("%s: connected", name)
			continue
		}
		if !strings.Contains(err.Error(), endpoint) || !strings.Contains(err.Error(), "--etcd-ca-file") {
			t.Errorf("%s: %v; want the endpoint and the TLS settings named", name, err)
		}
	}
}

func newCA(t *testing.T, name string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// writeCert writes name.pem and name-key.pem: the CA itself when leaf is nil, else leaf signed by the CA.
func writeCert(t *testing.T, dir, name string, ca *x509.Certificate, caKey *ecdsa.PrivateKey, leaf *x509.Certificate) {
	t.Helper()
	key, der := caKey, ca.Raw
	if leaf != nil {
		var err error
		if key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			t.Fatal(err)
		}
		leaf.SerialNumber = big.NewInt(time.Now().UnixNano())
		leaf.NotBefore, leaf.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
		leaf.KeyUsage = x509.KeyUsageDigitalSignature
		if der, err = x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey); err != nil {
			t.Fatal(err)
		}
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	for file, block := range map[string]*pem.Block{name + ".pem": {Type: "CERTIFICATE", Bytes: der}, name + "-key.pem": {Type: "EC PRIVATE KEY", Bytes: keyDER}} {
		if err := os.WriteFile(filepath.Join(dir, file), pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// startTLSEtcd starts one etcd member (the release internal/etcdtest runs) serving clients over https with
// client-certificate authentication, and returns its client URL; it is killed when the test ends.
func startTLSEtcd(t *testing.T, dir string) string {
	t.Helper()
	ports := freePorts(t, 2)
	client, peer := "https://127.0.0.1:"+ports[0], "http://127.0.0.1:"+ports[1]
	cmd := exec.Command(etcdBinary(t), "--name", "tls", "--data-dir", filepath.Join(dir, "data"),
		"--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer, "--initial-cluster", "tls="+peer,
		"--cert-file", filepath.Join(dir, "server.pem"), "--key-file", filepath.Join(dir, "server-key.pem"),
		"--trusted-ca-file", filepath.Join(dir, "ca.pem"), "--client-cert-auth",
		"--unsafe-no-fsync", "--log-level", "error")
	logs := &syncBuilder{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("etcd log:\n%s", logs.String())
		}
	})
	return client
}

// freePorts returns n distinct loopback ports the kernel chose, all listeners closed again.
func freePorts(t *testing.T, n int) []string {
	t.Helper()
	ports := make([]string, n)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close() // held until all are chosen, so they differ
		_, ports[i], _ = net.SplitHostPort(l.Addr().String())
	}
	return ports
}

type syncBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuilder) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuilder) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// etcdBinary is the etcd release internal/etcdtest runs: AUTHSUITE_ETCD_BIN, or the one pinned in tools/go.mod.
func etcdBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("AUTHSUITE_ETCD_BIN"); p != "" {
		return p
	}
	_, file, _, _ := runtime.Caller(0)
	cmd := exec.Command("go", "tool", "-n", "go.etcd.io/etcd/server/v3")
	cmd.Dir = filepath.Join(filepath.Dir(file), "..", "..", "tools")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("finding etcd: %v", err)
	}
	return strings.TrimSpace(string(out))
}
