package server

import (
	"context"

	"github.com/authsuite/authsuite/internal/access"
	"github.com/authsuite/authsuite/internal/bearer"
)

// principal is the verified caller of a public call, as the connector code uses it: the tenant the call
// acts in, the owner it acts as, and whether it is an admin (of that tenant; of all when system()).
type principal struct {
	TenantID string
	Owner    string // user id, or client:<client id>
	Admin    bool   // an admin by the suite's rule (access.Principal.Admin)
	Access   access.Principal
}

func (p principal) system() bool { return p.TenantID == access.SystemTenant }

// authenticate resolves the caller with the suite's rule (bearer.Resolve): under sudo the principal is the
// impersonated user. A plain client token costs no registry call.
func (s *Server) authenticate(ctx context.Context) (principal, error) {
	ap, err := bearer.Resolve(ctx, s.auth, s.dir)
	if err != nil {
		return principal{Access: ap}, err
	}
	owner := ap.UserID()
	if owner == "" {
		owner = "client:" + ap.Caller.ClientID
	}
	return principal{TenantID: ap.TenantID(), Owner: owner, Admin: ap.Admin(), Access: ap}, nil
}

// admin authorizes a provider configuration call and writes its audit record: the method, the real caller,
// the impersonated user under sudo, and the outcome. systemOnly calls change suite-wide state and need an
// admin of the system tenant; the others any admin.
func (s *Server) admin(ctx context.Context, systemOnly bool) (principal, error) {
	p, err := s.authenticate(ctx)
	if err == nil && systemOnly {
		err = p.Access.RequireSystemAdmin("change OAuth providers or their tokens: they are suite-wide")
	} else if err == nil {
		err = p.Access.RequireAdmin()
	}
	bearer.Audit(ctx, s.log, p.Access, err)
	return p, err
}
