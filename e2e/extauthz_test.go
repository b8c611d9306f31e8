package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// TestExtAuthz runs the binary with --authz-routes and calls envoy.service.auth.v3.Authorization/Check on
// its gRPC listener with the go-control-plane client, as Envoy's ext_authz filter does, with a token from
// /connect/token: allowed with the upstream headers, denied for another route's audience and without a
// token, and denied at once after the token is revoked at /connect/revocation.
func TestExtAuthz(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	httpAddr, grpcAddr := freeAddr(t), freeAddr(t)
	base := "http://" + httpAddr
	dir := t.TempDir()
	routes := filepath.Join(dir, "routes.json")
	authzWriteFile(t, routes, fmt.Sprintf(`{"routes": [
		{"prefix": "/api/", "audience": %q, "scopes": ["adminapi"]},
		{"prefix": "/public/", "audience": "https://other.internal"}
	]}`, base))
	p := &process{t: t, args: []string{"serve", "--http-addr", httpAddr, "--grpc-addr", grpcAddr, "--admin-addr", "127.0.0.1:0",
		"--data-dir", filepath.Join(dir, "data"), "--log-format", "json", "--authz-routes", routes},
		env: []string{"AUTHSUITE_BOOTSTRAP_SECRET=" + bootstrapSecret}}
	p.start()
	t.Cleanup(func() { p.stop() })
	waitReady(t, base+"/readyz", p)

	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		Scope       string `json:"scope"`
	}
	authzPostForm(t, base+"/connect/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"adminapi"}}, &tok)
	if tok.AccessToken == "" || tok.TokenType != "Bearer" || tok.Scope != "adminapi" {
		t.Fatalf("token response %+v", tok)
	}

	cc, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	c := authv3.NewAuthorizationClient(cc)
	check := func(path, authorization string) *authv3.CheckResponse {
		t.Helper()
		headers := map[string]string{"host": "api.example", "x-authsuite-sub": "someone-else", "x-authsuite-roles": "admin"}
		if authorization != "" {
			headers["authorization"] = authorization
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		resp, err := c.Check(ctx, &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
			Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
				Method: "GET", Path: path, Host: "api.example", Scheme: "http", Protocol: "HTTP/1.1", Headers: headers,
			}},
		}})
		if err != nil {
			t.Fatalf("Check %s: %v", path, err)
		}
		return resp
	}
	challenge := func(resp *authv3.CheckResponse) (int, string) {
		d := resp.GetDeniedResponse()
		for _, h := range d.GetHeaders() {
			if h.GetHeader().GetKey() == "www-authenticate" {
				return int(d.GetStatus().GetCode()), h.GetHeader().GetValue()
			}
		}
		return int(d.GetStatus().GetCode()), ""
	}

	resp := check("/api/orders?page=2", "Bearer "+tok.AccessToken)
	if codes.Code(resp.GetStatus().GetCode()) != codes.OK || resp.GetOkResponse() == nil {
		t.Fatalf("allow: %v", resp)
	}
	set := map[string]string{}
	for _, h := range resp.GetOkResponse().GetHeaders() {
		set[h.GetHeader().GetKey()] = h.GetHeader().GetValue()
	}
	if set["x-authsuite-sub"] != "admin" || set["x-authsuite-client-id"] != "admin" || set["x-authsuite-tenant"] == "" || set["x-authsuite-scope"] != "adminapi" {
		t.Fatalf("upstream headers %v", set)
	}
	if got := resp.GetOkResponse().GetHeadersToRemove(); len(got) != 1 || got[0] != "x-authsuite-roles" {
		t.Fatalf("headers to remove %q; want the smuggled x-authsuite-roles", got)
	}

	resp = check("/public/x", "Bearer "+tok.AccessToken)
	if status, ch := challenge(resp); codes.Code(resp.GetStatus().GetCode()) != codes.PermissionDenied || status != 403 || !strings.HasPrefix(ch, `Bearer error="insufficient_scope"`) {
		t.Fatalf("another audience: %d %q %v", status, ch, resp.GetStatus())
	}
	resp = check("/api/orders", "")
	if status, ch := challenge(resp); codes.Code(resp.GetStatus().GetCode()) != codes.Unauthenticated || status != 401 || ch != "Bearer" {
		t.Fatalf("no token: %d %q", status, ch)
	}
	resp = check("/elsewhere", "Bearer "+tok.AccessToken)
	if status, _ := challenge(resp); status != 403 {
		t.Fatalf("no route: %d", status)
	}

	authzPostForm(t, base+"/connect/revocation", url.Values{"token": {tok.AccessToken}}, nil)
	resp = check("/api/orders", "Bearer "+tok.AccessToken)
	if status, ch := challenge(resp); status != 401 || !strings.Contains(ch, `error="invalid_token"`) || !strings.Contains(ch, "revoked") {
		t.Fatalf("revoked token: %d %q", status, ch)
	}
	if strings.Contains(p.logs.String(), tok.AccessToken) {
		t.Fatal("the token appears in the logs")
	}
}

// TestExtAuthzResourceAudience: with an API resource, a client's token for the resource's scope carries
// the resource as its audience (RFC 8707), which the authorizer matches against the route's audience: the
// resource's route allows it, a route for authsuite's own audience refuses it.
func TestExtAuthzResourceAudience(t *testing.T) {
	routes := filepath.Join(t.TempDir(), "routes.json")
	authzWriteFile(t, routes, `{"routes": [
		{"prefix": "/orders/", "audience": "https://orders.internal", "scopes": ["orders.read"]},
		{"prefix": "/orders/", "audience": "https://orders.internal", "scopes": ["orders.write"], "methods": ["POST", "PUT", "DELETE"]},
		{"prefix": "/admin/", "audience": "https://authsuite.invalid"}
	]}`)
	s := &suite{t: t, dataDir: t.TempDir(), httpAddr: "127.0.0.1:0", grpcAddr: "127.0.0.1:0", args: []string{"--authz-routes", routes}}
	s.start()
	t.Cleanup(s.stop)
	admin := clientToken(t, s, "admin", bootstrapSecret, "adminapi")
	tenant := expect(t, "tenant", s.call("POST", "/api/adminapi2/v1/tenants", admin, map[string]any{"code": "shop"}), 201)["tenantId"].(string)
	base := "/api/adminapi2/v1/tenants/" + tenant
	expect(t, "resource", s.call("POST", base+"/resources/", admin, map[string]any{
		"resourceId": "https://orders.internal", "displayName": "Orders", "scopes": []string{"orders.read", "orders.write"},
	}), 201)
	expect(t, "client", s.call("POST", base+"/clients", admin, map[string]any{
		"clientId": "frontend", "allowedGrantTypes": []string{"client_credentials"}, "allowedScopes": []string{"orders.read"},
	}), 201)
	secret := expect(t, "secret", s.call("POST", base+"/clients/frontend/secrets", admin, map[string]any{}), 201)["value"].(string)
	s.sync()
	tok := clientToken(t, s, "frontend", secret, "orders.read")

	cc, err := grpc.NewClient(s.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	c := authv3.NewAuthorizationClient(cc)
	check := func(method, path string) (codes.Code, int) {
		t.Helper()
		resp, err := c.Check(context.Background(), &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
			Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
				Method: method, Path: path, Headers: map[string]string{"authorization": "Bearer " + tok},
			}},
		}})
		if err != nil {
			t.Fatal(err)
		}
		if ok := resp.GetOkResponse(); ok != nil {
			return codes.Code(resp.GetStatus().GetCode()), 200
		}
		return codes.Code(resp.GetStatus().GetCode()), int(resp.GetDeniedResponse().GetStatus().GetCode())
	}
	for _, tc := range []struct {
		method, path string
		code         codes.Code
		status       int
	}{
		{"GET", "/orders/42", codes.OK, 200},
		{"POST", "/orders/", codes.PermissionDenied, 403}, // orders.write was not granted
		{"GET", "/admin/users", codes.PermissionDenied, 403},
	} {
		if code, status := check(tc.method, tc.path); code != tc.code || status != tc.status {
			t.Errorf("%s %s: %v %d; want %v %d", tc.method, tc.path, code, status, tc.code, tc.status)
		}
	}
}

// Without --authz-routes the authorizer is not served: Envoy's call fails UNIMPLEMENTED, which its ext_authz
// filter counts as a denial (unless failure_mode_allow is set).
func TestExtAuthzOffWithoutRoutes(t *testing.T) {
	s := startSuite(t)
	cc, err := grpc.NewClient(s.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	_, err = authv3.NewAuthorizationClient(cc).Check(context.Background(), &authv3.CheckRequest{})
	if status.Code(err) != codes.Unimplemented {
		t.Fatalf("Check without --authz-routes: %v; want UNIMPLEMENTED", err)
	}
}

// A route file that does not validate stops the start with an error naming the flag, the route and the field.
func TestExtAuthzBadRoutesRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	routes := filepath.Join(dir, "routes.json")
	authzWriteFile(t, routes, `{"routes": [{"prefix": "/api/", "audience": "orders"}]}`)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, authsuiteBinary(t), "serve", "--http-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0",
		"--data-dir", filepath.Join(dir, "data"), "--authz-routes", routes)
	cmd.Env = append(os.Environ(), "AUTHSUITE_BOOTSTRAP_SECRET="+bootstrapSecret)
	out, err := cmd.CombinedOutput()
	if err == nil || ctx.Err() != nil {
		t.Fatalf("started with a bad route file (%v):\n%s", err, out)
	}
	want := `--authz-routes (AUTHSUITE_AUTHZ_ROUTES): ` + routes + `: routes[0] ("/api/"): audience: want an absolute URI`
	if !strings.Contains(string(out), want) {
		t.Fatalf("output lacks %q:\n%s", want, out)
	}
}

func authzWriteFile(t *testing.T, name, content string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// authzPostForm posts form to u as the bootstrap admin client (HTTP Basic), expects 200 and decodes the JSON
// answer into into (when not nil).
func authzPostForm(t *testing.T, u string, form url.Values, into any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("admin", bootstrapSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: %s", u, resp.Status)
	}
	if into != nil {
		if err := json.NewDecoder(resp.Body).Decode(into); err != nil {
			t.Fatal(err)
		}
	}
}
