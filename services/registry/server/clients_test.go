package server_test

import (
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
)

func TestCreateClientValidation(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name   string
		mutate func(c *registryv1.Client)
		field  string
	}{
		{"empty clientId", func(c *registryv1.Client) { c.ClientId = "" }, "clientId"},
		{"clientId with space", func(c *registryv1.Client) { c.ClientId = "a b" }, "clientId"},
		{"clientId with slash", func(c *registryv1.Client) { c.ClientId = "a/b" }, "clientId"},
		{"clientId too long", func(c *registryv1.Client) { c.ClientId = strings.Repeat("a", 201) }, "clientId"},
		{"clientName with control char", func(c *registryv1.Client) { c.ClientName = "a\x01" }, "clientName"},
		{"clientName too long", func(c *registryv1.Client) { c.ClientName = strings.Repeat("n", 201) }, "clientName"},
		{"no grant types", func(c *registryv1.Client) { c.AllowedGrantTypes = nil }, "allowedGrantTypes"},
		{"unknown grant type", func(c *registryv1.Client) { c.AllowedGrantTypes = []string{"client_credentials", "implicit"} }, "allowedGrantTypes[1]"},
		{"duplicate grant type", func(c *registryv1.Client) {
			c.AllowedGrantTypes = []string{"client_credentials", "client_credentials"}
		}, "allowedGrantTypes[1]"},
		{"password without allowRopc", func(c *registryv1.Client) { c.AllowedGrantTypes = []string{"client_credentials", "password"} }, "allowedGrantTypes[1]"},
		{"refresh_token without allowOfflineAccess", func(c *registryv1.Client) {
			c.AllowedGrantTypes = []string{"authorization_code", "refresh_token"}
		}, "allowedGrantTypes[1]"},
		{"client_credentials without secret", func(c *registryv1.Client) {
			c.RequireClientSecret = proto.Bool(false)
		}, "allowedGrantTypes[1]"},
		{"public client without PKCE", func(c *registryv1.Client) {
			c.RequireClientSecret, c.AllowNoPkce = proto.Bool(false), true
			c.AllowedGrantTypes = []string{"authorization_code"}
		}, "allowNoPkce"},
		{"authorization_code without redirect URIs", func(c *registryv1.Client) { c.RedirectUris = nil }, "redirectUris"},
		{"relative redirect URI", func(c *registryv1.Client) { c.RedirectUris[1] = "/cb" }, "redirectUris[1]"},
		{"redirect URI with fragment", func(c *registryv1.Client) { c.RedirectUris[0] = "https://app.example/cb#x" }, "redirectUris[0]"},
		{"redirect URI with empty fragment", func(c *registryv1.Client) { c.RedirectUris[0] = "https://app.example/cb#" }, "redirectUris[0]"},
		{"redirect URI without host", func(c *registryv1.Client) { c.RedirectUris[0] = "https:///cb" }, "redirectUris[0]"},
		{"redirect URI opaque", func(c *registryv1.Client) { c.RedirectUris[0] = "mailto:a@b.example" }, "redirectUris[0]"},
		{"redirect URI javascript", func(c *registryv1.Client) { c.RedirectUris[0] = "javascript://app.example/%0aalert(1)" }, "redirectUris[0]"},
		{"redirect URI userinfo", func(c *registryv1.Client) { c.RedirectUris[0] = "https://user@app.example/cb" }, "redirectUris[0]"},
		{"redirect URI with space", func(c *registryv1.Client) { c.RedirectUris[0] = "https://app.example/c b" }, "redirectUris[0]"},
		{"duplicate redirect URI", func(c *registryv1.Client) { c.RedirectUris[1] = c.RedirectUris[0] }, "redirectUris[1]"},
		{"bad post-logout URI", func(c *registryv1.Client) { c.PostLogoutRedirectUris = []string{"https://ok.example/", "bye"} }, "postLogoutRedirectUris[1]"},
		{"bad back-channel logout URI", func(c *registryv1.Client) { c.BackChannelLogoutUri = "https://app.example/bcl#frag" }, "backChannelLogoutUri"},
		{"CORS origin with path", func(c *registryv1.Client) { c.AllowedCorsOrigins = []string{"https://app.example/path"} }, "allowedCorsOrigins[0]"},
		{"CORS origin with trailing slash", func(c *registryv1.Client) { c.AllowedCorsOrigins = []string{"https://app.example/"} }, "allowedCorsOrigins[0]"},
		{"CORS origin not http", func(c *registryv1.Client) { c.AllowedCorsOrigins = []string{"ftp://app.example"} }, "allowedCorsOrigins[0]"},
		{"CORS origin wildcard", func(c *registryv1.Client) { c.AllowedCorsOrigins = []string{"https://*.app.example"} }, "allowedCorsOrigins[0]"},
		{"CORS origin with query", func(c *registryv1.Client) { c.AllowedCorsOrigins = []string{"https://app.example?x"} }, "allowedCorsOrigins[0]"},
		{"scope with space", func(c *registryv1.Client) { c.AllowedScopes = []string{"openid", "a b"} }, "allowedScopes[1]"},
		{"scope with quote", func(c *registryv1.Client) { c.AllowedScopes = []string{`a"b`} }, "allowedScopes[0]"},
		{"empty scope", func(c *registryv1.Client) { c.AllowedScopes = []string{""} }, "allowedScopes[0]"},
		{"duplicate scope", func(c *registryv1.Client) { c.AllowedScopes = []string{"openid", "openid"} }, "allowedScopes[1]"},
		{"access token lifetime 0", func(c *registryv1.Client) { c.AccessTokenLifetime = proto.Int32(0) }, "accessTokenLifetime"},
		{"access token lifetime negative", func(c *registryv1.Client) { c.AccessTokenLifetime = proto.Int32(-5) }, "accessTokenLifetime"},
		{"access token lifetime too long", func(c *registryv1.Client) { c.AccessTokenLifetime = proto.Int32(31536001) }, "accessTokenLifetime"},
		{"refresh token lifetime 0", func(c *registryv1.Client) { c.RefreshTokenLifetime = proto.Int32(0) }, "refreshTokenLifetime"},
		{"refresh token lifetime too long", func(c *registryv1.Client) { c.RefreshTokenLifetime = proto.Int32(94608001) }, "refreshTokenLifetime"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := validClient("c" + strings.Repeat("x", i))
			tc.mutate(c)
			_, err := e.clients.CreateClient(as(tokSystem), &registryv1.CreateClientRequest{TenantId: "default", Client: c})
			wantField(t, err, tc.field)
			if c.ClientId != "" && !strings.ContainsAny(c.ClientId, " /") && len(c.ClientId) <= 200 {
				_, err := e.clients.GetClient(as(tokSystem), &registryv1.GetClientRequest{TenantId: "default", ClientId: c.ClientId})
				wantCode(t, err, codes.NotFound) // nothing was stored
			}
		})
	}
	// The limits themselves are fine.
	c := validClient("limits")
	c.AccessTokenLifetime, c.RefreshTokenLifetime = proto.Int32(31536000), proto.Int32(1)
	c.AllowRopc, c.AllowOfflineAccess = true, true
	c.AllowedGrantTypes = []string{"client_credentials", "authorization_code", "refresh_token", "password"}
	if _, err := e.clients.CreateClient(as(tokSystem), &registryv1.CreateClientRequest{TenantId: "default", Client: c}); err != nil {
		t.Fatal(err)
	}
}

func TestCreateClientDefaults(t *testing.T) {
	e := newEnv(t)
	resp, err := e.clients.CreateClient(as(tokSystem), &registryv1.CreateClientRequest{
		TenantId: "acme",
		Client:   &registryv1.Client{ClientId: "minimal", AllowedGrantTypes: []string{"client_credentials"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	c := resp.GetClient()
	if c.AllowRememberConsent == nil || !*c.AllowRememberConsent ||
		c.BackChannelLogoutSessionRequired == nil || !*c.BackChannelLogoutSessionRequired ||
		c.RequireClientSecret == nil || !*c.RequireClientSecret ||
		c.GetAccessTokenLifetime() != 86400 || c.GetRefreshTokenLifetime() != 2592000 ||
		c.GetTenantId() != "acme" || c.GetCreateTime() == nil || c.GetAllowNoPkce() || c.GetRequireConsent() {
		t.Fatalf("defaults not applied: %v", c)
	}
	js, err := protojson.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"requireClientSecret":true`, `"allowRememberConsent":true`, `"accessTokenLifetime":86400`} {
		if !strings.Contains(strings.ReplaceAll(string(js), " ", ""), want) {
			t.Errorf("JSON %s lacks %s", js, want)
		}
	}
	// Explicit false survives.
	in := validClient("explicit")
	in.AllowRememberConsent, in.BackChannelLogoutSessionRequired = proto.Bool(false), proto.Bool(false)
	resp, err = e.clients.CreateClient(as(tokSystem), &registryv1.CreateClientRequest{TenantId: "acme", Client: in})
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetClient().GetAllowRememberConsent() || resp.GetClient().GetBackChannelLogoutSessionRequired() {
		t.Fatalf("explicit false lost: %v", resp.GetClient())
	}
}

func TestDuplicateClientID(t *testing.T) {
	e := newEnv(t)
	e.createClient(t, "default", "dup")
	_, err := e.clients.CreateClient(as(tokSystem), &registryv1.CreateClientRequest{TenantId: "default", Client: validClient("dup")})
	wantCode(t, err, codes.AlreadyExists)
	// client_id is unique across tenants.
	_, err = e.clients.CreateClient(as(tokSystem), &registryv1.CreateClientRequest{TenantId: "acme", Client: validClient("dup")})
	wantCode(t, err, codes.AlreadyExists)
}

func TestUnknownTenant(t *testing.T) {
	e := newEnv(t)
	_, err := e.clients.CreateClient(as(tokSystem), &registryv1.CreateClientRequest{TenantId: "ghost", Client: validClient("c1")})
	wantCode(t, err, codes.NotFound)
	_, err = e.clients.ListClients(as(tokSystem), &registryv1.ListClientsRequest{TenantId: "ghost"})
	wantCode(t, err, codes.NotFound)
	_, err = e.users.ListUsers(as(tokSystem), &registryv1.ListUsersRequest{TenantId: "ghost"})
	wantCode(t, err, codes.NotFound)
	_, err = e.users.CreateUser(as(tokSystem), &registryv1.CreateUserRequest{TenantId: "ghost", User: &registryv1.User{LoginName: "x"}})
	wantCode(t, err, codes.NotFound)
	_, err = e.tenants.GetTenant(as(tokSystem), &registryv1.GetTenantRequest{TenantId: "ghost"})
	wantCode(t, err, codes.NotFound)
}

func TestClientCRUD(t *testing.T) {
	e := newEnv(t)
	ctx := as(tokAcme)
	e.createClient(t, "acme", "c1")
	// A client of another tenant is not found through this tenant's path.
	e.createClient(t, "default", "sys-client")
	_, err := e.clients.GetClient(as(tokSystem), &registryv1.GetClientRequest{TenantId: "acme", ClientId: "sys-client"})
	wantCode(t, err, codes.NotFound)

	// Update replaces settings; omitted optional fields go back to their defaults.
	upd := validClient("")
	upd.ClientName = "renamed"
	upd.AccessTokenLifetime = proto.Int32(60)
	resp, err := e.clients.UpdateClient(ctx, &registryv1.UpdateClientRequest{TenantId: "acme", ClientId: "c1", Client: upd})
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.GetClient(); got.GetClientName() != "renamed" || got.GetAccessTokenLifetime() != 60 || got.GetClientId() != "c1" || got.GetTenantId() != "acme" {
		t.Fatalf("updated = %v", got)
	}
	upd = validClient("other-id")
	_, err = e.clients.UpdateClient(ctx, &registryv1.UpdateClientRequest{TenantId: "acme", ClientId: "c1", Client: upd})
	wantField(t, err, "clientId")
	upd = validClient("c1")
	upd.RedirectUris = []string{"nope"}
	_, err = e.clients.UpdateClient(ctx, &registryv1.UpdateClientRequest{TenantId: "acme", ClientId: "c1", Client: upd})
	wantField(t, err, "redirectUris[0]")
	got, _ := e.clients.GetClient(ctx, &registryv1.GetClientRequest{TenantId: "acme", ClientId: "c1"})
	if got.GetClient().GetClientName() != "renamed" {
		t.Fatal("failed update changed the client")
	}
	_, err = e.clients.UpdateClient(ctx, &registryv1.UpdateClientRequest{TenantId: "acme", ClientId: "ghost", Client: validClient("")})
	wantCode(t, err, codes.NotFound)

	list, err := e.clients.ListClients(ctx, &registryv1.ListClientsRequest{TenantId: "acme"})
	if err != nil || len(list.GetItems()) != 1 || list.GetNextPageToken() != "" {
		t.Fatalf("ListClients = %v, %v", list, err)
	}
	if _, err := e.clients.DeleteClient(ctx, &registryv1.DeleteClientRequest{TenantId: "acme", ClientId: "c1"}); err != nil {
		t.Fatal(err)
	}
	_, err = e.clients.DeleteClient(ctx, &registryv1.DeleteClientRequest{TenantId: "acme", ClientId: "c1"})
	wantCode(t, err, codes.NotFound)
	_, err = e.clients.DeleteClient(as(tokSystem), &registryv1.DeleteClientRequest{TenantId: "acme", ClientId: "sys-client"})
	wantCode(t, err, codes.NotFound)
}

func TestListPaging(t *testing.T) {
	e := newEnv(t)
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		e.createClient(t, "acme", id)
	}
	var got []string
	token := ""
	for {
		resp, err := e.clients.ListClients(as(tokAcme), &registryv1.ListClientsRequest{TenantId: "acme", PageSize: 2, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range resp.GetItems() {
			got = append(got, c.GetClientId())
		}
		if token = resp.GetNextPageToken(); token == "" {
			break
		}
	}
	if strings.Join(got, ",") != "a,b,c,d,e" {
		t.Fatalf("paged = %v", got)
	}
	_, err := e.clients.ListClients(as(tokAcme), &registryv1.ListClientsRequest{TenantId: "acme", PageToken: "garbage!"})
	wantField(t, err, "pageToken")
	_, err = e.clients.ListClients(as(tokAcme), &registryv1.ListClientsRequest{TenantId: "acme", PageSize: -1})
	wantField(t, err, "pageSize")
	resp, err := e.clients.ListClients(as(tokAcme), &registryv1.ListClientsRequest{TenantId: "acme", PageSize: 5000})
	if err != nil || len(resp.GetItems()) != 5 {
		t.Fatalf("oversized page: %v, %v", resp, err)
	}
}

// TestDuplicateClientIDNamesVisibleTenant: client ids are unique across tenants. The conflict names the
// tenant holding the id when the caller administers it (its admin, or a system admin), and only that the id
// is taken otherwise.
func TestDuplicateClientIDNamesVisibleTenant(t *testing.T) {
	e := newEnv(t)
	e.createClient(t, "acme", "billing")
	e.createClient(t, "default", "sysapp")
	for _, tc := range []struct {
		token, tenant, id string
		want, notWant     string
	}{
		{tokSystem, "default", "billing", `client id "billing" is taken in tenant acme-code`, ""},
		{tokAcme, "acme", "billing", `client id "billing" is taken in tenant acme-code`, ""},
		{tokAcme, "acme", "sysapp", `client id "sysapp" is taken`, "default"},
	} {
		_, err := e.clients.CreateClient(as(tc.token), &registryv1.CreateClientRequest{TenantId: tc.tenant, Client: validClient(tc.id)})
		wantCode(t, err, codes.AlreadyExists)
		msg := status.Convert(err).Message()
		if !strings.Contains(msg, tc.want) || tc.notWant != "" && strings.Contains(msg, tc.notWant) {
			t.Errorf("%s creating %s in %s: %q, want %q without %q", tc.token, tc.id, tc.tenant, msg, tc.want, tc.notWant)
		}
	}
}

// TestCreateClientNormalizesOrigins: the adminapi2 documentation's own client body lists "https://myApp.myDomain.com"; it is stored
// and answered as browsers send it, and redirect URIs keep their case.
func TestCreateClientNormalizesOrigins(t *testing.T) {
	e := newEnv(t)
	in := validClient("seed")
	in.AllowedCorsOrigins = []string{"https://myApp.myDomain.com", "HTTP://LOCALHOST:3000"}
	in.RedirectUris = []string{"https://myApp.myDomain.com/oauth-signin.html"}
	resp, err := e.clients.CreateClient(as(tokSystem), &registryv1.CreateClientRequest{TenantId: "acme", Client: in})
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.GetClient().GetAllowedCorsOrigins(); !slices.Equal(got, []string{"https://myapp.mydomain.com", "http://localhost:3000"}) {
		t.Fatalf("origins answered %q", got)
	}
	if got := resp.GetClient().GetRedirectUris(); !slices.Equal(got, in.RedirectUris) {
		t.Fatalf("redirect URIs answered %q", got)
	}
	get, err := e.clients.GetClient(as(tokSystem), &registryv1.GetClientRequest{TenantId: "acme", ClientId: "seed"})
	if err != nil || !slices.Equal(get.GetClient().GetAllowedCorsOrigins(), resp.GetClient().GetAllowedCorsOrigins()) {
		t.Fatalf("stored origins %q (%v)", get.GetClient().GetAllowedCorsOrigins(), err)
	}
	// The same origin in two spellings is one entry listed twice.
	in.ClientId, in.AllowedCorsOrigins = "dup-origin", []string{"https://app.example", "https://App.Example:443"}
	_, err = e.clients.CreateClient(as(tokSystem), &registryv1.CreateClientRequest{TenantId: "acme", Client: in})
	wantField(t, err, "allowedCorsOrigins[1]")
	// Still no paths or wildcards.
	for _, o := range []string{"https://App.example/", "https://*.example.com"} {
		in.ClientId, in.AllowedCorsOrigins = "bad-origin", []string{o}
		_, err = e.clients.CreateClient(as(tokSystem), &registryv1.CreateClientRequest{TenantId: "acme", Client: in})
		wantField(t, err, "allowedCorsOrigins[0]")
	}
}
