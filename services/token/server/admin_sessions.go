package server

import (
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/types/known/timestamppb"

	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/internal/audit"
	"github.com/authsuite/authsuite/services/token"
)

// ssoSessions is SessionService: an administrator's view of a tenant's SSO sessions, and their end.
type ssoSessions struct {
	tokenv1.UnimplementedSessionServiceServer
	s *Server
}

// maxSessionPageToken bounds a page token (a user id and a SID, encoded).
const maxSessionPageToken = 1024

// Bounds of the request fields that name a user or a session.
const (
	maxSessionUserID = 256
	maxSessionSID    = 256
)

// sessionRevocationKey is the revocation-set entry that refuses every refresh token issued in the session
// sid: an administrator ended it (EndSsoSession). It is stored and followed by every replica like a family
// revocation.
func sessionRevocationKey(sid string) string { return "sid:" + sid }

// encodeSessionPageToken makes a store cursor (token.SessionPage.Next) a page token.
func encodeSessionPageToken(next string) string {
	if next == "" {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString([]byte(next))
}

// decodeSessionPageToken reverses encodeSessionPageToken: a cursor is a user id, NUL, and a non-empty SID,
// valid UTF-8 and at most maxSessionPageToken bytes encoded. Errors name pageToken.
func decodeSessionPageToken(tok string) (string, error) {
	if tok == "" {
		return "", nil
	}
	bad := apierror.Invalid("pageToken", "is not a page token of this listing")
	if len(tok) > maxSessionPageToken {
		return "", bad
	}
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || !utf8.Valid(raw) {
		return "", bad
	}
	user, sid, ok := strings.Cut(string(raw), "\x00")
	if !ok || sid == "" || strings.ContainsRune(sid, 0) || len(user) > maxSessionUserID || len(sid) > maxSessionSID {
		return "", bad
	}
	return string(raw), nil
}

// ListSessions implements SessionService: admins of the tenant (or of the system tenant) only. Expired
// sessions that the sweep has not deleted yet are left out.
func (a ssoSessions) ListSessions(ctx context.Context, req *tokenv1.ListSessionsRequest) (*tokenv1.ListSessionsResponse, error) {
	s := a.s
	tenant := req.GetTenantId()
	if tenant == "" {
		return nil, apierror.Invalid("tenantId", "is required")
	}
	if _, err := s.authorizeAdmin(ctx, tenant, ""); err != nil {
		return nil, err
	}
	size := req.GetPageSize()
	switch {
	case size < 0:
		return nil, apierror.Invalid("pageSize", "must not be negative")
	case size > token.MaxSessionPage:
		size = token.MaxSessionPage
	}
	if len(req.GetUserId()) > maxSessionUserID || strings.ContainsRune(req.GetUserId(), 0) {
		return nil, apierror.Invalid("userId", "is not a user id")
	}
	after, err := decodeSessionPageToken(req.GetPageToken())
	if err != nil {
		return nil, err
	}
	page, err := s.st.ListSessions(ctx, token.SessionQuery{TenantID: tenant, UserID: req.GetUserId(), After: after, Limit: int(size)})
	switch {
	case errors.Is(err, token.ErrBadCursor):
		return nil, apierror.Invalid("pageToken", "is not a page token of this listing")
	case err != nil:
		return nil, err
	}
	now := s.now()
	resp := &tokenv1.ListSessionsResponse{Items: make([]*tokenv1.SsoSession, 0, len(page.Sessions)), NextPageToken: encodeSessionPageToken(page.Next)}
	for _, se := range page.Sessions {
		if now.Before(se.Expiry) {
			resp.Items = append(resp.Items, toSsoSession(se))
		}
	}
	return resp, nil
}

// EndSsoSession implements SessionService: admins of the session's tenant (or of the system tenant) only. It
// ends the session as logout does (logout.go): the session record goes, so its cookie signs nobody in, and
// its clients get back-channel logout tokens (backChannelLogout); the audit log records session_ended with
// the administrator as actor. Before that it revokes, durably and on
// every replica, the refresh tokens issued in the session (sessionRevocationKey), which logout by the user
// leaves alone. A session of another tenant, an expired one and an unknown sid all answer NOT_FOUND.
func (a ssoSessions) EndSsoSession(ctx context.Context, req *tokenv1.EndSsoSessionRequest) (*tokenv1.EndSsoSessionResponse, error) {
	s := a.s
	tenant, sid := req.GetTenantId(), req.GetSid()
	if tenant == "" {
		return nil, apierror.Invalid("tenantId", "is required")
	}
	p, err := s.authorizeAdmin(ctx, tenant, "")
	if err != nil {
		return nil, err
	}
	if sid == "" || len(sid) > maxSessionSID {
		return nil, apierror.Invalid("sid", "must be 1 to %d characters", maxSessionSID)
	}
	notFound := apierror.NotFound("tenant %q has no live session %q", apierror.Clip(tenant, 64), apierror.Clip(sid, 64))
	sess, err := s.st.SessionBySID(ctx, sid)
	switch {
	case errors.Is(err, token.ErrNotFound):
		return nil, notFound
	case err != nil:
		return nil, err
	case sess.TenantID != tenant || !s.now().Before(sess.Expiry):
		return nil, notFound
	}
	actor := audit.Actor{ClientID: p.Caller.ClientID, UserID: p.UserID()}
	if p.TenantID() != tenant {
		actor.ActingFor = p.TenantID()
	}
	ended, err := s.endSessionBy(ctx, sess, actor, "admin")
	switch {
	case errors.Is(err, token.ErrNotFound):
		return nil, notFound // ended concurrently
	case err != nil:
		return nil, err
	}
	return &tokenv1.EndSsoSessionResponse{Session: toSsoSession(ended)}, nil
}

// endSessionBy ends sess for actor (by: "admin" or "user", the audit line's attribute), as an administrator's
// EndSsoSession does: first the refresh tokens issued in it are revoked, durably and on every replica
// (revokeSessionRefresh), then the session record goes (its cookie signs nobody in), the audit log records
// session_ended, and its clients get back-channel logout tokens (OIDC Back-Channel Logout 1.0 §2.5).
// token.ErrNotFound when the session was ended concurrently (its tokens are revoked all the same).
func (s *Server) endSessionBy(ctx context.Context, sess token.Session, actor audit.Actor, by string) (token.Session, error) {
	if err := s.revokeSessionRefresh(ctx, sess); err != nil {
		return token.Session{}, err
	}
	ended, err := s.st.DeleteSession(ctx, sess.ID)
	if err != nil {
		return token.Session{}, err
	}
	s.deps.Audit.Record(ctx, audit.Event{Event: "session_ended", TenantID: ended.TenantID, Outcome: audit.OutcomeSuccess,
		Actor: actor, Target: audit.Target{Kind: "session", ID: ended.SID},
		Line: audit.Line{Attrs: []slog.Attr{slog.String("by", by), slog.String("user_id", ended.UserID)}}})
	s.backChannelLogout(ended)
	return ended, nil
}

// maxUserSessionsEnded bounds the sessions one EndUserSessions call ends (pages of token.MaxSessionPage);
// a user with more is left with the rest, and a second call ends them.
const maxUserSessionsEnded = 10 * token.MaxSessionPage

// EndUserSessions implements SessionService: admins of the tenant (or of the system tenant) only, like
// EndSsoSession. Every live session of the user ends as EndSsoSession ends one (endSessionBy: refresh tokens
// issued in it revoked, record deleted, audit, back-channel logout). A user with no session, or an unknown
// user, answers zero: the call is idempotent. At most maxUserSessionsEnded sessions end per call.
func (a ssoSessions) EndUserSessions(ctx context.Context, req *tokenv1.EndUserSessionsRequest) (*tokenv1.EndUserSessionsResponse, error) {
	s := a.s
	tenant, user := req.GetTenantId(), req.GetUserId()
	if tenant == "" {
		return nil, apierror.Invalid("tenantId", "is required")
	}
	p, err := s.authorizeAdmin(ctx, tenant, "")
	if err != nil {
		return nil, err
	}
	if user == "" || len(user) > maxSessionUserID || strings.ContainsRune(user, 0) {
		return nil, apierror.Invalid("userId", "must be 1 to %d characters", maxSessionUserID)
	}
	actor := audit.Actor{ClientID: p.Caller.ClientID, UserID: p.UserID()}
	if p.TenantID() != tenant {
		actor.ActingFor = p.TenantID()
	}
	sessions, err := s.userSessions(ctx, tenant, user, maxUserSessionsEnded)
	if err != nil {
		return nil, err
	}
	var n int32
	for _, se := range sessions {
		switch _, err := s.endSessionBy(ctx, se, actor, "admin"); {
		case errors.Is(err, token.ErrNotFound): // ended concurrently
		case err != nil:
			return nil, err
		default:
			n++
		}
	}
	return &tokenv1.EndUserSessionsResponse{Ended: n}, nil
}

// userSessions returns the live sessions of tenant/user (at most limit), page by page from the store's
// per-user listing (never a scan of other users' sessions).
func (s *Server) userSessions(ctx context.Context, tenant, user string, limit int) ([]token.Session, error) {
	var out []token.Session
	after := ""
	now := s.now()
	for len(out) < limit {
		page, err := s.st.ListSessions(ctx, token.SessionQuery{TenantID: tenant, UserID: user, After: after, Limit: token.MaxSessionPage})
		if err != nil {
			return nil, err
		}
		for _, se := range page.Sessions {
			if se.UserID == user && se.TenantID == tenant && now.Before(se.Expiry) && len(out) < limit {
				out = append(out, se)
			}
		}
		if page.Next == "" {
			break
		}
		after = page.Next
	}
	return out, nil
}

// revokeSessionRefresh records that the refresh tokens issued in sess are refused, for as long as any of
// them can live: the longest refresh (or access) token lifetime of the session's clients, plus the margin
// revokeFamily keeps. A session no client received a code in has no refresh token to revoke.
func (s *Server) revokeSessionRefresh(ctx context.Context, sess token.Session) error {
	var longest time.Duration
	for _, id := range sess.Clients {
		if cl, ok := s.cache.Get(id); ok {
			longest = max(longest, cl.RefreshTokenLifetime, min(cl.AccessTokenLifetime, MaxAccessTokenLifetime))
		}
	}
	if longest == 0 {
		return nil
	}
	return s.recordRevocation(ctx, token.Revocation{JTI: sessionRevocationKey(sess.SID), Expiry: s.now().Add(longest + time.Hour)})
}

// toSsoSession describes a session without its cookie digest.
func toSsoSession(se token.Session) *tokenv1.SsoSession {
	return &tokenv1.SsoSession{
		Sid: se.SID, TenantId: se.TenantID, UserId: se.UserID, LoginName: se.UserName,
		AuthTime: timestamppb.New(se.AuthTime), ExpireTime: timestamppb.New(se.Expiry), ClientIds: se.Clients,
		Amr: se.AMR, Acr: se.ACR,
	}
}
