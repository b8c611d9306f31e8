package server_test

import (
	"context"
	"reflect"
	"testing"

	"google.golang.org/protobuf/proto"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	"github.com/authsuite/authsuite/services/registry"
)

const tinyPNG = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="

func settingsTenant(id string) *registryv1.Tenant {
	return &registryv1.Tenant{
		TenantId: id, Code: id + "-code", Name: "Tenant " + id,
		Branding:      &registryv1.TenantBranding{DisplayName: "Acme 帐户", LogoDataUri: tinyPNG, PrimaryColor: "#12ab9F"},
		DefaultLocale: "zh-Hans",
		MfaPolicy: &registryv1.MfaPolicy{Requirement: registryv1.MfaPolicy_REQUIREMENT_ROLES, Roles: []string{"admin"},
			Passwordless: true},
		SelfRegistration: true,
		Smtp: &registryv1.SmtpSettings{Host: "smtp.example.com", Port: 465, Security: registryv1.SmtpSettings_SECURITY_TLS,
			Username: "mailer", Password: proto.String("s3cret-pw"), From: "Acme <no-reply@example.com>"},
	}
}

// smtpPassword opens the tenant's stored SMTP password ("" when none).
func (e *env) smtpPassword(t *testing.T, tenant string) string {
	t.Helper()
	tn, err := e.store.GetTenant(context.Background(), tenant)
	if err != nil {
		t.Fatal(err)
	}
	if tn.SMTP.SealedPassword == nil {
		return ""
	}
	pw, err := e.keyring.Open(tn.SMTP.SealedPassword, registry.SMTPPasswordAD(tenant))
	if err != nil {
		t.Fatalf("open the SMTP password: %v", err)
	}
	return string(pw)
}

// TestTenantSignInSettings: the settings are written on create and update and read back by get and list;
// the SMTP password is stored sealed, never answered, kept when omitted while host and username stay, and
// dropped when either changes or when an empty one is given; the identity providers survive an update.
func TestTenantSignInSettings(t *testing.T) {
	e := newEnv(t)
	ctx := as(tokSystem)
	in := settingsTenant("t1")
	resp, err := e.tenants.CreateTenant(ctx, &registryv1.CreateTenantRequest{Tenant: in})
	if err != nil {
		t.Fatal(err)
	}
	want := proto.Clone(in).(*registryv1.Tenant)
	want.Smtp.Password = nil
	got := resp.GetTenant()
	if got.GetSmtp().Password != nil {
		t.Fatal("CreateTenant answered the SMTP password")
	}
	check := func(what string, got *registryv1.Tenant) {
		t.Helper()
		g := proto.Clone(got).(*registryv1.Tenant)
		g.CreateTime = nil
		if !proto.Equal(g, want) {
			t.Fatalf("%s = %v\nwant %v", what, g, want)
		}
	}
	check("CreateTenant", got)
	g, err := e.tenants.GetTenant(ctx, &registryv1.GetTenantRequest{TenantId: "t1"})
	if err != nil {
		t.Fatal(err)
	}
	check("GetTenant", g.GetTenant())
	list, err := e.tenants.ListTenants(ctx, &registryv1.ListTenantsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, item := range list.GetItems() {
		if item.GetSmtp().Password != nil {
			t.Fatal("ListTenants answered an SMTP password")
		}
		if item.GetTenantId() == "t1" {
			check("ListTenants", item)
		}
	}
	if pw := e.smtpPassword(t, "t1"); pw != "s3cret-pw" {
		t.Fatalf("stored password opens to %q", pw)
	}
	raw, _ := e.store.GetTenant(context.Background(), "t1")
	if string(raw.SMTP.SealedPassword) == "s3cret-pw" {
		t.Fatal("the SMTP password is stored in clear")
	}

	// Providers are IdentityProviderService's: an UpdateTenant keeps them.
	if _, err := e.store.UpdateTenant(context.Background(), "t1", func(tn registry.Tenant) (registry.Tenant, error) {
		tn.IdentityProviders = []registry.IdentityProvider{{ID: "corp", DisplayName: "Corp", Issuer: "https://idp.example", ClientID: "c"}}
		return tn, nil
	}); err != nil {
		t.Fatal(err)
	}

	update := func(mut func(*registryv1.Tenant)) *registryv1.Tenant {
		t.Helper()
		next := proto.Clone(want).(*registryv1.Tenant)
		mut(next)
		up, err := e.tenants.UpdateTenant(ctx, &registryv1.UpdateTenantRequest{TenantId: "t1", Tenant: next})
		if err != nil {
			t.Fatalf("UpdateTenant: %v", err)
		}
		if up.GetTenant().GetSmtp().Password != nil {
			t.Fatal("UpdateTenant answered the SMTP password")
		}
		return up.GetTenant()
	}
	update(func(*registryv1.Tenant) {}) // password omitted, host and username the same: kept
	if pw := e.smtpPassword(t, "t1"); pw != "s3cret-pw" {
		t.Fatalf("omitted password: stored %q, want it kept", pw)
	}
	if tn, _ := e.store.GetTenant(context.Background(), "t1"); len(tn.IdentityProviders) != 1 {
		t.Fatalf("UpdateTenant dropped the identity providers: %+v", tn.IdentityProviders)
	}
	update(func(x *registryv1.Tenant) { x.Smtp.Host = "evil.example" }) // another server: dropped
	if pw := e.smtpPassword(t, "t1"); pw != "" {
		t.Fatalf("host changed: password %q kept", pw)
	}
	update(func(x *registryv1.Tenant) { x.Smtp.Password = proto.String("second-pw") })
	update(func(x *registryv1.Tenant) { x.Smtp.Username = "other" })
	if pw := e.smtpPassword(t, "t1"); pw != "" {
		t.Fatalf("username changed: password %q kept", pw)
	}
	update(func(x *registryv1.Tenant) { x.Smtp.Password = proto.String("third-pw") })
	update(func(x *registryv1.Tenant) { x.Smtp.Password = proto.String("") })
	if pw := e.smtpPassword(t, "t1"); pw != "" {
		t.Fatalf("empty password: %q kept", pw)
	}
	// An update stating no sign-in setting (a rename, as the console sends it) keeps them all.
	renamed := update(func(x *registryv1.Tenant) {
		x.Name, x.Branding, x.MfaPolicy, x.Smtp, x.DefaultLocale, x.SelfRegistration = "Renamed", nil, nil, nil, "", false
	})
	if renamed.GetName() != "Renamed" || renamed.GetBranding().GetPrimaryColor() != "#12ab9F" || renamed.GetSmtp().GetHost() != "smtp.example.com" ||
		!renamed.GetSelfRegistration() || renamed.GetDefaultLocale() != "zh-Hans" {
		t.Fatalf("rename = %v", renamed)
	}
	// Clearing everything: defaults read back (port default, language en).
	cleared := update(func(x *registryv1.Tenant) {
		x.Branding, x.MfaPolicy, x.Smtp, x.DefaultLocale, x.SelfRegistration = nil, nil, nil, "en", false
	})
	if cleared.GetDefaultLocale() != "en" || cleared.GetSmtp().GetHost() != "" || cleared.GetMfaPolicy().GetRequirement() != 0 {
		t.Fatalf("cleared = %v", cleared)
	}
	port := update(func(x *registryv1.Tenant) { x.Smtp.Port = 0 })
	if port.GetSmtp().GetPort() != 587 {
		t.Fatalf("default port = %d", port.GetSmtp().GetPort())
	}
}

// TestTenantSignInSettingsInvalid: each bad setting is refused with INVALID_ARGUMENT naming its field, on
// create and on update, and a refused update changes nothing.
func TestTenantSignInSettingsInvalid(t *testing.T) {
	e := newEnv(t)
	ctx := as(tokSystem)
	if _, err := e.tenants.CreateTenant(ctx, &registryv1.CreateTenantRequest{Tenant: settingsTenant("t1")}); err != nil {
		t.Fatal(err)
	}
	before, _ := e.store.GetTenant(context.Background(), "t1")
	long := make([]byte, 101)
	for i := range long {
		long[i] = 'x'
	}
	cases := []struct {
		field string
		mut   func(*registryv1.Tenant)
	}{
		{"branding.primaryColor", func(x *registryv1.Tenant) { x.Branding.PrimaryColor = "red" }},
		{"branding.primaryColor", func(x *registryv1.Tenant) { x.Branding.PrimaryColor = "#12345" }},
		{"branding.displayName", func(x *registryv1.Tenant) { x.Branding.DisplayName = string(long) }},
		{"branding.logoDataUri", func(x *registryv1.Tenant) {
			x.Branding.LogoDataUri = "data:image/svg+xml;base64,PHN2Zz48L3N2Zz4="
		}},
		{"branding.logoDataUri", func(x *registryv1.Tenant) { x.Branding.LogoDataUri = "https://cdn.example/logo.png" }},
		{"branding.logoDataUri", func(x *registryv1.Tenant) { x.Branding.LogoDataUri = "data:image/png;base64,!!!" }},
		{"branding.logoDataUri", func(x *registryv1.Tenant) {
			x.Branding.LogoDataUri = "data:image/png;base64," + b64(68000) // 51000 bytes decoded
		}},
		{"defaultLocale", func(x *registryv1.Tenant) { x.DefaultLocale = "fr" }},
		{"mfaPolicy.requirement", func(x *registryv1.Tenant) { x.MfaPolicy.Requirement = 9 }},
		{"mfaPolicy.roles", func(x *registryv1.Tenant) { x.MfaPolicy.Roles = nil }},
		{"mfaPolicy.roles", func(x *registryv1.Tenant) { x.MfaPolicy.Roles = make([]string, 21) }},
		{"mfaPolicy.roles[1]", func(x *registryv1.Tenant) { x.MfaPolicy.Roles = []string{"a", "a"} }},
		{"smtp.host", func(x *registryv1.Tenant) { x.Smtp.Host = "smtp://x" }},
		{"smtp.host", func(x *registryv1.Tenant) { x.Smtp.Host = "" }},
		{"smtp.port", func(x *registryv1.Tenant) { x.Smtp.Port = 65536 }},
		{"smtp.port", func(x *registryv1.Tenant) { x.Smtp.Port = -1 }},
		{"smtp.security", func(x *registryv1.Tenant) { x.Smtp.Security = registryv1.SmtpSettings_SECURITY_NONE }},
		{"smtp.security", func(x *registryv1.Tenant) { x.Smtp.Security = 7 }},
		{"smtp.from", func(x *registryv1.Tenant) { x.Smtp.From = "not an address" }},
		{"smtp.from", func(x *registryv1.Tenant) { x.Smtp.From = "" }},
		{"smtp.password", func(x *registryv1.Tenant) { x.Smtp.Password = proto.String("a\x00b") }},
		{"smtp.password", func(x *registryv1.Tenant) { x.Smtp.Username = "" }},
		{"selfRegistration", func(x *registryv1.Tenant) { x.Smtp = nil }},
	}
	for i, c := range cases {
		x := settingsTenant("n" + string(rune('a'+i)))
		c.mut(x)
		_, err := e.tenants.CreateTenant(ctx, &registryv1.CreateTenantRequest{Tenant: x})
		wantField(t, err, c.field)
		y := settingsTenant("t1")
		c.mut(y)
		_, err = e.tenants.UpdateTenant(ctx, &registryv1.UpdateTenantRequest{TenantId: "t1", Tenant: y})
		wantField(t, err, c.field)
	}
	after, _ := e.store.GetTenant(context.Background(), "t1")
	if !reflect.DeepEqual(before, after) {
		t.Fatalf("refused updates changed the tenant:\n%+v\n%+v", before, after)
	}
	// SECURITY_NONE is fine for a loopback server, but not with a username: authentication needs TLS, so
	// such settings could never send.
	ok := settingsTenant("loop")
	ok.Smtp.Host, ok.Smtp.Security = "127.0.0.1", registryv1.SmtpSettings_SECURITY_NONE
	_, err := e.tenants.CreateTenant(ctx, &registryv1.CreateTenantRequest{Tenant: ok})
	wantField(t, err, "smtp.username")
	ok.Smtp.Username, ok.Smtp.Password = "", nil
	if _, err := e.tenants.CreateTenant(ctx, &registryv1.CreateTenantRequest{Tenant: ok}); err != nil {
		t.Fatalf("loopback SECURITY_NONE: %v", err)
	}
}

// b64 is n bytes of base64 text.
func b64(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'A'
	}
	return string(b)
}
