package server

import (
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/internal/resourceuri"
	"github.com/authsuite/authsuite/services/token/clients"
)

// FuzzParseResources: whatever the resource parameters (one per line), parseResources either refuses them
// with invalid_target because one is malformed or there are too many, or returns the normal form of each
// distinct one, in order, every one an absolute URI without a fragment, already normal.
func FuzzParseResources(f *testing.F) {
	for _, s := range []string{"https://orders.internal", "https://a\nhttps://a\nurn:x:y", "orders", "https://a#b", "", "https://a b",
		strings.Repeat("https://x\n", 20), "http://[::1", "mailto:a@b", "https://" + strings.Repeat("a", 3000),
		"HTTPS://Orders.Internal:443\nhttps://orders.internal", "https://a?q=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		values := strings.Split(in, "\n")
		out, err := parseResources(values)
		if err != nil {
			if apierrorCode(err) != apierror.InvalidTarget {
				t.Fatalf("error %v is not invalid_target", err)
			}
			bad := len(values) > maxResources
			for _, v := range values {
				bad = bad || len(v) > maxResourceLen || resourceuri.Validate(resourceuri.Normalize(v)) != nil
			}
			if !bad {
				t.Fatalf("refused %q", values)
			}
			return
		}
		var want []string
		for _, v := range values {
			if n := resourceuri.Normalize(v); !slices.Contains(want, n) {
				want = append(want, n)
			}
		}
		if !slices.Equal(out, want) {
			t.Fatalf("parseResources(%q) = %q, want %q", values, out, want)
		}
		for _, v := range out {
			u, perr := url.Parse(v)
			if perr != nil || !u.IsAbs() || u.Fragment != "" || strings.Contains(v, "#") || resourceuri.Normalize(v) != v {
				t.Fatalf("accepted %q", v)
			}
		}
	})
}

// FuzzAudienceRule checks grantTarget against what the rule promises, for any granted scopes and named
// resources over a fixed set of resources: granted scopes stay within the ceiling; aud holds only the
// issuer and resources of the tenant, exactly the named ones when some are named, else exactly those
// defining a granted scope; the issuer is in aud when an issuer scope is granted (or nothing else is);
// the lifetime is the shortest of the client's and its audience's.
func FuzzAudienceRule(f *testing.F) {
	f.Add("orders.read billing.read read", "", "", true)
	f.Add("orders.read", "", "https://orders.internal", false)
	f.Add("", "read", "https://billing.internal https://orders.internal", true)
	f.Add("orders.write", "orders.write", "https://orders.internal", false)
	s := &Server{issuer: testIssuer, cache: clients.NewCache(clients.Config{})}
	for _, r := range []*registryv1.ApiResource{
		{ResourceId: ordersRes, TenantId: "t", Scopes: []string{"orders.read", "orders.write"}, AccessTokenLifetime: proto.Int32(600)},
		{ResourceId: billingRes, TenantId: "t", Scopes: []string{"billing.read", "orders.read"}},
		{ResourceId: paymentsRes, TenantId: "t", Scopes: []string{"payments.pay"}, AccessTokenLifetime: proto.Int32(60)},
		{ResourceId: "https://other.tenant", TenantId: "u", Scopes: []string{"read"}},
	} {
		if err := clients.TestingPutResource(s.cache, r); err != nil {
			f.Fatal(err)
		}
	}
	cl := &clients.Client{ID: "c", TenantID: "t", Scopes: []string{"orders.read", "orders.write", "billing.read", "read", "openid"}, AccessTokenLifetime: time.Hour}
	f.Fuzz(func(t *testing.T, ceilingS, requestedS, resourcesS string, keep bool) {
		ceiling := strings.Fields(ceilingS)
		ceiling = slices.DeleteFunc(ceiling, func(sc string) bool { return !slices.Contains(cl.Scopes, sc) })
		requested := strings.Fields(requestedS)
		resources := strings.Fields(resourcesS)
		tg, err := s.grantTarget(cl, ceiling, requested, resources, keep)
		if err != nil {
			if c := apierrorCode(err); c != apierror.InvalidScope && c != apierror.InvalidTarget {
				t.Fatalf("error %v", err)
			}
			return
		}
		issuerScope, resourceScope := false, false
		for _, sc := range tg.Scopes {
			if !slices.Contains(ceiling, sc) {
				t.Fatalf("granted %q outside the ceiling %q", sc, ceiling)
			}
			if len(requested) > 0 && !slices.Contains(requested, sc) {
				t.Fatalf("granted %q not requested", sc)
			}
			if s.isResourceScope("t", sc) {
				resourceScope = true
			} else {
				issuerScope = true
			}
		}
		wantIssuer := issuerScope || (!resourceScope && len(resources) == 0)
		if tg.Aud.Contains(testIssuer) != wantIssuer {
			t.Fatalf("aud %q for scopes %q: issuer present %v, want %v", tg.Aud, tg.Scopes, !wantIssuer, wantIssuer)
		}
		life := cl.AccessTokenLifetime
		for _, a := range tg.Aud {
			if a == testIssuer {
				continue
			}
			r, ok := s.cache.Resource("t", a)
			if !ok {
				t.Fatalf("aud %q is not a resource of the tenant", a)
			}
			if len(resources) > 0 && !slices.Contains(resources, a) {
				t.Fatalf("aud %q was not named (%q)", a, resources)
			}
			if len(resources) == 0 && !slices.ContainsFunc(tg.Scopes, r.Defines) {
				t.Fatalf("aud %q defines no granted scope of %q", a, tg.Scopes)
			}
			if r.AccessTokenLifetime > 0 {
				life = min(life, r.AccessTokenLifetime)
			}
		}
		for _, n := range resources {
			if !tg.Aud.Contains(n) {
				t.Fatalf("named %q missing from aud %q", n, tg.Aud)
			}
		}
		if len(resources) == 0 {
			for _, sc := range tg.Scopes {
				for _, r := range s.cache.ResourcesOf("t", sc) {
					if !tg.Aud.Contains(r.ID) {
						t.Fatalf("resource %q of granted %q missing from aud %q", r.ID, sc, tg.Aud)
					}
				}
			}
		}
		if tg.Lifetime != max(life, time.Second) {
			t.Fatalf("lifetime %v, want %v", tg.Lifetime, life)
		}
	})
}

// BenchmarkGrantTarget is the audience rule alone for a client_credentials request of three scopes over a
// tenant with 100 resources, without and with a resource parameter: map lookups, no I/O.
func BenchmarkGrantTarget(b *testing.B) {
	s := &Server{issuer: testIssuer, cache: clients.NewCache(clients.Config{})}
	for i := range 100 {
		id := "https://svc" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + ".internal/" + string(rune('a'+i/26))
		if err := clients.TestingPutResource(s.cache, &registryv1.ApiResource{ResourceId: id, TenantId: "t", Scopes: []string{"s" + id}}); err != nil {
			b.Fatal(err)
		}
	}
	if err := clients.TestingPutResource(s.cache, &registryv1.ApiResource{ResourceId: ordersRes, TenantId: "t", Scopes: []string{"orders.read"}, AccessTokenLifetime: proto.Int32(600)}); err != nil {
		b.Fatal(err)
	}
	cl := &clients.Client{ID: "c", TenantID: "t", Scopes: []string{"orders.read", "read", "write"}, AccessTokenLifetime: time.Hour}
	for _, tc := range []struct {
		name      string
		resources []string
	}{{"no-resource", nil}, {"resource", []string{ordersRes}}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.grantTarget(cl, cl.Scopes, nil, tc.resources, false); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
