package etcdstore_test

import (
	"context"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/authsuite/authsuite/internal/etcdtest"
	"github.com/authsuite/authsuite/services/registry"
	"github.com/authsuite/authsuite/services/registry/bboltstore"
)

// TestMigrateSignInData: a bbolt registry's tenant sign-in settings and users' factors survive an export and
// an import into etcd unchanged (sealed values byte for byte, incarnations kept, so they still open), and the
// imported federated identities are indexed.
func TestMigrateSignInData(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	src, err := bboltstore.Open(filepath.Join(t.TempDir(), "registry.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	t0 := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	tn := registry.Tenant{ID: "a", Code: "a", CreateTime: t0}
	tn.Branding = registry.Branding{DisplayName: "A", PrimaryColor: "#000000"}
	tn.DefaultLocale, tn.SelfRegistration = "zh-Hans", true
	tn.MFA = registry.MFAPolicy{Requirement: registry.MFAAll, Passwordless: true}
	tn.SMTP = registry.SMTPSettings{Host: "h", Port: 25, Username: "u", SealedPassword: []byte{1, 2}, From: "a@example.com"}
	tn.IdentityProviders = []registry.IdentityProvider{{ID: "corp", DisplayName: "Corp", Issuer: "https://i.example", ClientID: "c",
		SealedClientSecret: []byte{3}, Scopes: []string{"openid"}, ClaimMapping: map[string]string{"email": "mail"}, CreateTime: t0, UpdateTime: t0}}
	if _, err := src.CreateTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	u := registry.User{ID: "u1", TenantID: "a", LoginName: "alice", CreateTime: t0, UpdateTime: t0}
	u.TOTP = registry.TOTP{Sealed: []byte{4}, LastStep: 7, EnrollTime: t0}
	u.RecoveryCodes = []registry.RecoveryCode{{KeyID: "k", Digest: []byte{5}}}
	u.Passkeys = []registry.Passkey{{CredentialID: []byte{6}, PublicKey: []byte{7}, Name: "key", CreateTime: t0}}
	u.FederatedIdentities = []registry.FederatedIdentity{{ProviderID: "corp", Subject: "s-1", Email: "a@corp.example"}}
	if _, err := src.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	snap, err := src.Export(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dst := open(t, etcdtest.Start(t, 1))
	if err := dst.Import(ctx, snap); err != nil {
		t.Fatal(err)
	}
	gotT, err := dst.GetTenant(ctx, "a")
	if err != nil || !reflect.DeepEqual(gotT.SignInSettings, tn.SignInSettings) {
		t.Fatalf("imported tenant settings = %+v, %v", gotT.SignInSettings, err)
	}
	srcU, _ := src.GetUser(ctx, "a", "u1")
	gotU, err := dst.FindUserByFederatedIdentity(ctx, "a", "corp", "s-1")
	if err != nil || gotU.Incarnation != srcU.Incarnation || !reflect.DeepEqual(gotU.Factors, u.Factors) {
		t.Fatalf("imported user = %+v, %v", gotU, err)
	}
}
