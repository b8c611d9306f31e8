package server

import (
	"context"
	"errors"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/services/token"
	"github.com/authsuite/authsuite/services/token/clients"
)

// Disabled, deleted and re-created users (issue: a disabled or deleted user kept signing in through the SSO
// session, and a user id reused after deletion inherited the old account's tokens).
//
// Everything issued to a user is bound to the account's incarnation, the registry's random per-account
// value (see registry.User): access tokens carry it as the private claim uinc, sessions, codes and refresh
// tokens store it. Every use of one of them asks the client cache's account view (clients.CheckAccount, a
// map lookup fed by the registry's change feed: no network call, no disk write) whether that incarnation is
// still live, not disabled, and was not disabled after the thing was issued:
//   - verifyToken, so check, introspection, userinfo and AuthenticateToken answer invalid for the tokens of
//     a disabled, deleted or re-created user as soon as the feed delivers the change;
//   - currentSession (authorize with an SSO session, consent), which then shows the login page;
//   - the code exchange and the refresh grant (invalid_grant).
// Separately, endAccounts deletes the sessions (with back-channel logout) and refresh tokens of accounts the
// feed ended, so token.db keeps nothing they could use even if they were enabled again.

// accountLive returns nil when what was issued at issued to the incarnation of tenantID/userID is still
// good, else clients.ErrAccountGone or clients.ErrAccountDisabled. No I/O.
func (s *Server) accountLive(tenantID, userID, incarnation string, issued time.Time) error {
	return s.cache.CheckAccount(tenantID, userID, incarnation, issued)
}

// grantAccountLive is accountLive as an invalid_grant error (RFC 6749 §5.2: the authorization grant or
// refresh token is "invalid, expired, revoked"; what a disabled, deleted or re-created user held is revoked).
func (s *Server) grantAccountLive(tenantID, userID, incarnation string, issued time.Time) error {
	switch err := s.accountLive(tenantID, userID, incarnation, issued); {
	case errors.Is(err, clients.ErrAccountDisabled):
		return errGrant("the user is disabled")
	case err != nil:
		return errGrant("the user no longer exists")
	}
	return nil
}

// endAccounts ends what token.db holds for accounts the registry reports deleted, re-created or disabled:
// their SSO sessions (each ended session sends back-channel logout to its clients, OIDC Back-Channel
// Logout 1.0 §2.5) and their refresh tokens, each in one store transaction. The cache already refuses
// them; a failure is logged and leaves records that can no longer be used.
func (s *Server) endAccounts(ctx context.Context, accounts []token.Account) {
	sessions, err := s.st.DeleteAccountSessions(ctx, accounts)
	if err != nil {
		s.log.Error("end sessions of disabled or deleted users", "accounts", len(accounts), "err", err)
	}
	for _, se := range sessions {
		s.backChannelLogout(se)
	}
	families, err := s.st.DeleteAccountRefreshTokens(ctx, accounts)
	if err != nil {
		s.log.Error("end refresh tokens of disabled or deleted users", "accounts", len(accounts), "err", err)
	}
	attrs := []any{"event", "account_ended", "accounts", len(accounts), "sessions", len(sessions), "refresh_families", len(families)}
	if len(accounts) == 1 {
		attrs = append(attrs, "tenant", accounts[0].TenantID, "user_id", accounts[0].UserID)
	}
	s.log.Info("audit", attrs...)
}

// accountFeedWait bounds how long a sign-in waits for the change feed to deliver a just-created account.
const accountFeedWait = 2 * time.Second

// incarnationOf returns the incarnation of the account tenantID/userID the registry has just signed in, to
// bind the new session or tokens to: from the account view, or, while the view does not list the account
// yet (it was created a moment ago and the change feed has not delivered it), from the registry. Should the
// view lag behind a deletion and re-creation of the user id, the session is bound to the old incarnation and
// refused as soon as the view catches up: the error is always on the side of ending a sign-in.
func (s *Server) incarnationOf(ctx context.Context, tenantID, userID string) (string, error) {
	if inc, ok := s.cache.Incarnation(tenantID, userID); ok {
		return inc, nil
	}
	resp, err := s.reg.ResolveUser(ctx, &registryv1.ResolveUserRequest{Selector: "uid:" + userID, TenantId: tenantID})
	switch status.Code(err) {
	case codes.OK:
		// The feed delivers a new account within milliseconds; wait for it (bounded), so the session and
		// tokens bound to it are not refused as unknown right after this sign-in.
		wctx, cancel := context.WithTimeout(ctx, accountFeedWait)
		defer cancel()
		if err := s.cache.AwaitAccount(wctx, tenantID, userID, resp.GetIncarnation()); err != nil {
			s.log.Warn("the change feed has not delivered a signed-in account yet", "tenant", tenantID, "user_id", userID)
		}
		return resp.GetIncarnation(), nil
	case codes.PermissionDenied:
		return "", errUserDisabled
	case codes.NotFound:
		return "", errUserCredentials
	case codes.Unavailable, codes.DeadlineExceeded:
		return "", apierror.OAuth(apierror.TemporarilyUnavailable, "the user directory is unavailable; try again")
	}
	s.log.Error("registry ResolveUser", "err", err)
	return "", errors.New("user directory error")
}
