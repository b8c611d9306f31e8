package access

import (
	"context"
	"errors"
	"log/slog"
	"slices"

	"github.com/authsuite/authsuite/internal/apierror"
)

// This file is the one authorization rule of the suite (docs/reference.md#authorization, docs/reference.md#sudo). Every service resolves
// its caller with Resolve and then asks the Principal; none keeps a copy of the rule.
//
//   - An admin is a token with scope adminapi that is either a client token, or a user token whose user
//     exists, is enabled and holds role tenant_admin. Under sudo the decision is made for the impersonated
//     user instead (its roles, its tenant).
//   - Suite-wide operations need an admin of SystemTenant (RequireSystemAdmin); tenant-scoped operations
//     need an admin of that tenant or of SystemTenant (RequireAdminOf).
//   - sudo needs scope sudo and is for clients and system-tenant admins: a user token that is not one of an
//     enabled tenant_admin of SystemTenant is refused (PERMISSION_DENIED), never silently ignored. A client
//     of another tenant may only act in its own tenant, and an unknown tenant looks exactly like a foreign
//     one to it (no tenant-code oracle).

// Token is what the rule needs of a verified access token (see internal/bearer).
type Token struct {
	ClientID string
	TenantID string
	UserID   string // empty for a client (client_credentials) token
	Scopes   []string
}

// IsClient reports whether the token is a client's own token (no user).
func (t Token) IsClient() bool { return t.UserID == "" }

// SudoRequest is the sudo a call asks for (docs/reference.md#sudo): the raw selector ("uid:42", …) and the target
// tenant by id or, when TenantID is empty, by code; both empty means the caller's own tenant.
type SudoRequest struct {
	Selector   string
	TenantID   string
	TenantCode string
}

// Asked reports whether the call asks for sudo (a selector is given; the gateway forwards the tenant only
// with one).
func (r SudoRequest) Asked() bool { return r.Selector != "" }

// Tenant is a tenant as the directory knows it.
type Tenant struct {
	ID   string
	Code string
}

// TenantRef names a tenant by ID or, when ID is empty, by Code.
type TenantRef struct {
	ID   string
	Code string
}

// User is a user as the directory knows it: who it is, its roles and whether it is disabled.
type User struct {
	ID        string
	TenantID  string
	LoginName string
	Roles     []string
	Disabled  bool
}

// HasRole reports whether the user holds role.
func (u User) HasRole(role string) bool { return slices.Contains(u.Roles, role) }

// Directory answers the facts the rule needs. Implementations: the registry's own store
// (services/registry/server) and the registry's internal gRPC API (internal/directory).
type Directory interface {
	// Tenant returns the tenant ref names. An unknown tenant is an error wrapping apierror.ErrNotFound.
	Tenant(ctx context.Context, ref TenantRef) (Tenant, error)
	// User returns the user sel names in tenant tenantID, disabled or not. An unknown user (or tenant) is an
	// error wrapping apierror.ErrNotFound.
	User(ctx context.Context, tenantID string, sel Selector) (User, error)
}

// Principal is the outcome of Resolve: who really called (Caller) and, under sudo, whom the call acts as
// (As). Its zero value is no admin and acts as nobody.
type Principal struct {
	// Caller is the real caller: the token's client, tenant and (for a user token) user. It is never
	// replaced by the impersonated user, so audit records can always name it.
	Caller Token
	// As is the impersonated user under sudo, nil otherwise.
	As *User

	admin  bool
	denied string // why the principal is not an admin, for the error message
}

// Sudo reports whether the call acts as another user.
func (p Principal) Sudo() bool { return p.As != nil }

// TenantID is the tenant the call acts in: the impersonated user's under sudo, else the token's.
func (p Principal) TenantID() string {
	if p.As != nil {
		return p.As.TenantID
	}
	return p.Caller.TenantID
}

// UserID is the user the call acts as: the impersonated user under sudo, else the token's user ("" for a
// client token).
func (p Principal) UserID() string {
	if p.As != nil {
		return p.As.ID
	}
	return p.Caller.UserID
}

// Admin reports whether the principal is an admin (of its TenantID).
func (p Principal) Admin() bool { return p.admin }

// SystemAdmin reports whether the principal is an admin of SystemTenant.
func (p Principal) SystemAdmin() bool { return p.admin && p.TenantID() == SystemTenant }

// RequireAdmin returns nil for an admin of any tenant, else a PERMISSION_DENIED error saying why.
func (p Principal) RequireAdmin() error {
	if p.admin {
		return nil
	}
	return apierror.PermissionDenied("%s", p.denied)
}

// RequireSystemAdmin returns nil for an admin of SystemTenant (suite-wide operations), else
// PERMISSION_DENIED saying that only they may do what (e.g. "manage tenants").
func (p Principal) RequireSystemAdmin(what string) error {
	if err := p.RequireAdmin(); err != nil {
		return err
	}
	if p.TenantID() != SystemTenant {
		return apierror.PermissionDenied("only administrators of the system tenant may %s", what)
	}
	return nil
}

// RequireAdminOf returns nil for an admin of tenantID or of SystemTenant, else PERMISSION_DENIED.
func (p Principal) RequireAdminOf(tenantID string) error {
	if err := p.RequireAdmin(); err != nil {
		return err
	}
	if t := p.TenantID(); t != SystemTenant && t != tenantID {
		return apierror.PermissionDenied("an administrator of tenant %q cannot act in tenant %q", t, tenantID)
	}
	return nil
}

// AuditAttrs names the real caller and, under sudo, the impersonated user, for an audit record: client_id,
// user_id and tenant of the caller; sudo; as_user_id and as_tenant when impersonating. It holds no token or
// secret.
func (p Principal) AuditAttrs() []slog.Attr {
	attrs := []slog.Attr{
		slog.String("caller_client_id", p.Caller.ClientID),
		slog.String("caller_user_id", p.Caller.UserID),
		slog.String("caller_tenant", p.Caller.TenantID),
		slog.Bool("sudo", p.As != nil),
	}
	if p.As != nil {
		attrs = append(attrs, slog.String("as_user_id", p.As.ID), slog.String("as_tenant", p.As.TenantID))
	}
	return attrs
}

// Resolve applies the rule to a verified token and the sudo the call asks for. It returns the principal, or:
//   - under sudo: insufficient_scope (403) without scope sudo; PERMISSION_DENIED for a user token that is
//     not an enabled tenant_admin of SystemTenant, for a tenant outside a non-system caller's own (unknown
//     and foreign tenants alike), and for a disabled target; NOT_FOUND for an unknown target user (or, for
//     a system-tenant caller, an unknown tenant); INVALID_ARGUMENT naming "sudo" for a bad selector;
//   - UNAUTHENTICATED for a user token with scope adminapi whose user no longer exists;
//   - the directory's error when it cannot answer.
//
// A plain client token without sudo costs no directory call; a user token costs one only when it carries
// scope adminapi (the admin decision needs its roles).
func Resolve(ctx context.Context, dir Directory, tok Token, sudo SudoRequest) (Principal, error) {
	p := Principal{Caller: tok}
	adminScope := HasScope(tok.Scopes, ScopeAdminAPI)
	if sudo.Asked() {
		u, err := resolveSudo(ctx, dir, tok, sudo)
		if err != nil {
			return p, err
		}
		p.As = &u
		p.admin, p.denied = decide(adminScope, &u)
		return p, nil
	}
	if tok.IsClient() || !adminScope {
		p.admin, p.denied = decide(adminScope, nil)
		return p, nil
	}
	u, err := tokenUser(ctx, dir, tok)
	if err != nil {
		return p, err
	}
	p.admin, p.denied = decide(adminScope, &u)
	return p, nil
}

// decide is the admin rule: scope adminapi, and for a user (nil for a client) enabled and tenant_admin.
func decide(adminScope bool, u *User) (bool, string) {
	switch {
	case !adminScope:
		return false, "the access token lacks scope " + ScopeAdminAPI
	case u == nil:
		return true, ""
	case u.Disabled:
		return false, "user " + u.ID + " is disabled"
	case !u.HasRole(RoleTenantAdmin):
		return false, "user " + u.ID + " lacks role " + RoleTenantAdmin
	}
	return true, ""
}

// tokenUser returns the user of a user token; a user that no longer exists makes the token useless.
func tokenUser(ctx context.Context, dir Directory, tok Token) (User, error) {
	if dir == nil {
		return User{}, apierror.ErrUnavailable
	}
	u, err := dir.User(ctx, tok.TenantID, Selector{Kind: ByUID, Value: tok.UserID})
	if errors.Is(err, apierror.ErrNotFound) {
		return User{}, apierror.Unauthenticated("the access token's user no longer exists")
	}
	return u, err
}

// errSudoForUser refuses sudo to user tokens other than the system tenant's administrators.
var errSudoForUser = apierror.PermissionDenied("sudo is for clients and administrators of the system tenant; this user token may not impersonate")

func resolveSudo(ctx context.Context, dir Directory, tok Token, req SudoRequest) (User, error) {
	if !HasScope(tok.Scopes, ScopeSudo) {
		return User{}, apierror.OAuth(apierror.InsufficientScope, "sudo requires a token with scope %s", ScopeSudo)
	}
	sel, err := ParseSelector(req.Selector)
	if err != nil {
		return User{}, err
	}
	if dir == nil {
		return User{}, apierror.ErrUnavailable
	}
	if !tok.IsClient() {
		if tok.TenantID != SystemTenant {
			return User{}, errSudoForUser
		}
		self, err := tokenUser(ctx, dir, tok)
		if err != nil {
			return User{}, err
		}
		if self.Disabled || !self.HasRole(RoleTenantAdmin) {
			return User{}, errSudoForUser
		}
	}
	target, err := sudoTenant(ctx, dir, tok.TenantID, req)
	if err != nil {
		return User{}, err
	}
	u, err := dir.User(ctx, target, sel)
	if errors.Is(err, apierror.ErrNotFound) {
		return User{}, apierror.NotFound("sudo: no user with that %s in the tenant", sel.Kind)
	}
	if err != nil {
		return User{}, err
	}
	if u.Disabled {
		return User{}, apierror.PermissionDenied("sudo: user %q is disabled and cannot be impersonated", u.ID)
	}
	return u, nil
}

// ForeignTenantError is the one answer a non-system caller gets for a sudo tenant other than its own,
// whether that tenant exists or not (no tenant-code oracle).
func ForeignTenantError(callerTenant string) error {
	return apierror.PermissionDenied("sudo: a caller of tenant %q can only act in its own tenant", callerTenant)
}

// sudoTenant places the sudo target: the tenant named by id (first) or code, else the caller's own. A
// caller of SystemTenant may name any existing tenant; any other caller only its own, and every other
// answer, unknown or foreign, is ForeignTenantError.
func sudoTenant(ctx context.Context, dir Directory, callerTenant string, req SudoRequest) (string, error) {
	system := callerTenant == SystemTenant
	switch {
	case req.TenantID == "" && req.TenantCode == "":
		return callerTenant, nil
	case req.TenantID != "" && !system:
		if req.TenantID != callerTenant {
			return "", ForeignTenantError(callerTenant)
		}
		return callerTenant, nil
	}
	t, err := dir.Tenant(ctx, TenantRef{ID: req.TenantID, Code: req.TenantCode})
	switch {
	case errors.Is(err, apierror.ErrNotFound) && !system:
		return "", ForeignTenantError(callerTenant)
	case errors.Is(err, apierror.ErrNotFound):
		return "", apierror.NotFound("sudo: no such tenant")
	case err != nil:
		return "", err
	case !system && t.ID != callerTenant:
		return "", ForeignTenantError(callerTenant)
	}
	return t.ID, nil
}
