package e2e

// Authorization, sudo and audit, through the REST gateway of a one-process suite: one authorization rule
// (internal/access) in the registry, the provider and the token service's check endpoint.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/authsuite/authsuite/internal/app"
	"github.com/authsuite/authsuite/internal/config"
)

// logBuffer collects the suite's JSON log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// auditRecord is one "admin call" record, typed.
type auditRecord struct {
	Msg            string `json:"msg"`
	Event          string `json:"event"`
	Service        string `json:"service"`
	Method         string `json:"method"`
	CallerClientID string `json:"caller_client_id"`
	CallerUserID   string `json:"caller_user_id"`
	CallerTenant   string `json:"caller_tenant"`
	Sudo           bool   `json:"sudo"`
	AsUserID       string `json:"as_user_id"`
	AsTenant       string `json:"as_tenant"`
	Outcome        string `json:"outcome"`
}

// audits returns every audit record of an authorized call or a sudo check logged so far.
func (b *logBuffer) audits(t *testing.T) []auditRecord {
	t.Helper()
	b.mu.Lock()
	data := slices.Clone(b.buf.Bytes())
	b.mu.Unlock()
	var out []auditRecord
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r auditRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("log line %q is not JSON: %v", sc.Bytes(), err)
		}
		if r.Msg == "admin call" || r.Msg == "audit" && r.Event == "sudo_check" {
			out = append(out, r)
		}
	}
	return out
}

// startLoggedSuite starts a one-process suite (as startSuite) whose log goes, as JSON, to the returned
// buffer.
func startLoggedSuite(t *testing.T) (*suite, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	s := &suite{t: t, dataDir: t.TempDir()}
	cfg, err := config.Load(config.RoleAll, []string{"--http-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0", "--data-dir", s.dataDir},
		[]string{"AUTHSUITE_BOOTSTRAP_SECRET=" + bootstrapSecret, "AUTHSUITE_BOOTSTRAP_PASSWORD=admin-password-1"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	running, err := app.Start(context.Background(), cfg, slog.New(slog.NewJSONHandler(logs, nil)), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	s.running, s.base = running, running.Issuer
	s.httpAddr, s.grpcAddr = running.HTTPAddr.String(), running.GRPCAddr.String()
	t.Cleanup(s.stop)
	return s, logs
}

// authzFixture: the bootstrap admin client (scopes adminapi sudo) and user (tenant_admin of the system
// tenant); "nobody", a user of the system tenant without roles whose token carries adminapi and sudo; tenant
// acme with client "billing" (scopes adminapi sudo); provider github/gh; a connector of billing (acme) and
// one of the admin user (system tenant).
type authzFixture struct {
	s                *suite
	logs             *logBuffer
	admin            string // admin client token
	acmeID           string
	billing          string // acme client token
	adminUser        string // bootstrap admin user token
	adminUserID      string
	nobody           string // no-role user token with adminapi sudo
	nobodyID         string
	billingConnector string
	adminConnector   string
}

const (
	authzTenants    = "/api/adminapi2/v1/tenants/"
	authzThingworx  = "/Thingworx/Subsystems/WorkflowSubsystem/Services/"
	authzConnectors = "/api/provider/v1/connectors"
)

func newAuthzFixture(t *testing.T) *authzFixture {
	s, logs := startLoggedSuite(t)
	f := &authzFixture{s: s, logs: logs}
	eventually(t, 10*time.Second, "admin token", func() bool {
		r := s.form("/connect/token", "grant_type=client_credentials&scope=adminapi+sudo", "admin", bootstrapSecret)
		if r.status == 200 {
			f.admin = r.json(t)["access_token"].(string)
		}
		return r.status == 200
	})
	// A password-grant client of the system tenant that may ask for adminapi and sudo.
	expect(t, "ropc client", s.call("POST", authzTenants+"default/clients/", f.admin, map[string]any{
		"clientId": "ropc", "allowRopc": true, "allowedGrantTypes": []string{"password"}, "allowedScopes": []string{"adminapi", "sudo"},
	}), 201)
	ropcSecret := expect(t, "ropc secret", s.call("POST", authzTenants+"default/clients/ropc/secrets/", f.admin, map[string]any{}), 201)["value"].(string)
	f.nobodyID = expect(t, "nobody", s.call("POST", authzTenants+"default/users/", f.admin, map[string]any{
		"loginName": "nobody", "password": "Nobody-password-42",
	}), 201)["userId"].(string)
	userToken := func(name, password string) string {
		// The request carries the revision of the writes above (the suite's barrier).
		r := s.form("/connect/token", "grant_type=password&scope=adminapi+sudo&username="+name+"&password="+url.QueryEscape(password), "ropc", ropcSecret)
		return expect(t, name+" token", r, 200)["access_token"].(string)
	}
	f.nobody = userToken("nobody", "Nobody-password-42")
	f.adminUser = userToken("admin", "admin-password-1")
	f.adminUserID = checkToken(t, s, f.admin, "sudo=loginName:admin").Sub

	f.acmeID = expect(t, "tenant", s.call("POST", authzTenants, f.admin, map[string]any{"code": "acme"}), 201)["tenantId"].(string)
	expect(t, "billing", s.call("POST", authzTenants+f.acmeID+"/clients/", f.admin, map[string]any{
		"clientId": "billing", "allowedGrantTypes": []string{"client_credentials"}, "allowedScopes": []string{"adminapi", "sudo"},
	}), 201)
	secret := expect(t, "billing secret", s.call("POST", authzTenants+f.acmeID+"/clients/billing/secrets/", f.admin, map[string]any{}), 201)["value"].(string)
	awaitClient(t, s, "billing", secret)
	f.billing = s.form("/connect/token", "grant_type=client_credentials&scope=adminapi+sudo", "billing", secret).json(t)["access_token"].(string)

	expect(t, "load", s.call("POST", authzThingworx+"LoadOAuthConfiguration", f.admin, map[string]any{
		"oauthConfigurations": map[string]any{"github": map[string]any{"gh": map[string]any{"CLIENT_ID": "id", "CLIENT_SECRET": "secret"}}},
	}), 200)
	newConnector := func(tok string) string {
		return expect(t, "connector", s.call("POST", authzConnectors, tok, map[string]any{
			"connectorType": "github", "oauthProvider": "gh", "kind": "session",
		}), 201)["connectorId"].(string)
	}
	f.billingConnector = newConnector(f.billing)
	f.adminConnector = newConnector(f.adminUser)
	return f
}

// checkResponse is the check endpoint's answer, typed.
type checkResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
	Scope       string `json:"scope"`
	Sub         string `json:"sub"`
	LoginName   string `json:"loginName"`
	Tenant      string `json:"tenant"`
	Act         struct {
		ClientID string `json:"client_id"`
		Sub      string `json:"sub"`
	} `json:"act"`
}

func checkToken(t *testing.T, s *suite, tok, query string) checkResponse {
	t.Helper()
	r := expect(t, "check "+query, s.call("GET", "/api/oauth2/server/tokens/check?token="+url.QueryEscape(tok)+"&"+query, "", nil), 200)
	var c checkResponse
	b, _ := json.Marshal(r)
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// connectorIDs lists the connectors a call sees.
func connectorIDs(t *testing.T, s *suite, tok, query string) []string {
	t.Helper()
	r := s.call("GET", authzConnectors+query, tok, nil)
	if r.status != 200 {
		t.Fatalf("list connectors%s: %d %s", query, r.status, r.body)
	}
	var list struct {
		Items []struct {
			ConnectorID string `json:"connectorId"`
			TenantID    string `json:"tenantId"`
			Owner       string `json:"owner"`
		} `json:"items"`
	}
	if err := json.Unmarshal(r.body, &list); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range list.Items {
		ids = append(ids, c.ConnectorID)
	}
	return ids
}

// TestAuthzProviderNeedsTenantAdmin (item 2): a user without roles whose token carries adminapi is no
// provider admin: it cannot load, delete or list providers, drop everyone's tokens, or see and delete other
// users' and tenants' connectors. A tenant_admin user of the system tenant can.
func TestAuthzProviderNeedsTenantAdmin(t *testing.T) {
	f := newAuthzFixture(t)
	s := f.s
	load := map[string]any{"oauthConfigurations": map[string]any{"github": map[string]any{"evil": map[string]any{
		"CLIENT_ID": "id", "CLIENT_SECRET": "secret",
	}}}}
	expect(t, "nobody loads providers", s.call("POST", authzThingworx+"LoadOAuthConfiguration", f.nobody, load), 403)
	expect(t, "nobody deletes everyone's tokens", s.call("POST", authzThingworx+"DeleteOAuthTokens", f.nobody, map[string]any{"oauthProvider": "gh"}), 403)
	expect(t, "nobody deletes a provider", s.call("POST", authzThingworx+"DeleteOAuthConfiguration", f.nobody, map[string]any{"connectorName": "github", "oauthProvider": "gh"}), 403)
	expect(t, "nobody lists providers", s.call("POST", authzThingworx+"GetOAuthConfiguration", f.nobody, map[string]any{}), 403)

	if ids := connectorIDs(t, s, f.nobody, ""); slices.Contains(ids, f.billingConnector) || slices.Contains(ids, f.adminConnector) {
		t.Fatalf("nobody sees other users' and tenants' connectors: %v", ids)
	}
	for _, id := range []string{f.billingConnector, f.adminConnector} {
		if r := s.call("DELETE", authzConnectors+"/"+id, f.nobody, nil); r.status/100 == 2 {
			t.Fatalf("nobody deleted connector %s: %d", id, r.status)
		}
		expect(t, "connector still there", s.call("GET", authzConnectors+"/"+id, f.admin, nil), 200)
	}

	// The system tenant's tenant_admin user is an admin, through the registry as directory.
	expect(t, "admin user loads providers", s.call("POST", authzThingworx+"LoadOAuthConfiguration", f.adminUser, load), 200)
	if ids := connectorIDs(t, s, f.adminUser, ""); !slices.Contains(ids, f.billingConnector) {
		t.Fatalf("the system admin user does not see acme's connector: %v", ids)
	}
	// A client of another tenant is an admin of that tenant only: no suite-wide operation.
	expect(t, "acme client loads providers", s.call("POST", authzThingworx+"LoadOAuthConfiguration", f.billing, load), 403)
	expect(t, "acme client lists providers", s.call("POST", authzThingworx+"GetOAuthConfiguration", f.billing, map[string]any{}), 200)
	if ids := connectorIDs(t, s, f.billing, ""); slices.Contains(ids, f.adminConnector) {
		t.Fatalf("acme's client sees the system tenant's connector: %v", ids)
	}
}

// TestAuthzUserSudoRefused (item 3): a user token with scope sudo, of a user without roles, cannot
// impersonate: 403 at the check endpoint and on every API, never a fallback to its own identity.
func TestAuthzUserSudoRefused(t *testing.T) {
	f := newAuthzFixture(t)
	s := f.s
	sudo := "sudo=loginName:admin"
	expect(t, "check endpoint", s.call("GET", "/api/oauth2/server/tokens/check?token="+url.QueryEscape(f.nobody)+"&"+sudo, "", nil), 403)
	expect(t, "admin API", s.call("GET", authzTenants+"?"+sudo, f.nobody, nil), 403)
	expect(t, "admin API, a tenant", s.call("GET", authzTenants+f.acmeID+"/clients/?"+sudo+"&tenantId="+f.acmeID, f.nobody, nil), 403)
	expect(t, "provider config", s.call("POST", authzThingworx+"GetOAuthConfiguration?"+sudo, f.nobody, map[string]any{}), 403)
	expect(t, "connectors", s.call("GET", authzConnectors+"?"+sudo, f.nobody, nil), 403)

	// A client still impersonates, and the check endpoint names the user and the acting client.
	c := checkToken(t, s, f.admin, "sudo=loginName:nobody")
	if c.Sub != f.nobodyID || c.LoginName != "nobody" || c.Tenant != "default" || c.Act.ClientID != "admin" {
		t.Fatalf("check under sudo = %+v", c)
	}
	// A system-tenant admin user may impersonate too.
	if c := checkToken(t, s, f.adminUser, "sudo=loginName:nobody"); c.Sub != f.nobodyID {
		t.Fatalf("check under sudo by the admin user = %+v", c)
	}
}

// TestAuthzSudoAppliedByProvider: the provider applies sudo (acts as the selected user) instead of
// ignoring it: the admin client acting as nobody sees only nobody's connectors, and a connector it creates
// belongs to nobody.
func TestAuthzSudoAppliedByProvider(t *testing.T) {
	f := newAuthzFixture(t)
	s := f.s
	asNobody := "?sudo=loginName:nobody"
	if ids := connectorIDs(t, s, f.admin, asNobody); len(ids) != 0 {
		t.Fatalf("the admin client acting as nobody sees %v", ids)
	}
	id := expect(t, "connector as nobody", s.call("POST", authzConnectors+asNobody, f.admin, map[string]any{
		"connectorType": "github", "oauthProvider": "gh", "kind": "session",
	}), 201)["connectorId"].(string)
	got := expect(t, "nobody's connector", s.call("GET", authzConnectors+"/"+id, f.nobody, nil), 200)
	if got["owner"] != f.nobodyID || got["tenantId"] != "default" {
		t.Fatalf("connector created under sudo = %v, want owner %s", got, f.nobodyID)
	}
	// Acting as a user without roles, the admin client is no provider admin.
	expect(t, "load as nobody", s.call("POST", authzThingworx+"DeleteOAuthTokens"+asNobody, f.admin, map[string]any{"oauthProvider": "gh"}), 403)
}

// TestAuthzAuditNamesCallerAndMethod (items 3, 18): in one-process mode every audit record names the RPC
// method, the real caller, and under sudo the impersonated user.
func TestAuthzAuditNamesCallerAndMethod(t *testing.T) {
	f := newAuthzFixture(t)
	s := f.s
	expect(t, "registry as admin user", s.call("GET", authzTenants+f.acmeID+"/clients/?sudo=loginName:admin", f.admin, nil), 200)
	expect(t, "provider as admin user", s.call("POST", authzThingworx+"GetOAuthConfiguration?sudo=loginName:admin", f.admin, map[string]any{}), 200)
	s.call("GET", authzTenants+"?sudo=loginName:admin", f.nobody, nil) // refused: its record must name the real caller
	expect(t, "unknown user", s.call("GET", "/api/oauth2/server/tokens/check?sudo=uid:nobody-in-acme&token="+url.QueryEscape(f.billing), "", nil), 404)
	checkToken(t, s, f.admin, "sudo=loginName:nobody")

	want := []auditRecord{
		{Msg: "admin call", Service: "registry", Method: "/authsuite.registry.v1.ClientService/ListClients", CallerClientID: "admin",
			CallerTenant: "default", Sudo: true, AsUserID: f.adminUserID, AsTenant: "default", Outcome: "ok"},
		{Msg: "admin call", Service: "provider", Method: "/authsuite.provider.v1.ProviderConfigService/GetOAuthConfiguration", CallerClientID: "admin",
			CallerTenant: "default", Sudo: true, AsUserID: f.adminUserID, AsTenant: "default", Outcome: "ok"},
		{Msg: "admin call", Service: "registry", Method: "/authsuite.registry.v1.TenantService/ListTenants", CallerClientID: "ropc",
			CallerUserID: f.nobodyID, CallerTenant: "default", Outcome: "PermissionDenied"},
		{Msg: "audit", Event: "sudo_check", Service: "token", Method: "/authsuite.token.v1.SimpleTokenService/CheckToken", CallerClientID: "admin",
			CallerTenant: "default", Sudo: true, AsUserID: f.nobodyID, AsTenant: "default", Outcome: "ok"},
		{Msg: "audit", Event: "sudo_check", Service: "token", Method: "/authsuite.token.v1.SimpleTokenService/CheckToken", CallerClientID: "billing",
			CallerTenant: f.acmeID, Outcome: "NotFound"},
	}
	got := f.logs.audits(t)
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("no audit record %+v among\n%+v", w, got)
		}
	}
	for _, r := range got {
		if r.Method == "" {
			t.Errorf("audit record without method: %+v", r)
		}
	}
}

// TestAuthzSudoTenantOracle (item 19): for a client of a non-system tenant, sudo into an unknown tenant code
// answers exactly what sudo into a foreign one does, on the check endpoint, the admin API and the provider.
func TestAuthzSudoTenantOracle(t *testing.T) {
	f := newAuthzFixture(t)
	s := f.s
	calls := map[string]func(code string) response{
		"check": func(code string) response {
			return s.call("GET", "/api/oauth2/server/tokens/check?token="+url.QueryEscape(f.billing)+"&sudo=loginName:admin&tenantCode="+code, "", nil)
		},
		"admin API": func(code string) response {
			return s.call("GET", authzTenants+f.acmeID+"/users/?sudo=loginName:admin&tenantCode="+code, f.billing, nil)
		},
		"provider": func(code string) response {
			return s.call("GET", authzConnectors+"?sudo=loginName:admin&tenantCode="+code, f.billing, nil)
		},
	}
	for name, call := range calls {
		foreign, unknown := call("default"), call("no-such-tenant")
		if foreign.status != 403 || unknown.status != foreign.status || !bytes.Equal(unknown.body, foreign.body) {
			t.Errorf("%s: foreign tenant code answers %d %s; unknown code answers %d %s", name, foreign.status, foreign.body, unknown.status, unknown.body)
		}
	}
}
