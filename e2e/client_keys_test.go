package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

const jwtBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// accessClaims are the claims of an access token these tests look at.
type accessClaims struct {
	Sub      string `json:"sub"`
	ClientID string `json:"client_id"`
	Cnf      *struct {
		X5tS256 string `json:"x5t#S256"`
	} `json:"cnf"`
}

// claimsOf decodes an access token's payload (the tests verify tokens through the server).
func claimsOf(t *testing.T, tok string) accessClaims {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS: %q", tok)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c accessClaims
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatalf("claims %s: %v", b, err)
	}
	return c
}

// keyedTenant creates a tenant and returns the admin token and the tenant's clients path.
func keyedTenant(t *testing.T, s *suite, code string) (admin, clientsPath string) {
	t.Helper()
	admin = clientToken(t, s, "admin", bootstrapSecret, "adminapi")
	tenantID := expect(t, "tenant", s.call("POST", "/api/adminapi2/v1/tenants/", admin, map[string]any{"code": code}), 201)["tenantId"].(string)
	return admin, "/api/adminapi2/v1/tenants/" + tenantID
}

// signedAssertion is a client assertion (RFC 7523 §3) of id for aud, signed with key.
func signedAssertion(t *testing.T, alg jose.SignatureAlgorithm, key any, kid, id, aud string) string {
	t.Helper()
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid))
	if err != nil {
		t.Fatal(err)
	}
	jti := make([]byte, 16)
	rand.Read(jti)
	now := time.Now()
	b, _ := json.Marshal(map[string]any{"iss": id, "sub": id, "aud": aud, "jti": base64.RawURLEncoding.EncodeToString(jti),
		"iat": now.Unix(), "exp": now.Add(time.Minute).Unix()})
	obj, err := sig.Sign(b)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := obj.CompactSerialize()
	return out
}

func assertionForm(a, scope string) string {
	return url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {jwtBearer}, "client_assertion": {a}, "scope": {scope}}.Encode()
}

// TestClientKeysPrivateKeyJWT: clients authenticate with assertions signed by keys registered inline or
// behind a jwks_uri (fetched over TLS), each assertion once; authlib's private_key_jwt client gets a token.
func TestClientKeysPrivateKeyJWT(t *testing.T) {
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	// The jwks_uri host: an HTTPS server whose certificate the suite trusts through SSL_CERT_FILE (read when
	// the process first verifies a certificate against the system roots, which the suite has not done yet).
	jwksSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &rsaKey.PublicKey, KeyID: "rsa1", Algorithm: "RS256", Use: "sig"}}})
	}))
	t.Cleanup(jwksSrv.Close)
	roots := filepath.Join(t.TempDir(), "roots.pem")
	if err := os.WriteFile(roots, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: jwksSrv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SSL_CERT_FILE", roots)
	if sys, err := x509.SystemCertPool(); err != nil || !verifies(jwksSrv.Certificate(), sys) {
		t.Fatalf("the system roots do not hold the jwks_uri server's certificate (%v): this process read them before SSL_CERT_FILE was set", err)
	}

	s := startSuite(t)
	admin, tenant := keyedTenant(t, s, "keys")
	expect(t, "inline client", s.call("POST", tenant+"/clients/", admin, map[string]any{
		"clientId": "keyed", "tokenEndpointAuthMethod": "private_key_jwt", "allowedGrantTypes": []string{"client_credentials"},
		"allowedScopes": []string{"orders.read"},
		"jwks":          map[string]any{"keys": []any{jose.JSONWebKey{Key: &ecKey.PublicKey, KeyID: "ec1", Algorithm: "ES256", Use: "sig"}}},
	}), 201)
	expect(t, "jwks_uri client", s.call("POST", tenant+"/clients/", admin, map[string]any{
		"clientId": "keyed-uri", "tokenEndpointAuthMethod": "private_key_jwt", "allowedGrantTypes": []string{"client_credentials"},
		"allowedScopes": []string{"orders.read"}, "jwksUri": jwksSrv.URL + "/jwks.json",
	}), 201)
	s.sync()
	tokenURL := s.base + "/connect/token"

	a := signedAssertion(t, jose.ES256, ecKey, "ec1", "keyed", tokenURL)
	var tok tokenAnswer
	decodeTyped(t, "inline keys", s.form("/connect/token", assertionForm(a, "orders.read"), "", ""), 200, &tok)
	if c := claimsOf(t, tok.AccessToken); c.ClientID != "keyed" || tok.TokenType != "Bearer" || tok.Scope != "orders.read" {
		t.Fatalf("token %+v with claims %+v", tok, c)
	}
	expect(t, "replayed assertion", s.form("/connect/token", assertionForm(a, "orders.read"), "", ""), 401, "invalid_client")
	expect(t, "a secret for a key client", s.form("/connect/token", "grant_type=client_credentials", "keyed", "not-a-secret"), 401, "invalid_client")
	expect(t, "an assertion and a secret", s.form("/connect/token", assertionForm(signedAssertion(t, jose.ES256, ecKey, "ec1", "keyed", tokenURL), ""), "keyed", "x"), 400, "invalid_request")

	a = signedAssertion(t, jose.RS256, rsaKey, "rsa1", "keyed-uri", tokenURL)
	decodeTyped(t, "jwks_uri keys", s.form("/connect/token", assertionForm(a, "orders.read"), "", ""), 200, &tok)
	if c := claimsOf(t, tok.AccessToken); c.ClientID != "keyed-uri" {
		t.Fatalf("jwks_uri token claims %+v", c)
	}

	// Introspection and revocation take assertions too (aud: the issuer).
	var in struct {
		Active   bool   `json:"active"`
		ClientID string `json:"client_id"`
	}
	decodeTyped(t, "introspect", s.form("/connect/introspect", url.Values{"token": {tok.AccessToken}, "client_assertion_type": {jwtBearer},
		"client_assertion": {signedAssertion(t, jose.RS256, rsaKey, "rsa1", "keyed-uri", s.base)}}.Encode(), "", ""), 200, &in)
	if !in.Active || in.ClientID != "keyed-uri" {
		t.Fatalf("introspection %+v", in)
	}

	var disc struct {
		AuthMethods []string `json:"token_endpoint_auth_methods_supported"`
		AuthAlgs    []string `json:"token_endpoint_auth_signing_alg_values_supported"`
		Bound       bool     `json:"tls_client_certificate_bound_access_tokens"`
	}
	decodeTyped(t, "discovery", s.call("GET", "/.well-known/openid-configuration", "", nil), 200, &disc)
	if !slices.Contains(disc.AuthMethods, "private_key_jwt") || slices.Contains(disc.AuthMethods, "tls_client_auth") || disc.Bound || !slices.Contains(disc.AuthAlgs, "ES256") {
		t.Fatalf("discovery over plain HTTP: %+v", disc)
	}

	t.Run("authlib", func(t *testing.T) {
		py := authlibPython(t)
		keyFile := filepath.Join(t.TempDir(), "client.pem")
		if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: mustPKCS8(t, rsaKey)}), 0o600); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, py, "testdata/authlib_private_key_jwt.py", tokenURL, "keyed-uri", keyFile, "rsa1", "orders.read").Output()
		if err != nil {
			var stderr []byte
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = ee.Stderr
			}
			t.Fatalf("authlib: %v: %s", err, stderr)
		}
		var tok tokenAnswer
		if err := json.Unmarshal(out, &tok); err != nil {
			t.Fatalf("authlib printed %q: %v", out, err)
		}
		if c := claimsOf(t, tok.AccessToken); c.ClientID != "keyed-uri" || tok.Scope != "orders.read" {
			t.Fatalf("authlib's token %+v, claims %+v", tok, c)
		}
		check := s.call("GET", "/api/oauth2/server/tokens/check?token="+url.QueryEscape(tok.AccessToken), "", nil)
		expect(t, "check authlib's token", check, 200)
	})
}

func verifies(c *x509.Certificate, roots *x509.CertPool) bool {
	_, err := c.Verify(x509.VerifyOptions{Roots: roots})
	return err == nil
}

// authlibPython is a python3 that imports authlib (Debian's python3-authlib installs it for /usr/bin/python3).
func authlibPython(t *testing.T) string {
	t.Helper()
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		if p, err := exec.LookPath(py); err == nil && exec.Command(p, "-c", "import authlib, requests").Run() == nil {
			return p
		}
	}
	t.Skip("no python3 with authlib (Debian: apt-get install python3-authlib)")
	return ""
}

func mustPKCS8(t *testing.T, k any) []byte {
	t.Helper()
	b, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// doWith is suite.do through client c (for HTTPS with or without a client certificate).
func (s *suite) doWith(c *http.Client, req *http.Request) response {
	s.t.Helper()
	if v := s.revisionValue(); v != "" {
		req.Header.Set(revisionHeader, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	s.noteRevisions(resp.Header.Values(revisionHeader))
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

func (s *suite) formVia(c *http.Client, path, body, user, pass string, header ...string) response {
	s.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.base+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	return s.doWith(c, req)
}

func (s *suite) callVia(c *http.Client, method, path, token string, body any) response {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	}
	req, _ := http.NewRequest(method, s.base+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return s.doWith(c, req)
}

// TestClientKeysMTLS: behind the HTTPS listener with --tls-client-ca, a tls_client_auth client
// authenticates with its CA-issued certificate and a self_signed_tls_client_auth client with its registered
// key; their tokens are bound to the certificate (cnf at issue and at introspection), and userinfo refuses
// a bound token presented without it. Without a certificate, or with one stated in a header, nothing works.
func TestClientKeysMTLS(t *testing.T) {
	dir := t.TempDir()
	caFile, certFile, keyFile, pool := testPKI(t, dir) // the server's certificate (CN=authsuite) is also a client certificate of the CA
	s := &suite{t: t, dataDir: t.TempDir(), httpAddr: "127.0.0.1:0", grpcAddr: "127.0.0.1:0",
		args: []string{"--tls-cert", certFile, "--tls-key", keyFile, "--tls-client-ca", caFile}}
	s.start()
	t.Cleanup(s.stop)
	if !strings.HasPrefix(s.base, "https://") {
		t.Fatalf("issuer %s is not https", s.base)
	}
	caCert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	ssKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ssCert := selfSignedClientCert(t, ssKey)
	client := func(certs ...tls.Certificate) *http.Client {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: certs}}
		t.Cleanup(tr.CloseIdleConnections)
		return &http.Client{Transport: tr, Timeout: 30 * time.Second}
	}
	plain, withCA, withSelf := client(), client(caCert), client(ssCert)

	var admin tokenAnswer
	decodeTyped(t, "admin token", s.formVia(plain, "/connect/token", "grant_type=client_credentials&scope=adminapi", "admin", bootstrapSecret), 200, &admin)
	tenantID := expect(t, "tenant", s.callVia(plain, "POST", "/api/adminapi2/v1/tenants/", admin.AccessToken, map[string]any{"code": "mtls"}), 201)["tenantId"].(string)
	tenant := "/api/adminapi2/v1/tenants/" + tenantID
	expect(t, "alice", s.callVia(plain, "POST", tenant+"/users/", admin.AccessToken, map[string]any{"loginName": "alice", "password": "alice-password-1"}), 201)
	expect(t, "tls client", s.callVia(plain, "POST", tenant+"/clients/", admin.AccessToken, map[string]any{
		"clientId": "bound", "tokenEndpointAuthMethod": "tls_client_auth", "tlsClientAuthSubjectDn": "CN=authsuite",
		"tlsClientCertificateBoundAccessTokens": true, "allowRopc": true,
		"allowedGrantTypes": []string{"client_credentials", "password"}, "allowedScopes": []string{"openid", "orders.read"},
	}), 201)
	expect(t, "self-signed client", s.callVia(plain, "POST", tenant+"/clients/", admin.AccessToken, map[string]any{
		"clientId": "selfsigned", "tokenEndpointAuthMethod": "self_signed_tls_client_auth", "allowedGrantTypes": []string{"client_credentials"},
		"allowedScopes": []string{"orders.read"},
		"jwks":          map[string]any{"keys": []any{jose.JSONWebKey{Key: &ssKey.PublicKey, KeyID: "ss", Use: "sig"}}},
	}), 201)

	thumb := func(der []byte) string {
		sum := sha256.Sum256(der)
		return base64.RawURLEncoding.EncodeToString(sum[:])
	}
	var tok tokenAnswer
	decodeTyped(t, "tls_client_auth", s.formVia(withCA, "/connect/token", "grant_type=client_credentials&client_id=bound&scope=orders.read", "", ""), 200, &tok)
	if c := claimsOf(t, tok.AccessToken); c.Cnf == nil || c.Cnf.X5tS256 != thumb(caCert.Certificate[0]) {
		t.Fatalf("bound token cnf %+v, want x5t#S256 %s", c.Cnf, thumb(caCert.Certificate[0]))
	}
	var in struct {
		Active bool `json:"active"`
		Cnf    *struct {
			X5tS256 string `json:"x5t#S256"`
		} `json:"cnf"`
	}
	decodeTyped(t, "introspect the bound token", s.formVia(plain, "/connect/introspect", "token="+url.QueryEscape(tok.AccessToken), "admin", bootstrapSecret), 200, &in)
	if !in.Active || in.Cnf == nil || in.Cnf.X5tS256 != thumb(caCert.Certificate[0]) {
		t.Fatalf("introspection %+v", in)
	}
	decodeTyped(t, "self_signed_tls_client_auth", s.formVia(withSelf, "/connect/token", "grant_type=client_credentials&client_id=selfsigned&scope=orders.read", "", ""), 200, &tok)

	expect(t, "no certificate", s.formVia(plain, "/connect/token", "grant_type=client_credentials&client_id=bound", "", ""), 401, "invalid_client")
	expect(t, "another client's certificate", s.formVia(withSelf, "/connect/token", "grant_type=client_credentials&client_id=bound", "", ""), 401, "invalid_client")
	expect(t, "a certificate stated in a header", s.formVia(plain, "/connect/token", "grant_type=client_credentials&client_id=bound", "", "",
		"Grpc-Metadata-Authsuite-Client-Cert-Bin", base64.StdEncoding.EncodeToString(caCert.Certificate[0])), 401, "invalid_client")

	// A user token bound to the certificate: userinfo answers with the certificate, refuses without it.
	decodeTyped(t, "password grant", s.formVia(withCA, "/connect/token", url.Values{"grant_type": {"password"}, "client_id": {"bound"},
		"username": {"alice"}, "password": {"alice-password-1"}, "scope": {"openid"}}.Encode(), "", ""), 200, &tok)
	if c := claimsOf(t, tok.AccessToken); c.Cnf == nil {
		t.Fatalf("the user token is not bound: %+v", c)
	}
	var ui struct {
		Sub string `json:"sub"`
	}
	decodeTyped(t, "userinfo with the certificate", s.callVia(withCA, "GET", "/connect/userinfo", tok.AccessToken, nil), 200, &ui)
	if ui.Sub == "" {
		t.Fatal("userinfo without sub")
	}
	expect(t, "userinfo without the certificate", s.callVia(plain, "GET", "/connect/userinfo", tok.AccessToken, nil), 401, "invalid_token")
	expect(t, "userinfo with another certificate", s.callVia(withSelf, "GET", "/connect/userinfo", tok.AccessToken, nil), 401, "invalid_token")

	var disc struct {
		AuthMethods []string `json:"token_endpoint_auth_methods_supported"`
		Bound       bool     `json:"tls_client_certificate_bound_access_tokens"`
	}
	decodeTyped(t, "discovery", s.callVia(plain, "GET", "/.well-known/openid-configuration", "", nil), 200, &disc)
	if !slices.Contains(disc.AuthMethods, "tls_client_auth") || !slices.Contains(disc.AuthMethods, "self_signed_tls_client_auth") || !disc.Bound {
		t.Fatalf("discovery over HTTPS with client CAs: %+v", disc)
	}
}

// selfSignedClientCert is a self-signed client certificate for key.
func selfSignedClientCert(t *testing.T, key *ecdsa.PrivateKey) tls.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "self-signed service"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
