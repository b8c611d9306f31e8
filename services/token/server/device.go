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
	"github.com/authsuite/authsuite/services/token"
	"github.com/authsuite/authsuite/services/token/clients"
)

// The device authorization grant (RFC 8628).
const (
	// GrantDeviceCode is the grant type of the device access token request (RFC 8628 §3.4).
	GrantDeviceCode = "urn:ietf:params:oauth:grant-type:device_code"
	// DeviceCodeLifetime is how long a device code and its user code work (expires_in, §3.2).
	DeviceCodeLifetime = 600 * time.Second
	// DeviceAuthorizationPath is the device authorization endpoint under the issuer (IdentityServer's path,
	// RFC 8628 §3.1), served by the gateway and advertised in discovery.
	DeviceAuthorizationPath = "/connect/deviceauthorization"
	// DevicePagePath is the verification URI under the issuer (RFC 8628 §3.2): the page a person types the
	// user code into.
	DevicePagePath = "/device"
	// DevicePollInterval is the minimum polling interval answered (interval, §3.2).
	DevicePollInterval = 5 * time.Second
	// userCodeAttempts bounds the draws of a user code that collides with a live one.
	userCodeAttempts = 8
)

// Message keys of the device pages (the gateway's device catalogues).
const (
	deviceInvalidCode = "device.invalid_code"
	deviceExpired     = "device.expired"
	deviceThrottled   = "device.throttled"
	deviceApproved    = "device.approved"
	deviceDenied      = "device.denied"
)

// deviceService implements DeviceService, the device authorization grant (RFC 8628).
type deviceService struct {
	tokenv1.UnimplementedDeviceServiceServer
	s *Server
}

// DeviceAuthorization is the device authorization endpoint (RFC 8628 §3.1, §3.2). The client authenticates
// as at the token endpoint (§3.1: "the client ... MUST authenticate" when confidential; a public client
// names itself by client_id) and must be allowed the device_code grant. scope is checked as at the
// authorization endpoint (omitted: the client's scopes, offline_access only with offline access), resources
// as for the code grant (RFC 8707; the audience rule, grantTarget). The device code is a 256-bit secret,
// stored as its SHA-256; the user code is stored as a keyed digest. The authorization is durable before
// the answer.
func (d deviceService) DeviceAuthorization(ctx context.Context, req *tokenv1.DeviceAuthorizationRequest) (*tokenv1.DeviceAuthorizationResponse, error) {
	s := d.s
	if err := refuseSudo(ctx); err != nil {
		return nil, err
	}
	cl, err := s.authenticate(ctx, authFrom(ctx, req.GetClient()), false)
	if err != nil {
		return nil, err
	}
	if !cl.HasGrant(GrantDeviceCode) {
		return nil, apierror.OAuth(apierror.UnauthorizedClient, "the client may not use the device_code grant")
	}
	scopes, err := deviceScopes(cl, req.GetScope())
	if err != nil {
		return nil, err
	}
	var resources []string
	if len(req.GetResource()) > 0 {
		if resources, err = parseResources(req.GetResource()); err != nil {
			return nil, err
		}
		if _, err := s.grantTarget(cl, scopes, scopes, resources, true); err != nil {
			return nil, err
		}
	}
	code := newSecret()
	now := s.now()
	dc := token.DeviceCode{Hash: digest(code), ClientID: cl.ID, TenantID: cl.TenantID, Scopes: scopes,
		Resources: resources, Expiry: now.Add(DeviceCodeLifetime)}
	var user string
	for attempt := 0; ; attempt++ {
		user = newUserCode()
		dc.UserCode = s.userCodeDigest(s.kr.PrimaryID(), user)
		err := s.st.PutDeviceCode(ctx, dc, now)
		if err == nil {
			break
		}
		if !errors.Is(err, token.ErrUserCodeTaken) || attempt+1 >= userCodeAttempts {
			return nil, err
		}
	}
	s.log.Info("audit", "event", "device_authorization", "client_id", cl.ID)
	uri := s.issuer + DevicePagePath
	return &tokenv1.DeviceAuthorizationResponse{
		DeviceCode: code, UserCode: formatUserCode(user), VerificationUri: uri,
		VerificationUriComplete: uri + "?" + url.Values{"user_code": {formatUserCode(user)}}.Encode(),
		ExpiresIn:               int32(DeviceCodeLifetime / time.Second), Interval: int32(DevicePollInterval / time.Second),
	}, nil
}

// deviceScopes is the scope of a device authorization request: as at the authorization endpoint
// (requestedScopes), or, when omitted (RFC 8628 §3.1: OPTIONAL), every scope of the client (offline_access
// only for a client allowed offline access).
func deviceScopes(cl *clients.Client, raw string) ([]string, error) {
	if strings.TrimSpace(raw) == "" {
		var scopes []string
		for _, sc := range cl.Scopes {
			if sc != ScopeOfflineAccess || cl.AllowOfflineAccess {
				scopes = append(scopes, sc)
			}
		}
		return scopes, nil
	}
	scopes, err := requestedScopes(cl, raw)
	if err != nil {
		return nil, apierror.OAuth(apierror.InvalidScope, "%s", err.Error())
	}
	return scopes, nil
}

// lookupUserCode finds the device authorization of a normalized user code under any key of the keyring
// (the primary first): a code drawn before a rekey still works.
func (s *Server) lookupUserCode(ctx context.Context, code string) (token.DeviceCode, error) {
	for _, id := range s.kr.IDs() {
		key := s.userCodeDigest(id, code)
		if key == nil {
			continue
		}
		dc, err := s.st.DeviceCodeByUserCode(ctx, key)
		if !errors.Is(err, token.ErrNotFound) {
			return dc, err
		}
	}
	return token.DeviceCode{}, token.ErrNotFound
}

// SubmitUserCode takes the code a person typed on the verification page (RFC 8628 §3.3). Guesses are
// throttled per remote address (userCodePolicy; §5.1): a refused guess answers device.throttled and looks
// nothing up. An unknown, malformed or already used code answers device.invalid_code, an expired one
// device.expired. A live pending code starts an interaction for the device's client that always ends on
// the consent page (prompt=consent), so that the person sees which application gets access before
// anything is granted (§5.4, remote phishing): the login page first when the browser has no session in
// the client's tenant.
func (d deviceService) SubmitUserCode(ctx context.Context, req *tokenv1.SubmitUserCodeRequest) (*tokenv1.SubmitUserCodeResponse, error) {
	s := d.s
	again := func(code string) *tokenv1.SubmitUserCodeResponse {
		return &tokenv1.SubmitUserCodeResponse{ErrorCode: code}
	}
	code, ok := normalizeUserCode(req.GetUserCode())
	if !ok {
		return again(deviceInvalidCode), nil // cannot match any code: not a guess worth counting
	}
	b := req.GetBrowser()
	keys := []string{userCodeKey(clip(b.GetRemoteAddr()))}
	ref, err := s.reserve(ctx, keys)
	if err != nil {
		return nil, err
	}
	if ref != nil {
		s.log.Warn("audit", "event", "device_user_code_throttled", "remote_addr", clip(b.GetRemoteAddr()))
		return again(deviceThrottled), nil
	}
	dc, err := s.lookupUserCode(ctx, code)
	now := s.now()
	found := err == nil && dc.Status == token.DevicePending && now.Before(dc.Expiry)
	o := outcomeWrong
	if found {
		o = outcomeRight
	}
	if serr := s.settle(ctx, keys, o); serr != nil {
		return nil, serr
	}
	switch {
	case errors.Is(err, token.ErrNotFound):
		return again(deviceInvalidCode), nil
	case err != nil:
		return nil, err
	case !now.Before(dc.Expiry):
		return again(deviceExpired), nil
	case dc.Status != token.DevicePending:
		return again(deviceInvalidCode), nil
	}
	cl, ok := s.cache.Get(dc.ClientID)
	if !ok || cl.TenantID != dc.TenantID || !cl.HasGrant(GrantDeviceCode) {
		return again(deviceInvalidCode), nil // the client was deleted or lost the grant since
	}
	in := &token.Interaction{
		ClientID: cl.ID, TenantID: cl.TenantID, Scopes: dc.Scopes, Prompt: []string{"consent"}, MaxAge: -1,
		Resources: dc.Resources,
		SignInState: token.SignInState{Purpose: token.PurposeDevice, DeviceCodeID: dc.Hash,
			UILocales: validUILocales(req.GetUiLocales())},
	}
	sess, err := s.currentSession(ctx, b.GetSessionCookie(), cl.TenantID)
	if err != nil {
		return nil, err
	}
	// Stored, not sealed into the login page: the interaction carries the device code's digest, and only a
	// person who typed a live code (throttled) gets this far, so it costs one write per real approval.
	id, err := s.saveInteraction(ctx, in, "")
	if err != nil {
		return nil, err
	}
	step, err := s.next(ctx, cl, in, id, sess, false)
	if err != nil {
		return nil, err
	}
	return &tokenv1.SubmitUserCodeResponse{Step: step}, nil
}

// errDeviceGone is answered when the device authorization an interaction approves is no longer pending.
var errDeviceGone = apierror.FailedPrecondition("the device sign-in has expired or was already answered; start again on the device")

// finishDevice completes the approval of a device authorization (RFC 8628 §3.3) for cl: the approval (the
// user, the session's sid and auth time, the account incarnation, how the user authenticated) is recorded
// on the device code in one store transaction, only while it is still pending, unexpired and of cl; the
// client is recorded in the session (back-channel logout); the interaction is dropped; and the person is
// told to go back to the device.
func (s *Server) finishDevice(ctx context.Context, cl *clients.Client, in *token.Interaction, sess *token.Session) (*tokenv1.Step, error) {
	now := s.now()
	_, err := s.st.UpdateDeviceCode(ctx, in.DeviceCodeID, func(dc token.DeviceCode) (token.DeviceCode, error) {
		if dc.Status != token.DevicePending || !now.Before(dc.Expiry) || dc.ClientID != cl.ID || dc.TenantID != sess.TenantID {
			return dc, errDeviceGone
		}
		dc.Status, dc.UserID, dc.SID, dc.AuthTime, dc.Incarnation = token.DeviceApproved, sess.UserID, sess.SID, sess.AuthTime, sess.Incarnation
		dc.Authn = sess.Authn.Clone()
		return dc, nil
	})
	switch {
	case errors.Is(err, token.ErrNotFound):
		return nil, errDeviceGone
	case err != nil:
		return nil, err
	}
	if !slices.Contains(sess.Clients, cl.ID) {
		if _, err := s.st.UpdateSession(ctx, sess.ID, func(old token.Session) (token.Session, error) {
			if !slices.Contains(old.Clients, cl.ID) {
				old.Clients = append(old.Clients, cl.ID)
			}
			return old, nil
		}); err != nil && !errors.Is(err, token.ErrNotFound) {
			return nil, err
		}
	}
	if in.ID != nil {
		if err := s.st.DeleteInteraction(ctx, in.ID); err != nil {
			return nil, err
		}
	}
	s.log.Info("audit", "event", "device_approved", "client_id", cl.ID, "user_id", sess.UserID)
	return s.deviceMessage(ctx, in, deviceApproved, clientName(cl)), nil
}

// denyDevice records a person's refusal on the consent page of a device interaction (RFC 8628 §3.5: the
// device's next poll gets access_denied) and drops the interaction. A device code no longer pending is
// left as it is.
func (s *Server) denyDevice(ctx context.Context, cl *clients.Client, in *token.Interaction, sess *token.Session) (*tokenv1.Step, error) {
	_, err := s.st.UpdateDeviceCode(ctx, in.DeviceCodeID, func(dc token.DeviceCode) (token.DeviceCode, error) {
		if dc.Status != token.DevicePending || dc.ClientID != cl.ID {
			return dc, errDeviceGone
		}
		dc.Status, dc.UserID = token.DeviceDenied, sess.UserID
		return dc, nil
	})
	if err != nil && !errors.Is(err, errDeviceGone) && !errors.Is(err, token.ErrNotFound) {
		return nil, err
	}
	if in.ID != nil {
		if err := s.st.DeleteInteraction(ctx, in.ID); err != nil {
			return nil, err
		}
	}
	s.log.Info("audit", "event", "device_denied", "client_id", cl.ID, "user_id", sess.UserID)
	return s.deviceMessage(ctx, in, deviceDenied, clientName(cl)), nil
}

// deviceMessage is the page that ends a device interaction.
func (s *Server) deviceMessage(ctx context.Context, in *token.Interaction, code, client string) *tokenv1.Step {
	return &tokenv1.Step{Step: &tokenv1.Step_Message{Message: &tokenv1.MessagePage{
		MessageCode: code, Args: map[string]string{"client_name": client},
	}}, Page: s.pageContext(ctx, in.TenantID, in.UILocales), SecureCookies: s.secureCookies()}
}

// deviceError is an error of the device access token response (RFC 8628 §3.5, RFC 6749 §5.2): always 400.
func deviceError(code, format string, args ...any) error {
	return apierror.OAuthWithStatus(http.StatusBadRequest, code, format, args...)
}

// deviceCodeGrant is the device access token request (RFC 8628 §3.4, §3.5). The device code must have been
// issued to the authenticated client. While the person has not decided the answer is
// authorization_pending, or slow_down for a poll sooner than the interval after the previous one (the
// interval then grows by 5 s; measured per replica in memory, devicePolls); a pending poll reads the
// store and writes nothing. Expired: expired_token; denied: access_denied. Approved: the tokens, exactly once
// (the store moves the code from approved to redeemed atomically; a second redemption is invalid_grant),
// as for a code issued in the approving session: an ID token with openid, a refresh token with
// offline_access for a client allowed offline access, auth_time, sid, amr and acr of that session (RFC 8176).
// A user disabled,
// deleted or re-created since the approval, or whose session was ended by an administrator, gets
// invalid_grant.
func (s *Server) deviceCodeGrant(ctx context.Context, cl *clients.Client, req *tokenv1.TokenRequest) (*tokenv1.TokenResponse, error) {
	if !cl.HasGrant(GrantDeviceCode) {
		return nil, apierror.OAuth(apierror.UnauthorizedClient, "the client may not use the device_code grant")
	}
	code := req.GetDeviceCode()
	switch {
	case code == "":
		return nil, apierror.OAuth(apierror.InvalidRequest, "device_code is required")
	case len(code) > 128:
		return nil, errGrant("the device code is invalid")
	}
	hash := digest(code)
	dc, err := s.st.DeviceCode(ctx, hash)
	switch {
	case errors.Is(err, token.ErrNotFound):
		return nil, errGrant("the device code is invalid")
	case err != nil:
		return nil, err
	case dc.ClientID != cl.ID:
		return nil, errGrant("the device code was issued to another client")
	}
	now := s.now()
	key := string(hash)
	if !now.Before(dc.Expiry) {
		s.devicePolls.forget(key)
		return nil, deviceError(apierror.ExpiredToken, "the device code has expired; start again")
	}
	switch dc.Status {
	case token.DevicePending:
		if early, interval := s.devicePolls.poll(key, now, dc.Expiry, DevicePollInterval); early {
			return nil, deviceError(apierror.SlowDown, "polling too fast: wait at least %d seconds between requests", int(interval/time.Second))
		}
		return nil, deviceError(apierror.AuthorizationPending, "the user has not yet approved the request")
	case token.DeviceDenied:
		s.devicePolls.forget(key)
		return nil, deviceError(apierror.AccessDenied, "the user denied the request")
	case token.DeviceRedeemed:
		return nil, errGrant("the device code was already used")
	}
	// Approved.
	if err := s.grantAccountLive(dc.TenantID, dc.UserID, dc.Incarnation, dc.AuthTime); err != nil {
		return nil, err
	}
	if dc.SID != "" && s.revoked.has(sessionRevocationKey(dc.SID)) {
		return nil, errGrant("the session that approved the device was ended")
	}
	t, err := s.userTarget(cl, dc.Scopes, dc.Resources, req.GetResource())
	if err != nil {
		return nil, err
	}
	errUsed := errGrant("the device code was already used")
	dc, err = s.st.UpdateDeviceCode(ctx, hash, func(cur token.DeviceCode) (token.DeviceCode, error) {
		if cur.Status != token.DeviceApproved || cur.ClientID != cl.ID {
			return cur, errUsed
		}
		cur.Status = token.DeviceRedeemed
		return cur, nil
	})
	if err != nil {
		return nil, err
	}
	s.devicePolls.forget(key)
	s.log.Info("audit", "event", "device_token_issued", "client_id", cl.ID, "user_id", dc.UserID)
	return s.issueForUser(ctx, cl, userGrant{
		UserID: dc.UserID, TenantID: dc.TenantID, Scopes: dc.Scopes, AuthTime: dc.AuthTime, SID: dc.SID,
		FamilyID: newJTI(), FamilyEnd: now.Add(cl.RefreshTokenLifetime), Incarnation: dc.Incarnation,
		Resources: dc.Resources, Target: t, Authn: dc.Authn,
	}, "")
}
