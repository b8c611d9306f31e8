package server

import (
	"context"
	"errors"
	"time"

	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/services/token"
	"github.com/authsuite/authsuite/services/token/clients"
)

// accountService implements AccountService, the self-service account page.
type accountService struct {
	tokenv1.UnimplementedAccountServiceServer
	s *Server
}

// RecentSignIn is how old a session's sign-in may be for the account page to change the password or a
// factor with it (AccountService: "reauthentication_required" beyond).
const RecentSignIn = 10 * time.Minute

// errReauthenticate is answered by the account calls that need a recent sign-in when the session's is older
// than RecentSignIn: the page signs in again with prompt=login.
var errReauthenticate = apierror.FailedPrecondition("reauthentication_required")

// errNotSignedIn is answered by the account calls when the browser's cookie names no live session.
var errNotSignedIn = apierror.Unauthenticated("the browser is not signed in")

// accountSession is the signed-in person behind an account page call: their live SSO session, its tenant,
// user and account incarnation.
type accountSession struct {
	Session     token.Session
	TenantID    string
	UserID      string
	Incarnation string
	// Cookie is the session cookie the browser presented (never logged, never stored).
	Cookie string
}

// signedIn returns the live SSO session the browser's cookie names, in whichever tenant it is: it is found
// by the cookie's digest and checked as currentSession checks one (not expired; its account still live:
// not disabled since, deleted or re-created). It answers UNAUTHENTICATED when there is none. With recent,
// a session whose sign-in is older than RecentSignIn answers FAILED_PRECONDITION
// "reauthentication_required" (AccountService: changing a factor or the password needs a recent sign-in).
func (a accountService) signedIn(ctx context.Context, b *tokenv1.Browser, recent bool) (*accountSession, error) {
	s := a.s
	cookie := b.GetSessionCookie()
	if cookie == "" || len(cookie) > 128 {
		return nil, errNotSignedIn
	}
	se, err := s.st.Session(ctx, digest(cookie))
	switch {
	case errors.Is(err, token.ErrNotFound):
		return nil, errNotSignedIn
	case err != nil:
		return nil, err
	}
	now := s.now()
	if !now.Before(se.Expiry) || se.UserID == "" || s.accountLive(se.TenantID, se.UserID, se.Incarnation, se.AuthTime) != nil {
		return nil, errNotSignedIn
	}
	if recent && now.Sub(se.AuthTime) > RecentSignIn {
		return nil, errReauthenticate
	}
	return &accountSession{Session: se, TenantID: se.TenantID, UserID: se.UserID, Incarnation: se.Incarnation, Cookie: cookie}, nil
}

// accountClient is the stand-in client of a sign-in to tenantID's account page (token.PurposeAccount): it
// names the page, asks no consent and receives no code.
func (s *Server) accountClient(tenantID string) *clients.Client {
	return &clients.Client{TenantID: tenantID, Name: "Account"}
}

// finishAccount completes a sign-in to the account page: the session is started; the browser goes to
// /account.
func (s *Server) finishAccount(ctx context.Context, in *token.Interaction, sess *token.Session) (*tokenv1.Step, error) {
	if in.ID != nil {
		if err := s.st.DeleteInteraction(ctx, in.ID); err != nil {
			return nil, err
		}
	}
	return s.redirectStep(s.issuer + "/account"), nil
}
