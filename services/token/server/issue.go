package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"time"

	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/services/token/clients"
	"github.com/authsuite/authsuite/services/token/jwt"
)

// Grant types (RFC 6749 §4).
const (
	GrantClientCredentials = "client_credentials"
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	GrantPassword          = "password"
)

// Scopes that need a user and so cannot be granted with client_credentials.
const (
	ScopeOpenID        = "openid"
	ScopeOfflineAccess = "offline_access"
)

// issued is an issued access token.
type issued struct {
	Token     string
	ExpiresIn int32
	Scope     string
}

// validScopeToken reports whether s is a scope-token of RFC 6749 §3.3: 1*( %x21 / %x23-5B / %x5D-7E ).
func validScopeToken(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c == 0x22 || c == 0x5C || c > 0x7E {
			return false
		}
	}
	return true
}

// grantScopes decides the scopes of a client_credentials token (RFC 6749 §3.3, §4.4.2): every requested
// scope must be allowed for the client; none requested means all allowed ones. openid and offline_access
// need a user and are refused when requested, left out when defaulted.
func grantScopes(cl *clients.Client, requested string) ([]string, error) {
	if len(requested) > 4096 {
		return nil, apierror.OAuth(apierror.InvalidScope, "scope is too long")
	}
	allowed := make(map[string]bool, len(cl.Scopes))
	for _, sc := range cl.Scopes {
		allowed[sc] = true
	}
	var out []string
	seen := map[string]bool{}
	fields := strings.Fields(requested)
	if len(fields) == 0 {
		for _, sc := range cl.Scopes {
			if sc != ScopeOpenID && sc != ScopeOfflineAccess && !seen[sc] {
				seen[sc] = true
				out = append(out, sc)
			}
		}
		return out, nil
	}
	for _, sc := range fields {
		switch {
		case !validScopeToken(sc):
			return nil, apierror.OAuth(apierror.InvalidScope, "scope contains a malformed value")
		case sc == ScopeOpenID || sc == ScopeOfflineAccess:
			return nil, apierror.OAuth(apierror.InvalidScope, "scope %q cannot be granted with client_credentials", sc)
		case !allowed[sc]:
			return nil, apierror.OAuth(apierror.InvalidScope, "scope %q is not allowed for this client", sc)
		}
		if !seen[sc] {
			seen[sc] = true
			out = append(out, sc)
		}
	}
	return out, nil
}

// clientCredentials issues an access token by the client credentials grant (RFC 6749 §4.4) to an
// authenticated client, for the resources named (RFC 8707 §2; the audience rule is grantTarget's), with
// the client's static claims. It writes nothing to disk and calls no other service.
func (s *Server) clientCredentials(ctx context.Context, cl *clients.Client, scope string, resources []string) (*issued, error) {
	if !cl.HasGrant(GrantClientCredentials) {
		return nil, apierror.OAuth(apierror.UnauthorizedClient, "the client may not use the client_credentials grant")
	}
	if !cl.RequireSecret {
		// RFC 6749 §4.4: only confidential clients may use this grant.
		return nil, apierror.OAuth(apierror.UnauthorizedClient, "a public client may not use the client_credentials grant")
	}
	scopes, err := grantScopes(cl, scope)
	if err != nil {
		return nil, err
	}
	var requested []string
	if strings.TrimSpace(scope) != "" {
		requested = scopes
	}
	t, err := s.grantTarget(cl, scopes, requested, resources, false)
	if err != nil {
		return nil, err
	}
	return s.issue(ctx, cl, cl.ID, t)
}

// issue signs an RFC 9068 access token for subject on behalf of cl: the audience, scopes and lifetime of t,
// the client's static claims (clientClaims), and cnf when the client's tokens are certificate-bound.
func (s *Server) issue(ctx context.Context, cl *clients.Client, subject string, t target) (*issued, error) {
	lifetime := t.Lifetime
	now := s.now()
	scope := strings.Join(t.Scopes, " ")
	c := &jwt.Claims{
		Issuer: s.issuer, Subject: subject, Audience: t.Aud, ClientID: cl.ID, Scope: scope,
		Tenant: cl.TenantID, IssuedAt: now.Unix(), Expiry: now.Add(lifetime).Unix(), ID: newJTI(),
		Confirmation: s.certConfirmation(ctx, cl), Extra: clientClaims(cl),
	}
	tok, err := s.keys.signer().Sign(c)
	if err != nil {
		return nil, err
	}
	return &issued{Token: tok, ExpiresIn: int32(lifetime / time.Second), Scope: scope}, nil
}

// newJTI returns 128 random bits, hex-encoded (RFC 9068 §2.2, RFC 7519 §4.1.7).
func newJTI() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}
