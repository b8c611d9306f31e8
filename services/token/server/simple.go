package server

import (
	"context"
	"log/slog"
	"net/http"

	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/access"
	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/internal/apistatus"
	"github.com/authsuite/authsuite/internal/audit"
)

// GetToken is GET /api/oauth2/server/tokens (docs/reference/simple-token-api.md#get-a-token): the client credentials grant with the
// credentials in the query. Errors are those of Token.
func (s *Server) GetToken(ctx context.Context, req *tokenv1.GetTokenRequest) (*tokenv1.GetTokenResponse, error) {
	if err := refuseSudo(ctx); err != nil {
		return nil, err
	}
	switch req.GetGrantType() {
	case "":
		return nil, apierror.OAuth(apierror.InvalidRequest, "grant_type is required")
	case GrantClientCredentials:
	default:
		return nil, apierror.OAuth(apierror.UnsupportedGrantType, "grant_type must be client_credentials")
	}
	cl, err := s.authenticate(ctx, clientAuth{ClientID: req.GetClientId(), Secret: req.GetClientSecret(), SecretOnly: true}, true)
	if err != nil {
		return nil, err
	}
	iss, err := s.clientCredentials(ctx, cl, req.GetScope(), nil)
	if err != nil {
		return nil, err
	}
	return toGetTokenResponse(iss), nil
}

// invalidToken is the check endpoint's answer for a bad token: HTTP 400 invalid_token (docs/reference/simple-token-api.md#check-a-token).
func invalidToken(err error) error {
	return apierror.OAuthWithStatus(http.StatusBadRequest, apierror.InvalidToken, "%s", err.Error())
}

// CheckToken is GET /api/oauth2/server/tokens/check (docs/reference/simple-token-api.md#check-a-token). A live token answers its four
// fields with expires_in the seconds left; an expired, revoked or forged one answers 400 invalid_token.
// With sudo (docs/reference.md#sudo) the delegation policy decides (delegate: the suite's one rule,
// access.Resolve, with the registry as directory): the token must carry scope sudo (403 insufficient_scope
// otherwise, never a silent fallback) and be a client's or a system-tenant admin's (403 for any other user
// token); the user is resolved in the named tenant (or the token's own) — 404 unknown, 403 disabled —, a
// client of a non-system tenant may only reach its own tenant (one 403 for unknown and foreign tenants
// alike), and the answer describes the user (sub, loginName, tenant) and the acting client (act, RFC 8693
// §4.1), with the parties that acted before it nested inside when the token was itself exchanged.
func (s *Server) CheckToken(ctx context.Context, req *tokenv1.CheckTokenRequest) (*tokenv1.CheckTokenResponse, error) {
	if req.GetToken() == "" {
		return nil, apierror.OAuthWithStatus(http.StatusBadRequest, apierror.InvalidRequest, "token is required")
	}
	// Any token of this issuer; with audience, only one whose aud contains it (RFC 7519 §4.1.3).
	v, err := s.verifyTokenFor(req.GetToken(), req.GetAudience())
	if err != nil {
		return nil, invalidToken(err)
	}
	resp := toCheckResponse(req.GetToken(), v, s.now())
	sudo := access.SudoRequest{Selector: req.GetSudo(), TenantID: req.GetTenantId(), TenantCode: req.GetTenantCode()}
	if !sudo.Asked() {
		return resp, nil
	}
	// Sudo is authsuite's own API: a token issued for an API resource only is not good for it.
	if !v.claims.Audience.Contains(s.issuer) {
		return nil, invalidToken(errTokenAudience)
	}
	d, err := s.delegate(ctx, delegation{actor: v, sudo: sudo})
	s.auditSudo(ctx, d.principal, err)
	if err != nil {
		return nil, err
	}
	withSudo(resp, d.principal.As, d.act)
	return resp, nil
}

// auditSudo records a sudo check, granted or refused: the method, the real caller (the token's client, user
// and tenant), the impersonated user when granted, and the outcome. It never logs the token.
func (s *Server) auditSudo(ctx context.Context, p access.Principal, err error) {
	method, _ := grpc.Method(ctx)
	outcome := "ok" // the recorder logs a refusal at Warn
	if err != nil {
		outcome = status.Code(apistatus.ToStatus(err)).String()
	}
	e := audit.Event{Event: "sudo_check", TenantID: p.Caller.TenantID, Outcome: audit.OutcomeSuccess,
		Actor: audit.Actor{ClientID: p.Caller.ClientID, UserID: p.Caller.UserID},
		Line:  audit.Line{Outcome: outcome, Attrs: append([]slog.Attr{slog.String("method", method)}, p.AuditAttrs()...)}}
	if p.As != nil {
		e.TenantID, e.Target = p.As.TenantID, audit.Target{Kind: "user", ID: p.As.ID}
		if p.As.TenantID != p.Caller.TenantID {
			e.Actor.ActingFor = p.Caller.TenantID
		}
	}
	if err != nil {
		e.Outcome, e.Reason = audit.OutcomeDenied, outcome
	}
	s.deps.Audit.Record(ctx, e)
}

// RevokeToken is GET /api/oauth2/server/tokens/revoke (docs/reference/simple-token-api.md#revoke-a-token): it revokes the token durably and
// answers code 0 "success"; an already expired or revoked token succeeds too. An empty token answers 400
// invalid_request and a forged or unparseable one 400 invalid_token (errors, never a non-zero code field).
func (s *Server) RevokeToken(ctx context.Context, req *tokenv1.RevokeTokenRequest) (*tokenv1.RevokeTokenResponse, error) {
	if err := refuseSudo(ctx); err != nil {
		return nil, err
	}
	if req.GetToken() == "" {
		return nil, apierror.OAuthWithStatus(http.StatusBadRequest, apierror.InvalidRequest, "token is required")
	}
	v, err := s.verifyToken(req.GetToken())
	if v == nil {
		return nil, invalidToken(err)
	}
	if err == nil {
		if err := s.revoke(ctx, v); err != nil {
			return nil, err
		}
	}
	return &tokenv1.RevokeTokenResponse{Code: 0, Msg: "success"}, nil
}
