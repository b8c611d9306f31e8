package bboltstore_test

import (
	"context"
	"crypto/rand"
	"path/filepath"
	"testing"

	"github.com/authsuite/authsuite/internal/boltdb"
	"github.com/authsuite/authsuite/internal/suitekey"
	"github.com/authsuite/authsuite/services/registry"
	"github.com/authsuite/authsuite/services/registry/bboltstore"
)

func rawKey() []byte {
	k := make([]byte, suitekey.KeySize)
	rand.Read(k)
	return k
}

// TestResealAll: a rekey reseals every sealed value of registry.db — SMTP passwords, upstream client secrets,
// TOTP keys — under the new key with its own additional data, so that the new key alone opens them, and a
// second run changes nothing.
func TestResealAll(t *testing.T) {
	ctx := context.Background()
	oldKey, newKey := rawKey(), rawKey()
	oldKR, _ := suitekey.New(oldKey)
	s, err := bboltstore.Open(filepath.Join(t.TempDir(), "registry.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tn := registry.Tenant{ID: "a", Code: "a"}
	tn.SMTP = registry.SMTPSettings{Host: "h", Username: "u", From: "a@example.com", SealedPassword: oldKR.Seal([]byte("smtp"), registry.SMTPPasswordAD("a"))}
	tn.IdentityProviders = []registry.IdentityProvider{{ID: "p", SealedClientSecret: oldKR.Seal([]byte("idp"), registry.IdentityProviderSecretAD("a", "p"))}, {ID: "q"}}
	if _, err := s.CreateTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	u, err := s.CreateUser(ctx, registry.User{ID: "u1", TenantID: "a", LoginName: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateUser(ctx, "a", "u1", func(x registry.User) (registry.User, error) {
		x.TOTP.Sealed = oldKR.Seal([]byte("totp"), registry.TOTPKeyAD("a", "u1", u.Incarnation))
		return x, nil
	}); err != nil {
		t.Fatal(err)
	}
	both, _ := suitekey.New(newKey, oldKey)
	n, _, err := boltdb.Rekey(s.DB(), both, bboltstore.ResealAll)
	if err != nil || n != 3 {
		t.Fatalf("Rekey = %d, %v; want 3 values", n, err)
	}
	newKR, _ := suitekey.New(newKey)
	got, _ := s.GetTenant(ctx, "a")
	for _, c := range []struct {
		sealed []byte
		ad     []byte
		want   string
	}{
		{got.SMTP.SealedPassword, registry.SMTPPasswordAD("a"), "smtp"},
		{got.IdentityProviders[0].SealedClientSecret, registry.IdentityProviderSecretAD("a", "p"), "idp"},
	} {
		if pt, err := newKR.Open(c.sealed, c.ad); err != nil || string(pt) != c.want {
			t.Fatalf("after rekey: %q, %v", pt, err)
		}
	}
	gu, _ := s.GetUser(ctx, "a", "u1")
	if pt, err := newKR.Open(gu.TOTP.Sealed, registry.TOTPKeyAD("a", "u1", u.Incarnation)); err != nil || string(pt) != "totp" {
		t.Fatalf("TOTP key after rekey: %q, %v", pt, err)
	}
	if n, _, err := boltdb.Rekey(s.DB(), newKR, bboltstore.ResealAll); err != nil || n != 0 {
		t.Fatalf("second Rekey = %d, %v", n, err)
	}
}
