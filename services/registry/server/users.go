package server

import (
	"context"
	"errors"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/services/registry"
)

// userService implements UserService for the tenant named in each request's path.
type userService struct {
	registryv1.UnimplementedUserServiceServer
	s *Server
}

func (us *userService) CreateUser(ctx context.Context, req *registryv1.CreateUserRequest) (resp *registryv1.CreateUserResponse, err error) {
	err = us.s.adminWrite(ctx, req.GetTenantId(), false, func(principal) error {
		if req.GetUser() == nil {
			return apierror.Invalid("user", "is required")
		}
		u, password := userFromProto(req.GetUser())
		if u.ID == "" {
			u.ID = registry.NewID()
		}
		if err := registry.ValidateUser(u); err != nil {
			return err
		}
		if password != nil {
			if err := registry.ValidatePassword(*password); err != nil {
				return err
			}
		}
		// Fail fast on an unknown tenant before spending time on hashing.
		if _, err := us.s.store.GetTenant(ctx, req.GetTenantId()); err != nil {
			return err
		}
		if password != nil {
			h, err := registry.HashPasswordContext(ctx, *password)
			if err != nil {
				return err
			}
			u.PasswordHash = h
		}
		u.TenantID = req.GetTenantId()
		now := us.s.now().UTC()
		u.CreateTime, u.UpdateTime = now, now
		if u.Disabled {
			u.DisableTime = now
		}
		u, err := us.s.store.CreateUser(ctx, u)
		if err != nil {
			return err
		}
		resp = &registryv1.CreateUserResponse{User: userToProto(u)}
		return nil
	})
	return resp, err
}

func (us *userService) ListUsers(ctx context.Context, req *registryv1.ListUsersRequest) (resp *registryv1.ListUsersResponse, err error) {
	err = us.s.admin(ctx, req.GetTenantId(), false, func(principal) error {
		opts, err := registry.ListPageOptions(req.GetPageSize(), req.GetPageToken(), req.GetFilter())
		if err != nil {
			return err
		}
		if _, err := us.s.store.GetTenant(ctx, req.GetTenantId()); err != nil {
			return err
		}
		items, next, err := us.s.store.ListUsers(ctx, req.GetTenantId(), opts)
		if err != nil {
			return err
		}
		resp = &registryv1.ListUsersResponse{Items: []*registryv1.User{}, NextPageToken: registry.EncodeListPageToken(next, opts.Filter)}
		for _, u := range items {
			resp.Items = append(resp.Items, userToProto(u))
		}
		return nil
	})
	return resp, err
}

func (us *userService) GetUser(ctx context.Context, req *registryv1.GetUserRequest) (resp *registryv1.GetUserResponse, err error) {
	err = us.s.admin(ctx, req.GetTenantId(), false, func(principal) error {
		u, err := us.s.store.GetUser(ctx, req.GetTenantId(), req.GetUserId())
		if err != nil {
			return err
		}
		resp = &registryv1.GetUserResponse{User: userToProto(u)}
		return nil
	})
	return resp, err
}

func (us *userService) UpdateUser(ctx context.Context, req *registryv1.UpdateUserRequest) (resp *registryv1.UpdateUserResponse, err error) {
	err = us.s.adminWrite(ctx, req.GetTenantId(), false, func(principal) error {
		if req.GetUser() == nil {
			return apierror.Invalid("user", "is required")
		}
		in, password := userFromProto(req.GetUser())
		if in.ID != "" && in.ID != req.GetUserId() {
			return apierror.Invalid("userId", "the body's userId must match the path")
		}
		in.ID = req.GetUserId()
		if err := registry.ValidateUser(in); err != nil {
			if fe := (*apierror.FieldError)(nil); errors.As(err, &fe) && fe.Field == "userId" {
				return apierror.NotFound("user %q in tenant %q", clipID(in.ID), clipID(req.GetTenantId()))
			}
			return err
		}
		hash := ""
		if password != nil {
			if err := registry.ValidatePassword(*password); err != nil {
				return err
			}
			if _, err := us.s.store.GetUser(ctx, req.GetTenantId(), in.ID); err != nil {
				return err // fail fast before hashing
			}
			h, err := registry.HashPasswordContext(ctx, *password)
			if err != nil {
				return err
			}
			hash = h
		}
		now := us.s.now().UTC()
		u, err := us.s.store.UpdateUser(ctx, req.GetTenantId(), in.ID, func(old registry.User) (registry.User, error) {
			in.TenantID, in.CreateTime, in.UpdateTime, in.PasswordHash = old.TenantID, old.CreateTime, now, old.PasswordHash
			if password != nil {
				in.PasswordHash = hash
			}
			in.KeepVerification(old, verificationFromProto(req.GetUser()))
			in.Factors = old.Factors // FactorInternalService's and ResetUserFactors'
			// Disabling ends everything issued to the account so far, also once it is enabled again.
			in.DisableTime = old.DisableTime
			if in.Disabled && !old.Disabled {
				in.DisableTime = now
			}
			return in, nil
		})
		if err != nil {
			return err
		}
		resp = &registryv1.UpdateUserResponse{User: userToProto(u)}
		return nil
	})
	return resp, err
}

func (us *userService) DeleteUser(ctx context.Context, req *registryv1.DeleteUserRequest) (resp *registryv1.DeleteUserResponse, err error) {
	err = us.s.adminWrite(ctx, req.GetTenantId(), false, func(principal) error {
		if err := us.s.store.DeleteUser(ctx, req.GetTenantId(), req.GetUserId()); err != nil {
			return err
		}
		resp = &registryv1.DeleteUserResponse{}
		return nil
	})
	return resp, err
}

// ResetUserFactors removes the user's TOTP key, recovery codes and passkeys, and their federated identities
// when asked; authorized like UpdateUser and audited (user_factors_reset).
func (us *userService) ResetUserFactors(ctx context.Context, req *registryv1.ResetUserFactorsRequest) (resp *registryv1.ResetUserFactorsResponse, err error) {
	err = us.s.adminWrite(ctx, req.GetTenantId(), false, func(principal) error {
		now := us.s.now().UTC()
		u, err := us.s.store.UpdateUser(ctx, req.GetTenantId(), req.GetUserId(), func(u registry.User) (registry.User, error) {
			u.TOTP, u.RecoveryCodes, u.Passkeys = registry.TOTP{}, nil, nil
			if req.GetFederatedIdentities() {
				u.FederatedIdentities = nil
			}
			u.UpdateTime = now
			return u, nil
		})
		if err != nil {
			return err
		}
		resp = &registryv1.ResetUserFactorsResponse{User: userToProto(u)}
		return nil
	})
	return resp, err
}
