package server

import (
	"context"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/services/registry"
)

// Passkey bounds (W3C Web Authentication Level 2 §5.1: a credential id is at most 1023 bytes).
const (
	maxCredentialID   = 1023
	maxPublicKey      = 2048
	maxPasskeyName    = 64
	maxTransports     = 10
	maxAttestationLen = 64
)

// validatePasskey checks a registration as the token service verified it; errors name passkey.<field>.
func validatePasskey(p *registryv1.Passkey) error {
	switch {
	case p == nil:
		return apierror.Invalid("passkey", "is required")
	case len(p.GetCredentialId()) == 0 || len(p.GetCredentialId()) > maxCredentialID:
		return apierror.Invalid("passkey.credentialId", "must be 1 to %d bytes", maxCredentialID)
	case len(p.GetPublicKey()) == 0 || len(p.GetPublicKey()) > maxPublicKey:
		return apierror.Invalid("passkey.publicKey", "must be 1 to %d bytes", maxPublicKey)
	case len(p.GetAaguid()) != 0 && len(p.GetAaguid()) != 16:
		return apierror.Invalid("passkey.aaguid", "must be 16 bytes")
	case len(p.GetAttestationType()) > maxAttestationLen || strings.ContainsFunc(p.GetAttestationType(), unicode.IsControl):
		return apierror.Invalid("passkey.attestationType", "must be at most %d characters", maxAttestationLen)
	case len(p.GetTransports()) > maxTransports:
		return apierror.Invalid("passkey.transports", "at most %d", maxTransports)
	}
	for _, t := range p.GetTransports() {
		if t == "" || len(t) > 32 || strings.ContainsFunc(t, func(r rune) bool { return r < 0x21 || r > 0x7e }) {
			return apierror.Invalid("passkey.transports", "not a transport name")
		}
	}
	return validatePasskeyName(p.GetName())
}

// validatePasskeyName checks a passkey's name: 1 to 64 characters without control characters.
func validatePasskeyName(name string) error {
	n := utf8.RuneCountInString(name)
	if n < 1 || n > maxPasskeyName || !utf8.ValidString(name) || strings.ContainsFunc(name, unicode.IsControl) ||
		strings.TrimSpace(name) == "" {
		return apierror.Invalid("passkey.name", "must be 1 to %d characters without control characters", maxPasskeyName)
	}
	return nil
}

func passkeyFromProto(p *registryv1.Passkey, now time.Time) registry.Passkey {
	return registry.Passkey{
		CredentialID: slices.Clone(p.GetCredentialId()), PublicKey: slices.Clone(p.GetPublicKey()),
		AttestationType: p.GetAttestationType(), AAGUID: slices.Clone(p.GetAaguid()), SignCount: p.GetSignCount(),
		Transports: slices.Clone(p.GetTransports()), BackupEligible: p.GetBackupEligible(),
		BackupState: p.GetBackupState(), UserVerified: p.GetUserVerified(), Name: p.GetName(), CreateTime: now,
	}
}

func passkeyToProto(p registry.Passkey) *registryv1.Passkey {
	out := &registryv1.Passkey{
		CredentialId: slices.Clone(p.CredentialID), PublicKey: slices.Clone(p.PublicKey),
		AttestationType: p.AttestationType, Aaguid: slices.Clone(p.AAGUID), SignCount: p.SignCount,
		Transports: nonNil(p.Transports), BackupEligible: p.BackupEligible, BackupState: p.BackupState,
		UserVerified: p.UserVerified, Name: p.Name, CreateTimeUnix: p.CreateTime.Unix(),
	}
	if !p.LastUsedTime.IsZero() {
		out.LastUsedTimeUnix = p.LastUsedTime.Unix()
	}
	return out
}

// AddPasskey stores a verified registration: at most registry.MaxPasskeys a user, credential ids unique per
// user.
func (f *factorService) AddPasskey(ctx context.Context, req *registryv1.AddPasskeyRequest) (*registryv1.AddPasskeyResponse, error) {
	if err := validatePasskey(req.GetPasskey()); err != nil {
		return nil, err
	}
	u, err := f.activeUser(ctx, req.GetTenantId(), req.GetUserId())
	if err != nil {
		return nil, err
	}
	pk := passkeyFromProto(req.GetPasskey(), f.s.now().UTC().Truncate(time.Second))
	if _, err := f.updateActive(ctx, u, func(u *registry.User) error {
		if u.Passkey(pk.CredentialID) >= 0 {
			return apierror.AlreadyExists("the passkey is registered already")
		}
		if len(u.Passkeys) >= registry.MaxPasskeys {
			return apierror.FailedPrecondition("at most %d passkeys per user", registry.MaxPasskeys)
		}
		u.Passkeys = append(u.Passkeys, pk)
		return nil
	}); err != nil {
		return nil, err
	}
	f.s.answerRevision(ctx)
	return &registryv1.AddPasskeyResponse{Passkey: passkeyToProto(pk)}, nil
}

// RecordPasskeyUse stores an assertion's sign count, backup state and time. A signature counter that did
// not grow while either value is non-zero is refused (W3C WebAuthn §6.1.1: a sign of a cloned
// authenticator), as is a use of a passkey the user no longer has.
func (f *factorService) RecordPasskeyUse(ctx context.Context, req *registryv1.RecordPasskeyUseRequest) (*registryv1.RecordPasskeyUseResponse, error) {
	u, err := f.activeUser(ctx, req.GetTenantId(), req.GetUserId())
	if err != nil {
		return nil, err
	}
	now := f.s.now().UTC().Truncate(time.Second)
	if _, err := f.updateActive(ctx, u, func(u *registry.User) error {
		i := u.Passkey(req.GetCredentialId())
		if i < 0 {
			return apierror.NotFound("the user has no such passkey")
		}
		p := &u.Passkeys[i]
		if (req.GetSignCount() != 0 || p.SignCount != 0) && req.GetSignCount() <= p.SignCount {
			return apierror.FailedPrecondition("the passkey's signature counter did not increase: the authenticator may be cloned")
		}
		p.SignCount, p.BackupState, p.LastUsedTime = req.GetSignCount(), req.GetBackupState(), now
		return nil
	}); err != nil {
		return nil, err
	}
	return &registryv1.RecordPasskeyUseResponse{}, nil
}

// DeletePasskey removes a passkey.
func (f *factorService) DeletePasskey(ctx context.Context, req *registryv1.DeletePasskeyRequest) (*registryv1.DeletePasskeyResponse, error) {
	u, err := f.activeUser(ctx, req.GetTenantId(), req.GetUserId())
	if err != nil {
		return nil, err
	}
	if _, err := f.updateActive(ctx, u, func(u *registry.User) error {
		i := u.Passkey(req.GetCredentialId())
		if i < 0 {
			return apierror.NotFound("the user has no such passkey")
		}
		u.Passkeys = slices.Delete(u.Passkeys, i, i+1)
		return nil
	}); err != nil {
		return nil, err
	}
	f.s.answerRevision(ctx)
	return &registryv1.DeletePasskeyResponse{}, nil
}

// newPasswordError renames a password rule's error to the request's field newPassword.
func newPasswordError(err error) error {
	if err == nil {
		return nil
	}
	return apierror.Invalid("newPassword", "must be %d to %d bytes of UTF-8", registry.MinPasswordLen, registry.MaxPasswordLen)
}

// ChangePassword checks the current password (UNAUTHENTICATED when wrong, also for a user without one) and
// the rules, and stores the new one if the password did not change in between.
func (f *factorService) ChangePassword(ctx context.Context, req *registryv1.ChangePasswordRequest) (*registryv1.ChangePasswordResponse, error) {
	// The current password is checked before the new one's rules: a refusal for the rules then says the
	// current one was right, and a guess of it is always answered as one (the caller throttles guesses).
	u, err := f.activeUser(ctx, req.GetTenantId(), req.GetUserId())
	if err != nil {
		return nil, err
	}
	if len(req.GetCurrentPassword()) > registry.MaxPasswordLen {
		return nil, apierror.Unauthenticated("wrong password")
	}
	ok, err := registry.VerifyPasswordContext(ctx, u.PasswordHash, req.GetCurrentPassword())
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, apierror.Unauthenticated("wrong password")
	}
	if err := newPasswordError(registry.ValidatePassword(req.GetNewPassword())); err != nil {
		return nil, err
	}
	hash, err := registry.HashPasswordContext(ctx, req.GetNewPassword())
	if err != nil {
		return nil, err
	}
	if _, err := f.updateActive(ctx, u, func(x *registry.User) error {
		if x.PasswordHash != u.PasswordHash {
			return apierror.FailedPrecondition("the password changed meanwhile; start again")
		}
		x.PasswordHash = hash
		return nil
	}); err != nil {
		return nil, err
	}
	f.s.answerRevision(ctx)
	return &registryv1.ChangePasswordResponse{}, nil
}

// ResetPassword sets a password from a verified reset link: the account's incarnation and password stamp
// must still be the link's, checked again in the atomic update, so a link works once (the new password
// changes the stamp) and never after another change.
func (f *factorService) ResetPassword(ctx context.Context, req *registryv1.ResetPasswordRequest) (*registryv1.ResetPasswordResponse, error) {
	if err := newPasswordError(registry.ValidatePassword(req.GetNewPassword())); err != nil {
		return nil, err
	}
	u, err := f.activeUser(ctx, req.GetTenantId(), req.GetUserId())
	if err != nil {
		return nil, err
	}
	stale := apierror.FailedPrecondition("the link is no longer valid: the account or its password changed")
	if !sameStamp(u.Incarnation, req.GetIncarnation()) || !sameStamp(f.s.passwordStamp(u), req.GetPasswordStamp()) {
		return nil, stale
	}
	hash, err := registry.HashPasswordContext(ctx, req.GetNewPassword())
	if err != nil {
		return nil, err
	}
	if _, err := f.updateActive(ctx, u, func(x *registry.User) error {
		if !sameStamp(f.s.passwordStamp(*x), req.GetPasswordStamp()) {
			return stale
		}
		x.PasswordHash = hash
		return nil
	}); err != nil {
		return nil, err
	}
	f.s.answerRevision(ctx)
	return &registryv1.ResetPasswordResponse{}, nil
}

// RegisterUser creates a self-registered user when the tenant allows it: the login name, e-mail address
// (required) and display name follow CreateUser's rules, the password the password rules; the address is
// unverified and the user holds no role.
func (f *factorService) RegisterUser(ctx context.Context, req *registryv1.RegisterUserRequest) (*registryv1.RegisterUserResponse, error) {
	if registry.ValidateTenantID(req.GetTenantId()) != nil {
		return nil, apierror.NotFound("tenant %q", clipID(req.GetTenantId()))
	}
	t, err := f.s.store.GetTenant(ctx, req.GetTenantId())
	if err != nil {
		return nil, err
	}
	if !t.SelfRegistration {
		return nil, apierror.FailedPrecondition("the tenant does not allow self-registration")
	}
	if req.GetEmail() == "" {
		return nil, apierror.Invalid("email", "is required")
	}
	now := f.s.now().UTC()
	u := registry.User{
		ID: registry.NewID(), TenantID: t.ID, LoginName: req.GetLoginName(), Email: req.GetEmail(),
		DisplayName: req.GetDisplayName(), CreateTime: now, UpdateTime: now,
	}
	if err := registry.ValidateUser(u); err != nil {
		return nil, err
	}
	if err := registry.ValidatePassword(req.GetPassword()); err != nil {
		return nil, err
	}
	// Refuse a taken name or address before spending time on hashing (CreateUser checks again atomically).
	for _, sel := range []struct{ kind, value, field string }{{"login", u.LoginName, "loginName"}, {"email", u.Email, "email"}} {
		if _, err := f.s.store.FindUser(ctx, t.ID, selector(sel.kind, sel.value)); err == nil {
			return nil, apierror.AlreadyExists("%s: taken", sel.field)
		}
	}
	if u.PasswordHash, err = registry.HashPasswordContext(ctx, req.GetPassword()); err != nil {
		return nil, err
	}
	u, err = f.s.store.CreateUser(ctx, u)
	if err != nil {
		return nil, err
	}
	f.s.answerRevision(ctx)
	return &registryv1.RegisterUserResponse{User: userToProto(u), Incarnation: u.Incarnation}, nil
}
