// Package bearer authenticates the callers of authsuite's public gRPC APIs: it reads the RFC 6750 bearer
// token the gateway forwards as "authorization" metadata and verifies it through the token service's
// internal API, so every service accepts exactly the tokens the token service issued and has not revoked.
package bearer

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/access"
	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/internal/apistatus"
	"github.com/authsuite/authsuite/internal/audit"
)

// TokenInfo describes a verified access token.
type TokenInfo struct {
	Subject  string
	ClientID string
	TenantID string
	UserID   string // empty for client (client_credentials) tokens
	Scopes   []string
	JTI      string
	Expiry   time.Time
}

// HasScope reports whether the token carries scope.
func (t TokenInfo) HasScope(scope string) bool { return access.HasScope(t.Scopes, scope) }

// Authenticator verifies access tokens. Authenticate returns an error wrapping apierror.ErrUnauthenticated
// for a token that is malformed, forged, expired or revoked, and apierror.ErrUnavailable when the verifier
// cannot be reached.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (TokenInfo, error)
}

// FromContext returns the bearer token of an incoming gRPC call (metadata "authorization: Bearer …",
// scheme case-insensitive per RFC 6750 §2.1), or an apierror.ErrUnauthenticated error.
func FromContext(ctx context.Context) (string, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	vals := md.Get(access.MDAuthorization)
	if len(vals) == 0 {
		return "", apierror.Unauthenticated("a bearer token is required")
	}
	scheme, tok, ok := strings.Cut(vals[0], " ")
	tok = strings.TrimSpace(tok)
	if !ok || !strings.EqualFold(scheme, "Bearer") || !IsB64Token(tok) {
		return "", apierror.Unauthenticated("the Authorization header must be Bearer <token>")
	}
	return tok, nil
}

// IsB64Token reports whether s has the syntax of a bearer credential, RFC 6750 §2.1:
// b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func IsB64Token(s string) bool {
	body := strings.TrimRight(s, "=")
	if body == "" {
		return false
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/':
		default:
			return false
		}
	}
	return true
}

// TokenService is an Authenticator backed by TokenInternalService.AuthenticateToken.
type TokenService struct {
	client tokenv1.TokenInternalServiceClient
}

// NewTokenService returns an Authenticator that asks the token service (whose connection must carry the
// internal credential).
func NewTokenService(client tokenv1.TokenInternalServiceClient) *TokenService {
	return &TokenService{client: client}
}

// Authenticate implements Authenticator.
func (a *TokenService) Authenticate(ctx context.Context, token string) (TokenInfo, error) {
	resp, err := a.client.AuthenticateToken(ctx, &tokenv1.AuthenticateTokenRequest{Token: token})
	if err != nil {
		switch status.Code(err) {
		case codes.Unauthenticated, codes.InvalidArgument:
			return TokenInfo{}, apierror.Unauthenticated("invalid or expired access token")
		case codes.Canceled, codes.DeadlineExceeded:
			return TokenInfo{}, err
		}
		return TokenInfo{}, apierror.ErrUnavailable
	}
	return TokenInfo{
		Subject:  resp.GetSubject(),
		ClientID: resp.GetClientId(),
		TenantID: resp.GetTenantId(),
		UserID:   resp.GetUserId(),
		Scopes:   resp.GetScopes(),
		JTI:      resp.GetJti(),
		Expiry:   time.Unix(resp.GetExpireTime(), 0),
	}, nil
}

// Token is the token as the authorization rule (internal/access) sees it.
func (t TokenInfo) Token() access.Token {
	return access.Token{ClientID: t.ClientID, TenantID: t.TenantID, UserID: t.UserID, Scopes: t.Scopes}
}

// SudoFromContext returns the sudo an incoming call asks for (metadata access.MDSudo,
// access.MDSudoTenantID, access.MDSudoTenantCode, first values; each key's binary form wins over its text
// form), the zero value when it asks for none.
func SudoFromContext(ctx context.Context) access.SudoRequest {
	md, _ := metadata.FromIncomingContext(ctx)
	first := func(key string) string {
		if v := md.Get(key + access.BinarySuffix); len(v) > 0 {
			return v[0]
		}
		if v := md.Get(key); len(v) > 0 {
			return v[0]
		}
		return ""
	}
	return access.SudoRequest{Selector: first(access.MDSudo), TenantID: first(access.MDSudoTenantID), TenantCode: first(access.MDSudoTenantCode)}
}

// Resolve is how every service's public API authorizes a call: it reads the bearer token (UNAUTHENTICATED
// when missing or malformed), verifies it with auth (UNAUTHENTICATED when auth is nil or the token is not
// live), then applies access.Resolve with dir and the call's sudo request. The returned principal always
// carries the real caller, also when an error is returned after the token was verified, so the error can be
// audited against it.
func Resolve(ctx context.Context, auth Authenticator, dir access.Directory) (access.Principal, error) {
	tok, err := FromContext(ctx)
	if err != nil {
		return access.Principal{}, err
	}
	if auth == nil {
		return access.Principal{}, apierror.Unauthenticated("this service accepts no bearer tokens")
	}
	info, err := auth.Authenticate(ctx, tok)
	if err != nil {
		return access.Principal{}, err
	}
	p, err := access.Resolve(ctx, dir, info.Token(), SudoFromContext(ctx))
	audit.NoteActor(ctx, p) // the actor of the call's audit event, when the call is an audited action
	return p, err
}

// Audit writes the one audit record of an authorized call: "admin call" with the full RPC method
// (grpc.Method, which the in-process channel sets too), the real caller and, under sudo, the impersonated
// user (access.Principal.AuditAttrs), extra, and the outcome (ok, or the gRPC code name, at level Warn).
// It never logs request contents, tokens or secrets; p may be the zero Principal of a call that failed to
// authenticate.
func Audit(ctx context.Context, log *slog.Logger, p access.Principal, err error, extra ...slog.Attr) {
	method, _ := grpc.Method(ctx)
	outcome, level := "ok", slog.LevelInfo
	if err != nil {
		outcome, level = status.Code(apistatus.ToStatus(err)).String(), slog.LevelWarn
	}
	attrs := append([]slog.Attr{slog.String("method", method)}, p.AuditAttrs()...)
	attrs = append(append(attrs, extra...), slog.String("outcome", outcome))
	log.LogAttrs(ctx, level, "admin call", attrs...)
}
