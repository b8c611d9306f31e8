package server

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/authsuite/authsuite/internal/access"
	"github.com/authsuite/authsuite/services/token"
	"github.com/authsuite/authsuite/services/token/jwt"
)

// Reasons a token does not verify. Messages never contain the token.
var (
	errTokenMissing = errors.New("token is required")
	errTokenInvalid = errors.New("token is malformed or not signed by this issuer")
	errTokenExpired = errors.New("token has expired")
	errTokenRevoked = errors.New("token has been revoked")
	// errTokenAudience: a valid token whose aud does not name the audience the caller needs.
	errTokenAudience = errors.New("token is not meant for this audience")
)

// verifyOwnToken is verifyToken for authsuite's own APIs (the admin API bearer through AuthenticateToken,
// userinfo, sudo): the token must also name the issuer in aud (RFC 9068 §4, RFC 8707 §2: a token issued for
// an API resource only is not good at the authorization server). A token of another audience answers
// errTokenAudience with a nil *verified.
func (s *Server) verifyOwnToken(token string) (*verified, error) {
	return s.verifyTokenFor(token, s.issuer)
}

// verifyTokenFor is verifyToken, and when audience is not empty the token's aud must contain it (RFC 7519
// §4.1.3, exact string comparison); otherwise errTokenAudience with a nil *verified.
func (s *Server) verifyTokenFor(token, audience string) (*verified, error) {
	v, err := s.verifyToken(token)
	if v != nil && audience != "" && !v.claims.Audience.Contains(audience) {
		return nil, errTokenAudience
	}
	return v, err
}

// verifyToken checks that token is an access token of this issuer, whatever its audience (the check
// endpoint, introspection, revocation, token exchange and ext_authz take any; verifyOwnToken and
// verifyTokenFor add an audience): its signature (against current and retired keys) and issuer, then its
// expiry and the revocation set (its own jti, its family and the jtis it was exchanged from). For
// errTokenExpired and errTokenRevoked it also returns the verified token; for other errors nil. Tokens of a
// client that no longer exists count as revoked, and so do a user's tokens once the user is deleted,
// re-created (another account incarnation) or disabled (see accounts.go). The signature check is cached by the token's SHA-256; expiry, revocation, the client's
// existence and the user's status are checked on every call. No I/O.
func (s *Server) verifyToken(token string) (*verified, error) {
	if token == "" {
		return nil, errTokenMissing
	}
	if len(token) > jwt.MaxTokenSize {
		return nil, errTokenInvalid
	}
	h := tokenHash(token)
	v, ok := s.vcache.get(h)
	if !ok {
		c, err := jwt.Verify(token, s.keys.lookup)
		if err != nil {
			return nil, errTokenInvalid
		}
		if c.Issuer != s.issuer || len(c.Audience) == 0 {
			return nil, errTokenInvalid
		}
		v = &verified{claims: c, scopes: strings.Fields(c.Scope)}
		s.vcache.put(h, v)
	}
	if s.now().Unix() >= v.claims.Expiry {
		return v, errTokenExpired
	}
	if s.revoked.has(v.claims.ID) || (v.claims.FamilyID != "" && s.revoked.has(familyKey(v.claims.FamilyID))) {
		return v, errTokenRevoked
	}
	// An exchanged token (RFC 8693) falls with every token it was exchanged from: revoking any upstream
	// token revokes the whole downstream chain. pjti is bounded by the exchange's chain depth, and
	// a downstream token never outlives its parents, so their revocation entries outlast it.
	for _, p := range v.claims.Parents {
		if s.revoked.has(p) {
			return v, errTokenRevoked
		}
	}
	if s.cache.Ready() {
		// Deleting a client ends its tokens too: a deleted (for example compromised) client's tokens are
		// treated as revoked. A memory lookup in the client view, which knows every client once ready.
		if _, ok := s.cache.Get(v.claims.ClientID); !ok {
			return v, errTokenRevoked
		}
	}
	if uid := userID(v.claims); uid != "" {
		// iat has whole seconds: a token issued in the second of a disable counts as issued before it.
		if s.accountLive(v.claims.Tenant, uid, v.claims.Incarnation, time.Unix(v.claims.IssuedAt, 0)) != nil {
			return v, errTokenRevoked
		}
	}
	return v, nil
}

// revoke records v's jti as revoked (see recordRevocation).
func (s *Server) revoke(ctx context.Context, v *verified) error {
	return s.recordRevocation(ctx, token.Revocation{JTI: v.claims.ID, Expiry: time.Unix(v.claims.Expiry, 0)})
}

// userID is the token's user: the subject of a token issued to a signed-in user, which carries auth_time;
// empty for a client's own token (client_credentials, sub = client_id).
func userID(c *jwt.Claims) string {
	if c.AuthTime == 0 {
		return ""
	}
	return c.Subject
}

// isSystemTenant reports whether a tenant id is the system tenant (access.SystemTenant), whose clients may see
// and act in every tenant. Only the id counts: tenant codes are editable names, so a tenant whose code is
// "default" gains nothing by it.
func isSystemTenant(tenantID string) bool { return tenantID == access.SystemTenant }
