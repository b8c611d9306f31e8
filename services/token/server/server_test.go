package server

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/apierror"
)

// verifyWithJose checks tok against the published JWKS with go-jose and returns its header and claims.
func (e *env) verifyWithJose(tok string) (jose.Header, map[string]any) {
	t := e.t
	t.Helper()
	jwks, err := e.oauth.GetJwks(context.Background(), &tokenv1.GetJwksRequest{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := protojson.Marshal(jwks)
	if err != nil {
		t.Fatal(err)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(b, &set); err != nil {
		t.Fatalf("go-jose cannot read our JWKS %s: %v", b, err)
	}
	jws, err := jose.ParseSigned(tok, []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA, jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	hdr := jws.Signatures[0].Protected
	keys := set.Key(hdr.KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %q: %d keys in JWKS", hdr.KeyID, len(keys))
	}
	payload, err := jws.Verify(keys[0])
	if err != nil {
		t.Fatalf("go-jose verify: %v", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	return hdr, claims
}

func TestIssueClientCredentials(t *testing.T) {
	e := newEnv(t)
	r, err := e.token("svc", svcSecret, "")
	if err != nil {
		t.Fatal(err)
	}
	if r.GetTokenType() != "Bearer" || r.GetExpiresIn() != 3600 || r.GetScope() != "adminapi sudo read" {
		t.Fatalf("response %v", r)
	}
	if r.RefreshToken != nil || r.IdToken != nil {
		t.Fatal("client_credentials must not return refresh or id tokens")
	}
	hdr, c := e.verifyWithJose(r.GetAccessToken())
	if hdr.Algorithm != "ES256" || hdr.ExtraHeaders["typ"] != "at+jwt" {
		t.Fatalf("header %+v", hdr)
	}
	now := float64(e.clock.Now().Unix())
	if c["iss"] != testIssuer || c["aud"] != testIssuer || c["sub"] != "svc" || c["client_id"] != "svc" ||
		c["scope"] != "adminapi sudo read" || c["tenant"] != "default" || c["iat"] != now || c["exp"] != now+3600 {
		t.Fatalf("claims %v", c)
	}
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(c["jti"].(string)) {
		t.Fatalf("jti %v is not 128 random bits", c["jti"])
	}
	// Two tokens never share a jti.
	_, c2 := e.verifyWithJose(e.mustToken("svc", svcSecret, ""))
	if c2["jti"] == c["jti"] {
		t.Fatal("jti reused")
	}
}

func TestTokenErrors(t *testing.T) {
	e := newEnv(t)
	now := e.clock.Now()
	e.reg.put(e.reg.record("nogrant", "default", []string{"authorization_code"}, []string{"read"}, 0, secretSpec{id: "a", value: "pw-nogrant"}))
	e.reg.put(e.reg.record("old", "default", allGrants, []string{"read"}, 0,
		secretSpec{id: "exp", value: "pw-old", start: now.Add(-48 * time.Hour), end: now.Add(-time.Second)},
		secretSpec{id: "future", value: "pw-future", start: now.Add(time.Hour)},
		secretSpec{id: "ok", value: "pw-window", start: now.Add(-time.Hour), end: now.Add(time.Hour)}))
	pub := e.reg.record("public", "default", allGrants, []string{"read"}, 0)
	pub.Client.RequireClientSecret = new(false)
	e.reg.put(pub)
	e.awaitRegistry()
	cases := []struct {
		name       string
		req        *tokenv1.TokenRequest
		code       string
		httpStatus int
	}{
		{"no grant_type", &tokenv1.TokenRequest{Client: creds("svc", svcSecret)}, apierror.InvalidRequest, 400},
		{"authorization_code not allowed", &tokenv1.TokenRequest{GrantType: "authorization_code", Client: creds("svc", svcSecret), Code: "x"}, apierror.UnauthorizedClient, 400},
		{"password without allowRopc", &tokenv1.TokenRequest{GrantType: "password", Client: creds("svc", svcSecret)}, apierror.UnauthorizedClient, 400},
		{"unknown grant", &tokenv1.TokenRequest{GrantType: "urn:x", Client: creds("svc", svcSecret)}, apierror.UnsupportedGrantType, 400},
		{"no client", &tokenv1.TokenRequest{GrantType: GrantClientCredentials}, apierror.InvalidClient, 401},
		{"unknown client", &tokenv1.TokenRequest{GrantType: GrantClientCredentials, Client: creds("ghost", svcSecret)}, apierror.InvalidClient, 401},
		{"wrong secret", &tokenv1.TokenRequest{GrantType: GrantClientCredentials, Client: creds("svc", "nope")}, apierror.InvalidClient, 401},
		{"no secret", &tokenv1.TokenRequest{GrantType: GrantClientCredentials, Client: creds("svc", "")}, apierror.InvalidClient, 401},
		{"another client's secret", &tokenv1.TokenRequest{GrantType: GrantClientCredentials, Client: creds("nogrant", svcSecret)}, apierror.InvalidClient, 401},
		{"expired secret", &tokenv1.TokenRequest{GrantType: GrantClientCredentials, Client: creds("old", "pw-old")}, apierror.InvalidClient, 401},
		{"not yet valid secret", &tokenv1.TokenRequest{GrantType: GrantClientCredentials, Client: creds("old", "pw-future")}, apierror.InvalidClient, 401},
		{"basic auth failure", &tokenv1.TokenRequest{GrantType: GrantClientCredentials, Client: &tokenv1.ClientCredentials{ClientId: "svc", ClientSecret: "x", Basic: true}}, apierror.InvalidClient, 401},
		{"public client", &tokenv1.TokenRequest{GrantType: GrantClientCredentials, Client: creds("public", "")}, apierror.InvalidClient, 401},
		{"grant not allowed", &tokenv1.TokenRequest{GrantType: GrantClientCredentials, Client: creds("nogrant", "pw-nogrant")}, apierror.UnauthorizedClient, 400},
		{"scope not allowed", &tokenv1.TokenRequest{GrantType: GrantClientCredentials, Client: creds("svc", svcSecret), Scope: "read write"}, apierror.InvalidScope, 400},
		{"openid", &tokenv1.TokenRequest{GrantType: GrantClientCredentials, Client: creds("svc", svcSecret), Scope: "openid"}, apierror.InvalidScope, 400},
		{"offline_access", &tokenv1.TokenRequest{GrantType: GrantClientCredentials, Client: creds("svc", svcSecret), Scope: "offline_access"}, apierror.InvalidScope, 400},
		{"malformed scope", &tokenv1.TokenRequest{GrantType: GrantClientCredentials, Client: creds("svc", svcSecret), Scope: "read \"x\""}, apierror.InvalidScope, 400},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.oauth.Token(context.Background(), c.req)
			wantOAuth(t, err, c.code, c.httpStatus)
			if s := c.req.GetClient().GetClientSecret(); s != "" && strings.Contains(err.Error(), s) {
				t.Fatal("error message leaks the secret")
			}
		})
	}
	// The secret inside its window works.
	if _, err := e.token("old", "pw-window", "read"); err != nil {
		t.Fatal(err)
	}
	// Validity windows follow the clock: advance past the window's end.
	e.clock.Advance(2 * time.Hour)
	_, err := e.token("old", "pw-window", "read")
	wantOAuth(t, err, apierror.InvalidClient, 401)
	if _, err := e.token("old", "pw-future", "read"); err != nil {
		t.Fatalf("secret should be valid now: %v", err)
	}
}

func TestScopes(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct{ req, want string }{
		{"", "adminapi sudo read"},
		{"read", "read"},
		{"  sudo   read sudo ", "sudo read"},
		{"adminapi", "adminapi"},
	} {
		r, err := e.token("svc", svcSecret, c.req)
		if err != nil {
			t.Fatalf("%q: %v", c.req, err)
		}
		if r.GetScope() != c.want {
			t.Fatalf("scope %q → %q, want %q", c.req, r.GetScope(), c.want)
		}
		if _, claims := e.verifyWithJose(r.GetAccessToken()); claims["scope"] != c.want {
			t.Fatalf("claim scope %v", claims["scope"])
		}
	}
}

func TestLifetimeCappedAtOneYear(t *testing.T) {
	e := newEnv(t)
	e.reg.put(e.reg.record("long", "default", allGrants, nil, 1<<31-1, secretSpec{id: "l", value: "pw-long"}))
	e.awaitRegistry()
	r, err := e.token("long", "pw-long", "")
	if err != nil {
		t.Fatal(err)
	}
	if r.GetExpiresIn() != int32(MaxAccessTokenLifetime/time.Second) || r.GetScope() != "" {
		t.Fatalf("%v", r)
	}
}

func TestSimpleGetToken(t *testing.T) {
	e := newEnv(t)
	r, err := e.simple.GetToken(context.Background(), &tokenv1.GetTokenRequest{GrantType: "client_credentials", ClientId: "svc", ClientSecret: svcSecret, Scope: "sudo"})
	if err != nil {
		t.Fatal(err)
	}
	if r.GetTokenType() != "bearer" || r.GetScope() != "sudo" || r.GetExpiresIn() != 3600 {
		t.Fatalf("%v", r)
	}
	e.verifyWithJose(r.GetAccessToken())
	_, err = e.simple.GetToken(context.Background(), &tokenv1.GetTokenRequest{GrantType: "password", ClientId: "svc", ClientSecret: svcSecret})
	wantOAuth(t, err, apierror.UnsupportedGrantType, 400)
	_, err = e.simple.GetToken(context.Background(), &tokenv1.GetTokenRequest{GrantType: "client_credentials", ClientId: "svc", ClientSecret: "bad"})
	wantOAuth(t, err, apierror.InvalidClient, 401)
}

func TestCheckToken(t *testing.T) {
	e := newEnv(t)
	tok := e.mustToken("svc", svcSecret, "read")
	r, err := e.check(tok)
	if err != nil {
		t.Fatal(err)
	}
	if r.GetAccessToken() != tok || r.GetTokenType() != "bearer" || r.GetExpiresIn() != 3600 || r.GetScope() != "read" || r.Sub != nil || r.Act != nil {
		t.Fatalf("%v", r)
	}
	e.clock.Advance(1000 * time.Second)
	if r, _ = e.check(tok); r.GetExpiresIn() != 2600 {
		t.Fatalf("expires_in = %d, want the 2600 s left", r.GetExpiresIn())
	}
	// Forged: a valid token with another payload, a token from another issuer's key, garbage.
	parts := strings.Split(tok, ".")
	other := newEnv(t).mustToken("svc", svcSecret, "read")
	for name, bad := range map[string]string{
		"tampered":    parts[0] + "." + parts[1][:len(parts[1])-2] + "AA." + parts[2],
		"foreign key": other,
		"garbage":     "not-a-token",
	} {
		_, err := e.check(bad)
		wantOAuth(t, err, apierror.InvalidToken, 400)
		if strings.Contains(err.Error(), bad) {
			t.Fatalf("%s: error leaks the token", name)
		}
	}
	_, err = e.check("")
	wantOAuth(t, err, apierror.InvalidRequest, 400)
	// Expired.
	e.clock.Advance(2600 * time.Second)
	_, err = e.check(tok)
	wantOAuth(t, err, apierror.InvalidToken, 400)
}

func TestHotPathsTouchNeitherDiskNorNetwork(t *testing.T) {
	e := newEnv(t)
	e.mustToken("svc", svcSecret, "") // warm up
	waitFor(t, 5*time.Second, "snapshot written", func() bool { return e.srv.cache.Writes() > 0 })
	writes, uses := e.st.writes.Load(), len(e.reg.useCalls())
	e.reg.mu.Lock()
	resolves, watches := e.reg.resolves, e.reg.watches
	e.reg.mu.Unlock()
	for range 50 {
		tok := e.mustToken("svc", svcSecret, "")
		if _, err := e.check(tok); err != nil {
			t.Fatal(err)
		}
		if _, err := e.internal.AuthenticateToken(context.Background(), &tokenv1.AuthenticateTokenRequest{Token: tok}); err != nil {
			t.Fatal(err)
		}
	}
	e.reg.mu.Lock()
	defer e.reg.mu.Unlock()
	if e.st.writes.Load() != writes || len(e.reg.uses) != uses || e.reg.resolves != resolves || e.reg.watches != watches {
		t.Fatalf("hot path did I/O: store writes %d→%d, registry uses %d→%d", writes, e.st.writes.Load(), uses, len(e.reg.uses))
	}
}

func TestIntrospect(t *testing.T) {
	e := newEnv(t)
	e.reg.put(e.reg.record("acme-svc", "t-acme", allGrants, []string{"read"}, 0, secretSpec{id: "a", value: "pw-acme"}))
	e.reg.put(e.reg.record("beta-svc", "t-beta", allGrants, []string{"read"}, 0, secretSpec{id: "b", value: "pw-beta"}))
	e.awaitRegistry()
	acmeTok := e.mustToken("acme-svc", "pw-acme", "")
	intro := func(id, secret, tok string) (*tokenv1.IntrospectResponse, error) {
		return e.oauth.Introspect(context.Background(), &tokenv1.IntrospectRequest{Client: creds(id, secret), Token: tok, TokenTypeHint: "access_token"})
	}
	_, err := intro("svc", "wrong", acmeTok)
	wantOAuth(t, err, apierror.InvalidClient, 401)
	_, err = intro("", "", acmeTok)
	wantOAuth(t, err, apierror.InvalidClient, 401)

	r, err := intro("acme-svc", "pw-acme", acmeTok)
	if err != nil {
		t.Fatal(err)
	}
	if !r.GetActive() || r.GetClientId() != "acme-svc" || r.GetSub() != "acme-svc" || r.GetTenant() != "t-acme" ||
		r.GetIss() != testIssuer || r.GetAud() != testIssuer || r.GetScope() != "read" || r.GetTokenType() != "Bearer" ||
		r.GetExp() != e.clock.Now().Unix()+86400 || r.GetIat() != e.clock.Now().Unix() || len(r.GetJti()) != 32 {
		t.Fatalf("%v", r)
	}
	// The system tenant sees every tenant; another tenant sees nothing.
	if r, _ := intro("svc", svcSecret, acmeTok); !r.GetActive() {
		t.Fatal("system client sees acme token inactive")
	}
	inactive := func(r *tokenv1.IntrospectResponse, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if r.GetActive() || r.Scope != nil || r.ClientId != nil || r.Sub != nil || r.Exp != nil || r.Tenant != nil {
			t.Fatalf("inactive answer carries more than active=false: %v", r)
		}
	}
	inactive(intro("beta-svc", "pw-beta", acmeTok))
	inactive(intro("svc", svcSecret, "garbage"))
	revoked := e.mustToken("acme-svc", "pw-acme", "")
	if _, err := e.simple.RevokeToken(context.Background(), &tokenv1.RevokeTokenRequest{Token: revoked}); err != nil {
		t.Fatal(err)
	}
	inactive(intro("svc", svcSecret, revoked))
	e.clock.Advance(86400 * time.Second)
	inactive(intro("svc", svcSecret, acmeTok))
}

func TestRevokeSurvivesRestart(t *testing.T) {
	e := newEnv(t)
	e.reg.put(e.reg.record("other", "default", allGrants, []string{"read"}, 0, secretSpec{id: "o", value: "pw-other"}))
	e.awaitRegistry()
	tok := e.mustToken("svc", svcSecret, "")
	keep := e.mustToken("svc", svcSecret, "")
	revoke := func(id, secret, tok string) error {
		_, err := e.oauth.Revoke(context.Background(), &tokenv1.RevokeRequest{Client: creds(id, secret), Token: tok})
		return err
	}
	wantOAuth(t, revoke("svc", "wrong", tok), apierror.InvalidClient, 401)
	wantOAuth(t, revoke("other", "pw-other", tok), apierror.UnauthorizedClient, 400)
	wantOAuth(t, revoke("svc", svcSecret, ""), apierror.InvalidRequest, 400)
	if err := revoke("svc", svcSecret, "unknown-token"); err != nil {
		t.Fatalf("unknown token: %v (RFC 7009 §2.2 wants 200)", err)
	}
	if _, err := e.check(tok); err != nil {
		t.Fatal("token dead before revocation")
	}
	if err := revoke("svc", svcSecret, tok); err != nil {
		t.Fatal(err)
	}
	if err := revoke("svc", svcSecret, tok); err != nil {
		t.Fatalf("second revocation: %v", err)
	}
	_, err := e.check(tok)
	wantOAuth(t, err, apierror.InvalidToken, 400)
	if _, err := e.internal.AuthenticateToken(context.Background(), &tokenv1.AuthenticateTokenRequest{Token: tok}); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("AuthenticateToken of revoked token: %v", err)
	}

	e.stopRun()
	e.start()
	_, err = e.check(tok)
	wantOAuth(t, err, apierror.InvalidToken, 400)
	if _, err := e.check(keep); err != nil {
		t.Fatalf("unrevoked token after restart: %v", err)
	}
}

func TestRevocationSweep(t *testing.T) {
	e := newEnv(t)
	tok := e.mustToken("svc", svcSecret, "")
	if _, err := e.simple.RevokeToken(context.Background(), &tokenv1.RevokeTokenRequest{Token: tok}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(3601 * time.Second)
	if err := e.srv.maintain(context.Background()); err != nil {
		t.Fatal(err)
	}
	revs, err := e.st.Revocations(context.Background())
	if err != nil || len(revs) != 0 {
		t.Fatalf("after sweep: %v, %v", revs, err)
	}
	if e.srv.revoked.has("x") || len(e.srv.revoked.m) != 0 {
		t.Fatal("memory not swept")
	}
}

func TestSimpleRevokeToken(t *testing.T) {
	e := newEnv(t)
	tok := e.mustToken("svc", svcSecret, "")
	r, err := e.simple.RevokeToken(context.Background(), &tokenv1.RevokeTokenRequest{Token: tok})
	if err != nil || r.GetCode() != 0 || r.GetMsg() != "success" {
		t.Fatalf("%v, %v", r, err)
	}
	if _, err := e.check(tok); err == nil {
		t.Fatal("revoked token still checks")
	}
	// Already revoked, or expired: success.
	if r, err := e.simple.RevokeToken(context.Background(), &tokenv1.RevokeTokenRequest{Token: tok}); err != nil || r.GetCode() != 0 {
		t.Fatalf("%v, %v", r, err)
	}
	expired := e.mustToken("svc", svcSecret, "")
	e.clock.Advance(2 * time.Hour)
	if _, err := e.simple.RevokeToken(context.Background(), &tokenv1.RevokeTokenRequest{Token: expired}); err != nil {
		t.Fatal(err)
	}
	_, err = e.simple.RevokeToken(context.Background(), &tokenv1.RevokeTokenRequest{Token: "forged.token.value"})
	wantOAuth(t, err, apierror.InvalidToken, 400)
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("code %v", status.Code(err))
	}
	_, err = e.simple.RevokeToken(context.Background(), &tokenv1.RevokeTokenRequest{})
	wantOAuth(t, err, apierror.InvalidRequest, 400)
}

func TestAuthenticateToken(t *testing.T) {
	e := newEnv(t)
	tok := e.mustToken("svc", svcSecret, "adminapi read")
	r, err := e.internal.AuthenticateToken(context.Background(), &tokenv1.AuthenticateTokenRequest{Token: tok})
	if err != nil {
		t.Fatal(err)
	}
	if r.GetSubject() != "svc" || r.GetClientId() != "svc" || r.GetTenantId() != "default" || r.GetUserId() != "" ||
		!slices.Equal(r.GetScopes(), []string{"adminapi", "read"}) || r.GetExpireTime() != e.clock.Now().Unix()+3600 || len(r.GetJti()) != 32 {
		t.Fatalf("%v", r)
	}
	for _, bad := range []string{"", "x.y.z", tok + "x"} {
		if _, err := e.internal.AuthenticateToken(context.Background(), &tokenv1.AuthenticateTokenRequest{Token: bad}); status.Code(err) != codes.Unauthenticated {
			t.Fatalf("%q: %v", bad, err)
		}
	}
	// Only the suite may call it.
	if _, err := tokenv1.NewTokenInternalServiceClient(grpcDialPublic(t, e)).AuthenticateToken(context.Background(), &tokenv1.AuthenticateTokenRequest{Token: tok}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("without internal credential: %v", err)
	}
}

func TestDiscovery(t *testing.T) {
	e := newEnv(t, func(d *Deps) { d.SigningAlg = "EdDSA" })
	d, err := e.oauth.GetDiscovery(context.Background(), &tokenv1.GetDiscoveryRequest{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		d.GetIssuer():                      testIssuer,
		d.GetAuthorizationEndpoint():       testIssuer + "/connect/authorize",
		d.GetTokenEndpoint():               testIssuer + "/connect/token",
		d.GetUserinfoEndpoint():            testIssuer + "/connect/userinfo",
		d.GetJwksUri():                     testIssuer + "/.well-known/openid-configuration/jwks",
		d.GetIntrospectionEndpoint():       testIssuer + "/connect/introspect",
		d.GetRevocationEndpoint():          testIssuer + "/connect/revocation",
		d.GetEndSessionEndpoint():          testIssuer + "/connect/endsession",
		d.GetDeviceAuthorizationEndpoint(): testIssuer + "/connect/deviceauthorization",
	}
	for got, w := range want {
		if got != w {
			t.Errorf("endpoint %q, want %q", got, w)
		}
	}
	if len(want) != 9 {
		t.Errorf("endpoints not distinct: %v", want)
	}
	eq := func(name string, got, w []string) {
		if !slices.Equal(got, w) {
			t.Errorf("%s = %v, want %v", name, got, w)
		}
	}
	eq("grant types", d.GetGrantTypesSupported(), []string{"client_credentials", "authorization_code", "refresh_token", "password", "urn:ietf:params:oauth:grant-type:token-exchange", "urn:ietf:params:oauth:grant-type:device_code"})
	eq("response types", d.GetResponseTypesSupported(), []string{"code"})
	eq("acr values", d.GetAcrValuesSupported(), []string{"urn:authsuite:acr:pwd", "urn:authsuite:acr:mfa"})
	eq("ui locales", d.GetUiLocalesSupported(), []string{"en", "zh-Hans", "zh-Hant"})
	eq("subject types", d.GetSubjectTypesSupported(), []string{"public"})
	eq("pkce", d.GetCodeChallengeMethodsSupported(), []string{"S256"})
	// Without client certificates reaching the service, only the secret and key methods are advertised.
	eq("auth methods", d.GetTokenEndpointAuthMethodsSupported(), []string{"none", "client_secret_basic", "client_secret_post", "private_key_jwt"})
	eq("introspection auth methods", d.GetIntrospectionEndpointAuthMethodsSupported(), []string{"client_secret_basic", "client_secret_post", "private_key_jwt"})
	eq("assertion algs", d.GetTokenEndpointAuthSigningAlgValuesSupported(), []string{"RS256", "PS256", "ES256", "EdDSA"})
	eq("algs", d.GetIdTokenSigningAlgValuesSupported(), []string{"EdDSA"})
	eq("scopes", d.GetScopesSupported(), []string{"openid", "profile", "email", "phone", "offline_access", "roles", "groups", "adminapi", "sudo"})
	if !d.GetBackchannelLogoutSupported() {
		t.Error("backchannel logout")
	}
	if d.GetTlsClientCertificateBoundAccessTokens() {
		t.Error("certificate-bound tokens advertised without client certificates")
	}

	// With client certificates: self-signed certificates and bound tokens; tls_client_auth with a client CA.
	for _, tc := range []struct {
		ca   bool
		want []string
	}{
		{false, []string{"client_secret_basic", "client_secret_post", "private_key_jwt", "self_signed_tls_client_auth"}},
		{true, []string{"client_secret_basic", "client_secret_post", "private_key_jwt", "tls_client_auth", "self_signed_tls_client_auth"}},
	} {
		e := newEnv(t, func(d *Deps) {
			d.ClientCertificates = true
			if tc.ca {
				d.ClientCAs = x509.NewCertPool()
			}
		})
		d, err := e.oauth.GetDiscovery(context.Background(), &tokenv1.GetDiscoveryRequest{})
		if err != nil {
			t.Fatal(err)
		}
		eq("revocation auth methods with certificates", d.GetRevocationEndpointAuthMethodsSupported(), tc.want)
		if !d.GetTlsClientCertificateBoundAccessTokens() {
			t.Error("certificate-bound tokens not advertised with client certificates")
		}
	}
}

func TestSigningAlgorithms(t *testing.T) {
	for _, alg := range []string{"ES256", "EdDSA", "RS256"} {
		t.Run(alg, func(t *testing.T) {
			e := newEnv(t, func(d *Deps) { d.SigningAlg = alg })
			tok := e.mustToken("svc", svcSecret, "")
			hdr, _ := e.verifyWithJose(tok)
			if hdr.Algorithm != alg {
				t.Fatalf("alg %s", hdr.Algorithm)
			}
			if _, err := e.check(tok); err != nil {
				t.Fatal(err)
			}
			jwks, _ := e.oauth.GetJwks(context.Background(), &tokenv1.GetJwksRequest{})
			b, _ := protojson.Marshal(jwks)
			var raw struct{ Keys []map[string]any }
			json.Unmarshal(b, &raw)
			k := raw.Keys[0]
			members := slices.Sorted(mapsKeys(k))
			wantMembers := map[string][]string{
				"ES256": {"alg", "crv", "kid", "kty", "use", "x", "y"},
				"EdDSA": {"alg", "crv", "kid", "kty", "use", "x"},
				"RS256": {"alg", "e", "kid", "kty", "n", "use"},
			}[alg]
			if !slices.Equal(members, wantMembers) || k["use"] != "sig" || k["alg"] != alg {
				t.Fatalf("JWK %v", k)
			}
		})
	}
	if _, err := New(Deps{Store: &countingStore{}, Keyring: nil}); err == nil {
		t.Fatal("missing deps accepted")
	}
}

func mapsKeys(m map[string]any) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func TestKeyRotation(t *testing.T) {
	e := newEnv(t)
	e.reg.put(e.reg.record("yearly", "default", allGrants, []string{"read"}, 1<<31-1, secretSpec{id: "y", value: "pw-yearly"}))
	e.awaitRegistry()
	old := e.mustToken("yearly", "pw-yearly", "")
	oldHdr, _ := e.verifyWithJose(old)

	// Not due yet: nothing changes.
	e.clock.Advance(89 * 24 * time.Hour)
	e.srv.maintain(context.Background())
	if jwks, _ := e.oauth.GetJwks(context.Background(), &tokenv1.GetJwksRequest{}); len(jwks.GetKeys()) != 1 {
		t.Fatalf("rotated early: %d keys", len(jwks.GetKeys()))
	}
	e.clock.Advance(2 * 24 * time.Hour)
	if err := e.srv.maintain(context.Background()); err != nil {
		t.Fatal(err)
	}
	jwks, _ := e.oauth.GetJwks(context.Background(), &tokenv1.GetJwksRequest{})
	if len(jwks.GetKeys()) != 2 || jwks.GetKeys()[1].GetKid() != oldHdr.KeyID {
		t.Fatalf("JWKS after rotation: %v", jwks)
	}
	// The new key is published first: the old one signs until every replica can verify the new one.
	if hdr, _ := e.verifyWithJose(e.mustToken("yearly", "pw-yearly", "")); hdr.KeyID != oldHdr.KeyID {
		t.Fatalf("signed with %s during the publish delay, want the old key %s", hdr.KeyID, oldHdr.KeyID)
	}
	e.clock.Advance(DefaultKeyPublishDelay)
	fresh := e.mustToken("yearly", "pw-yearly", "")
	freshHdr, _ := e.verifyWithJose(fresh)
	if freshHdr.KeyID == oldHdr.KeyID || freshHdr.KeyID != jwks.GetKeys()[0].GetKid() {
		t.Fatal("new tokens are not signed by the new key")
	}
	e.verifyWithJose(old)
	if _, err := e.check(old); err != nil {
		t.Fatalf("old token after rotation: %v", err)
	}
	// The rotation survives a restart, and the old key is still published.
	e.stopRun()
	e.start()
	if jwks, _ := e.oauth.GetJwks(context.Background(), &tokenv1.GetJwksRequest{}); len(jwks.GetKeys()) != 2 || jwks.GetKeys()[0].GetKid() != freshHdr.KeyID {
		t.Fatalf("after restart: %v", jwks)
	}
	if _, err := e.check(old); err != nil {
		t.Fatalf("old token after restart: %v", err)
	}
	// A year and an hour after retirement the old key goes (its tokens have all expired). The fresh key
	// itself rotates meanwhile, so three generations are in play.
	e.clock.Advance(RetiredKeyValidity + time.Minute)
	if err := e.srv.maintain(context.Background()); err != nil {
		t.Fatal(err)
	}
	jwks, _ = e.oauth.GetJwks(context.Background(), &tokenv1.GetJwksRequest{})
	for _, k := range jwks.GetKeys() {
		if k.GetKid() == oldHdr.KeyID {
			t.Fatal("expired key still published")
		}
	}
	if len(jwks.GetKeys()) != 2 {
		t.Fatalf("want the current and the just-retired key, got %d", len(jwks.GetKeys()))
	}
}

func TestAlgorithmChangeRotates(t *testing.T) {
	e := newEnv(t)
	old := e.mustToken("svc", svcSecret, "")
	e.stopRun()
	e.start(func(d *Deps) { d.SigningAlg = "RS256" })
	e.clock.Advance(DefaultKeyPublishDelay)
	hdr, _ := e.verifyWithJose(e.mustToken("svc", svcSecret, ""))
	if hdr.Algorithm != "RS256" {
		t.Fatal(hdr.Algorithm)
	}
	if _, err := e.check(old); err != nil {
		t.Fatalf("ES256 token after switching to RS256: %v", err)
	}
}

var _ = registryv1.ClientRecord{}
