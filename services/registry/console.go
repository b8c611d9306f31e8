package registry

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/authsuite/authsuite/internal/access"
	"github.com/authsuite/authsuite/internal/apierror"
)

// The admin console signs administrators in through authsuite's own OpenID Connect, each tenant with its own
// public client (the per-realm admin console client of Keycloak): "console" in the system tenant,
// "console.<tenantId>" in every other. The client is created with its tenant in one store write, at
// bootstrap for the system tenant, and at every registry start for tenants that lack one.

// ConsoleClientPrefix begins the id of every tenant's console client but the system tenant's.
const (
	SystemConsoleClientID = "console"
	ConsoleClientPrefix   = "console."
	// ConsoleCallbackPath is where the console's authorization responses land (OIDC Core §3.1.2.5).
	ConsoleCallbackPath = "/console/callback"
	// ConsolePath is the console's home, where the browser returns after signing out.
	ConsolePath = "/console/"
)

// ConsoleClientID is the id of tenantID's console client.
func ConsoleClientID(tenantID string) string {
	if tenantID == access.SystemTenant {
		return SystemConsoleClientID
	}
	return ConsoleClientPrefix + tenantID
}

// IsConsoleClientID reports whether id has the form of a console client's id.
func IsConsoleClientID(id string) bool {
	return id == SystemConsoleClientID || strings.HasPrefix(id, ConsoleClientPrefix)
}

// ConsoleClient is the console client of tenant t for the suite whose public URL is publicURL: public
// (no secret, token_endpoint_auth_method "none"), authorization code with PKCE required (RFC 7636; RFC 9700
// §2.1.1), no consent, scopes openid, profile and adminapi, redirect URI <publicURL>/console/callback.
func ConsoleClient(t Tenant, publicURL string, now time.Time) Client {
	base := strings.TrimRight(publicURL, "/")
	c := DefaultClient()
	c.ID = ConsoleClientID(t.ID)
	c.Name = "Admin console"
	c.TenantID = t.ID
	c.RequireClientSecret = false
	c.TokenEndpointAuthMethod = AuthNone
	c.RequireConsent = false
	c.AllowRememberConsent = false
	c.AllowedGrantTypes = []string{GrantAuthorizationCode}
	c.AllowedScopes = []string{"openid", "profile", access.ScopeAdminAPI}
	c.RedirectURIs = []string{base + ConsoleCallbackPath}
	c.PostLogoutRedirectURIs = []string{base + ConsolePath}
	c.CreateTime, c.UpdateTime = now, now
	return c
}

// EnsureConsoleClients gives every tenant that has none its console client, and points the redirect URIs of
// the existing ones at publicURL. It is idempotent and safe to run on several replicas at once: a client
// another replica created first (AlreadyExists) or a tenant deleted meanwhile (NotFound) is no error.
// It reports how many clients it created or updated.
func EnsureConsoleClients(ctx context.Context, store Store, publicURL string, now time.Time) (int, error) {
	if publicURL == "" {
		return 0, nil
	}
	n := 0
	opts := ListOptions{Limit: MaxPageSize}
	for {
		tenants, next, err := store.ListTenants(ctx, opts)
		if err != nil {
			return n, fmt.Errorf("console clients: %w", err)
		}
		for _, t := range tenants {
			changed, err := ensureConsoleClient(ctx, store, t, publicURL, now)
			if err != nil {
				return n, fmt.Errorf("console client of tenant %q: %w", t.ID, err)
			}
			if changed {
				n++
			}
		}
		if next == "" {
			return n, nil
		}
		opts.After = next
	}
}

func ensureConsoleClient(ctx context.Context, store Store, t Tenant, publicURL string, now time.Time) (bool, error) {
	want := ConsoleClient(t, publicURL, now)
	have, err := store.GetClient(ctx, want.ID)
	switch {
	case errors.Is(err, apierror.ErrNotFound):
		if _, err := store.CreateClient(ctx, want); err != nil && !errors.Is(err, apierror.ErrAlreadyExists) && !errors.Is(err, apierror.ErrNotFound) {
			return false, err
		}
		return true, nil
	case err != nil:
		return false, err
	case have.TenantID != t.ID:
		// A client of another tenant took the id: leave it, this tenant has no console sign-in.
		return false, nil
	case slices.Equal(have.RedirectURIs, want.RedirectURIs) && slices.Equal(have.PostLogoutRedirectURIs, want.PostLogoutRedirectURIs):
		return false, nil
	}
	_, err = store.UpdateClient(ctx, want.ID, func(c Client) (Client, error) {
		c.RedirectURIs, c.PostLogoutRedirectURIs, c.UpdateTime = want.RedirectURIs, want.PostLogoutRedirectURIs, now
		return c, nil
	})
	if errors.Is(err, apierror.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}
