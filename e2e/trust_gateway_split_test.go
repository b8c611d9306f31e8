package e2e

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authsuite/authsuite/internal/app"
	"github.com/authsuite/authsuite/internal/config"
	"github.com/authsuite/authsuite/internal/internalauth"
	"github.com/authsuite/authsuite/internal/suitekey"
)

// TestTrustSplitGatewayCredential: a gateway role given only AUTHSUITE_GATEWAY_CREDENTIAL
// (never the master key) serves the sign-in pages of remote services; one with a wrong credential is refused
// by them (an access_denied error page), and one with none does not start.
func TestTrustSplitGatewayCredential(t *testing.T) {
	dir := t.TempDir()
	key := suitekey.Generate()
	kr, err := suitekey.Parse(key)
	if err != nil {
		t.Fatal(err)
	}
	addr := map[string]string{}
	for _, n := range []string{"gateway", "bad-gateway", "token", "registry", "provider"} {
		addr[n] = freeAddr(t)
	}
	base := "http://" + addr["gateway"]
	remote := []string{"--token-addr", addr["token"], "--registry-addr", addr["registry"], "--provider-addr", addr["provider"], "--issuer", base}
	start := func(role config.Role, args, env []string) error {
		cfg, err := config.Load(role, append(args, remote...), env, io.Discard)
		if err != nil {
			return err
		}
		s, err := app.Start(context.Background(), cfg, slog.New(slog.DiscardHandler), io.Discard)
		if err != nil {
			return err
		}
		t.Cleanup(func() { s.Shutdown(context.Background()) })
		return nil
	}
	services := []string{"AUTHSUITE_MASTER_KEY=" + key, "AUTHSUITE_BOOTSTRAP_SECRET=" + bootstrapSecret}
	for _, role := range []config.Role{config.RoleRegistry, config.RoleToken, config.RoleProvider} {
		if err := start(role, []string{"--http-addr", "127.0.0.1:0", "--grpc-addr", addr[string(role)], "--data-dir", filepath.Join(dir, string(role))}, services); err != nil {
			t.Fatalf("%s: %v", role, err)
		}
	}
	if err := start(config.RoleGateway, []string{"--http-addr", addr["gateway"], "--admin-addr", "127.0.0.1:0"}, []string{"AUTHSUITE_GATEWAY_CREDENTIAL=" + internalauth.GatewayCredential(kr)}); err != nil {
		t.Fatal(err)
	}
	if err := start(config.RoleGateway, []string{"--http-addr", addr["bad-gateway"], "--admin-addr", "127.0.0.1:0"}, []string{"AUTHSUITE_GATEWAY_CREDENTIAL=" + kr.InternalCredential() + "x"}); err != nil {
		t.Fatal(err)
	}
	if err := start(config.RoleGateway, []string{"--http-addr", "127.0.0.1:0"}, nil); err == nil || !strings.Contains(err.Error(), "AUTHSUITE_GATEWAY_CREDENTIAL") {
		t.Fatalf("a gateway without its credential: %v, want an error naming AUTHSUITE_GATEWAY_CREDENTIAL", err)
	}
	waitReadyWithin(t, base+"/readyz", 10*time.Second)

	s := &suite{t: t, base: base}
	admin := clientToken(t, s, "admin", bootstrapSecret, "adminapi")
	tenant := expect(t, "tenant", s.call("POST", "/api/adminapi2/v1/tenants/", admin, map[string]any{"code": "acme"}), 201)["tenantId"].(string)
	expect(t, "client", s.call("POST", "/api/adminapi2/v1/tenants/"+tenant+"/clients/", admin, map[string]any{
		"clientId": "spa", "requireClientSecret": false, "allowedGrantTypes": []string{"authorization_code"},
		"allowedScopes": []string{"openid"}, "redirectUris": []string{"https://rp.example/cb"},
	}), 201)
	_, challenge := pkce()
	authorize := "/connect/authorize?response_type=code&client_id=spa&scope=openid&redirect_uri=https%3A%2F%2Frp.example%2Fcb&code_challenge_method=S256&code_challenge=" + challenge
	var p page
	eventually(t, 10*time.Second, "login page through the split gateway", func() bool {
		p = newBrowser(t).get(base + authorize)
		return p.isLogin()
	})
	// sudo crosses real gRPC connections as binary metadata, so a non-ASCII login name arrives intact.
	sudoer := clientToken(t, s, "admin", bootstrapSecret, "adminapi sudo")
	users := "/api/adminapi2/v1/tenants/" + tenant + "/users/"
	expect(t, "user 张三", s.call("POST", users, admin, map[string]any{"loginName": "张三"}), 201)
	as := url.Values{"sudo": {"loginName:张三"}, "tenantCode": {"acme"}}.Encode()
	expect(t, "admin API as 张三 (no tenant_admin)", s.call("GET", users+"?"+as, sudoer, nil), 403)
	if c := expect(t, "check as 张三", s.call("GET", "/api/oauth2/server/tokens/check?token="+sudoer+"&"+as, "", nil), 200); c["loginName"] != "张三" {
		t.Fatalf("check as 张三 answered %v", c)
	}
	bad := newBrowser(t).get("http://" + addr["bad-gateway"] + authorize)
	if bad.status < http.StatusBadRequest || bad.isLogin() || !strings.Contains(bad.body, "access_denied") {
		t.Fatalf("gateway with a wrong credential: status %d, want an access_denied error page: %s", bad.status, bad.body)
	}
}
