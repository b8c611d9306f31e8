package server_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	"github.com/authsuite/authsuite/services/registry"
)

func passkey(id byte, name string) *registryv1.Passkey {
	return &registryv1.Passkey{CredentialId: []byte{id, 1, 2, 3}, PublicKey: []byte{0xa5, 1, 2}, AttestationType: "none",
		Aaguid: make([]byte, 16), SignCount: 1, Transports: []string{"internal"}, BackupEligible: true, UserVerified: true, Name: name}
}

// TestPasskeys: passkeys are added (at most 20, ids unique per user, names 1-64 characters), listed oldest
// first by GetFactors and counted on the user, their use stored with a growing counter (a counter that does
// not grow is refused: a cloned authenticator), and deleted.
func TestPasskeys(t *testing.T) {
	e := newFactorEnv(t, nil, "")
	ctx := context.Background()
	add := func(p *registryv1.Passkey) error {
		_, err := e.factors.AddPasskey(ctx, &registryv1.AddPasskeyRequest{TenantId: "acme", UserId: "alice", Passkey: p})
		return err
	}
	if err := add(passkey(0, "Laptop 笔记本")); err != nil {
		t.Fatal(err)
	}
	wantCode(t, add(passkey(0, "again")), codes.AlreadyExists)
	for _, c := range []struct {
		field string
		p     *registryv1.Passkey
	}{
		{"passkey.name", passkey(1, "")},
		{"passkey.name", passkey(1, strings.Repeat("x", 65))},
		{"passkey.name", passkey(1, "a\nb")},
		{"passkey.credentialId", &registryv1.Passkey{PublicKey: []byte{1}, Name: "x"}},
		{"passkey.credentialId", &registryv1.Passkey{CredentialId: make([]byte, 1024), PublicKey: []byte{1}, Name: "x"}},
		{"passkey.publicKey", &registryv1.Passkey{CredentialId: []byte{1}, Name: "x"}},
		{"passkey.aaguid", &registryv1.Passkey{CredentialId: []byte{1}, PublicKey: []byte{1}, Aaguid: []byte{1}, Name: "x"}},
		{"passkey", nil},
	} {
		wantField(t, add(c.p), c.field)
	}
	for i := 1; i < 20; i++ {
		if err := add(passkey(byte(i), fmt.Sprintf("key %d", i))); err != nil {
			t.Fatal(err)
		}
	}
	wantCode(t, add(passkey(20, "one too many")), codes.FailedPrecondition)
	f, err := e.factors.GetFactors(ctx, &registryv1.GetFactorsRequest{TenantId: "acme", UserId: "alice"})
	if err != nil || len(f.GetPasskeys()) != 20 || f.GetPasskeys()[0].GetName() != "Laptop 笔记本" || f.GetUser().GetPasskeyCount() != 20 ||
		f.GetPasskeys()[0].GetCreateTimeUnix() != e.clock.now().Unix() {
		t.Fatalf("GetFactors = %d passkeys, %v", len(f.GetPasskeys()), err)
	}

	use := func(id byte, count uint32) error {
		_, err := e.factors.RecordPasskeyUse(ctx, &registryv1.RecordPasskeyUseRequest{TenantId: "acme", UserId: "alice",
			CredentialId: []byte{id, 1, 2, 3}, SignCount: count, BackupState: true})
		return err
	}
	if err := use(0, 5); err != nil {
		t.Fatal(err)
	}
	wantCode(t, use(0, 5), codes.FailedPrecondition)
	wantCode(t, use(0, 4), codes.FailedPrecondition)
	wantCode(t, use(99, 9), codes.NotFound)
	u, _ := e.store.GetUser(ctx, "acme", "alice")
	if p := u.Passkeys[0]; p.SignCount != 5 || !p.BackupState || p.LastUsedTime.IsZero() {
		t.Fatalf("after use: %+v", p)
	}
	del := func(id byte) error {
		_, err := e.factors.DeletePasskey(ctx, &registryv1.DeletePasskeyRequest{TenantId: "acme", UserId: "alice", CredentialId: []byte{id, 1, 2, 3}})
		return err
	}
	if err := del(0); err != nil {
		t.Fatal(err)
	}
	wantCode(t, del(0), codes.NotFound)
	if err := add(passkey(20, "room again")); err != nil {
		t.Fatalf("after a delete: %v", err)
	}
}

// TestPasswordChange: the current password must be right (UNAUTHENTICATED otherwise, also for a user
// without a password), the new one must follow the rules (field newPassword); afterwards only the new one
// verifies and the password stamp changed.
func TestPasswordChange(t *testing.T) {
	e := newFactorEnv(t, nil, "")
	ctx := context.Background()
	change := func(user, cur, next string) error {
		_, err := e.factors.ChangePassword(ctx, &registryv1.ChangePasswordRequest{TenantId: "acme", UserId: user, CurrentPassword: cur, NewPassword: next})
		return err
	}
	stamp := func(user string) string {
		f, err := e.factors.GetFactors(ctx, &registryv1.GetFactorsRequest{TenantId: "acme", UserId: user})
		if err != nil {
			t.Fatal(err)
		}
		return f.GetPasswordStamp()
	}
	before := stamp("alice")
	wantCode(t, change("alice", "wrong horse", "new battery staple"), codes.Unauthenticated)
	wantField(t, change("alice", "correct horse", "short"), "newPassword")
	// A weak new password with a wrong current one is a wrong guess, never a rules refusal (which would say
	// the guess was right).
	wantCode(t, change("alice", "wrong horse", "short"), codes.Unauthenticated)
	wantCode(t, change("bob", "", "new battery staple"), codes.Unauthenticated)
	if stamp("alice") != before {
		t.Fatal("a refused change changed the stamp")
	}
	if err := change("alice", "correct horse", "new battery staple"); err != nil {
		t.Fatal(err)
	}
	u, _ := e.store.GetUser(ctx, "acme", "alice")
	if !u.VerifyPassword("new battery staple") || u.VerifyPassword("correct horse") {
		t.Fatal("the new password does not verify, or the old one still does")
	}
	if stamp("alice") == before {
		t.Fatal("the password stamp did not change")
	}
	// A user without a password has a stable stamp.
	if stamp("bob") != stamp("bob") {
		t.Fatal("stamp of a user without password is not stable")
	}
}

// TestPasswordReset: a reset needs the incarnation and password stamp of the link; it works once (the
// stamp changes), never for another incarnation, and not for a disabled user.
func TestPasswordReset(t *testing.T) {
	e := newFactorEnv(t, nil, "")
	ctx := context.Background()
	f, err := e.factors.GetFactors(ctx, &registryv1.GetFactorsRequest{TenantId: "acme", UserId: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	reset := func(inc, stamp, pw string) error {
		_, err := e.factors.ResetPassword(ctx, &registryv1.ResetPasswordRequest{TenantId: "acme", UserId: "alice",
			Incarnation: inc, PasswordStamp: stamp, NewPassword: pw})
		return err
	}
	wantCode(t, reset("other", f.GetPasswordStamp(), "reset password 1"), codes.FailedPrecondition)
	wantCode(t, reset(f.GetIncarnation(), f.GetPasswordStamp()+"x", "reset password 1"), codes.FailedPrecondition)
	wantField(t, reset(f.GetIncarnation(), f.GetPasswordStamp(), "short"), "newPassword")
	if err := reset(f.GetIncarnation(), f.GetPasswordStamp(), "reset password 1"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, reset(f.GetIncarnation(), f.GetPasswordStamp(), "reset password 2"), codes.FailedPrecondition)
	u, _ := e.store.GetUser(ctx, "acme", "alice")
	if !u.VerifyPassword("reset password 1") {
		t.Fatal("the reset password does not verify")
	}
	f2, _ := e.factors.GetFactors(ctx, &registryv1.GetFactorsRequest{TenantId: "acme", UserId: "alice"})
	if _, err := e.store.UpdateUser(ctx, "acme", "alice", func(u registry.User) (registry.User, error) {
		u.Disabled = true
		return u, nil
	}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, reset(f2.GetIncarnation(), f2.GetPasswordStamp(), "reset password 3"), codes.PermissionDenied)
}

// TestMarkEmailVerified: the flag is set only while the address is the one the link was sent to (ignoring
// case).
func TestMarkEmailVerified(t *testing.T) {
	e := newFactorEnv(t, nil, "")
	ctx := context.Background()
	if _, err := e.store.UpdateUser(ctx, "acme", "bob", func(u registry.User) (registry.User, error) {
		u.Email = "bob@example.com"
		return u, nil
	}); err != nil {
		t.Fatal(err)
	}
	mark := func(email string) (*registryv1.MarkEmailVerifiedResponse, error) {
		return e.factors.MarkEmailVerified(ctx, &registryv1.MarkEmailVerifiedRequest{TenantId: "acme", UserId: "bob", Email: email})
	}
	_, err := mark("old@example.com")
	wantCode(t, err, codes.FailedPrecondition)
	_, err = mark("")
	wantCode(t, err, codes.FailedPrecondition)
	r, err := mark("BOB@example.com")
	if err != nil || !r.GetUser().GetEmailVerified() {
		t.Fatalf("MarkEmailVerified = %v, %v", r, err)
	}
}

// TestRegisterUser: self-registration is refused unless the tenant allows it; a registered user has an
// unverified address, no role, and the password given; taken names and addresses and bad input are refused.
func TestRegisterUser(t *testing.T) {
	e := newFactorEnv(t, nil, "")
	ctx := context.Background()
	reg := func(login, email, pw string) (*registryv1.RegisterUserResponse, error) {
		return e.factors.RegisterUser(ctx, &registryv1.RegisterUserRequest{TenantId: "acme", LoginName: login, Email: email,
			DisplayName: "Carol", Password: pw})
	}
	_, err := reg("carol", "carol@example.com", "carol's password")
	wantCode(t, err, codes.FailedPrecondition)
	if _, err := e.store.UpdateTenant(ctx, "acme", func(tn registry.Tenant) (registry.Tenant, error) {
		tn.SelfRegistration = true
		return tn, nil
	}); err != nil {
		t.Fatal(err)
	}
	r, err := reg("carol", "carol@example.com", "carol's password")
	if err != nil {
		t.Fatal(err)
	}
	u := r.GetUser()
	if u.GetLoginName() != "carol" || u.GetEmailVerified() || len(u.GetRoles()) != 0 || r.GetIncarnation() == "" {
		t.Fatalf("registered %v", r)
	}
	stored, _ := e.store.GetUser(ctx, "acme", u.GetUserId())
	if !stored.VerifyPassword("carol's password") {
		t.Fatal("password not stored")
	}
	_, err = reg("Carol", "other@example.com", "carol's password")
	wantCode(t, err, codes.AlreadyExists)
	_, err = reg("carol2", "CAROL@example.com", "carol's password")
	wantCode(t, err, codes.AlreadyExists)
	_, err = reg("carol3", "", "carol's password")
	wantField(t, err, "email")
	_, err = reg("carol3", "carol3@example.com", "short")
	wantField(t, err, "password")
	_, err = reg("a:b", "carol3@example.com", "carol's password")
	wantField(t, err, "loginName")
	_, err = e.factors.RegisterUser(ctx, &registryv1.RegisterUserRequest{TenantId: "ghost", LoginName: "x", Email: "x@example.com", Password: "long enough"})
	wantCode(t, err, codes.NotFound)
}
