package server_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	"github.com/authsuite/authsuite/services/registry"
)

// providerSecret opens the stored client secret of acme's provider id ("" when none).
func (e *fenv) providerSecret(t *testing.T, id string) string {
	t.Helper()
	tn, err := e.store.GetTenant(context.Background(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	p, ok := tn.IdentityProvider(id)
	if !ok || p.SealedClientSecret == nil {
		return ""
	}
	secret, err := e.keyring.Open(p.SealedClientSecret, registry.IdentityProviderSecretAD("acme", id))
	if err != nil {
		t.Fatal(err)
	}
	return string(secret)
}

// TestIdentityProviderCRUD: providers are created, listed in id order, read, updated and deleted by the
// tenant's admin or the system admin; answers never carry the secret, which is stored sealed, kept when
// omitted while issuer and client id stay and dropped when either changes; at most 20 per tenant.
func TestIdentityProviderCRUD(t *testing.T) {
	e := newFactorEnv(t, nil, "https://login.example")
	ctx := as(tokAcme)
	resp, err := e.idps.CreateIdentityProvider(ctx, &registryv1.CreateIdentityProviderRequest{TenantId: "acme", Provider: &registryv1.UpstreamProvider{
		ProviderId: "zeta", DisplayName: "Zeta", Issuer: "https://zeta.example", ClientId: "c1", ClientSecret: proto.String("zeta-secret"),
		Scopes: []string{"openid", "email"}, ClaimMapping: map[string]string{"login_name": "preferred_username"}, CreateUsers: true}})
	if err != nil {
		t.Fatal(err)
	}
	p := resp.GetProvider()
	if p.ClientSecret != nil || p.GetTenantId() != "acme" || p.GetRedirectUri() != "https://login.example/connect/upstream/callback" || !p.GetCreateUsers() {
		t.Fatalf("created %v", p)
	}
	if s := e.providerSecret(t, "zeta"); s != "zeta-secret" {
		t.Fatalf("stored secret opens to %q", s)
	}
	e.addProvider(t, corpProvider("alpha", false, false))
	_, err = e.idps.CreateIdentityProvider(ctx, &registryv1.CreateIdentityProviderRequest{TenantId: "acme", Provider: corpProvider("alpha", false, false)})
	wantCode(t, err, codes.AlreadyExists)
	list, err := e.idps.ListIdentityProviders(ctx, &registryv1.ListIdentityProvidersRequest{TenantId: "acme"})
	if err != nil || len(list.GetItems()) != 2 || list.GetItems()[0].GetProviderId() != "alpha" || list.GetItems()[1].GetProviderId() != "zeta" {
		t.Fatalf("list = %v, %v", list, err)
	}
	for _, it := range list.GetItems() {
		if it.ClientSecret != nil {
			t.Fatal("a listed provider carries its secret")
		}
	}
	got, err := e.idps.GetIdentityProvider(as(tokSystem), &registryv1.GetIdentityProviderRequest{TenantId: "acme", ProviderId: "zeta"})
	if err != nil || got.GetProvider().GetClaimMapping()["login_name"] != "preferred_username" || got.GetProvider().ClientSecret != nil {
		t.Fatalf("get = %v, %v", got, err)
	}
	update := func(mut func(*registryv1.UpstreamProvider)) (*registryv1.UpstreamProvider, error) {
		p := &registryv1.UpstreamProvider{DisplayName: "Zeta 2", Issuer: "https://zeta.example", ClientId: "c1"}
		mut(p)
		r, err := e.idps.UpdateIdentityProvider(ctx, &registryv1.UpdateIdentityProviderRequest{TenantId: "acme", ProviderId: "zeta", Provider: p})
		return r.GetProvider(), err
	}
	if up, err := update(func(*registryv1.UpstreamProvider) {}); err != nil || up.GetDisplayName() != "Zeta 2" || up.ClientSecret != nil {
		t.Fatalf("update = %v, %v", up, err)
	}
	if s := e.providerSecret(t, "zeta"); s != "zeta-secret" {
		t.Fatalf("omitted secret: %q, want it kept", s)
	}
	if _, err := update(func(p *registryv1.UpstreamProvider) { p.Issuer = "https://elsewhere.example" }); err != nil {
		t.Fatal(err)
	}
	if s := e.providerSecret(t, "zeta"); s != "" {
		t.Fatalf("issuer changed: secret %q kept", s)
	}
	if _, err := update(func(p *registryv1.UpstreamProvider) { p.ClientSecret = proto.String("new-secret") }); err != nil {
		t.Fatal(err)
	}
	if s := e.providerSecret(t, "zeta"); s != "new-secret" {
		t.Fatalf("new secret: %q", s)
	}
	_, err = update(func(p *registryv1.UpstreamProvider) { p.ProviderId = "other" })
	wantField(t, err, "provider.providerId")
	_, err = e.idps.UpdateIdentityProvider(ctx, &registryv1.UpdateIdentityProviderRequest{TenantId: "acme", ProviderId: "ghost", Provider: corpProvider("ghost", false, false)})
	wantCode(t, err, codes.NotFound)

	// Another tenant's admin sees nothing of acme's.
	_, err = e.idps.ListIdentityProviders(as(tokAcme), &registryv1.ListIdentityProvidersRequest{TenantId: "default"})
	wantCode(t, err, codes.PermissionDenied)
	_, err = e.idps.ListIdentityProviders(context.Background(), &registryv1.ListIdentityProvidersRequest{TenantId: "acme"})
	wantCode(t, err, codes.Unauthenticated)

	if _, err := e.idps.DeleteIdentityProvider(ctx, &registryv1.DeleteIdentityProviderRequest{TenantId: "acme", ProviderId: "alpha"}); err != nil {
		t.Fatal(err)
	}
	_, err = e.idps.GetIdentityProvider(ctx, &registryv1.GetIdentityProviderRequest{TenantId: "acme", ProviderId: "alpha"})
	wantCode(t, err, codes.NotFound)
	_, err = e.idps.DeleteIdentityProvider(ctx, &registryv1.DeleteIdentityProviderRequest{TenantId: "acme", ProviderId: "alpha"})
	wantCode(t, err, codes.NotFound)

	for i := 1; i < 20; i++ {
		e.addProvider(t, corpProvider(fmt.Sprintf("p%02d", i), false, false))
	}
	_, err = e.idps.CreateIdentityProvider(ctx, &registryv1.CreateIdentityProviderRequest{TenantId: "acme", Provider: corpProvider("p99", false, false)})
	wantCode(t, err, codes.FailedPrecondition)
}

// TestIdentityProviderInvalid: bad providers are refused naming the field, and nothing is stored.
func TestIdentityProviderInvalid(t *testing.T) {
	e := newFactorEnv(t, nil, "")
	ctx := as(tokAcme)
	for _, c := range []struct {
		field string
		mut   func(*registryv1.UpstreamProvider)
	}{
		{"provider.providerId", func(p *registryv1.UpstreamProvider) { p.ProviderId = "Upper" }},
		{"provider.providerId", func(p *registryv1.UpstreamProvider) { p.ProviderId = strings.Repeat("a", 65) }},
		{"provider.providerId", func(p *registryv1.UpstreamProvider) { p.ProviderId = "" }},
		{"provider.displayName", func(p *registryv1.UpstreamProvider) { p.DisplayName = "" }},
		{"provider.displayName", func(p *registryv1.UpstreamProvider) { p.DisplayName = strings.Repeat("名", 101) }},
		{"provider.issuer", func(p *registryv1.UpstreamProvider) { p.Issuer = "http://idp.example" }},
		{"provider.issuer", func(p *registryv1.UpstreamProvider) { p.Issuer = "https://idp.example?x=1" }},
		{"provider.issuer", func(p *registryv1.UpstreamProvider) { p.Issuer = "https://idp.example#f" }},
		{"provider.issuer", func(p *registryv1.UpstreamProvider) { p.Issuer = "https://user@idp.example" }},
		{"provider.issuer", func(p *registryv1.UpstreamProvider) { p.Issuer = "idp.example" }},
		{"provider.clientId", func(p *registryv1.UpstreamProvider) { p.ClientId = "" }},
		{"provider.scopes", func(p *registryv1.UpstreamProvider) { p.Scopes = make([]string, 21) }},
		{"provider.scopes[1]", func(p *registryv1.UpstreamProvider) { p.Scopes = []string{"openid", "a b"} }},
		{"provider.scopes[1]", func(p *registryv1.UpstreamProvider) { p.Scopes = []string{"openid", "openid"} }},
		{"provider.claimMapping", func(p *registryv1.UpstreamProvider) { p.ClaimMapping = map[string]string{"roles": "groups"} }},
		{"provider.claimMapping[email]", func(p *registryv1.UpstreamProvider) { p.ClaimMapping = map[string]string{"email": ""} }},
		{"provider.clientSecret", func(p *registryv1.UpstreamProvider) { p.ClientSecret = proto.String(strings.Repeat("s", 1025)) }},
	} {
		p := corpProvider("ok", false, false)
		c.mut(p)
		_, err := e.idps.CreateIdentityProvider(ctx, &registryv1.CreateIdentityProviderRequest{TenantId: "acme", Provider: p})
		wantField(t, err, c.field)
	}
	// http is fine on a loopback host.
	loop := corpProvider("loop", false, false)
	loop.Issuer = "http://127.0.0.1:9000/realms/x"
	e.addProvider(t, loop)
	tn, _ := e.store.GetTenant(context.Background(), "acme")
	if len(tn.IdentityProviders) != 1 {
		t.Fatalf("providers stored: %+v", tn.IdentityProviders)
	}
}

// TestResetUserFactors: an admin of the tenant removes a user's TOTP, recovery codes and passkeys (and, when
// asked, federated identities); the user's output fields show it; another tenant's admin is refused.
func TestResetUserFactors(t *testing.T) {
	e := newFactorEnv(t, nil, "")
	ctx := context.Background()
	e.enrol(t, "alice")
	if _, err := e.factors.AddPasskey(ctx, &registryv1.AddPasskeyRequest{TenantId: "acme", UserId: "alice", Passkey: passkey(1, "k")}); err != nil {
		t.Fatal(err)
	}
	e.addProvider(t, corpProvider("mail", true, false))
	if _, err := e.factors.LinkFederatedIdentity(ctx, &registryv1.LinkFederatedIdentityRequest{TenantId: "acme", ProviderId: "mail",
		Subject: "s", Email: "alice@example.com", EmailVerified: true}); err != nil {
		t.Fatal(err)
	}
	got, err := e.users.GetUser(as(tokAcme), &registryv1.GetUserRequest{TenantId: "acme", UserId: "alice"})
	if err != nil || !got.GetUser().GetTotpEnrolled() || got.GetUser().GetPasskeyCount() != 1 || len(got.GetUser().GetFederatedIdentities()) != 1 {
		t.Fatalf("user = %v, %v", got, err)
	}
	// An admin update of the profile keeps the factors.
	if _, err := e.users.UpdateUser(as(tokAcme), &registryv1.UpdateUserRequest{TenantId: "acme", UserId: "alice",
		User: &registryv1.User{LoginName: "alice", Email: "alice@example.com", DisplayName: "Alice"}}); err != nil {
		t.Fatal(err)
	}
	if u, _ := e.store.GetUser(ctx, "acme", "alice"); !u.TOTP.Enrolled() || len(u.Passkeys) != 1 {
		t.Fatalf("UpdateUser dropped factors: %+v", u.Factors)
	}
	_, err = e.users.ResetUserFactors(as(tokAcme), &registryv1.ResetUserFactorsRequest{TenantId: "default", UserId: "alice"})
	wantCode(t, err, codes.PermissionDenied)
	r, err := e.users.ResetUserFactors(as(tokAcme), &registryv1.ResetUserFactorsRequest{TenantId: "acme", UserId: "alice"})
	if err != nil || r.GetUser().GetTotpEnrolled() || r.GetUser().GetPasskeyCount() != 0 || len(r.GetUser().GetFederatedIdentities()) != 1 {
		t.Fatalf("reset = %v, %v", r, err)
	}
	r, err = e.users.ResetUserFactors(as(tokSystem), &registryv1.ResetUserFactorsRequest{TenantId: "acme", UserId: "alice", FederatedIdentities: true})
	if err != nil || len(r.GetUser().GetFederatedIdentities()) != 0 {
		t.Fatalf("reset with identities = %v, %v", r, err)
	}
	if _, err := e.store.FindUserByFederatedIdentity(ctx, "acme", "mail", "s"); err == nil {
		t.Fatal("the link is still indexed")
	}
	_, err = e.users.ResetUserFactors(as(tokAcme), &registryv1.ResetUserFactorsRequest{TenantId: "acme", UserId: "ghost"})
	wantCode(t, err, codes.NotFound)
}
