package server

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/services/token/jwt"
	"github.com/authsuite/authsuite/services/token/store"
)

// BackChannelTimeout bounds one back-channel logout POST.
const BackChannelTimeout = 5 * time.Second

// backChannelEvent is the event of a logout token (Back-Channel Logout 1.0 §2.4).
const backChannelEvent = "http://schemas.openid.net/event/backchannel-logout"

// EndSession is RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0 §2, §3): it checks
// id_token_hint (signed by this issuer; an expired one is accepted), requires post_logout_redirect_uri to be
// registered exactly for the client the hint or client_id names, ends the browser's SSO session and
// notifies every client of that session with a back-channel logout URI (in the background, so the browser's
// redirect does not wait for them). Invalid parameters fail with INVALID_ARGUMENT (shown, never redirected).
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
	if hint := q.Get("id_token_hint"); hint != "" {
		var c idTokenClaims
		if err := jwt.VerifyTyped(hint, "jwt", s.keys.lookup, &c); err != nil || c.Issuer != s.issuer || c.Audience == "" {
			return nil, apierror.OAuth(apierror.InvalidRequest, "id_token_hint is not an ID token of this issuer")
		}
		if clientID != "" && clientID != c.Audience {
			return nil, apierror.OAuth(apierror.InvalidRequest, "client_id does not match id_token_hint")
		}
		clientID = c.Audience
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
	if cookie := req.GetBrowser().GetSessionCookie(); cookie != "" && len(cookie) <= 128 {
		sess, err := s.st.DeleteSession(ctx, digest(cookie))
		switch {
		case err == nil:
			s.log.Info("audit", "event", "logout", "user_id", sess.UserID, "tenant", sess.TenantID, "remote_addr", clip(req.GetBrowser().GetRemoteAddr()))
			s.backChannelLogout(sess)
		case !errors.Is(err, store.ErrNotFound):
			return nil, err
		}
	}
	return &tokenv1.EndSessionResponse{RedirectUri: redirect, SecureCookies: s.secureCookies()}, nil
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
func (s *Server) backChannelLogout(sess store.Session) {
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
