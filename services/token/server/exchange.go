package server

import (
	"context"
	"slices"
	"strings"

	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/services/token/clients"
	"github.com/authsuite/authsuite/services/token/jwt"
)

// GrantTokenExchange is the token exchange grant type (RFC 8693 §2.1).
const GrantTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"

// Token type identifiers (RFC 8693 §3).
const (
	TokenTypeAccessToken = "urn:ietf:params:oauth:token-type:access_token"
	TokenTypeJWT         = "urn:ietf:params:oauth:token-type:jwt"
)

// maxExchangeTargets bounds the resource and audience values of one exchange request.
const maxExchangeTargets = 16

// tokenExchange is the token exchange grant (RFC 8693 §2): an authenticated confidential client trades a
// subject token, an access token of this issuer, for a new access token for the next hop, acting for the
// token's subject. Rules:
//
//   - the client must be allowed the grant (unauthorized_client);
//   - subject_token and its type (access_token or jwt) are required, actor_token_type comes with
//     actor_token and only then, requested_token_type is access_token or absent (invalid_request, §2.1);
//   - the subject token verifies as every token does (signature, expiry, revocation, its client and user
//     still live), and the delegation policy (delegate) lets the client act for it; an actor token must be
//     the client's own live client token. Any failure is invalid_request without saying which (§2.2.2);
//   - the target (resource and audience, both API resource ids) and the scope follow the audience rule
//     every grant follows (grantTarget): scope ⊆ the subject token's scopes ∩ the client's allowed scopes,
//     and within the targets' scopes when targets are named; none requested means that intersection
//     (invalid_target, invalid_scope);
//   - the issued token (§2.2.1) is the user's token still (sub, tenant, auth_time, uinc, sid and fid of the
//     subject token, the user's roles, groups and mapped claims as the client's tokens carry them), issued
//     to the client (client_id), with the act chain (§4.1) and pjti (the subject's jti, then its own
//     parents, so revoking any upstream token revokes it), and never outlives the subject token. No refresh
//     token.
//
// Errors change nothing; a success writes nothing and calls no other service.
func (s *Server) tokenExchange(ctx context.Context, cl *clients.Client, req *tokenv1.TokenRequest) (*tokenv1.TokenResponse, error) {
	if !cl.HasGrant(GrantTokenExchange) {
		return nil, apierror.OAuth(apierror.UnauthorizedClient, "the client may not use the token-exchange grant")
	}
	if err := checkExchangeParams(req); err != nil {
		return nil, err
	}
	requested, err := parseScope(req.GetScope())
	if err != nil {
		return nil, err
	}
	subject, err := s.verifyToken(req.GetSubjectToken())
	if err != nil {
		return nil, errNoDelegation
	}
	var actor *verified
	if req.GetActorToken() != "" {
		// RFC 8693 §2.1: the actor token represents the acting party; here it must be the client's own live
		// client token (issued to it, about itself, acting for nobody), so a client can only act as itself.
		actor, err = s.verifyToken(req.GetActorToken())
		if err != nil || actor.claims.ClientID != cl.ID || actor.claims.Subject != cl.ID || userID(actor.claims) != "" ||
			actor.claims.Act != nil || actor.claims.Tenant != cl.TenantID {
			return nil, apierror.OAuth(apierror.InvalidRequest, "the actor_token is invalid or not a token of this client")
		}
	}
	d, err := s.delegate(ctx, delegation{client: cl, actor: actor, subject: subject})
	if err != nil {
		return nil, err
	}
	for _, sc := range requested {
		switch {
		case sc == ScopeOfflineAccess:
			return nil, apierror.OAuth(apierror.InvalidScope, "an exchange issues no refresh token: offline_access cannot be requested")
		case !slices.Contains(subject.scopes, sc):
			return nil, apierror.OAuth(apierror.InvalidScope, "scope %q is not in the subject_token's scope: an exchange never widens it", clip(sc))
		}
	}
	sc := subject.claims
	// The one audience rule (grantTarget); resource and audience both name API resources. Issuer scopes
	// (openid and the like) are kept only when asked for once a target is named.
	t, err := s.grantTarget(cl, exchangeScopes(cl, subject.scopes), requested, exchangeTargets(req), false)
	if err != nil {
		return nil, err
	}
	// Never extends a grant: the exchanged token ends when its subject token does, at the latest, so the
	// subject token's revocation entry (kept until its expiry) outlasts it.
	now := s.now()
	exp := min(now.Add(t.Lifetime).Unix(), sc.Expiry)
	scope := strings.Join(t.Scopes, " ")
	c := &jwt.Claims{
		Issuer: s.issuer, Subject: sc.Subject, Audience: t.Aud, ClientID: cl.ID, Scope: scope, Tenant: sc.Tenant,
		IssuedAt: now.Unix(), Expiry: exp, ID: newJTI(), Act: d.act, AuthTime: sc.AuthTime, FamilyID: sc.FamilyID,
		SID: sc.SID, Incarnation: sc.Incarnation, Parents: append([]string{sc.ID}, sc.Parents...),
		Confirmation: s.certConfirmation(ctx, cl),
	}
	if uid := userID(sc); uid != "" {
		// The user's claims as any token of this client carries them, from the account view now.
		a, _ := s.cache.Account(sc.Tenant, uid, sc.Incarnation)
		uc := claimsFor(a, cl, t.Scopes)
		c.Roles, c.Groups, c.Extra = uc.Roles, uc.Groups, uc.Extra
	} else {
		// A client's token: the static claims describe the subject client, not the exchanging one.
		c.Extra = sc.Extra
	}
	tok, err := s.keys.signer().Sign(c)
	if err != nil {
		return nil, err
	}
	s.log.Info("audit", "event", "token_exchange", "client_id", cl.ID, "tenant", sc.Tenant, "subject_client_id", sc.ClientID,
		"user_id", userID(sc), "subject_jti", sc.ID, "jti", c.ID)
	return &tokenv1.TokenResponse{
		AccessToken: tok, TokenType: "Bearer", ExpiresIn: int32(exp - now.Unix()), Scope: scope,
		IssuedTokenType: new(TokenTypeAccessToken),
	}, nil
}

// checkExchangeParams checks the token types of an exchange request (RFC 8693 §2.1), each refusal an
// invalid_request naming the parameter.
func checkExchangeParams(req *tokenv1.TokenRequest) error {
	bad := func(format string, args ...any) error {
		return apierror.OAuth(apierror.InvalidRequest, format, args...)
	}
	isAccessToken := func(t string) bool { return t == TokenTypeAccessToken || t == TokenTypeJWT }
	switch {
	case req.GetSubjectToken() == "":
		return bad("subject_token is required")
	case req.GetSubjectTokenType() == "":
		return bad("subject_token_type is required")
	case !isAccessToken(req.GetSubjectTokenType()):
		return bad("subject_token_type must be %s or %s", TokenTypeAccessToken, TokenTypeJWT)
	case req.GetActorToken() != "" && req.GetActorTokenType() == "":
		return bad("actor_token_type is required with actor_token")
	case req.GetActorToken() == "" && req.GetActorTokenType() != "":
		return bad("actor_token_type must not be sent without actor_token")
	case req.GetActorToken() != "" && !isAccessToken(req.GetActorTokenType()):
		return bad("actor_token_type must be %s or %s", TokenTypeAccessToken, TokenTypeJWT)
	case req.GetRequestedTokenType() != "" && req.GetRequestedTokenType() != TokenTypeAccessToken:
		return bad("requested_token_type must be %s", TokenTypeAccessToken)
	case len(req.GetResource())+len(req.GetAudience()) > maxExchangeTargets:
		return apierror.OAuth(apierror.InvalidTarget, "at most %d resource and audience values", maxExchangeTargets)
	}
	return nil
}

// parseScope splits a requested scope (RFC 6749 §3.3) into distinct scope-tokens, in order; empty means
// none requested.
func parseScope(scope string) ([]string, error) {
	if len(scope) > 4096 {
		return nil, apierror.OAuth(apierror.InvalidScope, "scope is too long")
	}
	var out []string
	for _, sc := range strings.Fields(scope) {
		if !validScopeToken(sc) {
			return nil, apierror.OAuth(apierror.InvalidScope, "scope contains a malformed value")
		}
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	return out, nil
}

// exchangeScopes is the most an exchange may grant before the target is considered: the subject token's
// scopes the client is itself allowed, without offline_access (an exchange issues no refresh token).
func exchangeScopes(cl *clients.Client, subject []string) []string {
	var out []string
	for _, sc := range subject {
		if sc != ScopeOfflineAccess && slices.Contains(cl.Scopes, sc) && !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	return out
}

// exchangeTargets are the resource and audience values of an exchange (RFC 8693 §2.1), in order and
// without repeats: authsuite's audience names are API resource ids, so both name the same kind of target.
func exchangeTargets(req *tokenv1.TokenRequest) []string {
	var out []string
	for _, t := range slices.Concat(req.GetResource(), req.GetAudience()) {
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}
