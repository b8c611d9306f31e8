package server

import (
	"strings"
	"time"

	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/access"
	"github.com/authsuite/authsuite/services/token"
	"github.com/authsuite/authsuite/services/token/jwt"
)

// This file is the only place that builds tokenv1 messages from domain values.

func toTokenResponse(i *issued) *tokenv1.TokenResponse {
	return &tokenv1.TokenResponse{AccessToken: i.Token, TokenType: "Bearer", ExpiresIn: i.ExpiresIn, Scope: i.Scope}
}

func toGetTokenResponse(i *issued) *tokenv1.GetTokenResponse {
	return &tokenv1.GetTokenResponse{AccessToken: i.Token, TokenType: "bearer", ExpiresIn: i.ExpiresIn, Scope: i.Scope}
}

func toCheckResponse(token string, v *verified, now time.Time) *tokenv1.CheckTokenResponse {
	left := max(v.claims.Expiry-now.Unix(), 0)
	return &tokenv1.CheckTokenResponse{
		AccessToken: token, TokenType: "bearer", ExpiresIn: int32(min(left, 1<<31-1)), Scope: v.claims.Scope,
	}
}

// withSudo describes the impersonated user u and the actor chain act (see delegate).
func withSudo(r *tokenv1.CheckTokenResponse, u *access.User, act *jwt.Actor) {
	r.Sub = new(u.ID)
	r.LoginName = new(u.LoginName)
	r.Tenant = new(u.TenantID)
	r.Act = toActor(act)
}

// toActor renders an act chain (RFC 8693 §4.1) nested as in the token; the chain is bounded by
// MaxDelegationDepth when built.
func toActor(a *jwt.Actor) *tokenv1.Actor {
	var head *tokenv1.Actor
	for tail := &head; a != nil; a = a.Act {
		*tail = &tokenv1.Actor{ClientId: a.ClientID, Sub: a.Subject}
		tail = &(*tail).Act
	}
	return head
}

func toIntrospectResponse(c *jwt.Claims) *tokenv1.IntrospectResponse {
	r := &tokenv1.IntrospectResponse{
		Active:    true,
		Scope:     new(c.Scope),
		ClientId:  new(c.ClientID),
		TokenType: new("Bearer"), // RFC 7662 §2.2: the token_type of RFC 6749 §7.1
		Exp:       new(c.Expiry),
		Iat:       new(c.IssuedAt),
		Sub:       new(c.Subject),
		Iss:       new(c.Issuer),
		Jti:       new(c.ID),
		Tenant:    new(c.Tenant),
	}
	// RFC 7662 §2.2: aud as RFC 7519 §4.1.3 has it; the gateway writes it from audiences (a string for one,
	// an array for several), aud keeps the first for gRPC callers.
	if len(c.Audience) > 0 {
		r.Aud = new(c.Audience[0])
		r.Audiences = []string(c.Audience)
	}
	if c.Confirmation != nil {
		r.Cnf = &tokenv1.Confirmation{X5TS256: c.Confirmation.X5tS256} // RFC 8705 §3.2
	}
	if c.Act != nil {
		r.Act = toActor(c.Act) // RFC 8693 §4.1, the whole chain
	}
	return r
}

// toRefreshIntrospectResponse describes an active refresh token (RFC 7662 §2.2) with the scopes a refresh
// would grant now. iat is the token's own issue (rotation) time, absent for tokens stored before it was kept.
func toRefreshIntrospectResponse(rt token.RefreshToken, scopes []string, issuer string) *tokenv1.IntrospectResponse {
	r := &tokenv1.IntrospectResponse{
		Active:    true,
		Scope:     new(strings.Join(scopes, " ")),
		ClientId:  new(rt.ClientID),
		TokenType: new(GrantRefreshToken),
		Exp:       new(rt.Expiry.Unix()),
		Sub:       new(rt.UserID),
		Iss:       new(issuer),
		Tenant:    new(rt.TenantID),
	}
	if !rt.IssueTime.IsZero() {
		r.Iat = new(rt.IssueTime.Unix())
	}
	return r
}

func toAuthenticateResponse(v *verified) *tokenv1.AuthenticateTokenResponse {
	c := v.claims
	return &tokenv1.AuthenticateTokenResponse{
		Subject: c.Subject, ClientId: c.ClientID, TenantId: c.Tenant, Scopes: v.scopes, UserId: userID(c),
		ExpireTime: c.Expiry, Jti: c.ID,
	}
}

func toJwks(keys []jwt.JWK) *tokenv1.GetJwksResponse {
	out := &tokenv1.GetJwksResponse{Keys: make([]*tokenv1.Jwk, 0, len(keys))}
	opt := func(s string) *string {
		if s == "" {
			return nil
		}
		return new(s)
	}
	for _, k := range keys {
		out.Keys = append(out.Keys, &tokenv1.Jwk{
			Kty: k.Kty, Kid: k.Kid, Use: k.Use, Alg: k.Alg,
			Crv: opt(k.Crv), X: opt(k.X), Y: opt(k.Y), N: opt(k.N), E: opt(k.E),
		})
	}
	return out
}
