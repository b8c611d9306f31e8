package server

import (
	"context"
	"testing"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
)

// TestCORSOriginsFollowClients: CheckCorsOrigin follows the registry's clients as they are added, changed,
// deleted, and replaced wholesale by a resync, with an origin shared by two clients staying allowed until
// neither lists it.
func TestCORSOriginsFollowClients(t *testing.T) {
	e := newEnv(t)
	authz := tokenv1.NewAuthorizeServiceClient(e.browserConn)
	allowed := func(origin string) bool {
		t.Helper()
		r, err := authz.CheckCorsOrigin(context.Background(), &tokenv1.CheckCorsOriginRequest{Origin: origin})
		if err != nil {
			t.Fatal(err)
		}
		return r.GetAllowed()
	}
	want := func(what string, origins map[string]bool) {
		t.Helper()
		e.awaitRegistry()
		for o, ok := range origins {
			if allowed(o) != ok {
				t.Errorf("%s: origin %s allowed %t, want %t", what, o, !ok, ok)
			}
		}
	}
	rec := func(id string, origins ...string) *registryv1.ClientRecord {
		r := e.reg.record(id, "t-acme", allGrants, []string{"read"}, 0)
		r.Client.AllowedCorsOrigins = origins
		return r
	}
	const a, b, c = "https://a.example", "https://b.example", "https://c.example"
	e.reg.put(rec("one", a, b, a))
	e.reg.put(rec("two", b))
	want("added", map[string]bool{a: true, b: true, c: false, "https://a.example:443": false})
	e.reg.put(rec("one", c)) // changed: a gone, b still listed by two
	want("changed", map[string]bool{a: false, b: true, c: true})
	e.reg.del("two", false)
	want("deleted", map[string]bool{a: false, b: false, c: true})
	// Changes while disconnected arrive as one snapshot replacing the cache.
	e.reg.breakStreams(true)
	e.reg.del("one", true)
	e.reg.putQuiet(rec("three", a))
	e.reg.allow()
	want("replaced", map[string]bool{a: true, b: false, c: false})
}
