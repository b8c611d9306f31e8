package server

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"errors"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"

	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/internal/dn"
	"github.com/authsuite/authsuite/internal/jwksfetch"
	"github.com/authsuite/authsuite/services/token/clients"
)

// AssertionTypeJWTBearer is the client_assertion_type of a JWT client assertion (RFC 7523 §2.2).
const AssertionTypeJWTBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// Bounds of a client assertion (RFC 7523 §3).
const (
	// MaxAssertionBytes bounds the compact JWS read.
	MaxAssertionBytes = 8 << 10
	// MaxAssertionLifetime bounds how far exp may lie after now (and after iat): the window in which the
	// assertion's jti is remembered, so the replay record stays small.
	MaxAssertionLifetime = 5 * time.Minute
	// MaxAssertionIDLen bounds the jti.
	MaxAssertionIDLen = 256
	// assertionLeeway is the clock difference tolerated for nbf and iat in the future.
	assertionLeeway = 30 * time.Second
)

// AssertionAlgs are the JWS algorithms accepted for client assertions (advertised as
// token_endpoint_auth_signing_alg_values_supported): asymmetric only, never "none" nor HMAC, which would
// need a shared secret (RFC 7523 §3 item 9, RFC 8725 §3.1).
var AssertionAlgs = []jose.SignatureAlgorithm{jose.RS256, jose.PS256, jose.ES256, jose.EdDSA}

// clientKeys finds the public keys clients registered (inline jwks or jwks_uri) for private_key_jwt and
// self_signed_tls_client_auth. Inline sets are parsed once per client version (a *clients.Client is never
// modified: a change replaces it); jwks_uri sets come from the fetcher's cache. Nothing here writes.
type clientKeys struct {
	fetch *jwksfetch.Fetcher

	mu     sync.Mutex
	inline map[*clients.Client]inlineKeys // bounded by maxInlineSets
}

type inlineKeys struct {
	keys []jose.JSONWebKey
	err  error
}

// maxInlineSets bounds the parsed inline sets kept; past it the map starts over.
const maxInlineSets = 4096

func newClientKeys(f *jwksfetch.Fetcher) *clientKeys {
	if f == nil {
		f = jwksfetch.New(jwksfetch.Options{})
	}
	return &clientKeys{fetch: f, inline: map[*clients.Client]inlineKeys{}}
}

// keys returns cl's public keys; kid, when not empty, is the key id the caller looks for (a jwks_uri set
// missing it is refetched, at most once per jwksfetch.DefaultMinRefetch).
func (k *clientKeys) keys(ctx context.Context, cl *clients.Client, kid string) ([]jose.JSONWebKey, error) {
	if cl.JWKS != nil {
		k.mu.Lock()
		defer k.mu.Unlock()
		v, ok := k.inline[cl]
		if !ok {
			v.keys, v.err = jwksfetch.ParseSet(cl.JWKS)
			if len(k.inline) >= maxInlineSets {
				clear(k.inline)
			}
			k.inline[cl] = v
		}
		return v.keys, v.err
	}
	if cl.JWKSURI != "" {
		return k.fetch.Keys(ctx, cl.JWKSURI, kid)
	}
	return nil, errors.New("the client registered no keys (jwks or jwks_uri)")
}

// hasPublicKey reports whether pub is one of cl's registered keys (RFC 8705 §2.2). A key missing from a
// cached jwks_uri set (the client rotated it) makes the set be fetched again, as an unknown kid does.
func (k *clientKeys) hasPublicKey(ctx context.Context, cl *clients.Client, pub crypto.PublicKey) bool {
	keys, err := k.keys(ctx, cl, "")
	if err == nil && containsKey(keys, pub) {
		return true
	}
	if cl.JWKS != nil || cl.JWKSURI == "" {
		return false
	}
	keys, err = k.fetch.Refetch(ctx, cl.JWKSURI)
	return err == nil && containsKey(keys, pub)
}

func containsKey(keys []jose.JSONWebKey, pub crypto.PublicKey) bool {
	for _, jwk := range keys {
		if eq, ok := jwk.Key.(interface{ Equal(crypto.PublicKey) bool }); ok && eq.Equal(pub) {
			return true
		}
	}
	return false
}

// assertionAudiences are the aud values that name this server in a client assertion (RFC 7523 §3 item 3):
// the issuer and the endpoints that accept client authentication.
func (s *Server) assertionAudiences() [4]string {
	return [4]string{s.issuer, s.issuer + "/connect/token", s.issuer + "/connect/introspect", s.issuer + "/connect/revocation"}
}

// badAssertion is the answer to an assertion that fails a check (RFC 7523 §3.2: invalid_client).
func badAssertion(format string, args ...any) error {
	return apierror.OAuth(apierror.InvalidClient, "client_assertion: "+format, args...)
}

// authenticateAssertion authenticates a client by a JWT assertion signed with one of its registered keys
// (private_key_jwt: RFC 7523 §2.2 and §3, OpenID Connect Core §9). clientID, when the request sent one, must
// name the assertion's subject (RFC 7521 §4.2). The checks, in order: a compact JWS of at most
// MaxAssertionBytes signed with an algorithm of AssertionAlgs; iss = sub = a private_key_jwt client; a
// signature by one of its keys (the header's kid selects them when present); aud names this server; exp is
// present, in the future and at most MaxAssertionLifetime ahead of now and of iat; nbf and iat are not in the
// future (assertionLeeway); a jti of 1 to MaxAssertionIDLen bytes never used before by this client, which is
// recorded until exp in the store (one write, shared by every replica; item 7). Any failure answers
// invalid_client and records nothing.
func (s *Server) authenticateAssertion(ctx context.Context, clientID, assertion string) (*clients.Client, error) {
	if len(assertion) > MaxAssertionBytes {
		return nil, badAssertion("longer than %d bytes", MaxAssertionBytes)
	}
	jws, err := jose.ParseSignedCompact(assertion, AssertionAlgs)
	if err != nil {
		return nil, badAssertion("not a compact JWS signed with RS256, PS256, ES256 or EdDSA")
	}
	if len(jws.Signatures) != 1 {
		return nil, badAssertion("want exactly one signature")
	}
	var unverified struct {
		Sub string `json:"sub"`
	}
	if json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &unverified) != nil || unverified.Sub == "" {
		return nil, badAssertion("the payload must be a JSON object with sub, the client_id (RFC 7523 §3)")
	}
	sub := unverified.Sub
	if clientID != "" && clientID != sub {
		return nil, badAssertion("sub must equal client_id (RFC 7521 §4.2)")
	}
	cl, ok := s.cache.Get(sub)
	if !ok || cl.Method() != clients.AuthPrivateKeyJWT {
		return nil, errClientAuth
	}
	hdr := jws.Signatures[0].Header
	keys, err := s.clientKeys.keys(ctx, cl, hdr.KeyID)
	if err != nil {
		s.log.Warn("client keys unavailable", "client_id", cl.ID, "err", err)
		return nil, badAssertion("the client's keys could not be read")
	}
	payload, ok := verifyWithAny(jws, keys, hdr.KeyID, hdr.Algorithm)
	if !ok {
		return nil, badAssertion("the signature does not verify with a registered key")
	}
	var c josejwt.Claims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, badAssertion("the claims do not decode: iss, sub, jti strings, aud string or array, exp, nbf, iat numbers")
	}
	if err := s.checkAssertionClaims(cl.ID, &c); err != nil {
		return nil, err
	}
	fresh, err := s.st.UseAssertionID(ctx, cl.ID, c.ID, c.Expiry.Time())
	if err != nil {
		return nil, err
	}
	if !fresh {
		return nil, badAssertion("jti was used before: an assertion is good for one request (RFC 7523 §3 item 7)")
	}
	return cl, nil
}

// checkAssertionClaims checks the claims of a verified assertion of client id (RFC 7523 §3 items 1-7).
func (s *Server) checkAssertionClaims(id string, c *josejwt.Claims) error {
	now := s.now()
	switch {
	case c.Issuer != id || c.Subject != id:
		return badAssertion("iss and sub must both be the client_id (RFC 7523 §3 items 1-2)")
	case !audienceNamesUs(c.Audience, s.assertionAudiences()):
		return badAssertion("aud must contain the issuer or the token endpoint URL %s/connect/token (RFC 7523 §3 item 3)", s.issuer)
	case c.Expiry == nil:
		return badAssertion("exp is required (RFC 7523 §3 item 4)")
	case !now.Before(c.Expiry.Time()):
		return badAssertion("expired")
	case c.Expiry.Time().Sub(now) > MaxAssertionLifetime:
		return badAssertion("exp is more than %v ahead: use short-lived assertions", MaxAssertionLifetime)
	case c.NotBefore != nil && c.NotBefore.Time().After(now.Add(assertionLeeway)):
		return badAssertion("not valid yet (nbf, RFC 7523 §3 item 5)")
	case c.IssuedAt != nil && c.IssuedAt.Time().After(now.Add(assertionLeeway)):
		return badAssertion("iat is in the future (RFC 7523 §3 item 6)")
	case c.IssuedAt != nil && c.Expiry.Time().Sub(c.IssuedAt.Time()) > MaxAssertionLifetime:
		return badAssertion("exp is more than %v after iat", MaxAssertionLifetime)
	case c.ID == "" || len(c.ID) > MaxAssertionIDLen:
		return badAssertion("jti is required, at most %d bytes (RFC 7523 §3 item 7)", MaxAssertionIDLen)
	}
	return nil
}

func audienceNamesUs(aud josejwt.Audience, ours [4]string) bool {
	for _, a := range aud {
		for _, o := range ours {
			if a == o {
				return true
			}
		}
	}
	return false
}

// verifyWithAny verifies jws with the key of id kid (when given) or else with each key whose type fits alg,
// and returns the payload of the first that verifies.
func verifyWithAny(jws *jose.JSONWebSignature, keys []jose.JSONWebKey, kid, alg string) ([]byte, bool) {
	for _, k := range keys {
		if kid != "" && k.KeyID != kid {
			continue
		}
		if k.Algorithm != "" && k.Algorithm != alg { // RFC 7517 §4.4: a key names the one algorithm it is for
			continue
		}
		if payload, err := jws.Verify(k.Key); err == nil {
			return payload, true
		}
	}
	return nil, false
}

// authenticateCertificate authenticates cl by the TLS client certificate of the call (RFC 8705 §2):
//   - tls_client_auth (§2.1): the chain verifies against the configured client CAs for client
//     authentication (extended key usage clientAuth) at the current time, and the leaf's subject is the
//     client's registered subject DN (internal/dn);
//   - self_signed_tls_client_auth (§2.2): the leaf's public key is one of the client's registered keys
//     (jwks or jwks_uri); the certificate itself is not validated (§2.2).
func (s *Server) authenticateCertificate(ctx context.Context, cl *clients.Client) (*clients.Client, error) {
	chain := s.clientCerts(ctx)
	if len(chain) == 0 {
		return nil, apierror.OAuth(apierror.InvalidClient, "this client authenticates with a TLS client certificate, and the request presented none (RFC 8705 §2)")
	}
	leaf := chain[0]
	switch cl.Method() {
	case clients.AuthTLS:
		if s.deps.ClientCAs == nil {
			return nil, apierror.OAuth(apierror.InvalidClient, "tls_client_auth is not enabled on this server (no client CA)")
		}
		inter := x509.NewCertPool()
		for _, c := range chain[1:] {
			inter.AddCert(c)
		}
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: s.deps.ClientCAs, Intermediates: inter, CurrentTime: s.now(),
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
			return nil, apierror.OAuth(apierror.InvalidClient, "the client certificate does not verify against the trusted client CAs (RFC 8705 §2.1)")
		}
		if !dn.SubjectMatches(leaf.Subject, cl.TLSSubjectDN) {
			return nil, apierror.OAuth(apierror.InvalidClient, "the client certificate's subject is not the client's registered subject DN (RFC 8705 §2.1.2)")
		}
	case clients.AuthSelfSignedTLS:
		if !s.clientKeys.hasPublicKey(ctx, cl, leaf.PublicKey) {
			return nil, apierror.OAuth(apierror.InvalidClient, "the client certificate's key is not one of the client's registered keys (RFC 8705 §2.2)")
		}
	default:
		return nil, errClientAuth
	}
	return cl, nil
}
