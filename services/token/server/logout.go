package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/internal/audit"
	"github.com/authsuite/authsuite/services/token"
	"github.com/authsuite/authsuite/services/token/jwt"
)

// BackChannelTimeout bounds one back-channel logout POST.
const BackChannelTimeout = 5 * time.Second

// backChannelEvent is the event of a logout token (Back-Channel Logout 1.0 §2.4).
const backChannelEvent = "http://schemas.openid.net/event/backchannel-logout"

// EndSession is RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0 §2, §3). It checks
// id_token_hint (signed by this issuer; an expired one is accepted, §2: "the OP SHOULD accept ID Tokens that
// have expired") and requires post_logout_redirect_uri to be registered exactly for the client the hint or
// client_id names (§3); an invalid one fails with INVALID_ARGUMENT (shown, never redirected) and ends nothing.
//
// A valid hint with a sid ends the session it names, for the hint's subject, at once and with or without the
// browser's cookie: a relying party's server may call this endpoint (oauth2-proxy's backend logout URL), and
// the hint is the RP's proof of that session. Its clients get back-channel logout tokens (Back-Channel
// Logout 1.0 §2.5). The browser's own session ends at once only when the hint names it; a live session the
// hint does not name is never ended on the hint's authority (an old ID token of one user must not sign
// another user's browser out): the user must confirm (§2: "the OP MUST ask the End-User whether to log
// out"), so the answer carries a confirm_id for ConfirmEndSession. session_ended says whether a session
// ended.
func (s *Server) EndSession(ctx context.Context, req *tokenv1.EndSessionRequest) (*tokenv1.EndSessionResponse, error) {
	raw := req.GetParameters()
	if len(raw) > maxAuthorizeParams {
		return nil, apierror.OAuth(apierror.InvalidRequest, "the request is too large")
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return nil, apierror.OAuth(apierror.InvalidRequest, "the request parameters are not valid form encoding")
	}
	for k, vs := range q {
		if len(vs) > 1 {
			return nil, apierror.OAuth(apierror.InvalidRequest, "parameter %q is repeated", clip(k))
		}
	}
	clientID := q.Get("client_id")
	var hint *idTokenClaims
	if h := q.Get("id_token_hint"); h != "" {
		var c idTokenClaims
		if err := jwt.VerifyTyped(h, "jwt", s.keys.lookup, &c); err != nil || c.Issuer != s.issuer || c.Audience == "" || c.Subject == "" {
			return nil, apierror.OAuth(apierror.InvalidRequest, "id_token_hint is not an ID token of this issuer")
		}
		if clientID != "" && clientID != c.Audience {
			return nil, apierror.OAuth(apierror.InvalidRequest, "client_id does not match id_token_hint")
		}
		clientID, hint = c.Audience, &c
	}
	redirect := ""
	if plr := q.Get("post_logout_redirect_uri"); plr != "" {
		cl, ok := s.cache.Get(clientID)
		switch {
		case clientID == "":
			return nil, apierror.OAuth(apierror.InvalidRequest, "post_logout_redirect_uri needs id_token_hint or client_id")
		case !ok:
			return nil, apierror.OAuth(apierror.InvalidRequest, "unknown client_id")
		case !slices.Contains(cl.PostLogoutRedirectURIs, plr):
			return nil, apierror.OAuth(apierror.InvalidRequest, "post_logout_redirect_uri is not registered for this client")
		}
		v := url.Values{}
		if st := q.Get("state"); st != "" {
			if len(st) > maxStateLen {
				return nil, apierror.OAuth(apierror.InvalidRequest, "state is too long")
			}
			v.Set("state", st)
		}
		redirect = plr
		if len(v) > 0 {
			redirect = withQuery(plr, v)
		}
	}
	resp := &tokenv1.EndSessionResponse{SecureCookies: s.secureCookies(), RedirectUri: redirect}
	if hint != nil && hint.SID != "" {
		ended, err := s.endHintedSession(ctx, hint, req.GetBrowser())
		if err != nil {
			return nil, err
		}
		resp.SessionEnded = ended
	}
	cookie := req.GetBrowser().GetSessionCookie()
	if cookie == "" || len(cookie) > 128 {
		return resp, nil
	}
	sess, err := s.st.Session(ctx, digest(cookie))
	switch {
	case errors.Is(err, token.ErrNotFound):
		// No session, or the one the hint named and that just ended.
		return resp, nil
	case err != nil:
		return nil, err
	}
	live := s.now().Before(sess.Expiry)
	if live && !hintNames(hint, &sess) {
		// §2: the logout of this browser's session was not asked for by (a client of) this session: ask the
		// user. A session the hint named has already ended above.
		in := &token.Interaction{ClientID: clientID, RedirectURI: redirect, Logout: true}
		if cl, ok := s.cache.Get(clientID); ok {
			in.TenantID = cl.TenantID
			resp.ClientName = clientName(cl)
		}
		id, err := s.saveInteraction(ctx, in, "")
		if err != nil {
			return nil, err
		}
		resp.ConfirmId, resp.RedirectUri = id, ""
		return resp, nil
	}
	ended, err := s.endSession(ctx, cookie, req.GetBrowser())
	if err != nil {
		return nil, err
	}
	resp.SessionEnded = resp.SessionEnded || ended && live
	return resp, nil
}

// endHintedSession ends the live session a verified id_token_hint names by its sid, when that session is
// the hint's subject's and its client (the hint's audience) received a code in it, and sends its
// back-channel logout. It reports whether a session ended; a sid naming nothing (already ended, expired,
// swept, someone else's) ends nothing.
func (s *Server) endHintedSession(ctx context.Context, hint *idTokenClaims, b *tokenv1.Browser) (bool, error) {
	sess, err := s.st.SessionBySID(ctx, hint.SID)
	switch {
	case errors.Is(err, token.ErrNotFound):
		return false, nil
	case err != nil:
		return false, err
	case sess.UserID != hint.Subject || !slices.Contains(sess.Clients, hint.Audience) || !s.now().Before(sess.Expiry):
		return false, nil
	}
	if cl, ok := s.cache.Get(hint.Audience); ok && cl.TenantID != sess.TenantID {
		return false, nil
	}
	ended, err := s.st.DeleteSession(ctx, sess.ID)
	switch {
	case errors.Is(err, token.ErrNotFound):
		return false, nil // ended concurrently
	case err != nil:
		return false, err
	}
	s.deps.Audit.Record(ctx, audit.Event{Event: "logout", TenantID: ended.TenantID, Outcome: audit.OutcomeSuccess,
		Actor: audit.Actor{ClientID: hint.Audience, UserID: ended.UserID}, Target: audit.Target{Kind: "session"},
		RemoteAddr: clip(b.GetRemoteAddr()), Line: audit.Line{Attrs: []slog.Attr{slog.String("by", "id_token_hint")}}})
	s.backChannelLogout(ended)
	return true, nil
}

// hintNames reports whether a verified id_token_hint belongs to the session: its sid and subject are the
// session's, or, for an ID token without sid, its subject is the session's user.
func hintNames(hint *idTokenClaims, sess *token.Session) bool {
	switch {
	case hint == nil:
		return false
	case hint.SID != "":
		return hint.SID == sess.SID && hint.Subject == sess.UserID
	default:
		return hint.Subject == sess.UserID
	}
}

// errLogoutGone is answered for an unknown, used or expired logout confirmation.
var errLogoutGone = apierror.FailedPrecondition("the logout request has expired or was already answered; start again from the application")

// ConfirmEndSession carries out the user's answer to a logout confirmation (RP-Initiated Logout 1.0 §2). The
// confirmation is single-use. On logout it ends the browser's session, sends back-channel logout as
// EndSession does, and answers the post_logout_redirect_uri validated by EndSession (with state), if any; on
// cancel it ends nothing.
func (s *Server) ConfirmEndSession(ctx context.Context, req *tokenv1.ConfirmEndSessionRequest) (*tokenv1.ConfirmEndSessionResponse, error) {
	id := req.GetConfirmId()
	if id == "" || len(id) > 128 {
		return nil, errLogoutGone
	}
	in, err := s.st.Interaction(ctx, digest(id))
	switch {
	case errors.Is(err, token.ErrNotFound):
		return nil, errLogoutGone
	case err != nil:
		return nil, err
	case !in.Logout || !s.now().Before(in.Expiry):
		return nil, errLogoutGone
	}
	if err := s.st.DeleteInteraction(ctx, in.ID); err != nil {
		return nil, err
	}
	resp := &tokenv1.ConfirmEndSessionResponse{SecureCookies: s.secureCookies()}
	if !req.GetLogout() {
		return resp, nil
	}
	if cookie := req.GetBrowser().GetSessionCookie(); cookie != "" && len(cookie) <= 128 {
		if _, err := s.endSession(ctx, cookie, req.GetBrowser()); err != nil {
			return nil, err
		}
	}
	resp.LoggedOut, resp.RedirectUri = true, in.RedirectURI
	return resp, nil
}

// endSession deletes the session the cookie names, if any, and notifies its clients over the back channel.
// It reports whether a session was deleted.
func (s *Server) endSession(ctx context.Context, cookie string, b *tokenv1.Browser) (bool, error) {
	sess, err := s.st.DeleteSession(ctx, digest(cookie))
	switch {
	case err == nil:
		s.deps.Audit.Record(ctx, audit.Event{Event: "logout", TenantID: sess.TenantID, Outcome: audit.OutcomeSuccess,
			Actor: audit.Actor{UserID: sess.UserID}, Target: audit.Target{Kind: "session"}, RemoteAddr: clip(b.GetRemoteAddr())})
		s.backChannelLogout(sess)
		return true, nil
	case !errors.Is(err, token.ErrNotFound):
		return false, err
	}
	return false, nil
}

// logoutClaims are the claims of a logout token (Back-Channel Logout 1.0 §2.4).
type logoutClaims struct {
	Issuer   string                    `json:"iss"`
	Audience string                    `json:"aud"`
	IssuedAt int64                     `json:"iat"`
	Expiry   int64                     `json:"exp"`
	ID       string                    `json:"jti"`
	Subject  string                    `json:"sub,omitempty"`
	SID      string                    `json:"sid,omitempty"`
	Events   map[string]map[string]any `json:"events"`
}

// backChannelLogout POSTs a logout token (Back-Channel Logout 1.0 §2.5) to every client of the session that
// registered a backChannelLogoutUri, concurrently and in the background, each with BackChannelTimeout. The
// token carries sub, and sid (always: every session has one, which satisfies backChannelLogoutSessionRequired).
// Failures are logged (never the token); Run waits for sends in flight before returning.
func (s *Server) backChannelLogout(sess token.Session) {
	now := s.now()
	for _, id := range sess.Clients {
		cl, ok := s.cache.Get(id)
		if !ok || cl.BackChannelLogoutURI == "" {
			continue
		}
		tok, err := s.keys.signer().SignTyped("logout+jwt", logoutClaims{
			Issuer: s.issuer, Audience: cl.ID, IssuedAt: now.Unix(), Expiry: now.Add(2 * time.Minute).Unix(), ID: newJTI(),
			Subject: sess.UserID, SID: sess.SID, Events: map[string]map[string]any{backChannelEvent: {}},
		})
		if err != nil {
			s.log.Error("sign logout token", "client_id", cl.ID, "err", err)
			continue
		}
		uri := cl.BackChannelLogoutURI
		s.bg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), BackChannelTimeout)
			defer cancel()
			body := url.Values{"logout_token": {tok}}.Encode()
			r, err := http.NewRequestWithContext(ctx, http.MethodPost, uri, strings.NewReader(body))
			if err != nil {
				s.log.Warn("back-channel logout", "client_id", cl.ID, "err", "bad uri")
				return
			}
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, err := s.httpClient.Do(r)
			if err != nil {
				s.log.Warn("back-channel logout failed", "client_id", cl.ID, "err", err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNoContent {
				s.log.Warn("back-channel logout refused", "client_id", cl.ID, "status", resp.StatusCode)
			}
		})
	}
}
