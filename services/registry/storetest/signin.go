package storetest

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/services/registry"
)

// tenantSignIn is a tenant's sign-in settings with every field set to a value other than its zero.
func tenantSignIn() registry.SignInSettings {
	return registry.SignInSettings{
		Branding:         registry.Branding{DisplayName: "Acme 登录", LogoDataURI: "data:image/png;base64,iVBORw0KGgo=", PrimaryColor: "#0a7cff"},
		DefaultLocale:    "zh-Hant",
		MFA:              registry.MFAPolicy{Requirement: registry.MFARoles, Roles: []string{"admin", "ops"}, Passwordless: true},
		SelfRegistration: true,
		SMTP: registry.SMTPSettings{Host: "smtp.example.com", Port: 465, Security: registry.SMTPTLS, Username: "mailer",
			SealedPassword: []byte{1, 2, 3}, From: "Acme <no-reply@example.com>"},
		IdentityProviders: []registry.IdentityProvider{{
			ID: "corp", DisplayName: "Corp", Issuer: "https://idp.example", ClientID: "authsuite",
			SealedClientSecret: []byte{4, 5}, Scopes: []string{"openid", "email"},
			ClaimMapping: map[string]string{"login_name": "upn"}, LinkByEmail: true, CreateUsers: true, Disabled: true,
			CreateTime: t0, UpdateTime: t0.Add(time.Hour),
		}},
	}
}

// userFactors is a user's factors with every field set to a value other than its zero.
func userFactors(provider, subject string) registry.Factors {
	return registry.Factors{
		TOTP:          registry.TOTP{Sealed: []byte{9, 9}, LastStep: 12345, EnrollTime: t0},
		RecoveryCodes: []registry.RecoveryCode{{KeyID: "k1", Digest: []byte{1}}, {KeyID: "k1", Digest: []byte{2}}},
		Passkeys: []registry.Passkey{{
			CredentialID: []byte{7, 7, 7}, PublicKey: []byte{8}, AttestationType: "none", AAGUID: []byte{0, 1},
			SignCount: 42, Transports: []string{"internal", "hybrid"}, BackupEligible: true, BackupState: true,
			UserVerified: true, Name: "Laptop", CreateTime: t0, LastUsedTime: t0.Add(time.Minute),
		}},
		FederatedIdentities: []registry.FederatedIdentity{{ProviderID: provider, Subject: subject, Email: "a@corp.example"}},
	}
}

// testSignInRoundTrip: a tenant's sign-in settings and a user's factors read back as written after create,
// update, listing, lookup and a seed; an update can clear them (they read back zero); values a caller gets
// are copies.
func testSignInRoundTrip(t *testing.T, s registry.Store) {
	ctx := context.Background()
	seededT := registry.Tenant{ID: "s", Code: "code-s", CreateTime: t0, SignInSettings: tenantSignIn()}
	seededU := newUser("s", "u9")
	seededU.Factors = userFactors("corp", "seeded")
	if ok, err := s.Seed(ctx, []registry.Tenant{seededT}, nil, []registry.User{seededU}); err != nil || !ok {
		t.Fatalf("Seed = %v, %v", ok, err)
	}
	if got, err := s.GetTenant(ctx, "s"); err != nil || !reflect.DeepEqual(got.SignInSettings, tenantSignIn()) {
		t.Fatalf("seeded tenant = %+v, %v", got.SignInSettings, err)
	}
	if got, err := s.FindUserByFederatedIdentity(ctx, "s", "corp", "seeded"); err != nil || got.ID != "u9" ||
		!reflect.DeepEqual(got.Factors, seededU.Factors) {
		t.Fatalf("seeded user by federated identity = %+v, %v", got.Factors, err)
	}

	tn := registry.Tenant{ID: "a", Code: "code-a", CreateTime: t0, SignInSettings: tenantSignIn()}
	created, err := s.CreateTenant(ctx, tn)
	if err != nil || !reflect.DeepEqual(created.SignInSettings, tn.SignInSettings) {
		t.Fatalf("CreateTenant = %+v, %v", created.SignInSettings, err)
	}
	got, err := s.GetTenant(ctx, "a")
	if err != nil || !reflect.DeepEqual(got.SignInSettings, tn.SignInSettings) {
		t.Fatalf("GetTenant = %+v, %v\nwant %+v", got.SignInSettings, err, tn.SignInSettings)
	}
	got.MFA.Roles[0] = "mutated"
	got.SMTP.SealedPassword[0] = 99
	got.IdentityProviders[0].ClaimMapping["login_name"] = "mutated"
	got.IdentityProviders[0].Scopes[0] = "mutated"
	if again, _ := s.GetTenantByCode(ctx, "code-a"); !reflect.DeepEqual(again.SignInSettings, tn.SignInSettings) {
		t.Fatalf("GetTenant returned memory shared with the store: %+v", again.SignInSettings)
	}
	up, err := s.UpdateTenant(ctx, "a", func(x registry.Tenant) (registry.Tenant, error) {
		x.SignInSettings = registry.SignInSettings{DefaultLocale: "en"}
		return x, nil
	})
	if err != nil || !reflect.DeepEqual(up.SignInSettings, registry.SignInSettings{DefaultLocale: "en"}) {
		t.Fatalf("UpdateTenant(clear) = %+v, %v", up.SignInSettings, err)
	}
	items, _, err := s.ListTenants(ctx, registry.ListOptions{})
	if err != nil || len(items) != 2 || !reflect.DeepEqual(items[0].SignInSettings, registry.SignInSettings{DefaultLocale: "en"}) ||
		!reflect.DeepEqual(items[1].SignInSettings, tenantSignIn()) {
		t.Fatalf("ListTenants = %+v, %v", items, err)
	}

	u := newUser("a", "u1")
	u.Factors = userFactors("corp", "sub-1")
	mustUser(t, s, u)
	gu, err := s.GetUser(ctx, "a", "u1")
	if err != nil || !reflect.DeepEqual(gu.Factors, u.Factors) {
		t.Fatalf("GetUser factors = %+v, %v\nwant %+v", gu.Factors, err, u.Factors)
	}
	gu.Passkeys[0].CredentialID[0] = 0
	gu.RecoveryCodes[0].Digest[0] = 0
	gu.TOTP.Sealed[0] = 0
	if again, _ := s.GetUser(ctx, "a", "u1"); !reflect.DeepEqual(again.Factors, u.Factors) {
		t.Fatalf("GetUser returned memory shared with the store: %+v", again.Factors)
	}
	uu, err := s.UpdateUser(ctx, "a", "u1", func(x registry.User) (registry.User, error) {
		x.TOTP.LastStep++
		x.RecoveryCodes = x.RecoveryCodes[1:]
		return x, nil
	})
	if err != nil || uu.TOTP.LastStep != 12346 || len(uu.RecoveryCodes) != 1 {
		t.Fatalf("UpdateUser = %+v, %v", uu.Factors, err)
	}
	list, _, err := s.ListUsers(ctx, "a", registry.ListOptions{})
	if err != nil || len(list) != 1 || !reflect.DeepEqual(list[0].Factors, uu.Factors) {
		t.Fatalf("ListUsers = %+v, %v", list, err)
	}
	cleared, err := s.UpdateUser(ctx, "a", "u1", func(x registry.User) (registry.User, error) {
		x.Factors = registry.Factors{}
		return x, nil
	})
	if err != nil || !reflect.DeepEqual(cleared.Factors, registry.Factors{}) {
		t.Fatalf("cleared factors = %+v, %v", cleared.Factors, err)
	}
	if got, _ := s.GetUser(ctx, "a", "u1"); !reflect.DeepEqual(got.Factors, registry.Factors{}) {
		t.Fatalf("cleared factors read back %+v", got.Factors)
	}
}

// testFederatedIndex: (provider, subject) is a unique index of users within a tenant: a lookup finds the
// user linked, a second user cannot hold the same link, the index follows updates and deletes, another
// tenant and another provider are other keys, and a deleted tenant takes its entries along.
func testFederatedIndex(t *testing.T, s registry.Store) {
	ctx := context.Background()
	mustTenant(t, s, "a")
	mustTenant(t, s, "b")
	link := func(u registry.User, links ...registry.FederatedIdentity) registry.User {
		u.FederatedIdentities = links
		return u
	}
	fi := func(p, sub string) registry.FederatedIdentity {
		return registry.FederatedIdentity{ProviderID: p, Subject: sub}
	}
	// Subjects are arbitrary strings: separators and other bytes must not confuse the index.
	odd := "x\x00y/\u00e9"
	mustUser(t, s, link(newUser("a", "u1"), fi("corp", "1"), fi("gh", odd)))
	for _, c := range []struct{ tid, p, sub, want string }{
		{"a", "corp", "1", "u1"}, {"a", "gh", odd, "u1"}, {"a", "gh", "1", ""}, {"a", "corp", "11", ""},
		{"b", "corp", "1", ""}, {"a", "corp\x001", "", ""}, {"a", "", "", ""}, {"ghost", "corp", "1", ""},
	} {
		got, err := s.FindUserByFederatedIdentity(ctx, c.tid, c.p, c.sub)
		if c.want == "" {
			wantErr(t, err, apierror.ErrNotFound, "FindUserByFederatedIdentity("+c.tid+","+c.p+","+c.sub+")")
		} else if err != nil || got.ID != c.want {
			t.Fatalf("FindUserByFederatedIdentity(%s, %s, %q) = %s, %v", c.tid, c.p, c.sub, got.ID, err)
		}
	}
	_, err := s.CreateUser(ctx, link(newUser("a", "u2"), fi("corp", "1")))
	wantErr(t, err, apierror.ErrAlreadyExists, "CreateUser(taken federated identity)")
	mustUser(t, s, link(newUser("b", "u2"), fi("corp", "1"))) // another tenant: another key
	mustUser(t, s, newUser("a", "u2"))
	_, err = s.UpdateUser(ctx, "a", "u2", func(u registry.User) (registry.User, error) {
		return link(u, fi("gh", odd)), nil
	})
	wantErr(t, err, apierror.ErrAlreadyExists, "UpdateUser(taken federated identity)")

	// Moving a link: u1 drops it, then u2 can take it; the old key no longer finds u1.
	if _, err := s.UpdateUser(ctx, "a", "u1", func(u registry.User) (registry.User, error) {
		return link(u, fi("corp", "1")), nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateUser(ctx, "a", "u2", func(u registry.User) (registry.User, error) {
		return link(u, fi("gh", odd)), nil
	}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.FindUserByFederatedIdentity(ctx, "a", "gh", odd); err != nil || got.ID != "u2" {
		t.Fatalf("moved link finds %s, %v", got.ID, err)
	}
	if err := s.DeleteUser(ctx, "a", "u1"); err != nil {
		t.Fatal(err)
	}
	_, err = s.FindUserByFederatedIdentity(ctx, "a", "corp", "1")
	wantErr(t, err, apierror.ErrNotFound, "link of a deleted user")
	mustUser(t, s, link(newUser("a", "u3"), fi("corp", "1"))) // free again

	if _, err := s.DeleteTenant(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	mustTenant(t, s, "a")
	_, err = s.FindUserByFederatedIdentity(ctx, "a", "gh", odd)
	wantErr(t, err, apierror.ErrNotFound, "link in a re-created tenant")
	mustUser(t, s, link(newUser("a", "u9"), fi("gh", odd)))
	if got, err := s.FindUserByFederatedIdentity(ctx, "b", "corp", "1"); err != nil || got.ID != "u2" {
		t.Fatalf("other tenant's link = %s, %v", got.ID, err)
	}
}
