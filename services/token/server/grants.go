package server

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"hash"
	"slices"
	"strings"
	"time"

	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/services/token"
	"github.com/authsuite/authsuite/services/token/clients"
	"github.com/authsuite/authsuite/services/token/jwt"
)

// userGrant is what user tokens are issued for: the user, the granted scopes and where they came from.
type userGrant struct {
	UserID, TenantID string
	Scopes           []string
	AuthTime         time.Time
	SID, Nonce       string
	FamilyID         string
	FamilyEnd        time.Time // absolute end of the refresh token family (refreshTokenLifetime)
	Incarnation      string    // of the user's account (accounts.go)
	// Resources bound the family's audience: the resources of the authorization request (RFC 8707 §2.2),
	// kept with a new refresh token.
	Resources []string
	// Target is the access token's audience, scopes and lifetime (userTarget).
	Target target
	// Authn is how the user authenticated (the ID token's amr and acr, OIDC Core §2).
	Authn token.Authn
}

// userTarget applies the audience rule (grantTarget) to a user grant of scopes. bound are the resources
// of the authorization request (code) or of the refresh family; requested those of this token request,
// which may narrow bound and never widen it (RFC 8707 §2.2: invalid_target), and which, when bound is
// empty, must each define a granted scope (the user consented to scopes, not to other audiences). None
// requested: bound, less resources deleted since. Errors change nothing; memory lookups only.
func (s *Server) userTarget(cl *clients.Client, scopes, bound, requested []string) (target, error) {
	var named []string
	if len(requested) > 0 {
		ids, err := parseResources(requested)
		if err != nil {
			return target{}, err
		}
		for _, id := range ids {
			switch {
			case len(bound) > 0 && !slices.Contains(bound, id):
				return target{}, apierror.OAuth(apierror.InvalidTarget, "resource %q was not part of the authorization request", clip(id))
			case len(bound) == 0:
				r, ok := s.cache.Resource(cl.TenantID, id)
				if !ok || !slices.ContainsFunc(scopes, r.Defines) {
					return target{}, apierror.OAuth(apierror.InvalidTarget, "no granted scope belongs to resource %q", clip(id))
				}
			}
		}
		named = ids
	} else {
		for _, id := range bound {
			if _, ok := s.cache.Resource(cl.TenantID, id); ok {
				named = append(named, id)
			}
		}
	}
	return s.grantTarget(cl, scopes, nil, named, true)
}

// familyKey is the revocation-set entry that revokes every token of a code / refresh token family.
func familyKey(fid string) string { return "family:" + fid }

// revokeFamily revokes every token issued from a code or refresh token family, durably, then in memory:
// access tokens carrying the family (fid claim) stop verifying and its refresh tokens stop rotating
// (RFC 6749 §4.1.2, RFC 9700 §4.14.2).
func (s *Server) revokeFamily(ctx context.Context, cl *clients.Client, fid string) error {
	until := s.now().Add(max(cl.RefreshTokenLifetime, min(cl.AccessTokenLifetime, MaxAccessTokenLifetime)) + time.Hour)
	return s.recordRevocation(ctx, token.Revocation{JTI: familyKey(fid), Expiry: until})
}

var errGrant = func(format string, args ...any) error { return apierror.OAuth(apierror.InvalidGrant, format, args...) }

// authorizationCode redeems a code (RFC 6749 §4.1.3, §4.1.4): bound to the client, the redirect URI and the
// PKCE challenge (RFC 7636 §4.6). A code is single-use: a second redemption fails and revokes every token
// issued from the first (RFC 6749 §4.1.2). Checks that fail leave the code unused.
func (s *Server) authorizationCode(ctx context.Context, cl *clients.Client, req *tokenv1.TokenRequest) (*tokenv1.TokenResponse, error) {
	if !cl.HasGrant(GrantAuthorizationCode) {
		return nil, apierror.OAuth(apierror.UnauthorizedClient, "the client may not use the authorization_code grant")
	}
	code, verifier := req.GetCode(), req.GetCodeVerifier()
	switch {
	case code == "":
		return nil, apierror.OAuth(apierror.InvalidRequest, "code is required")
	case req.GetRedirectUri() == "":
		return nil, apierror.OAuth(apierror.InvalidRequest, "redirect_uri is required")
	case verifier != "" && !validVerifier(verifier):
		return nil, apierror.OAuth(apierror.InvalidRequest, "code_verifier must be 43 to 128 unreserved characters (RFC 7636 §4.1)")
	case len(code) > 128:
		return nil, errGrant("the authorization code is invalid or expired")
	}
	now := s.now()
	var t target
	c, err := s.st.ConsumeCode(ctx, digest(code), func(c token.AuthCode) error {
		switch {
		case c.ClientID != cl.ID:
			return errGrant("the authorization code was issued to another client")
		case !now.Before(c.Expiry):
			return errGrant("the authorization code is invalid or expired")
		case c.RedirectURI != req.GetRedirectUri():
			return errGrant("redirect_uri does not match the authorization request")
		case c.CodeChallenge == "" && verifier != "":
			// RFC 9700 §2.1.1: a verifier without a challenge is a PKCE downgrade attempt.
			return errGrant("code_verifier sent but the authorization request had no code_challenge")
		case c.CodeChallenge != "" && verifier == "":
			return errGrant("code_verifier is required")
		case c.CodeChallenge != "" && !s256Matches(verifier, c.CodeChallenge):
			return errGrant("code_verifier does not match the code_challenge")
		}
		var err error
		t, err = s.userTarget(cl, c.Scopes, c.Resources, req.GetResource())
		return err
	})
	switch {
	case errors.Is(err, token.ErrUsed):
		if c.ClientID == cl.ID {
			if rerr := s.revokeFamily(ctx, cl, c.FamilyID); rerr != nil {
				return nil, rerr
			}
		}
		s.log.Warn("audit", "event", "code_replay", "client_id", cl.ID, "user_id", c.UserID)
		return nil, errGrant("the authorization code was already used; the tokens issued from it are revoked")
	case errors.Is(err, token.ErrNotFound):
		return nil, errGrant("the authorization code is invalid or expired")
	case err != nil:
		return nil, err
	}
	// The user may have been disabled, deleted or re-created since the code was issued (accounts.go).
	if err := s.grantAccountLive(c.TenantID, c.UserID, c.Incarnation, c.AuthTime); err != nil {
		return nil, err
	}
	return s.issueForUser(ctx, cl, userGrant{
		UserID: c.UserID, TenantID: c.TenantID, Scopes: c.Scopes, AuthTime: c.AuthTime, SID: c.SID, Nonce: c.Nonce,
		FamilyID: c.FamilyID, FamilyEnd: now.Add(cl.RefreshTokenLifetime), Incarnation: c.Incarnation,
		Resources: c.Resources, Target: t, Authn: c.Authn,
	}, "")
}

// s256Matches checks a PKCE verifier against an S256 challenge in constant time (RFC 7636 §4.6).
func s256Matches(verifier, challenge string) bool {
	h := sha256.Sum256([]byte(verifier))
	got := base64.RawURLEncoding.EncodeToString(h[:])
	return subtle.ConstantTimeCompare([]byte(got), []byte(challenge)) == 1
}

// RefreshGracePeriod is how long after a rotation the rotated refresh token may be presented again to get
// the same successor (a client that lost the answer retries), as Keycloak and Okta allow. Any older token,
// or this one later, is a reuse and revokes the family (RFC 9700 §4.14.2).
const RefreshGracePeriod = 30 * time.Second

// refreshToken is the refresh grant (RFC 6749 §6) with rotation (RFC 9700 §4.14.2): each use returns a new
// refresh token of the same family and marks the old one used; presenting a used one revokes the whole
// family, except the immediately previous token within RefreshGracePeriod of its rotation, which gets the
// same successor again (its value is kept sealed with the suite keyring for that window, since the store
// holds only digests). The family ends refreshTokenLifetime after its first token, however often it
// rotates.
//
// The client is checked as it is now, on every refresh: it must still exist (authentication), still have
// the refresh_token grant and offline access, and the family keeps only the scopes the client may still
// have (refreshScopes). Checks that fail leave the token unused.
func (s *Server) refreshToken(ctx context.Context, cl *clients.Client, req *tokenv1.TokenRequest) (*tokenv1.TokenResponse, error) {
	switch {
	case !cl.HasGrant(GrantRefreshToken):
		return nil, apierror.OAuth(apierror.UnauthorizedClient, "the client may not use the refresh_token grant")
	case !cl.AllowOfflineAccess:
		return nil, apierror.OAuth(apierror.UnauthorizedClient, "the client may not use refresh tokens (allowOfflineAccess is false)")
	}
	rt := req.GetRefreshToken()
	if rt == "" {
		return nil, apierror.OAuth(apierror.InvalidRequest, "refresh_token is required")
	}
	if len(rt) > 128 {
		return nil, errGrant("the refresh token is invalid or expired")
	}
	now := s.now()
	next, hash := newSecret(), digest(rt)
	var narrowed []string
	var t target
	grace := token.RefreshGrace{Now: now, Window: RefreshGracePeriod, Sealed: s.kr.Seal([]byte(next), hash)}
	res, err := s.st.RotateRefreshTokenGrace(ctx, hash, grace, func(old token.RefreshToken) (token.RefreshToken, error) {
		switch {
		case old.ClientID != cl.ID:
			return old, errGrant("the refresh token was issued to another client")
		case !now.Before(old.Expiry):
			return old, errGrant("the refresh token is invalid or expired")
		case s.revoked.has(familyKey(old.FamilyID)):
			return old, errGrant("the refresh token has been revoked")
		case old.SID != "" && s.revoked.has(sessionRevocationKey(old.SID)):
			return old, errGrant("the refresh token's session was ended")
		}
		ceiling, scopes, err := refreshScopes(cl, old.Scopes, req.GetScope())
		if err != nil {
			return old, err
		}
		narrowed = scopes
		if t, err = s.userTarget(cl, scopes, old.Resources, req.GetResource()); err != nil {
			return old, err
		}
		n := old
		n.Hash, n.Scopes, n.IssueTime = digest(next), ceiling, now
		return n, nil
	})
	switch {
	case errors.Is(err, token.ErrUsed):
		if res.Token.ClientID == cl.ID {
			if rerr := s.revokeFamily(ctx, cl, res.Token.FamilyID); rerr != nil {
				return nil, rerr
			}
		}
		s.log.Warn("audit", "event", "refresh_token_reuse", "client_id", cl.ID, "user_id", res.Token.UserID)
		return nil, errGrant("the refresh token was already used; its family is revoked")
	case errors.Is(err, token.ErrNotFound):
		return nil, errGrant("the refresh token is invalid or expired")
	case err != nil:
		return nil, err
	}
	rotated := res.Token
	if res.Replayed {
		plain, err := s.kr.Open(res.Sealed, hash)
		if err != nil {
			// The key that sealed it is gone (a rekey dropped it within the window): the successor cannot be
			// handed out again, but it stays valid, so the family is not revoked.
			s.log.Warn("refresh token retry: the kept successor cannot be opened", "client_id", cl.ID, "err", err)
			return nil, errGrant("the refresh token was already used")
		}
		next = string(plain)
		s.log.Info("audit", "event", "refresh_token_retry", "client_id", cl.ID, "user_id", rotated.UserID)
	}
	// A disabled or deleted user gets nothing more; a registry outage does not stop refreshes (docs/reference.md#registry-outages).
	if err := s.grantAccountLive(rotated.TenantID, rotated.UserID, rotated.Incarnation, rotated.AuthTime); err != nil {
		if rerr := s.revokeFamily(ctx, cl, rotated.FamilyID); rerr != nil {
			return nil, rerr
		}
		return nil, err
	}
	return s.issueForUser(ctx, cl, userGrant{
		UserID: rotated.UserID, TenantID: rotated.TenantID, Scopes: narrowed, AuthTime: rotated.AuthTime, SID: rotated.SID,
		FamilyID: rotated.FamilyID, FamilyEnd: rotated.Expiry, Incarnation: rotated.Incarnation,
		Resources: rotated.Resources, Target: t, Authn: rotated.Authn,
	}, next)
}

// refreshScopes bounds a refresh's scope twice. RFC 6749 §6: the requested scope "MUST NOT include any
// scope not originally granted", and when omitted it is the original grant's. And the client's current
// registration: a scope removed from the client since (or offline_access, when offline access was taken
// away) is no longer part of the family. ceiling is the granted scopes the client may still have, which the
// rotated token keeps; scopes is what this refresh issues: ceiling, or the requested scopes, each of which
// must be in ceiling (invalid_scope otherwise). Without offline_access left in ceiling the family cannot
// refresh at all (invalid_grant).
func refreshScopes(cl *clients.Client, granted []string, requested string) (ceiling, scopes []string, err error) {
	allowed := func(sc string) bool {
		return slices.Contains(cl.Scopes, sc) && (sc != ScopeOfflineAccess || cl.AllowOfflineAccess)
	}
	for _, sc := range granted {
		if allowed(sc) && !slices.Contains(ceiling, sc) {
			ceiling = append(ceiling, sc)
		}
	}
	if !slices.Contains(ceiling, ScopeOfflineAccess) {
		return nil, nil, errGrant("the client may no longer obtain offline access (offline_access was removed from it)")
	}
	if requested == "" {
		return ceiling, ceiling, nil
	}
	if len(requested) > 4096 {
		return nil, nil, apierror.OAuth(apierror.InvalidScope, "scope is too long")
	}
	for _, sc := range strings.Fields(requested) {
		switch {
		case !slices.Contains(granted, sc):
			return nil, nil, apierror.OAuth(apierror.InvalidScope, "scope %q was not granted", clip(sc))
		case !slices.Contains(ceiling, sc):
			return nil, nil, apierror.OAuth(apierror.InvalidScope, "scope %q is no longer allowed for this client", clip(sc))
		case !slices.Contains(scopes, sc):
			scopes = append(scopes, sc)
		}
	}
	if len(scopes) == 0 {
		return ceiling, ceiling, nil
	}
	return ceiling, scopes, nil
}

// password is the resource owner password credentials grant (RFC 6749 §4.3), only for clients registered
// with allowRopc (RFC 9700 §2.4 advises against it otherwise). Attempts are throttled per account, at most
// the lock threshold's number of passwords checked per window however many arrive at once (RFC 6749 §10.10).
func (s *Server) password(ctx context.Context, cl *clients.Client, req *tokenv1.TokenRequest) (*tokenv1.TokenResponse, error) {
	if !cl.AllowROPC || !cl.HasGrant(GrantPassword) {
		return nil, apierror.OAuth(apierror.UnauthorizedClient, "the client may not use the password grant (allowRopc)")
	}
	username := strings.TrimSpace(req.GetUsername())
	if username == "" || req.GetPassword() == "" {
		return nil, apierror.OAuth(apierror.InvalidRequest, "username and password are required")
	}
	var scopes []string
	if req.GetScope() == "" {
		for _, sc := range cl.Scopes {
			if sc != ScopeOfflineAccess || cl.AllowOfflineAccess {
				scopes = append(scopes, sc)
			}
		}
	} else {
		var err error
		if scopes, err = requestedScopes(cl, req.GetScope()); err != nil {
			return nil, apierror.OAuth(apierror.InvalidScope, "%s", err.Error())
		}
	}
	// The audience rule before the password is checked: a bad resource costs no password attempt.
	t, err := s.userTarget(cl, scopes, nil, req.GetResource())
	if err != nil {
		return nil, err
	}
	// Throttled per account (checkPassword; the token request carries no browser address). The audit names
	// the account, never the typed name.
	b := &tokenv1.Browser{}
	u, account, ref, err := s.checkPassword(ctx, cl.TenantID, username, req.GetPassword(), "")
	switch {
	case ref != nil:
		s.audit("password_grant", "throttled", cl, account.GetUserId(), account.GetLoginName(), b)
		return nil, &apierror.OAuthError{Code: apierror.InvalidGrant, Description: ref.message(), RetryAfter: ref.wait}
	case errors.Is(err, errUserDisabled):
		s.audit("password_grant", "disabled", cl, account.GetUserId(), account.GetLoginName(), b)
		return nil, errGrant("the user is disabled")
	case errors.Is(err, errUserCredentials):
		s.audit("password_grant", "bad_credentials", cl, account.GetUserId(), account.GetLoginName(), b)
		return nil, errGrant("invalid user name or password")
	case err != nil:
		return nil, err
	}
	s.audit("password_grant", "success", cl, u.GetUserId(), u.GetLoginName(), b)
	inc, err := s.incarnationOf(ctx, cl.TenantID, u.GetUserId())
	switch {
	case errors.Is(err, errUserDisabled):
		return nil, errGrant("the user is disabled") // disabled or deleted since the password check
	case errors.Is(err, errUserCredentials):
		return nil, errGrant("invalid user name or password")
	case err != nil:
		return nil, err
	}
	if err := s.passwordGrantAllowed(ctx, cl.TenantID, u.GetUserId()); err != nil {
		return nil, err // the password grant has no step for a second factor (secondfactor.go)
	}
	now := s.now()
	return s.issueForUser(ctx, cl, userGrant{
		UserID: u.GetUserId(), TenantID: cl.TenantID, Scopes: scopes, AuthTime: now, FamilyID: newJTI(),
		FamilyEnd: now.Add(cl.RefreshTokenLifetime), Incarnation: inc, Resources: t.Resources, Target: t,
		Authn: authnOf(amrPassword),
	}, "")
}

// issueForUser signs the access token of a user grant (RFC 9068, with auth_time marking it a user token and
// fid naming its family), the ID token when openid was granted (OIDC Core §3.1.3.3), and a refresh token when
// offline_access was granted to a client allowed offline access. refresh is the already stored rotated
// refresh token of a refresh grant, always returned; otherwise a new one is stored here (durably, before
// answering).
func (s *Server) issueForUser(ctx context.Context, cl *clients.Client, g userGrant, refresh string) (*tokenv1.TokenResponse, error) {
	lifetime := g.Target.Lifetime
	now := s.now()
	scope := strings.Join(g.Target.Scopes, " ")
	signer := s.keys.signer()
	// The user's claims as the account view holds them now (roles, groups, mapped attributes).
	account, _ := s.cache.Account(g.TenantID, g.UserID, g.Incarnation)
	uc := claimsFor(account, cl, g.Target.Scopes)
	at, err := signer.Sign(&jwt.Claims{
		Issuer: s.issuer, Subject: g.UserID, Audience: g.Target.Aud, ClientID: cl.ID, Scope: scope,
		Tenant: g.TenantID, IssuedAt: now.Unix(), Expiry: now.Add(lifetime).Unix(), ID: newJTI(),
		AuthTime: max(g.AuthTime.Unix(), 1), FamilyID: g.FamilyID, SID: g.SID, Incarnation: g.Incarnation,
		Confirmation: s.certConfirmation(ctx, cl), Roles: uc.Roles, Groups: uc.Groups, Extra: uc.Extra,
	})
	if err != nil {
		return nil, err
	}
	resp := &tokenv1.TokenResponse{AccessToken: at, TokenType: "Bearer", ExpiresIn: int32(lifetime / time.Second), Scope: scope}
	switch {
	case refresh != "":
		// A refresh grant rotated the token: the new one is always returned, even when this response's
		// scope was narrowed without offline_access, since the old one is now used and presenting it again
		// would revoke the family (RFC 6749 §6: the refresh token stays usable; the family keeps its
		// originally granted scopes as the ceiling).
		resp.RefreshToken = &refresh
	case slices.Contains(g.Scopes, ScopeOfflineAccess) && cl.AllowOfflineAccess && cl.HasGrant(GrantRefreshToken):
		refresh = newSecret()
		if err := s.st.PutRefreshToken(ctx, token.RefreshToken{
			Hash: digest(refresh), FamilyID: g.FamilyID, ClientID: cl.ID, TenantID: g.TenantID, UserID: g.UserID,
			Scopes: g.Scopes, SID: g.SID, AuthTime: g.AuthTime, Expiry: g.FamilyEnd, Incarnation: g.Incarnation,
			IssueTime: now, Resources: g.Resources, Authn: g.Authn.Clone(),
		}); err != nil {
			return nil, err
		}
		resp.RefreshToken = &refresh
	}
	if slices.Contains(g.Target.Scopes, ScopeOpenID) {
		idc := idTokenClaims{
			Issuer: s.issuer, Subject: g.UserID, Audience: cl.ID, Expiry: now.Add(IDTokenLifetime).Unix(),
			IssuedAt: now.Unix(), AuthTime: g.AuthTime.Unix(), Nonce: g.Nonce, SID: g.SID,
			AtHash: leftHalfHash(signer.Alg(), at), Roles: uc.Roles, Groups: uc.Groups,
			AMR: g.Authn.AMR, ACR: g.Authn.ACR,
		}
		s.addressClaims(&idc, g)
		idt, err := signer.SignTyped("JWT", idTokenWithExtra{&idc, uc.Extra})
		if err != nil {
			return nil, err
		}
		resp.IdToken = &idt
	}
	return resp, nil
}

// idTokenClaims are the claims of an ID token (OIDC Core §2, §3.1.3.6 at_hash, Front-/Back-Channel sid).
type idTokenClaims struct {
	Issuer   string `json:"iss"`
	Subject  string `json:"sub"`
	Audience string `json:"aud"`
	Expiry   int64  `json:"exp"`
	IssuedAt int64  `json:"iat"`
	AuthTime int64  `json:"auth_time"`
	Nonce    string `json:"nonce,omitempty"`
	SID      string `json:"sid,omitempty"`
	AtHash   string `json:"at_hash,omitempty"`
	// How the user authenticated (OIDC Core §2; RFC 8176 methods; the classes of acr.go). Absent for
	// sign-ins from before they were kept.
	AMR []string `json:"amr,omitempty"`
	ACR string   `json:"acr,omitempty"`

	// The address claims of scopes email and phone (OIDC Core §5.1, §5.4), see addressClaims.
	Email               string `json:"email,omitempty"`
	EmailVerified       *bool  `json:"email_verified,omitempty"`
	PhoneNumber         string `json:"phone_number,omitempty"`
	PhoneNumberVerified *bool  `json:"phone_number_verified,omitempty"`

	// The roles and groups claims of scopes roles and groups (claimsFor).
	Roles  []string `json:"roles,omitempty"`
	Groups []string `json:"groups,omitempty"`
}

// addressClaims adds to an ID token the claims of the scopes granted (OIDC Core §5.4): email and
// email_verified for email, phone_number and phone_number_verified for phone, when the user has that
// address. They come from the account view (fed by the registry's change feed; a map lookup, no I/O), as
// userinfo answers them; while the view does not list the account, the ID token carries none (userinfo
// still does).
func (s *Server) addressClaims(c *idTokenClaims, g userGrant) {
	email, phone := slices.Contains(g.Target.Scopes, "email"), slices.Contains(g.Target.Scopes, "phone")
	if !email && !phone {
		return
	}
	a, ok := s.cache.Account(g.TenantID, g.UserID, g.Incarnation)
	if !ok {
		return
	}
	if email && a.Email != "" {
		c.Email, c.EmailVerified = a.Email, new(a.EmailVerified)
	}
	if phone && a.Mobile != "" {
		c.PhoneNumber, c.PhoneNumberVerified = a.Mobile, new(a.PhoneVerified)
	}
}

// leftHalfHash is at_hash (OIDC Core §3.1.3.6): the base64url of the left half of the hash of the ASCII
// token, with the hash of the signing algorithm (SHA-256 for ES256 and RS256; SHA-512 for EdDSA, as
// OpenID Foundation clients such as go-oidc expect for Ed25519).
func leftHalfHash(alg jwt.Alg, token string) string {
	var h hash.Hash
	if alg == jwt.EdDSA {
		h = sha512.New()
	} else {
		h = sha256.New()
	}
	h.Write([]byte(token))
	sum := h.Sum(nil)
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2])
}
