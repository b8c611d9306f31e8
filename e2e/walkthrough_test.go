// Package e2e drives a real authsuite over loopback HTTP the way its users do: curl-style REST calls,
// golang.org/x/oauth2 and github.com/coreos/go-oidc/v3.
package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// TestMachineToMachineWalkthrough is the README walk-through: bootstrap → admin token → tenant, client,
// secret → token with x/oauth2 → check → restart → revoke → check fails → restart → still revoked.
func TestMachineToMachineWalkthrough(t *testing.T) {
	s := startSuite(t)
	ctx := context.Background()

	adminToken := clientToken(t, s, "admin", bootstrapSecret, "adminapi sudo")

	// Tenant, client and secret through the admin API (docs/reference/admin-api.md), trailing slashes as documented.
	tenant := expect(t, "create tenant", s.call("POST", "/api/adminapi2/v1/tenants/", adminToken,
		map[string]any{"code": "acme", "name": "Acme"}), 201)
	tenantID := tenant["tenantId"].(string)
	client := expect(t, "create client", s.call("POST", "/api/adminapi2/v1/tenants/"+tenantID+"/clients/", adminToken,
		map[string]any{
			"clientId":          "billing",
			"clientName":        "Billing",
			"allowedGrantTypes": []string{"client_credentials"},
			"allowedScopes":     []string{"orders.read", "orders.write"},
		}), 201)
	for field, want := range map[string]any{
		"clientId": "billing", "allowOfflineAccess": false, "allowRememberConsent": true,
		"backChannelLogoutSessionRequired": true, "requireClientSecret": true, "requireConsent": false,
		"allowNoPkce": false, "allowRopc": false, "redirectUriPrefixMatching": false,
		"accessTokenLifetime": float64(86400), "refreshTokenLifetime": float64(2592000),
	} {
		if client[field] != want {
			t.Errorf("created client %s = %v, want %v", field, client[field], want)
		}
	}
	if _, wrapped := client["client"]; wrapped {
		t.Error("client response is wrapped")
	}
	secret := expect(t, "create secret", s.call("POST", "/api/adminapi2/v2/tenants/"+tenantID+"/clients/billing/secrets/", adminToken,
		map[string]any{"description": "first"}), 201)
	value, _ := secret["value"].(string)
	if len(value) < 43 || secret["valueDisplay"] != value[:3] {
		t.Fatalf("secret value %q display %v", value, secret["valueDisplay"])
	}
	listed := expect(t, "list secrets", s.call("GET", "/api/adminapi2/v1/tenants/"+tenantID+"/clients/billing/secrets/", adminToken, nil), 200)
	if b, _ := json.Marshal(listed); strings.Contains(string(b), value) {
		t.Fatal("a listing shows the secret value")
	}

	awaitClient(t, s, "billing", value)

	// A token by the standard OAuth client library, verified against the published keys.
	cc := clientcredentials.Config{ClientID: "billing", ClientSecret: value, TokenURL: s.base + "/connect/token", Scopes: []string{"orders.read"}}
	tok, err := cc.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if tok.TokenType != "Bearer" || tok.Extra("scope") != "orders.read" {
		t.Fatalf("token type %q scope %v", tok.TokenType, tok.Extra("scope"))
	}
	claims := verifyAccessToken(t, s, tok.AccessToken)
	for k, want := range map[string]any{"iss": s.base, "sub": "billing", "client_id": "billing", "scope": "orders.read", "tenant": tenantID} {
		if claims[k] != want {
			t.Errorf("claim %s = %v, want %v", k, claims[k], want)
		}
	}
	for _, k := range []string{"aud", "exp", "iat", "jti"} {
		if claims[k] == nil {
			t.Errorf("claim %s missing", k)
		}
	}

	// The simple token API (docs/reference/simple-token-api.md) issues and checks.
	q := url.Values{"grant_type": {"client_credentials"}, "client_id": {"billing"}, "client_secret": {value}}
	simple := expect(t, "simple token", s.call("GET", "/api/oauth2/server/tokens?"+q.Encode(), "", nil), 200)
	if simple["token_type"] != "bearer" || simple["access_token"] == "" || simple["scope"] != "orders.read orders.write" {
		t.Fatalf("simple token %v", simple)
	}
	check := expect(t, "check", s.call("GET", "/api/oauth2/server/tokens/check?token="+tok.AccessToken, "", nil), 200)
	if left := check["expires_in"].(float64); left <= 0 || left > 86400 || check["access_token"] != tok.AccessToken {
		t.Fatalf("check %v", check)
	}

	// Restart in the middle: clients, secrets, keys and issued tokens survive.
	s.restart()
	expect(t, "check after restart", s.call("GET", "/api/oauth2/server/tokens/check?token="+tok.AccessToken, "", nil), 200)
	cc.TokenURL = s.base + "/connect/token"
	if _, err := cc.Token(ctx); err != nil {
		t.Fatalf("token after restart: %v", err)
	}

	// Revoke, then the check fails, also after another restart.
	revoked := expect(t, "revoke", s.call("GET", "/api/oauth2/server/tokens/revoke?token="+tok.AccessToken, "", nil), 200)
	if revoked["code"] != float64(0) || revoked["msg"] != "success" {
		t.Fatalf("revoke answered %v", revoked)
	}
	expect(t, "check revoked", s.call("GET", "/api/oauth2/server/tokens/check?token="+tok.AccessToken, "", nil), 400, "invalid_token")
	s.restart()
	expect(t, "check revoked after restart", s.call("GET", "/api/oauth2/server/tokens/check?token="+tok.AccessToken, "", nil), 400, "invalid_token")
}

// clientToken gets a client_credentials token with x/oauth2.
func clientToken(t testing.TB, s *suite, id, secret, scope string) string {
	t.Helper()
	cc := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: s.base + "/connect/token", Scopes: strings.Fields(scope)}
	// The request carries the suite's remembered revisions (the barrier), so a client created just before
	// is known to the token service when it answers.
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{Transport: revisionTransport{s}})
	tok, err := cc.Token(ctx)
	if err != nil {
		t.Fatalf("token for %s: %v", id, err)
	}
	return tok.AccessToken
}

// verifyAccessToken checks an access token with libraries authsuite does not control: go-oidc finds the
// keys through discovery and verifies the signature; go-jose reads the RFC 9068 header.
func verifyAccessToken(t *testing.T, s *suite, raw string) map[string]any {
	t.Helper()
	ctx := context.Background()
	provider, err := oidc.NewProvider(ctx, s.base)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	var meta struct {
		JWKS string `json:"jwks_uri"`
	}
	if err := provider.Claims(&meta); err != nil {
		t.Fatal(err)
	}
	payload, err := oidc.NewRemoteKeySet(ctx, meta.JWKS).VerifySignature(ctx, raw)
	if err != nil {
		t.Fatalf("signature: %v", err)
	}
	sig, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA, jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	if typ := sig.Signatures[0].Header.ExtraHeaders["typ"]; typ != "at+jwt" {
		t.Errorf("typ = %v, want at+jwt (RFC 9068 §2.1)", typ)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	if exp := int64(claims["exp"].(float64)); time.Until(time.Unix(exp, 0)) <= 0 {
		t.Error("token already expired")
	}
	return claims
}

func TestOpenAPIAndHealth(t *testing.T) {
	s := startSuite(t)
	doc := expect(t, "openapi", s.call("GET", "/openapi.json", "", nil), 200)
	paths, _ := doc["paths"].(map[string]any)
	for _, p := range []string{"/api/adminapi2/v1/tenants/{tenantId}/clients", "/api/oauth2/server/tokens/check"} {
		if paths[p] == nil {
			t.Errorf("openapi.json lacks %s", p)
		}
	}
	// Metrics count the calls just made, by route and by RPC, and the tokens issued by grant type.
	clientToken(t, s, "admin", bootstrapSecret, "adminapi")
	s.form("/connect/token", "grant_type=client_credentials", "admin", "wrong")
	m := string(s.adminGet("/metrics").body)
	for _, want := range []string{
		`authsuite_http_requests_total{method="GET",route="/openapi.json",status="200"} 1`,
		`authsuite_tokens_issued_total{grant_type="client_credentials"} 1`,
		`authsuite_errors_total{code="invalid_client"} 1`,
		`authsuite_grpc_requests_total{code="OK",method="/authsuite.token.v1.OAuthService/Token"} 1`,
		`authsuite_store_write_seconds_total{store="registry"}`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		if r := s.call("GET", p, "", nil); r.status != 200 {
			t.Errorf("%s: %d", p, r.status)
		}
	}
}

// revisionTransport sends a request with the suite's remembered revisions, as suite.do does, for clients
// (x/oauth2) that make their own requests.
type revisionTransport struct{ s *suite }

func (rt revisionTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if v := rt.s.revisionValue(); v != "" {
		req = req.Clone(req.Context())
		req.Header.Set(revisionHeader, v)
	}
	return http.DefaultTransport.RoundTrip(req)
}
