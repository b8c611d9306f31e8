// Package mailtest runs a real SMTP server process for tests: aiosmtpd (Debian python3-aiosmtpd) on
// 127.0.0.1 at a free port, in plain, STARTTLS or implicit-TLS mode, with or without AUTH. Each delivered
// message is reported as an event (no polling of the mail directory).
package mailtest

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	_ "embed"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

//go:embed server.py
var script []byte

// Mode is how the server protects connections.
type Mode string

// Modes.
const (
	Plain    Mode = "plain"
	StartTLS Mode = "starttls" // STARTTLS offered and required before MAIL
	TLS      Mode = "tls"      // implicit TLS (RFC 8314)
)

// Options configure a Server.
type Options struct {
	Mode Mode
	// User and Password, when User is set, require AUTH (over TLS only).
	User, Password string
}

// Server is a running SMTP server.
type Server struct {
	// Port is the port on 127.0.0.1.
	Port int
	// Roots trusts the server's certificate (for 127.0.0.1 and localhost).
	Roots *x509.CertPool
	// Dir holds the delivered messages.
	Dir  string
	msgs chan string
}

// Delivered is one message as the server received it.
type Delivered struct {
	// Raw is the message as transmitted (after dot-unstuffing).
	Raw []byte
	// MailFrom and RcptTos are the envelope.
	MailFrom string   `json:"mail_from"`
	RcptTos  []string `json:"rcpt_tos"`
	// TLS says the message came over TLS; Authenticated that the client authenticated.
	TLS           bool `json:"tls"`
	Authenticated bool `json:"authenticated"`
}

// Python returns the interpreter that has aiosmtpd, or skips the test.
func Python(t testing.TB) string {
	for _, p := range []string{"/usr/bin/python3", "python3"} {
		if path, err := exec.LookPath(p); err == nil && exec.Command(path, "-c", "import aiosmtpd").Run() == nil {
			return path
		}
	}
	t.Skip("python3 with aiosmtpd (Debian python3-aiosmtpd) is not installed")
	return ""
}

// Start runs a server until the test ends. It returns once the server accepts connections (it prints its
// port after listening).
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	py := Python(t)
	if o.Mode == "" {
		o.Mode = Plain
	}
	dir := t.TempDir()
	mailDir := filepath.Join(dir, "mail")
	if err := os.Mkdir(mailDir, 0o700); err != nil {
		t.Fatal(err)
	}
	scriptPath := filepath.Join(dir, "server.py")
	if err := os.WriteFile(scriptPath, script, 0o600); err != nil {
		t.Fatal(err)
	}
	certPath, keyPath, roots := writeCert(t, dir)
	cmd := exec.Command(py, scriptPath, mailDir, string(o.Mode), certPath, keyPath, o.User, o.Password)
	cmd.Stderr = &testWriter{t: t}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	s := &Server{Roots: roots, Dir: mailDir, msgs: make(chan string, 100)}
	port := make(chan int, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "PORT "):
				if p, err := strconv.Atoi(line[5:]); err == nil {
					port <- p
				}
			case strings.HasPrefix(line, "MSG "):
				s.msgs <- line[4:]
			}
		}
		close(s.msgs)
		close(port)
	}()
	select {
	case p, ok := <-port:
		if !ok {
			t.Fatal("the SMTP server exited before listening")
		}
		s.Port = p
	case <-time.After(30 * time.Second):
		t.Fatal("the SMTP server did not start within 30 s")
	}
	return s
}

// Addr is "127.0.0.1:<port>".
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port)) }

// Next waits (at most timeout) for the next delivered message.
func (s *Server) Next(t testing.TB, timeout time.Duration) Delivered {
	t.Helper()
	select {
	case path, ok := <-s.msgs:
		if !ok {
			t.Fatal("the SMTP server exited")
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		env, err := os.ReadFile(strings.TrimSuffix(path, ".eml") + ".json")
		if err != nil {
			t.Fatal(err)
		}
		d := Delivered{Raw: raw}
		if err := json.Unmarshal(env, &d); err != nil {
			t.Fatal(err)
		}
		return d
	case <-time.After(timeout):
		t.Fatalf("no mail arrived within %v", timeout)
	}
	return Delivered{}
}

// Parsed is a delivered message's decoded parts.
type Parsed struct {
	Header  mail.Header
	Subject string
	Body    string
}

// Parse decodes a message built by package mail: its subject (RFC 2047) and quoted-printable body.
func Parse(raw []byte) (Parsed, error) {
	m, err := mail.ReadMessage(strings.NewReader(string(raw)))
	if err != nil {
		return Parsed{}, err
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		return Parsed{}, err
	}
	var r io.Reader = m.Body
	if strings.EqualFold(m.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
		r = quotedprintable.NewReader(m.Body)
	}
	body, err := io.ReadAll(r)
	if err != nil {
		return Parsed{}, err
	}
	return Parsed{Header: m.Header, Subject: subject, Body: strings.ReplaceAll(string(body), "\r\n", "\n")}, nil
}

// writeCert writes a self-signed ECDSA certificate for 127.0.0.1 and localhost.
func writeCert(t testing.TB, dir string) (certPath, keyPath string, roots *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mailtest"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPath, keyPath = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	roots = x509.NewCertPool()
	roots.AddCert(cert)
	return certPath, keyPath, roots
}

// testWriter forwards the server's stderr to the test log.
type testWriter struct{ t testing.TB }

func (w *testWriter) Write(p []byte) (int, error) {
	w.t.Logf("smtp server: %s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
