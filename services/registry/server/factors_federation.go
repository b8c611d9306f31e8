package server

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	"github.com/authsuite/authsuite/internal/access"
	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/services/registry"
)

// maxLoginSuffix bounds the login names tried for a user created by federation (name, name-2, ...).
const maxLoginSuffix = 20

func selector(kind, value string) access.Selector {
	switch kind {
	case "email":
		return access.Selector{Kind: access.ByEmail, Value: value}
	}
	return access.Selector{Kind: access.ByLoginName, Value: value}
}

// LinkFederatedIdentity finds or makes the user an upstream identity belongs to (see the proto). Every
// outcome is decided by one atomic store write or read, and the (provider, subject) index is unique, so of
// concurrent first sign-ins one links or creates and the others find that link (they start over when the
// store answers ALREADY_EXISTS).
func (f *factorService) LinkFederatedIdentity(ctx context.Context, req *registryv1.LinkFederatedIdentityRequest) (*registryv1.LinkFederatedIdentityResponse, error) {
	fi := registry.FederatedIdentity{ProviderID: req.GetProviderId(), Subject: req.GetSubject()}
	if err := registry.ValidateFederatedIdentity(fi); err != nil {
		return nil, err
	}
	if registry.ValidateTenantID(req.GetTenantId()) != nil {
		return nil, apierror.NotFound("tenant %q", clipID(req.GetTenantId()))
	}
	email := req.GetEmail()
	if email != "" && registry.ValidateUser(registry.User{ID: "x", LoginName: "x", Email: email}) != nil {
		email = "" // not an address the directory can keep: ignored
	}
	fi.Email = email
	for range 3 {
		resp, err := f.linkOnce(ctx, req, fi)
		if errors.Is(err, apierror.ErrAlreadyExists) {
			continue // a concurrent sign-in linked or created first: find its result
		}
		if err != nil {
			return nil, err
		}
		f.s.answerRevision(ctx)
		return resp, nil
	}
	return nil, apierror.AlreadyExists("the identity was linked concurrently; try again")
}

func (f *factorService) linkOnce(ctx context.Context, req *registryv1.LinkFederatedIdentityRequest, fi registry.FederatedIdentity) (*registryv1.LinkFederatedIdentityResponse, error) {
	tid := req.GetTenantId()
	t, err := f.s.store.GetTenant(ctx, tid)
	if err != nil {
		return nil, err
	}
	p, ok := t.IdentityProvider(fi.ProviderID)
	if !ok || p.Disabled {
		return nil, apierror.FailedPrecondition("provider %q is not an enabled identity provider of the tenant", fi.ProviderID)
	}
	answer := func(u registry.User, created, linked bool) (*registryv1.LinkFederatedIdentityResponse, error) {
		if u.Disabled {
			return nil, apierror.PermissionDenied("the user is disabled")
		}
		return &registryv1.LinkFederatedIdentityResponse{User: userToProto(u), Incarnation: u.Incarnation, Created: created, Linked: linked}, nil
	}

	// 1. Linked already.
	u, err := f.s.store.FindUserByFederatedIdentity(ctx, tid, fi.ProviderID, fi.Subject)
	if err == nil {
		return answer(u, false, false)
	}
	if !errors.Is(err, apierror.ErrNotFound) {
		return nil, err
	}

	// 2. The user with the same address, when both sides verified it (an unverified address proves nothing
	// of who holds it, and linking on it would hand the account to whoever typed it).
	if p.LinkByEmail && req.GetEmailVerified() && fi.Email != "" {
		u, err := f.s.store.FindUser(ctx, tid, selector("email", fi.Email))
		switch {
		case err == nil && u.EmailVerified && strings.EqualFold(u.Email, fi.Email):
			if u.Disabled {
				return nil, apierror.PermissionDenied("the user is disabled")
			}
			linked, err := f.updateActive(ctx, u, func(x *registry.User) error {
				if !x.EmailVerified || !strings.EqualFold(x.Email, fi.Email) {
					return apierror.AlreadyExists("the user's address changed; look again")
				}
				for _, have := range x.FederatedIdentities {
					if have.ProviderID == fi.ProviderID {
						return apierror.FailedPrecondition("the user with this e-mail address is linked to another account at provider %q", fi.ProviderID)
					}
				}
				x.FederatedIdentities = append(x.FederatedIdentities, fi)
				return nil
			})
			if err != nil {
				return nil, err
			}
			return answer(linked, false, true)
		case err != nil && !errors.Is(err, apierror.ErrNotFound):
			return nil, err
		}
	}

	// 3. A new user, when the provider creates users.
	if !p.CreateUsers {
		return nil, apierror.NotFound("no user is linked to this identity")
	}
	return f.createFederated(ctx, t, req, fi, answer)
}

// createFederated creates a user for fi: the login name asked for (or one made from the provider and
// subject) made unique by a suffix, the address only when nobody has it (and verified only when the
// provider said so), the display name when valid.
func (f *factorService) createFederated(ctx context.Context, t registry.Tenant, req *registryv1.LinkFederatedIdentityRequest, fi registry.FederatedIdentity,
	answer func(registry.User, bool, bool) (*registryv1.LinkFederatedIdentityResponse, error)) (*registryv1.LinkFederatedIdentityResponse, error) {
	now := f.s.now().UTC()
	u := registry.User{ID: registry.NewID(), TenantID: t.ID, CreateTime: now, UpdateTime: now}
	u.FederatedIdentities = []registry.FederatedIdentity{fi}
	if fi.Email != "" {
		if _, err := f.s.store.FindUser(ctx, t.ID, selector("email", fi.Email)); errors.Is(err, apierror.ErrNotFound) {
			u.Email, u.EmailVerified = fi.Email, req.GetEmailVerified()
		}
	}
	if dn := req.GetDisplayName(); registry.ValidateUser(registry.User{ID: "x", LoginName: "x", DisplayName: dn}) == nil {
		u.DisplayName = dn
	}
	base := loginBase(req.GetLoginName(), fi)
	for n := 1; n <= maxLoginSuffix; n++ {
		u.LoginName = base
		if n > 1 {
			u.LoginName = fmt.Sprintf("%s-%d", base, n)
		}
		if _, err := f.s.store.FindUser(ctx, t.ID, selector("login", u.LoginName)); err == nil {
			continue
		}
		created, err := f.s.store.CreateUser(ctx, u)
		if err != nil {
			// ALREADY_EXISTS: the name, the address or the link was taken meanwhile; the caller looks again.
			return nil, err
		}
		return answer(created, true, true)
	}
	return nil, apierror.AlreadyExists("no free login name like %q", apierror.Clip(base, 40))
}

// loginBase is the login name to start from: the one asked for when the directory accepts it, else
// "<provider>-<subject>" cleaned of characters a login name cannot have.
func loginBase(asked string, fi registry.FederatedIdentity) string {
	asked = strings.TrimSpace(asked)
	if len(asked) <= 190 && registry.ValidateUser(registry.User{ID: "x", LoginName: asked}) == nil {
		return asked
	}
	clean := strings.Map(func(r rune) rune {
		if r == ':' || unicode.IsControl(r) || unicode.IsSpace(r) {
			return '-'
		}
		return r
	}, fi.Subject)
	name := fi.ProviderID + "-" + clean
	if len(name) > 190 {
		name = name[:190]
		for !strings.HasSuffix(name, "-") && len(name) > 0 && !validUTF8Tail(name) {
			name = name[:len(name)-1]
		}
	}
	return strings.TrimSpace(name)
}

func validUTF8Tail(s string) bool {
	return registry.ValidateUser(registry.User{ID: "x", LoginName: s}) == nil
}
