package storetest

import (
	"context"
	"maps"
	"reflect"
	"slices"
	"testing"

	"github.com/authsuite/authsuite/services/registry"
)

// clientWithEveryField is a client with every authentication, key, claim and resource setting set to a
// value other than its zero.
func clientWithEveryField(tenant, id string) registry.Client {
	c := newClient(tenant, id)
	c.TokenEndpointAuthMethod = registry.AuthPrivateKeyJWT
	c.JWKS = []byte(`{"keys":[{"crv":"Ed25519","kid":"k1","kty":"OKP","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`)
	c.TLSClientAuthSubjectDN = "CN=svc,O=Example"
	c.CertBoundAccessTokens = true
	c.Claims = map[string]string{"service_role": "billing", "tier": ""}
	c.AlwaysSendClaims = true
	c.ClaimMappings = []registry.ClaimMapping{
		{UserAttribute: "department", Claim: "dept", Scope: "profile"},
		{UserAttribute: "cost_center", Claim: "cc"},
	}
	c.ServesResources = []string{"https://orders.internal", "urn:example:billing"}
	return c
}

// clientFields is the part of a client these settings make up, for comparing.
type clientFields struct {
	Method, JWKS, JWKSURI, DN string
	Bound, Always             bool
	Claims                    map[string]string
	Mappings                  []registry.ClaimMapping
	Served                    []string
}

func fieldsOf(c registry.Client) clientFields {
	return clientFields{
		Method: c.TokenEndpointAuthMethod, JWKS: string(c.JWKS), JWKSURI: c.JWKSURI, DN: c.TLSClientAuthSubjectDN,
		Bound: c.CertBoundAccessTokens, Always: c.AlwaysSendClaims, Claims: c.Claims, Mappings: c.ClaimMappings,
		Served: c.ServesResources,
	}
}

// testClientFieldsRoundTrip: every authentication, key, claim and resource setting of a client reads back as
// written after create, update, listing and a seed; an update can clear them all (they read back empty);
// values a caller gets are copies.
func testClientFieldsRoundTrip(t *testing.T, s registry.Store) {
	ctx := context.Background()
	// Seeded clients keep the settings (Seed writes only into an empty registry, so it comes first).
	seeded := clientWithEveryField("b", "c2")
	if ok, err := s.Seed(ctx, []registry.Tenant{{ID: "b", Code: "code-b", CreateTime: t0}}, []registry.Client{seeded}, nil); err != nil || !ok {
		t.Fatalf("Seed = %v, %v", ok, err)
	}
	if got, err := s.GetClient(ctx, "c2"); err != nil || !reflect.DeepEqual(fieldsOf(got), fieldsOf(seeded)) {
		t.Fatalf("seeded client = %+v, %v", fieldsOf(got), err)
	}

	mustTenant(t, s, "a")
	want := clientWithEveryField("a", "c1")
	created, err := s.CreateClient(ctx, want)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.GetClient(ctx, "c1")
	if err != nil || !reflect.DeepEqual(fieldsOf(got), fieldsOf(want)) || !reflect.DeepEqual(fieldsOf(created), fieldsOf(want)) {
		t.Fatalf("GetClient = %+v, %v; created %+v\nwant %+v", fieldsOf(got), err, fieldsOf(created), fieldsOf(want))
	}

	got.Claims["service_role"] = "mutated"
	got.ClaimMappings[0].Claim = "mutated"
	got.JWKS[0] = 'X'
	got.ServesResources[0] = "mutated"
	if again, _ := s.GetClient(ctx, "c1"); !reflect.DeepEqual(fieldsOf(again), fieldsOf(want)) {
		t.Fatalf("GetClient returned memory shared with the store: %+v", fieldsOf(again))
	}

	// Another value of each: a URL instead of a set, other method, claims and mappings.
	next := want.Clone()
	next.TokenEndpointAuthMethod, next.JWKS, next.JWKSURI = registry.AuthSelfSignedTLSClientAuth, nil, "https://svc.example/jwks.json"
	next.CertBoundAccessTokens, next.AlwaysSendClaims = false, false
	next.Claims = map[string]string{"tier": "gold"}
	next.ClaimMappings = next.ClaimMappings[1:]
	next.ServesResources = []string{"https://billing.internal"}
	up, err := s.UpdateClient(ctx, "c1", func(registry.Client) (registry.Client, error) { return next.Clone(), nil })
	if err != nil || !reflect.DeepEqual(fieldsOf(up), fieldsOf(next)) {
		t.Fatalf("UpdateClient = %+v, %v\nwant %+v", fieldsOf(up), err, fieldsOf(next))
	}
	items, _, err := s.ListClients(ctx, "a", registry.ListOptions{})
	if err != nil || len(items) != 1 || !reflect.DeepEqual(fieldsOf(items[0]), fieldsOf(next)) {
		t.Fatalf("ListClients = %v, %v", items, err)
	}

	// Clearing every setting reads back the zero values (nil lists and maps, as empty lists read back).
	cleared := newClient("a", "c1")
	cleared.TLSClientAuthSubjectDN = ""
	up, err = s.UpdateClient(ctx, "c1", func(registry.Client) (registry.Client, error) { return cleared, nil })
	if err != nil || !reflect.DeepEqual(fieldsOf(up), clientFields{}) {
		t.Fatalf("cleared client = %+v, %v", fieldsOf(up), err)
	}
	if got, _ := s.GetClient(ctx, "c1"); !reflect.DeepEqual(fieldsOf(got), clientFields{}) {
		t.Fatalf("cleared client reads back %+v", fieldsOf(got))
	}

}

// testUserFieldsRoundTrip: a user's groups and attributes read back as written after create, update,
// listing and lookup; an update can clear them; values a caller gets are copies.
func testUserFieldsRoundTrip(t *testing.T, s registry.Store) {
	ctx := context.Background()
	mustTenant(t, s, "a")
	want := newUser("a", "u1")
	want.Groups = []string{"Billing Team", "ops/eu"}
	want.Attributes = map[string]string{"department": "R&D", "cost_center": "4711", "empty": ""}
	mustUser(t, s, want)
	same := func(u registry.User, groups []string, attrs map[string]string) bool {
		return slices.Equal(u.Groups, groups) && maps.Equal(u.Attributes, attrs) && (groups == nil) == (u.Groups == nil) &&
			(attrs == nil) == (u.Attributes == nil)
	}
	got, err := s.GetUser(ctx, "a", "u1")
	if err != nil || !same(got, want.Groups, want.Attributes) {
		t.Fatalf("GetUser = groups %q attributes %v, %v", got.Groups, got.Attributes, err)
	}
	got.Groups[0] = "mutated"
	got.Attributes["department"] = "mutated"
	if again, _ := s.GetUser(ctx, "a", "u1"); !same(again, want.Groups, want.Attributes) {
		t.Fatalf("GetUser returned memory shared with the store: %q %v", again.Groups, again.Attributes)
	}
	up, err := s.UpdateUser(ctx, "a", "u1", func(u registry.User) (registry.User, error) {
		u.Groups, u.Attributes = []string{"ops/us"}, map[string]string{"department": "Sales"}
		return u, nil
	})
	if err != nil || !same(up, []string{"ops/us"}, map[string]string{"department": "Sales"}) {
		t.Fatalf("UpdateUser = %q %v, %v", up.Groups, up.Attributes, err)
	}
	items, _, err := s.ListUsers(ctx, "a", registry.ListOptions{})
	if err != nil || len(items) != 1 || !same(items[0], []string{"ops/us"}, map[string]string{"department": "Sales"}) {
		t.Fatalf("ListUsers = %+v, %v", items, err)
	}
	up, err = s.UpdateUser(ctx, "a", "u1", func(u registry.User) (registry.User, error) {
		u.Groups, u.Attributes = nil, nil
		return u, nil
	})
	if err != nil || !same(up, nil, nil) {
		t.Fatalf("cleared user = %q %v, %v", up.Groups, up.Attributes, err)
	}
	if got, _ := s.GetUser(ctx, "a", "u1"); !same(got, nil, nil) {
		t.Fatalf("cleared user reads back %q %v", got.Groups, got.Attributes)
	}
}

// equalClientFields compares what equalClient does not: the authentication, key, claim and resource settings.
func equalClientFields(a, b registry.Client) bool { return reflect.DeepEqual(fieldsOf(a), fieldsOf(b)) }

// equalUserFields compares what equalUser does not: groups and attributes.
func equalUserFields(a, b registry.User) bool {
	return slices.Equal(a.Groups, b.Groups) && maps.Equal(a.Attributes, b.Attributes)
}
