package server_test

import (
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
)

// edJWKS is a JWK Set with one Ed25519 public key.
func edJWKS(t *testing.T) *structpb.Struct {
	t.Helper()
	s, err := structpb.NewStruct(map[string]any{"keys": []any{map[string]any{
		"kty": "OKP", "crv": "Ed25519", "kid": "k1", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
	}}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func keyClient(t *testing.T, id string) *registryv1.Client {
	return &registryv1.Client{
		ClientId:                              id,
		AllowedGrantTypes:                     []string{"client_credentials", "urn:ietf:params:oauth:grant-type:token-exchange"},
		AllowedScopes:                         []string{"orders.read"},
		TokenEndpointAuthMethod:               "private_key_jwt",
		Jwks:                                  edJWKS(t),
		Claims:                                map[string]string{"service_role": "billing"},
		AlwaysSendClientClaims:                true,
		ClaimMappings:                         []*registryv1.ClaimMapping{{UserAttribute: "department", Claim: "dept", Scope: "profile"}},
		ServesResources:                       []string{"HTTPS://Orders.Internal:443"},
		TlsClientCertificateBoundAccessTokens: true,
	}
}

// TestClientFields: the new settings are stored and answered as written (served resources in their normal
// form, the JWK Set as the same Struct); an update replaces them all; defaults and the method's consistency
// with requireClientSecret follow the contract; every invalid value is refused naming its field and leaves
// the stored client unchanged.
func TestClientFields(t *testing.T) {
	e := newEnv(t)
	in := keyClient(t, "svc")
	resp, err := e.clients.CreateClient(as(tokSystem), &registryv1.CreateClientRequest{TenantId: "acme", Client: in})
	if err != nil {
		t.Fatal(err)
	}
	got := resp.GetClient()
	if got.GetTokenEndpointAuthMethod() != "private_key_jwt" || !got.GetRequireClientSecret() ||
		!proto.Equal(got.GetJwks(), in.GetJwks()) || got.GetClaims()["service_role"] != "billing" ||
		!got.GetAlwaysSendClientClaims() || !got.GetTlsClientCertificateBoundAccessTokens() ||
		len(got.GetClaimMappings()) != 1 || !proto.Equal(got.GetClaimMappings()[0], in.GetClaimMappings()[0]) ||
		len(got.GetServesResources()) != 1 || got.GetServesResources()[0] != "https://orders.internal" {
		t.Fatalf("created client: %v", got)
	}
	read, err := e.clients.GetClient(as(tokSystem), &registryv1.GetClientRequest{TenantId: "acme", ClientId: "svc"})
	if err != nil || !proto.Equal(read.GetClient(), got) {
		t.Fatalf("GetClient = %v, %v; want %v", read.GetClient(), err, got)
	}

	// Invalid values: refused naming the field, nothing stored.
	for _, tc := range []struct {
		name  string
		edit  func(c *registryv1.Client)
		field string
	}{
		{"unknown method", func(c *registryv1.Client) { c.TokenEndpointAuthMethod = "client_secret_jwt" }, "tokenEndpointAuthMethod"},
		{"private_key_jwt without keys", func(c *registryv1.Client) { c.Jwks = nil }, "jwks"},
		{"private key in jwks", func(c *registryv1.Client) {
			c.Jwks.Fields["keys"].GetListValue().Values[0].GetStructValue().Fields["d"] = structpb.NewStringValue("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A")
		}, "jwks.keys[0]"},
		{"jwks and jwksUri", func(c *registryv1.Client) { c.JwksUri = "https://svc.example/jwks" }, "jwksUri"},
		{"method contradicting requireClientSecret", func(c *registryv1.Client) {
			c.RequireClientSecret = proto.Bool(false)
			c.AllowedGrantTypes = []string{"authorization_code"}
			c.RedirectUris = []string{"https://app.example/cb"}
		}, "tokenEndpointAuthMethod"},
		{"tls_client_auth without subject", func(c *registryv1.Client) { c.TokenEndpointAuthMethod = "tls_client_auth" }, "tlsClientAuthSubjectDn"},
		{"reserved claim", func(c *registryv1.Client) { c.Claims = map[string]string{"aud": "x"} }, "claims.aud"},
		{"mapping to a reserved claim", func(c *registryv1.Client) { c.ClaimMappings[0].Claim = "roles" }, "claimMappings[0].claim"},
		{"served resource with a fragment", func(c *registryv1.Client) { c.ServesResources = []string{"https://a.example/#x"} }, "servesResources[0]"},
	} {
		bad := keyClient(t, "svc")
		tc.edit(bad)
		_, err := e.clients.UpdateClient(as(tokSystem), &registryv1.UpdateClientRequest{TenantId: "acme", ClientId: "svc", Client: bad})
		wantField(t, err, tc.field)
		after, _ := e.clients.GetClient(as(tokSystem), &registryv1.GetClientRequest{TenantId: "acme", ClientId: "svc"})
		if !proto.Equal(got, after.GetClient()) {
			t.Fatalf("%s: the refused update changed the client to %v", tc.name, after.GetClient())
		}
		bad.ClientId = "svc2"
		_, err = e.clients.CreateClient(as(tokSystem), &registryv1.CreateClientRequest{TenantId: "acme", Client: bad})
		wantField(t, err, tc.field)
	}
	if _, err := e.clients.GetClient(as(tokSystem), &registryv1.GetClientRequest{TenantId: "acme", ClientId: "svc2"}); err == nil {
		t.Fatal("a refused create stored the client")
	}

	// Replace semantics: an update without the settings clears them; the method follows requireClientSecret.
	up, err := e.clients.UpdateClient(as(tokSystem), &registryv1.UpdateClientRequest{TenantId: "acme", ClientId: "svc", Client: validClient("svc")})
	if err != nil {
		t.Fatal(err)
	}
	c := up.GetClient()
	if c.GetTokenEndpointAuthMethod() != "client_secret_basic" || c.GetJwks() != nil || len(c.GetClaims()) != 0 ||
		len(c.GetClaimMappings()) != 0 || len(c.GetServesResources()) != 0 ||
		c.GetAlwaysSendClientClaims() || c.GetTlsClientCertificateBoundAccessTokens() {
		t.Fatalf("replaced client: %v", c)
	}

	// none without requireClientSecret makes a public client; no method on a public client is none.
	pub := validClient("spa")
	pub.AllowedGrantTypes = []string{"authorization_code"}
	pub.TokenEndpointAuthMethod = "none"
	r, err := e.clients.CreateClient(as(tokSystem), &registryv1.CreateClientRequest{TenantId: "acme", Client: pub})
	if err != nil || r.GetClient().GetRequireClientSecret() || r.GetClient().GetTokenEndpointAuthMethod() != "none" {
		t.Fatalf("public client = %v, %v", r.GetClient(), err)
	}
	pub.ClientId, pub.TokenEndpointAuthMethod, pub.RequireClientSecret = "spa2", "", proto.Bool(false)
	r, err = e.clients.CreateClient(as(tokSystem), &registryv1.CreateClientRequest{TenantId: "acme", Client: pub})
	if err != nil || r.GetClient().GetTokenEndpointAuthMethod() != "none" {
		t.Fatalf("public client without a method = %v, %v", r.GetClient(), err)
	}
	// tls_client_auth with a subject.
	tls := validClient("mtls")
	tls.TokenEndpointAuthMethod, tls.TlsClientAuthSubjectDn = "tls_client_auth", "CN=mtls,O=Acme"
	if r, err := e.clients.CreateClient(as(tokSystem), &registryv1.CreateClientRequest{TenantId: "acme", Client: tls}); err != nil ||
		r.GetClient().GetTlsClientAuthSubjectDn() != "CN=mtls,O=Acme" {
		t.Fatalf("tls_client_auth client = %v, %v", r.GetClient(), err)
	}
}

// TestUserGroupsAndAttributes: groups and attributes are stored, answered, replaced by updates and refused
// naming the field when invalid, leaving the user unchanged.
func TestUserGroupsAndAttributes(t *testing.T) {
	e := newEnv(t)
	u := e.createUser(t, "acme", &registryv1.User{UserId: "u1", LoginName: "alice", Groups: []string{"billing", "ops/eu"},
		Attributes: map[string]string{"department": "R&D"}})
	if len(u.GetGroups()) != 2 || u.GetAttributes()["department"] != "R&D" {
		t.Fatalf("created user: %v", u)
	}
	_, err := e.users.UpdateUser(as(tokSystem), &registryv1.UpdateUserRequest{TenantId: "acme", UserId: "u1",
		User: &registryv1.User{LoginName: "alice", Attributes: map[string]string{"bad key": "x"}}})
	wantField(t, err, "attributes.bad key")
	_, err = e.users.UpdateUser(as(tokSystem), &registryv1.UpdateUserRequest{TenantId: "acme", UserId: "u1",
		User: &registryv1.User{LoginName: "alice", Groups: []string{"a", "a"}}})
	wantField(t, err, "groups[1]")
	got, _ := e.users.GetUser(as(tokSystem), &registryv1.GetUserRequest{TenantId: "acme", UserId: "u1"})
	if !proto.Equal(u, got.GetUser()) {
		t.Fatalf("refused updates changed the user to %v", got.GetUser())
	}
	up, err := e.users.UpdateUser(as(tokSystem), &registryv1.UpdateUserRequest{TenantId: "acme", UserId: "u1", User: &registryv1.User{LoginName: "alice"}})
	if err != nil || len(up.GetUser().GetGroups()) != 0 || len(up.GetUser().GetAttributes()) != 0 {
		t.Fatalf("replaced user = %v, %v", up.GetUser(), err)
	}
}

// TestWatchCarriesNewFields: the change feed carries a client's new settings and a user's login and display
// name, roles, groups and attributes (never the password hash).
func TestWatchCarriesNewFields(t *testing.T) {
	e := newEnv(t)
	next := watch(t, e)
	if ev := next(); !ev.GetSynced() {
		t.Fatalf("first event of an empty registry: %v", ev)
	}
	in := keyClient(t, "svc")
	if _, err := e.clients.CreateClient(as(tokSystem), &registryv1.CreateClientRequest{TenantId: "acme", Client: in}); err != nil {
		t.Fatal(err)
	}
	rec := next().GetUpsert().GetClient()
	if rec.GetTokenEndpointAuthMethod() != "private_key_jwt" || !proto.Equal(rec.GetJwks(), in.GetJwks()) ||
		rec.GetClaims()["service_role"] != "billing" || !rec.GetAlwaysSendClientClaims() || len(rec.GetClaimMappings()) != 1 ||
		rec.GetClaimMappings()[0].GetClaim() != "dept" || rec.GetServesResources()[0] != "https://orders.internal" ||
		!rec.GetTlsClientCertificateBoundAccessTokens() {
		t.Fatalf("client record on the feed: %v", rec)
	}
	e.createUser(t, "acme", &registryv1.User{UserId: "u1", LoginName: "alice", DisplayName: "Alice", Roles: []string{"admin"},
		Groups: []string{"billing"}, Attributes: map[string]string{"department": "R&D"}, Password: proto.String("alice-password-1")})
	for {
		ev := next()
		if ev.GetUpsert() != nil {
			continue
		}
		u := ev.GetUserUpsert()
		if u.GetLoginName() != "alice" || u.GetDisplayName() != "Alice" || len(u.GetRoles()) != 1 || u.GetRoles()[0] != "admin" ||
			len(u.GetGroups()) != 1 || u.GetGroups()[0] != "billing" || u.GetAttributes()["department"] != "R&D" {
			t.Fatalf("user record on the feed: %v", ev)
		}
		break
	}
}
