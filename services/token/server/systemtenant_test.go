package server

import (
	"context"
	"testing"

	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
)

// TestSystemTenantIsTheIDNotTheCode: a tenant whose code is "default" but whose id is not the system tenant's
// gets no cross-tenant view: introspecting another tenant's token answers inactive, and sudo into another
// tenant is refused.
func TestSystemTenantIsTheIDNotTheCode(t *testing.T) {
	e := newEnv(t)
	e.reg.mu.Lock()
	e.reg.tenants["t-impostor"] = "default"
	e.reg.mu.Unlock()
	e.reg.put(e.reg.record("acme-svc", "t-acme", allGrants, []string{"read"}, 0, secretSpec{id: "a", value: "pw-acme"}))
	e.reg.put(e.reg.record("imp-svc", "t-impostor", allGrants, []string{"read", "sudo"}, 0, secretSpec{id: "i", value: "pw-imp"}))
	e.awaitRegistry()
	if cl, _ := e.srv.cache.Get("imp-svc"); cl.TenantCode != "default" {
		t.Fatalf("impostor tenant code %q", cl.TenantCode)
	}
	acmeTok := e.mustToken("acme-svc", "pw-acme", "")
	r, err := e.oauth.Introspect(context.Background(), &tokenv1.IntrospectRequest{Client: creds("imp-svc", "pw-imp"), Token: acmeTok})
	if err != nil {
		t.Fatal(err)
	}
	if r.GetActive() {
		t.Fatal("a client of a tenant coded \"default\" sees another tenant's token")
	}
	// The real system tenant (id "default") still sees it.
	if r, err := e.oauth.Introspect(context.Background(), &tokenv1.IntrospectRequest{Client: creds("svc", svcSecret), Token: acmeTok}); err != nil || !r.GetActive() {
		t.Fatalf("system client: %v, %v", r, err)
	}
	impTok := e.mustToken("imp-svc", "pw-imp", "sudo")
	_, err = e.simple.CheckToken(context.Background(), &tokenv1.CheckTokenRequest{Token: impTok, Sudo: "uid:u-x", TenantId: "t-acme"})
	if err == nil {
		t.Fatal("sudo into another tenant allowed for a tenant coded \"default\"")
	}
}
