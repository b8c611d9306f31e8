package server

import (
	"errors"
	"slices"
	"time"

	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/internal/resourceuri"
	"github.com/authsuite/authsuite/services/token/clients"
	"github.com/authsuite/authsuite/services/token/jwt"
)

// maxResources bounds the resource parameters of one request (RFC 8707 §2 allows several).
const maxResources = 16

// maxResourceLen bounds one resource parameter.
const maxResourceLen = 2048

// target is what the audience rule decides for one access token: its aud, its scopes, its lifetime, and
// the API resources the request named (kept with codes and refresh families to bound later requests).
type target struct {
	Aud       jwt.Audience
	Scopes    []string
	Lifetime  time.Duration
	Resources []string
}

// parseResources checks the resource parameters of a request (RFC 8707 §2): at most maxResources, each a
// resource indicator as the registry stores them (resourceuri.Validate: an absolute URI without a fragment
// or query) once in its normal form (resourceuri.Normalize: "HTTPS://Orders.Internal:443" names
// https://orders.internal), repeats dropped, order kept. A malformed one is invalid_target.
func parseResources(values []string) ([]string, error) {
	if len(values) > maxResources {
		return nil, apierror.OAuth(apierror.InvalidTarget, "at most %d resource values", maxResources)
	}
	var out []string
	for _, v := range values {
		if len(v) > maxResourceLen {
			return nil, apierror.OAuth(apierror.InvalidTarget, "resource %q is too long", clip(v))
		}
		n := resourceuri.Normalize(v)
		if err := resourceuri.Validate(n); err != nil {
			return nil, apierror.OAuth(apierror.InvalidTarget, "resource %q %s", clip(v), err.Error())
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out, nil
}

// oauthDescription is the error_description of an OAuth error, or the error's text.
func oauthDescription(err error) string {
	var oe *apierror.OAuthError
	if errors.As(err, &oe) {
		return oe.Description
	}
	return err.Error()
}

// resolveResources parses the resource parameters (parseResources) and looks each up among the API
// resources of the client's tenant: an unknown resource, or one defining no scope the client is allowed
// (allowed_scopes), is invalid_target (RFC 8707 §2). Memory lookups only.
func (s *Server) resolveResources(cl *clients.Client, values []string) ([]*clients.Resource, error) {
	ids, err := parseResources(values)
	if err != nil {
		return nil, err
	}
	out := make([]*clients.Resource, 0, len(ids))
	for _, id := range ids {
		r, ok := s.cache.Resource(cl.TenantID, id)
		if !ok {
			return nil, apierror.OAuth(apierror.InvalidTarget, "resource %q is not an API resource of the client's tenant", clip(id))
		}
		if !slices.ContainsFunc(r.Scopes, func(sc string) bool { return slices.Contains(cl.Scopes, sc) }) {
			return nil, apierror.OAuth(apierror.InvalidTarget, "the client may not obtain tokens for resource %q", clip(id))
		}
		out = append(out, r)
	}
	return out, nil
}

// isResourceScope reports whether some API resource of the tenant defines scope; every other scope
// (openid, profile, offline_access, roles, groups, adminapi, sudo, scopes no resource defines) is an issuer
// scope.
func (s *Server) isResourceScope(tenantID, scope string) bool {
	return len(s.cache.ResourcesOf(tenantID, scope)) > 0
}

// grantTarget is the one audience rule (RFC 8707) every grant applies; token exchange, ext_authz and any
// later grant call it rather than deciding an audience of their own.
//
//   - ceiling are the scopes the grant may give at most, already within the client's allowed scopes;
//     requested the scopes the request asks for (nil: none), each of which must be in ceiling
//     (invalid_scope).
//   - resources are the request's resource parameters (resolveResources: invalid_target). When there are
//     some, a requested scope that a resource of the tenant defines must be defined by a named one
//     (invalid_scope); with none requested, the ceiling's scopes of other resources are dropped, and so are
//     its issuer scopes unless keepIssuerScopes (client credentials: the client's allowed scopes of the
//     named resources; a code or refresh grant keeps openid and the like). aud is the named resources, plus
//     the issuer when an issuer scope is granted.
//   - Without resources, aud is every resource of the tenant defining a granted scope, plus the issuer when
//     an issuer scope is granted or no resource scope is (so a client without resources keeps aud = issuer).
//   - The lifetime is the client's access token lifetime (at most MaxAccessTokenLifetime), shortened to the
//     access_token_lifetime of each resource in aud that sets one.
//
// No scope left for named resources is invalid_scope (without resources, a client with no scopes still gets
// its scope-less token for the issuer, as before resources existed). Errors change nothing; memory lookups
// only.
func (s *Server) grantTarget(cl *clients.Client, ceiling, requested, resources []string, keepIssuerScopes bool) (target, error) {
	named, err := s.resolveResources(cl, resources)
	if err != nil {
		return target{}, err
	}
	definedByNamed := func(sc string) bool {
		return slices.ContainsFunc(named, func(r *clients.Resource) bool { return r.Defines(sc) })
	}
	var scopes []string
	if len(requested) > 0 {
		for _, sc := range requested {
			switch {
			case !slices.Contains(ceiling, sc):
				return target{}, apierror.OAuth(apierror.InvalidScope, "scope %q is not allowed for this client", clip(sc))
			case len(named) > 0 && s.isResourceScope(cl.TenantID, sc) && !definedByNamed(sc):
				return target{}, apierror.OAuth(apierror.InvalidScope, "scope %q belongs to a resource the request does not name", clip(sc))
			}
			if !slices.Contains(scopes, sc) {
				scopes = append(scopes, sc)
			}
		}
	} else {
		for _, sc := range ceiling {
			if slices.Contains(scopes, sc) {
				continue
			}
			if len(named) > 0 {
				if s.isResourceScope(cl.TenantID, sc) {
					if !definedByNamed(sc) {
						continue
					}
				} else if !keepIssuerScopes {
					continue
				}
			}
			scopes = append(scopes, sc)
		}
	}
	if len(scopes) == 0 && len(named) > 0 {
		return target{}, apierror.OAuth(apierror.InvalidScope, "no scope can be granted for the resources requested")
	}
	t := target{Scopes: scopes}
	t.Aud, t.Lifetime = s.audienceFor(cl, scopes, named)
	for _, r := range named {
		t.Resources = append(t.Resources, r.ID)
	}
	return t, nil
}

// audienceFor computes aud and the access token lifetime for granted scopes and the named resources (see
// grantTarget, the one rule).
func (s *Server) audienceFor(cl *clients.Client, scopes []string, named []*clients.Resource) (jwt.Audience, time.Duration) {
	lifetime := min(cl.AccessTokenLifetime, MaxAccessTokenLifetime)
	var aud jwt.Audience
	add := func(r *clients.Resource) {
		if !aud.Contains(r.ID) {
			aud = append(aud, r.ID)
			if r.AccessTokenLifetime > 0 {
				lifetime = min(lifetime, r.AccessTokenLifetime)
			}
		}
	}
	issuerScope, resourceScope := false, false
	for _, sc := range scopes {
		rs := s.cache.ResourcesOf(cl.TenantID, sc)
		if len(rs) == 0 {
			issuerScope = true
			continue
		}
		resourceScope = true
		if len(named) == 0 {
			for _, r := range rs {
				add(r)
			}
		}
	}
	for _, r := range named {
		add(r)
	}
	if issuerScope || (!resourceScope && len(named) == 0) {
		aud = append(aud, s.issuer)
	}
	return aud, max(lifetime, time.Second)
}
