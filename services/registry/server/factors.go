package server

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/services/registry"
)

// factorService implements FactorInternalService: users' second factors, self-service changes and
// federated identities, for the token service. The internal credential is checked by the gRPC server's
// interceptor (the *InternalService suffix) before any method runs; the audit interceptor records the
// security events (internal/audit actions). Every change of a user is one store.UpdateUser whose function
// re-checks its preconditions on the stored value, so concurrent calls cannot both use one code, step or
// link.
type factorService struct {
	registryv1.UnimplementedFactorInternalServiceServer
	s *Server
}

// passwordStampPurpose is the suitekey.Digest purpose of password stamps.
const passwordStampPurpose = "password-stamp"

// passwordStamp is an opaque value that changes whenever the user's password hash changes (every hash has
// its own salt) and is stable while it stays, also for a user without a password: a keyed digest of the
// account (incarnation included) and the hash, so it reveals nothing of the hash.
func (s *Server) passwordStamp(u registry.User) string {
	keyID, sum := s.keyring.Digest(passwordStampPurpose, []byte(u.TenantID+"\x00"+u.ID+"\x00"+u.Incarnation+"\x00"+u.PasswordHash))
	return keyID + "." + base64.RawURLEncoding.EncodeToString(sum)
}

// sameStamp compares two stamps in constant time.
func sameStamp(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// checkUserRef checks the tenant and user ids of a request (NOT_FOUND for ids no record can have).
func checkUserRef(tenantID, userID string) error {
	if registry.ValidateTenantID(tenantID) != nil || registry.ValidateUserID(userID) != nil {
		return apierror.NotFound("user %q in tenant %q", clipID(userID), clipID(tenantID))
	}
	return nil
}

// activeUser reads a user who may act: NOT_FOUND when there is none, PERMISSION_DENIED when disabled.
func (f *factorService) activeUser(ctx context.Context, tenantID, userID string) (registry.User, error) {
	if err := checkUserRef(tenantID, userID); err != nil {
		return registry.User{}, err
	}
	u, err := f.s.store.GetUser(ctx, tenantID, userID)
	if err != nil {
		return u, err
	}
	if u.Disabled {
		return u, apierror.PermissionDenied("the user is disabled")
	}
	return u, nil
}

// updateActive runs fn on the stored user atomically (store.UpdateUser), refusing a disabled user and an
// account created again since expect was read (another incarnation), and stamping UpdateTime.
func (f *factorService) updateActive(ctx context.Context, expect registry.User, fn func(*registry.User) error) (registry.User, error) {
	now := f.s.now().UTC()
	return f.s.store.UpdateUser(ctx, expect.TenantID, expect.ID, func(u registry.User) (registry.User, error) {
		if u.Incarnation != expect.Incarnation {
			return u, apierror.FailedPrecondition("the account changed; start again")
		}
		if u.Disabled {
			return u, apierror.PermissionDenied("the user is disabled")
		}
		if err := fn(&u); err != nil {
			return u, err
		}
		u.UpdateTime = now
		return u, nil
	})
}

// GetSignInSettings answers a tenant's settings with the SMTP password and the enabled providers' client
// secrets opened; disabled providers are left out.
func (f *factorService) GetSignInSettings(ctx context.Context, req *registryv1.GetSignInSettingsRequest) (*registryv1.GetSignInSettingsResponse, error) {
	if registry.ValidateTenantID(req.GetTenantId()) != nil {
		return nil, apierror.NotFound("tenant %q", clipID(req.GetTenantId()))
	}
	t, err := f.s.store.GetTenant(ctx, req.GetTenantId())
	if err != nil {
		return nil, err
	}
	pb := &registryv1.Tenant{}
	signInToProto(pb, t.SignInSettings)
	out := &registryv1.SignInSettings{
		TenantId: t.ID, TenantName: t.Name, TenantCode: t.Code, Branding: pb.Branding,
		DefaultLocale: pb.DefaultLocale, MfaPolicy: pb.MfaPolicy, SelfRegistration: t.SelfRegistration, Smtp: pb.Smtp,
		UpstreamProviders: []*registryv1.UpstreamProvider{},
	}
	if sealed := t.SMTP.SealedPassword; len(sealed) > 0 {
		pw, err := f.s.keyring.Open(sealed, registry.SMTPPasswordAD(t.ID))
		if err != nil {
			f.s.log.Error("cannot open a tenant's SMTP password", "tenant", t.ID, "err", err)
			return nil, errors.New("cannot open the tenant's SMTP password")
		}
		out.Smtp.Password = new(string(pw))
	}
	for _, p := range t.IdentityProviders {
		if p.Disabled {
			continue
		}
		up := f.s.providerToProto(t.ID, p)
		if len(p.SealedClientSecret) > 0 {
			secret, err := f.s.keyring.Open(p.SealedClientSecret, registry.IdentityProviderSecretAD(t.ID, p.ID))
			if err != nil {
				f.s.log.Error("cannot open an upstream provider's client secret", "tenant", t.ID, "provider", p.ID, "err", err)
				return nil, fmt.Errorf("cannot open the client secret of provider %q", p.ID)
			}
			up.ClientSecret = new(string(secret))
		}
		out.UpstreamProviders = append(out.UpstreamProviders, up)
	}
	return &registryv1.GetSignInSettingsResponse{Settings: out}, nil
}

// GetFactors describes a user's factors, disabled users included (the caller decides).
func (f *factorService) GetFactors(ctx context.Context, req *registryv1.GetFactorsRequest) (*registryv1.GetFactorsResponse, error) {
	if err := checkUserRef(req.GetTenantId(), req.GetUserId()); err != nil {
		return nil, err
	}
	u, err := f.s.store.GetUser(ctx, req.GetTenantId(), req.GetUserId())
	if err != nil {
		return nil, err
	}
	resp := &registryv1.GetFactorsResponse{
		User: userToProto(u), Incarnation: u.Incarnation, TotpEnrolled: u.TOTP.Enrolled(),
		RecoveryCodesLeft: int32(len(u.RecoveryCodes)), Passkeys: []*registryv1.Passkey{},
		FederatedIdentities: federatedToProto(u.FederatedIdentities), PasswordStamp: f.s.passwordStamp(u),
	}
	for _, p := range u.Passkeys {
		resp.Passkeys = append(resp.Passkeys, passkeyToProto(p))
	}
	return resp, nil
}

// MarkEmailVerified sets email_verified when the user's address is still the one the link was sent to.
func (f *factorService) MarkEmailVerified(ctx context.Context, req *registryv1.MarkEmailVerifiedRequest) (*registryv1.MarkEmailVerifiedResponse, error) {
	u, err := f.activeUser(ctx, req.GetTenantId(), req.GetUserId())
	if err != nil {
		return nil, err
	}
	email := req.GetEmail()
	u, err = f.updateActive(ctx, u, func(u *registry.User) error {
		if email == "" || u.Email == "" || !strings.EqualFold(u.Email, email) {
			return apierror.FailedPrecondition("the user's e-mail address is no longer the one the link was sent to")
		}
		u.EmailVerified = true
		return nil
	})
	if err != nil {
		return nil, err
	}
	f.s.answerRevision(ctx)
	return &registryv1.MarkEmailVerifiedResponse{User: userToProto(u)}, nil
}

func federatedToProto(fis []registry.FederatedIdentity) []*registryv1.FederatedIdentity {
	out := make([]*registryv1.FederatedIdentity, 0, len(fis))
	for _, fi := range fis {
		out = append(out, &registryv1.FederatedIdentity{ProviderId: fi.ProviderID, Subject: fi.Subject, Email: fi.Email})
	}
	return out
}
