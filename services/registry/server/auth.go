package server

import (
	"context"
	"errors"

	"google.golang.org/grpc/metadata"

	"github.com/authsuite/authsuite/internal/access"
	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/internal/bearer"
	"github.com/authsuite/authsuite/services/registry"
)

// principal is who an admin call is authorized as: a client (UserID empty) or a user, of TenantID. Under
// sudo it is the impersonated user and ClientID is the acting client.
type principal struct {
	TenantID string
	UserID   string
	ClientID string
	Sudo     bool
}

func (p principal) String() string {
	switch {
	case p.UserID != "":
		return "user:" + p.TenantID + "/" + p.UserID
	case p.ClientID != "":
		return "client:" + p.ClientID
	}
	return "anonymous"
}

// mayActIn enforces tenant scoping (SPEC §4): principals of the system tenant act in any tenant, others only
// in their own; systemOnly calls (TenantService) need a system-tenant principal.
func (p principal) mayActIn(tenantID string, systemOnly bool) error {
	if p.TenantID == access.SystemTenant {
		return nil
	}
	if systemOnly {
		return apierror.PermissionDenied("only administrators of the system tenant may manage tenants")
	}
	if p.TenantID != tenantID {
		return apierror.PermissionDenied("a principal of tenant %q cannot act in tenant %q", p.TenantID, tenantID)
	}
	return nil
}

func firstMD(md metadata.MD, key string) string {
	if v := md.Get(key); len(v) > 0 {
		return v[0]
	}
	return ""
}

// authenticate resolves the principal of an admin call (SPEC §3 and §4):
//   - no or malformed bearer token → UNAUTHENTICATED; a token without scope adminapi → PERMISSION_DENIED;
//   - a user token: the user must exist (else UNAUTHENTICATED), be enabled and hold role tenant_admin;
//   - with sudo metadata: the token must carry scope sudo; the target tenant (authsuite-sudo-tenant-id,
//     authsuite-sudo-tenant-code, else the token's) must pass access.CheckSudoTenant; the selected user
//     must exist (else NOT_FOUND), be enabled and hold tenant_admin. It never falls back to the caller.
func (s *Server) authenticate(ctx context.Context) (principal, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	token, err := bearer.FromContext(ctx)
	if err != nil {
		return principal{}, err
	}
	if s.auth == nil {
		return principal{}, apierror.Unauthenticated("this registry accepts no admin tokens")
	}
	info, err := s.auth.Authenticate(ctx, token)
	if err != nil {
		return principal{}, err
	}
	caller := principal{TenantID: info.TenantID, ClientID: info.ClientID}
	if !access.HasScope(info.Scopes, access.ScopeAdminAPI) {
		return caller, apierror.PermissionDenied("the access token lacks scope %q", access.ScopeAdminAPI)
	}
	if sel := firstMD(md, access.MDSudo); sel != "" {
		return s.sudo(ctx, info, md, sel)
	}
	if info.UserID == "" {
		return caller, nil
	}
	caller.UserID = info.UserID
	u, err := s.store.GetUser(ctx, info.TenantID, info.UserID)
	if errors.Is(err, apierror.ErrNotFound) {
		return caller, apierror.Unauthenticated("the access token's user no longer exists")
	}
	if err != nil {
		return caller, err
	}
	return caller, checkAdminUser(u)
}

func checkAdminUser(u registry.User) error {
	if u.Disabled {
		return apierror.PermissionDenied("user %q is disabled", u.ID)
	}
	if !u.HasRole(access.RoleTenantAdmin) {
		return apierror.PermissionDenied("user %q lacks role %q", u.ID, access.RoleTenantAdmin)
	}
	return nil
}

func (s *Server) sudo(ctx context.Context, info bearer.TokenInfo, md metadata.MD, rawSel string) (principal, error) {
	caller := principal{TenantID: info.TenantID, ClientID: info.ClientID, Sudo: true}
	if !access.HasScope(info.Scopes, access.ScopeSudo) {
		return caller, apierror.PermissionDenied("sudo requires scope %q", access.ScopeSudo)
	}
	sel, err := access.ParseSelector(rawSel)
	if err != nil {
		return caller, err
	}
	target := info.TenantID
	if id := firstMD(md, access.MDSudoTenantID); id != "" {
		if err := access.CheckSudoTenant(info.TenantID, id); err != nil {
			return caller, err
		}
		t, err := s.store.GetTenant(ctx, id)
		if err != nil {
			return caller, err
		}
		target = t.ID
	} else if code := firstMD(md, access.MDSudoTenantCode); code != "" {
		t, err := s.store.GetTenantByCode(ctx, code)
		if errors.Is(err, apierror.ErrNotFound) && info.TenantID != access.SystemTenant {
			// Do not tell a non-system caller which codes exist elsewhere.
			return caller, apierror.PermissionDenied("sudo: a client of tenant %q cannot act in another tenant", info.TenantID)
		}
		if err != nil {
			return caller, err
		}
		target = t.ID
	}
	if err := access.CheckSudoTenant(info.TenantID, target); err != nil {
		return caller, err
	}
	u, err := s.store.FindUser(ctx, target, sel)
	if err != nil {
		return caller, err
	}
	caller.TenantID, caller.UserID = target, u.ID
	return caller, checkAdminUser(u)
}
