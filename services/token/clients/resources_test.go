package clients

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	"github.com/authsuite/authsuite/internal/suitekey"
)

// FuzzResourceIndex applies fuzzed resource events (upserts, deletions, tenant deletions, and a snapshot
// replacing everything) to a cache and to a model (a plain map), and checks after each that Resource and
// ResourcesOf answer what the model says: ResourcesOf(tenant, scope) is exactly the tenant's resources
// defining scope, in id order. The final view survives Persist and Load in a new cache.
func FuzzResourceIndex(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 0, 5, 1, 1, 2, 0, 3, 4})
	f.Add([]byte{0, 0, 0, 0, 0, 1, 0, 2, 4, 0, 2, 0})
	kr, err := suitekey.New(make([]byte, 32))
	if err != nil {
		f.Fatal(err)
	}
	tenants, ids, scopes := []string{"t1", "t2"}, []string{"https://a", "https://b", "urn:c"}, []string{"s1", "s2", "s3"}
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 300 {
			return
		}
		st := &snapshotStore{}
		c := NewCache(Config{Store: st, Keyring: kr})
		c.replaceWith(map[string]*Client{}, nil, map[resourceKey]*Resource{}) // a first (empty) registry snapshot
		model := map[resourceKey]*Resource{}
		for i := 0; i+2 < len(ops); i += 3 {
			op, a, b := ops[i]%5, ops[i+1], ops[i+2]
			tenant, id := tenants[int(a)%len(tenants)], ids[int(a/2)%len(ids)]
			var sc []string
			for j, s := range scopes {
				if b&(1<<j) != 0 {
					sc = append(sc, s)
				}
			}
			switch op {
			case 0, 1:
				p := &registryv1.ApiResource{ResourceId: id, TenantId: tenant, Scopes: sc}
				if b&8 != 0 {
					p.AccessTokenLifetime = proto.Int32(int32(b))
				}
				r, err := resourceFromRecord(p)
				if err != nil {
					t.Fatalf("record %v: %v", p, err)
				}
				c.applyResource(r.key(), r)
				model[r.key()] = r
			case 2:
				c.applyResource(resourceKey{tenant, id}, nil)
				delete(model, resourceKey{tenant, id})
			case 3:
				c.deleteTenantResources(tenant)
				maps.DeleteFunc(model, func(k resourceKey, _ *Resource) bool { return k.tenantID == tenant })
			case 4:
				snap := map[resourceKey]*Resource{}
				if r, err := resourceFromRecord(&registryv1.ApiResource{ResourceId: id, TenantId: tenant, Scopes: sc}); err == nil {
					snap[r.key()] = r
				}
				c.replaceWith(map[string]*Client{}, nil, snap)
				model = maps.Clone(snap)
			}
			checkResources(t, c, model, tenants, ids, scopes)
		}
		if err := c.Persist(context.Background()); err != nil {
			t.Fatal(err)
		}
		c2 := NewCache(Config{Store: st, Keyring: kr})
		if err := c2.Load(context.Background()); err != nil {
			t.Fatal(err)
		}
		checkResources(t, c2, model, tenants, ids, scopes)
	})
}

func checkResources(t *testing.T, c *Cache, model map[resourceKey]*Resource, tenants, ids, scopes []string) {
	t.Helper()
	for _, tenant := range tenants {
		for _, id := range ids {
			got, ok := c.Resource(tenant, id)
			want, wok := model[resourceKey{tenant, id}]
			if ok != wok || ok && !sameResource(got, want) {
				t.Fatalf("Resource(%s, %s) = %+v, want %+v", tenant, id, got, want)
			}
		}
		for _, sc := range scopes {
			var want []string
			for k, r := range model {
				if k.tenantID == tenant && r.Defines(sc) {
					want = append(want, r.ID)
				}
			}
			slices.Sort(want)
			var got []string
			for _, r := range c.ResourcesOf(tenant, sc) {
				got = append(got, r.ID)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("ResourcesOf(%s, %s) = %v, want %v", tenant, sc, got, want)
			}
		}
	}
}

// TestResourceRecordRefused: records without ids, with invalid UTF-8, too long or with too many scopes are
// skipped; repeated scopes are kept once.
func TestResourceRecordRefused(t *testing.T) {
	many := make([]string, maxResourceScopes+1)
	for i := range many {
		many[i] = "s" + strings.Repeat("x", i%5)
	}
	for _, p := range []*registryv1.ApiResource{
		{TenantId: "t", Scopes: []string{"a"}},
		{ResourceId: "https://a"},
		{ResourceId: "https://a\xff", TenantId: "t"},
		{ResourceId: "https://" + strings.Repeat("a", maxResourceIDLen), TenantId: "t"},
		{ResourceId: "https://a", TenantId: "t", Scopes: many},
		{ResourceId: "https://a", TenantId: "t", Scopes: []string{""}},
	} {
		if _, err := resourceFromRecord(p); err == nil {
			t.Errorf("accepted %v", p)
		}
	}
	r, err := resourceFromRecord(&registryv1.ApiResource{ResourceId: "https://a", TenantId: "t", Scopes: []string{"a", "b", "a"}})
	if err != nil || !slices.Equal(r.Scopes, []string{"a", "b"}) {
		t.Fatalf("%+v %v", r, err)
	}
}
