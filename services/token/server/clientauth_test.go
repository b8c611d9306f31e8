package server

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/protobuf/types/known/structpb"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/internal/internalauth"
	"github.com/authsuite/authsuite/internal/jwksfetch"
	"github.com/authsuite/authsuite/services/token/clients"
	"github.com/authsuite/authsuite/services/token/jwt"
	"github.com/authsuite/authsuite/services/token/memstore"
)

// clientKey is a client's signing key and its public JWK.
type clientKey struct {
	priv *ecdsa.PrivateKey
	jwk  jose.JSONWebKey
}

func newClientKey(t testing.TB, kid string) clientKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return clientKey{priv: k, jwk: jose.JSONWebKey{Key: &k.PublicKey, KeyID: kid, Algorithm: "ES256", Use: "sig"}}
}

// jwksStruct is a JWK Set as the registry's feed carries it.
func jwksStruct(t testing.TB, keys ...jose.JSONWebKey) *structpb.Struct {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	var s structpb.Struct
	if err := s.UnmarshalJSON(b); err != nil {
		t.Fatal(err)
	}
	return &s
}

// putKeyClient registers a private_key_jwt client id; mod adjusts its record.
func (e *env) putKeyClient(id string, mod func(c *registryv1.Client)) {
	e.t.Helper()
	r := e.reg.record(id, "default", []string{GrantClientCredentials}, []string{"read"}, 3600)
	r.Client.TokenEndpointAuthMethod = clients.AuthPrivateKeyJWT
	r.Client.RequireClientSecret = new(true)
	mod(r.Client)
	e.reg.put(r)
	e.awaitRegistry()
}

// assertion is a client assertion (RFC 7523 §3) of sub signed by k, with the claims overridden by mod.
func (e *env) assertion(k clientKey, sub string, mod func(c map[string]any)) string {
	e.t.Helper()
	now := e.clock.Now()
	c := map[string]any{"iss": sub, "sub": sub, "aud": testIssuer + "/connect/token", "jti": randomJTI(e.t),
		"iat": now.Unix(), "exp": now.Add(time.Minute).Unix()}
	if mod != nil {
		mod(c)
	}
	return signAssertion(e.t, jose.ES256, k.priv, k.jwk.KeyID, c)
}

func signAssertion(t testing.TB, alg jose.SignatureAlgorithm, key any, kid string, claims map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if kid != "" {
		opts = opts.WithHeader("kid", kid)
	}
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(claims)
	obj, err := sig.Sign(b)
	if err != nil {
		t.Fatal(err)
	}
	s, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func randomJTI(t testing.TB) string {
	b := make([]byte, 12)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func assertionCreds(clientID, a string) *tokenv1.ClientCredentials {
	return &tokenv1.ClientCredentials{ClientId: clientID, ClientAssertionType: AssertionTypeJWTBearer, ClientAssertion: a}
}

func (e *env) tokenWith(c *tokenv1.ClientCredentials) (*tokenv1.TokenResponse, error) {
	return e.oauth.Token(context.Background(), &tokenv1.TokenRequest{GrantType: GrantClientCredentials, Client: c})
}

// TestPrivateKeyJWT: a private_key_jwt client gets a token with a fresh assertion signed by its registered
// key, and with nothing else; every check of RFC 7523 §3 refuses with invalid_client, a malformed request
// with invalid_request.
func TestPrivateKeyJWT(t *testing.T) {
	e := newEnv(t)
	k := newClientKey(t, "k1")
	e.putKeyClient("pk", func(c *registryv1.Client) { c.Jwks = jwksStruct(t, k.jwk) })

	a := e.assertion(k, "pk", nil)
	resp, err := e.tokenWith(assertionCreds("", a))
	if err != nil {
		t.Fatalf("a good assertion: %v", err)
	}
	if _, err := e.check(resp.GetAccessToken()); err != nil {
		t.Fatalf("the token does not check: %v", err)
	}
	// The same assertion again: refused (item 7).
	_, err = e.tokenWith(assertionCreds("pk", a))
	wantOAuth(t, err, apierror.InvalidClient, 401)
	// client_id given and equal to sub works.
	if _, err := e.tokenWith(assertionCreds("pk", e.assertion(k, "pk", nil))); err != nil {
		t.Fatalf("with client_id: %v", err)
	}

	other := newClientKey(t, "k1") // same kid, unregistered key
	now := e.clock.Now()
	hmacKey := make([]byte, 32)
	for name, tc := range map[string]struct {
		creds *tokenv1.ClientCredentials
		code  string
	}{
		"wrong key":              {assertionCreds("", e.assertion(other, "pk", nil)), apierror.InvalidClient},
		"wrong aud":              {assertionCreds("", e.assertion(k, "pk", func(c map[string]any) { c["aud"] = "https://elsewhere.example" })), apierror.InvalidClient},
		"aud array ok elsewhere": {assertionCreds("", e.assertion(k, "pk", func(c map[string]any) { c["aud"] = []string{"https://a.example", "https://b.example"} })), apierror.InvalidClient},
		"expired":                {assertionCreds("", e.assertion(k, "pk", func(c map[string]any) { c["exp"] = now.Add(-time.Second).Unix() })), apierror.InvalidClient},
		"no exp":                 {assertionCreds("", e.assertion(k, "pk", func(c map[string]any) { delete(c, "exp") })), apierror.InvalidClient},
		"exp too far":            {assertionCreds("", e.assertion(k, "pk", func(c map[string]any) { c["exp"] = now.Add(10 * time.Minute).Unix() })), apierror.InvalidClient},
		"exp too far after iat": {assertionCreds("", e.assertion(k, "pk", func(c map[string]any) {
			c["iat"] = now.Add(-10 * time.Minute).Unix()
		})), apierror.InvalidClient},
		"nbf in the future":   {assertionCreds("", e.assertion(k, "pk", func(c map[string]any) { c["nbf"] = now.Add(2 * time.Minute).Unix() })), apierror.InvalidClient},
		"iat in the future":   {assertionCreds("", e.assertion(k, "pk", func(c map[string]any) { c["iat"] = now.Add(2 * time.Minute).Unix() })), apierror.InvalidClient},
		"no jti":              {assertionCreds("", e.assertion(k, "pk", func(c map[string]any) { delete(c, "jti") })), apierror.InvalidClient},
		"long jti":            {assertionCreds("", e.assertion(k, "pk", func(c map[string]any) { c["jti"] = strings.Repeat("j", MaxAssertionIDLen+1) })), apierror.InvalidClient},
		"iss not sub":         {assertionCreds("", e.assertion(k, "pk", func(c map[string]any) { c["iss"] = "svc" })), apierror.InvalidClient},
		"client_id not sub":   {assertionCreds("svc", e.assertion(k, "pk", nil)), apierror.InvalidClient},
		"sub a secret client": {assertionCreds("", e.assertion(k, "svc", nil)), apierror.InvalidClient},
		"HS256":               {assertionCreds("", signAssertion(t, jose.HS256, hmacKey, "k1", map[string]any{"iss": "pk", "sub": "pk", "aud": testIssuer, "jti": "h", "exp": now.Add(time.Minute).Unix()})), apierror.InvalidClient},
		"alg none":            {assertionCreds("", unsignedAssertion("pk", now)), apierror.InvalidClient},
		"JSON serialization":  {assertionCreds("", `{"payload":"e30","signatures":[]}`), apierror.InvalidClient},
		"too large":           {assertionCreds("", e.assertion(k, "pk", func(c map[string]any) { c["pad"] = strings.Repeat("p", MaxAssertionBytes) })), apierror.InvalidClient},
		"secret instead":      {&tokenv1.ClientCredentials{ClientId: "pk", ClientSecret: "whatever"}, apierror.InvalidClient},
		"nothing":             {&tokenv1.ClientCredentials{ClientId: "pk"}, apierror.InvalidClient},
		"secret and assertion": {&tokenv1.ClientCredentials{ClientId: "pk", ClientSecret: "x", ClientAssertionType: AssertionTypeJWTBearer,
			ClientAssertion: e.assertion(k, "pk", nil)}, apierror.InvalidRequest},
		"assertion without type": {&tokenv1.ClientCredentials{ClientAssertion: e.assertion(k, "pk", nil)}, apierror.InvalidRequest},
		"type without assertion": {&tokenv1.ClientCredentials{ClientAssertionType: AssertionTypeJWTBearer}, apierror.InvalidRequest},
		"saml type":              {&tokenv1.ClientCredentials{ClientAssertionType: "urn:ietf:params:oauth:client-assertion-type:saml2-bearer", ClientAssertion: e.assertion(k, "pk", nil)}, apierror.InvalidRequest},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := e.tokenWith(tc.creds)
			status := 401
			if tc.code == apierror.InvalidRequest {
				status = 400
			}
			wantOAuth(t, err, tc.code, status)
		})
	}
	// Audiences that name this server: the issuer, and the introspection endpoint at introspection.
	if _, err := e.tokenWith(assertionCreds("", e.assertion(k, "pk", func(c map[string]any) { c["aud"] = []string{"x", testIssuer} }))); err != nil {
		t.Fatalf("aud = issuer: %v", err)
	}
	tok := resp.GetAccessToken()
	in, err := e.oauth.Introspect(context.Background(), &tokenv1.IntrospectRequest{Token: tok,
		Client: assertionCreds("", e.assertion(k, "pk", func(c map[string]any) { c["aud"] = testIssuer + "/connect/introspect" }))})
	if err != nil || !in.GetActive() {
		t.Fatalf("introspect with an assertion: %v, %v", in, err)
	}
	if _, err := e.oauth.Revoke(context.Background(), &tokenv1.RevokeRequest{Token: tok,
		Client: assertionCreds("", e.assertion(k, "pk", func(c map[string]any) { c["aud"] = testIssuer + "/connect/revocation" }))}); err != nil {
		t.Fatalf("revoke with an assertion: %v", err)
	}
	// A secret client cannot use an assertion, and the simple token API takes secrets only.
	_, err = e.simple.GetToken(context.Background(), &tokenv1.GetTokenRequest{GrantType: GrantClientCredentials, ClientId: "pk", ClientSecret: "x"})
	wantOAuth(t, err, apierror.InvalidClient, 401)
}

func unsignedAssertion(sub string, now time.Time) string {
	enc := base64.RawURLEncoding.EncodeToString
	c, _ := json.Marshal(map[string]any{"iss": sub, "sub": sub, "aud": testIssuer, "jti": "n", "exp": now.Add(time.Minute).Unix()})
	return enc([]byte(`{"alg":"none"}`)) + "." + enc(c) + "."
}

// TestAssertionReplayAcrossReplicas: an assertion used at one replica is refused at another of the same
// store, and of concurrent uses exactly one succeeds.
func TestAssertionReplayAcrossReplicas(t *testing.T) {
	e := newEnvOn(t, memstore.New())
	k := newClientKey(t, "k1")
	e.putKeyClient("pk", func(c *registryv1.Client) { c.Jwks = jwksStruct(t, k.jwk) })
	r := e.replica()
	r.awaitRegistry()
	a := e.assertion(k, "pk", nil)
	if _, err := e.tokenWith(assertionCreds("", a)); err != nil {
		t.Fatal(err)
	}
	_, err := r.tokenWith(assertionCreds("", a))
	wantOAuth(t, err, apierror.InvalidClient, 401)

	b := e.assertion(k, "pk", nil)
	var mu sync.Mutex
	wins := 0
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			srv := e
			if i%2 == 1 {
				srv = r
			}
			if _, err := srv.tokenWith(assertionCreds("", b)); err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d of 8 concurrent uses of one assertion succeeded, want 1", wins)
	}
}

// TestPrivateKeyJWTJWKSURI: keys behind a jwks_uri are fetched once, and a rotated key (unknown kid) is
// found by a refetch.
func TestPrivateKeyJWTJWKSURI(t *testing.T) {
	k1, k2 := newClientKey(t, "k1"), newClientKey(t, "k2")
	var mu sync.Mutex
	served := []jose.JSONWebKey{k1.jwk}
	hits := 0
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		hits++
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: served})
	}))
	t.Cleanup(srv.Close)
	fetchClock := newClock()
	e := newEnv(t, func(d *Deps) {
		d.JWKSFetcher = jwksfetch.New(jwksfetch.Options{Client: srv.Client(), Now: fetchClock.Now})
	})
	e.putKeyClient("pk", func(c *registryv1.Client) { c.JwksUri = srv.URL + "/jwks" })
	for range 3 {
		if _, err := e.tokenWith(assertionCreds("", e.assertion(k1, "pk", nil))); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	served = []jose.JSONWebKey{k2.jwk} // the client rotates its key
	mu.Unlock()
	_, err := e.tokenWith(assertionCreds("", e.assertion(k2, "pk", nil)))
	wantOAuth(t, err, apierror.InvalidClient, 401) // within the refetch interval: not yet seen
	fetchClock.Advance(jwksfetch.DefaultMinRefetch)
	if _, err := e.tokenWith(assertionCreds("", e.assertion(k2, "pk", nil))); err != nil {
		t.Fatalf("after rotation: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if hits != 2 {
		t.Fatalf("%d fetches, want 2 (first use, rotation)", hits)
	}
}

// testCA is a client CA and its key.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newTestCA(t testing.TB) testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "client CA"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return testCA{c, key}
}

// leaf issues a client certificate for subject and key (self-signed when ca is nil).
func leafCert(t testing.TB, ca *testCA, subject pkix.Name, key *ecdsa.PrivateKey) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: subject, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	parent, signer := tmpl, crypto.Signer(key)
	if ca != nil {
		parent, signer = ca.cert, ca.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c
}

// withCert is a context whose outgoing call forwards cert as the gateway does.
func withCert(c *x509.Certificate) context.Context {
	return metadata.AppendToOutgoingContext(context.Background(), ClientCertMetadataKey, string(c.Raw))
}

// TestCertificateAuthentication: tls_client_auth (CA chain and subject DN) and self_signed_tls_client_auth
// (registered key) with the certificate a trusted caller forwards; a direct caller's forwarded certificate
// is ignored; a bound token carries the certificate's thumbprint.
func TestCertificateAuthentication(t *testing.T) {
	ca := newTestCA(t)
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	e := newEnv(t, func(d *Deps) { d.ClientCAs, d.ClientCertificates = pool, true })
	trusted := tokenv1.NewOAuthServiceClient(e.browserConn) // carries the internal credential, as the gateway's its own

	subject := pkix.Name{CommonName: "orders", Organization: []string{"Acme"}}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	good := leafCert(t, &ca, subject, key)
	r := e.reg.record("tls", "default", []string{GrantClientCredentials}, []string{"read"}, 3600)
	r.Client.TokenEndpointAuthMethod = clients.AuthTLS
	r.Client.TlsClientAuthSubjectDn = "CN=orders,O=Acme"
	r.Client.TlsClientCertificateBoundAccessTokens = true
	e.reg.put(r)
	ssKey := newClientKey(t, "ss")
	selfSigned := leafCert(t, nil, pkix.Name{CommonName: "anything"}, ssKey.priv)
	r = e.reg.record("self", "default", []string{GrantClientCredentials}, []string{"read"}, 3600)
	r.Client.TokenEndpointAuthMethod = clients.AuthSelfSignedTLS
	r.Client.Jwks = jwksStruct(t, ssKey.jwk)
	e.reg.put(r)
	e.awaitRegistry()

	call := func(c tokenv1.OAuthServiceClient, ctx context.Context, id string) (*tokenv1.TokenResponse, error) {
		return c.Token(ctx, &tokenv1.TokenRequest{GrantType: GrantClientCredentials, Client: &tokenv1.ClientCredentials{ClientId: id}})
	}
	resp, err := call(trusted, withCert(good), "tls")
	if err != nil {
		t.Fatalf("tls_client_auth: %v", err)
	}
	claims := e.claimsOf(resp.GetAccessToken())
	if claims.Confirmation == nil || claims.Confirmation.X5tS256 != certThumbprint(good) {
		t.Fatalf("cnf = %+v, want the certificate's x5t#S256", claims.Confirmation)
	}
	if _, err := call(trusted, withCert(selfSigned), "self"); err != nil {
		t.Fatalf("self_signed_tls_client_auth: %v", err)
	}

	otherCA := newTestCA(t)
	for name, tc := range map[string]struct {
		conn tokenv1.OAuthServiceClient
		ctx  context.Context
		id   string
	}{
		"forged by a direct caller":    {e.oauth, withCert(good), "tls"},
		"no certificate":               {trusted, context.Background(), "tls"},
		"another subject":              {trusted, withCert(leafCert(t, &ca, pkix.Name{CommonName: "orders", Organization: []string{"Evil"}}, key)), "tls"},
		"another CA":                   {trusted, withCert(leafCert(t, &otherCA, subject, key)), "tls"},
		"self-signed for tls":          {trusted, withCert(leafCert(t, nil, subject, key)), "tls"},
		"unregistered key":             {trusted, withCert(good), "self"},
		"self-signed forged by direct": {e.oauth, withCert(selfSigned), "self"},
		"garbage certificate":          {trusted, metadata.AppendToOutgoingContext(context.Background(), ClientCertMetadataKey, "junk"), "tls"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := call(tc.conn, tc.ctx, tc.id)
			wantOAuth(t, err, apierror.InvalidClient, 401)
		})
	}
	// A secret is refused for a certificate client even with its certificate.
	_, err = trusted.Token(withCert(good), &tokenv1.TokenRequest{GrantType: GrantClientCredentials, Client: creds("tls", "x")})
	wantOAuth(t, err, apierror.InvalidClient, 401)
}

// claimsOf decodes a token's claims without verifying it (the tests verify elsewhere).
func (e *env) claimsOf(tok string) jwt.Claims {
	e.t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		e.t.Fatalf("not a JWS: %q", tok)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		e.t.Fatal(err)
	}
	var c jwt.Claims
	if err := json.Unmarshal(b, &c); err != nil {
		e.t.Fatal(err)
	}
	return c
}

// TestRequireBoundCert: a bound token is refused without its certificate or with another, accepted with
// it; an unbound token passes.
func TestRequireBoundCert(t *testing.T) {
	e := newEnv(t)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cert := leafCert(t, nil, pkix.Name{CommonName: "c"}, key)
	other := leafCert(t, nil, pkix.Name{CommonName: "c"}, key)
	bound := &jwt.Claims{Confirmation: &jwt.Confirmation{X5tS256: certThumbprint(cert)}}
	internal := metadata.Pairs("authsuite-internal", e.cred)
	in := func(c *x509.Certificate) context.Context {
		md := internal.Copy()
		if c != nil {
			md.Append(ClientCertMetadataKey, string(c.Raw))
		}
		return metadata.NewIncomingContext(context.Background(), md)
	}
	if err := e.srv.requireBoundCert(in(cert), bound); err != nil {
		t.Fatalf("with its certificate: %v", err)
	}
	for name, ctx := range map[string]context.Context{"none": in(nil), "another": in(other),
		"untrusted caller": metadata.NewIncomingContext(context.Background(), metadata.Pairs(ClientCertMetadataKey, string(cert.Raw)))} {
		if err := e.srv.requireBoundCert(ctx, bound); err == nil || !strings.Contains(err.Error(), apierror.InvalidToken) {
			t.Errorf("%s: %v, want invalid_token", name, err)
		}
	}
	if err := e.srv.requireBoundCert(in(nil), &jwt.Claims{}); err != nil {
		t.Fatalf("unbound: %v", err)
	}
}

// TestClientCertsSource: a direct caller's certificate is its own TLS handshake's; a call from the gateway
// or another service uses only what it forwarded, never the certificate of its own connection (a role
// certificate between services), and a direct caller cannot forward one.
func TestClientCertsSource(t *testing.T) {
	e := newEnv(t)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	own, forwarded := leafCert(t, nil, pkix.Name{CommonName: "conn"}, key), leafCert(t, nil, pkix.Name{CommonName: "fwd"}, key)
	conn := peer.NewContext(context.Background(), &peer.Peer{AuthInfo: credentials.TLSInfo{State: tls.ConnectionState{PeerCertificates: []*x509.Certificate{own}}}})
	gateway := metadata.Pairs(internalauth.GatewayMetadataKey, internalauth.GatewayCredential(e.kr))
	for name, tc := range map[string]struct {
		ctx  context.Context
		want *x509.Certificate
	}{
		"direct caller":               {conn, own},
		"direct caller forwarding":    {metadata.NewIncomingContext(conn, metadata.Pairs(ClientCertMetadataKey, string(forwarded.Raw))), own},
		"gateway forwarding":          {metadata.NewIncomingContext(conn, metadata.Join(gateway, metadata.Pairs(ClientCertMetadataKey, string(forwarded.Raw)))), forwarded},
		"gateway without a forwarded": {metadata.NewIncomingContext(conn, gateway), nil},
		"wrong gateway credential":    {metadata.NewIncomingContext(context.Background(), metadata.Pairs(internalauth.GatewayMetadataKey, "x", ClientCertMetadataKey, string(forwarded.Raw))), nil},
		"internal caller forwarding":  {metadata.NewIncomingContext(conn, metadata.Pairs(internalauth.MetadataKey, e.cred, ClientCertMetadataKey, string(forwarded.Raw))), forwarded},
	} {
		got := e.srv.clientCerts(tc.ctx)
		switch {
		case tc.want == nil && got != nil:
			t.Errorf("%s: %d certificates, want none", name, len(got))
		case tc.want != nil && (len(got) == 0 || !got[0].Equal(tc.want)):
			t.Errorf("%s: got %v, want %s", name, got, tc.want.Subject)
		}
	}
}

// TestSelfSignedKeyRotation: a self_signed_tls_client_auth client whose keys live at a jwks_uri authenticates
// with a certificate of a rotated key once the set is refetched (a key missing from the cached set).
func TestSelfSignedKeyRotation(t *testing.T) {
	k1, k2 := newClientKey(t, "k1"), newClientKey(t, "k2")
	var mu sync.Mutex
	served := []jose.JSONWebKey{k1.jwk}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: served})
	}))
	t.Cleanup(srv.Close)
	fetchClock := newClock()
	e := newEnv(t, func(d *Deps) {
		d.ClientCertificates = true
		d.JWKSFetcher = jwksfetch.New(jwksfetch.Options{Client: srv.Client(), Now: fetchClock.Now})
	})
	r := e.reg.record("self", "default", []string{GrantClientCredentials}, []string{"read"}, 3600)
	r.Client.TokenEndpointAuthMethod = clients.AuthSelfSignedTLS
	r.Client.JwksUri = srv.URL + "/jwks"
	e.reg.put(r)
	e.awaitRegistry()
	trusted := tokenv1.NewOAuthServiceClient(e.browserConn)
	call := func(k clientKey) error {
		_, err := trusted.Token(withCert(leafCert(t, nil, pkix.Name{CommonName: "self"}, k.priv)),
			&tokenv1.TokenRequest{GrantType: GrantClientCredentials, Client: &tokenv1.ClientCredentials{ClientId: "self"}})
		return err
	}
	if err := call(k1); err != nil {
		t.Fatalf("first key: %v", err)
	}
	mu.Lock()
	served = []jose.JSONWebKey{k2.jwk}
	mu.Unlock()
	wantOAuth(t, call(k2), apierror.InvalidClient, 401) // within the refetch interval
	fetchClock.Advance(jwksfetch.DefaultMinRefetch)
	if err := call(k2); err != nil {
		t.Fatalf("rotated key: %v", err)
	}
}
