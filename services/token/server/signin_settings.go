package server

import (
	"context"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
)

// signInSettingsTTL is how long a tenant's sign-in settings are reused before the registry is asked again:
// a change of branding, policy, mail server or upstream providers reaches sign-in within this time.
const signInSettingsTTL = 10 * time.Second

// maxCachedSettings bounds the cache; when full it is emptied (tenants are few; this only stops growth).
const maxCachedSettings = 10000

// signInSettingsCache keeps the tenants' sign-in settings (registry FactorInternalService.GetSignInSettings)
// for signInSettingsTTL, with one registry call in flight per tenant. Sign-in pages are not the token hot
// path, but a login page at 100 concurrent users should not cost 100 registry calls.
type signInSettingsCache struct {
	factors registryv1.FactorInternalServiceClient
	now     func() time.Time
	group   singleflight.Group

	mu sync.Mutex
	m  map[string]cachedSettings
}

type cachedSettings struct {
	settings *registryv1.SignInSettings
	fetched  time.Time
}

func newSignInSettingsCache(factors registryv1.FactorInternalServiceClient, now func() time.Time) *signInSettingsCache {
	return &signInSettingsCache{factors: factors, now: now, m: map[string]cachedSettings{}}
}

// defaultSignInSettings are the settings of a tenant when the registry has no factor API (Deps.Factors nil):
// password-only sign-in, English, no mail, no upstream providers.
func defaultSignInSettings(tenantID string) *registryv1.SignInSettings {
	return &registryv1.SignInSettings{TenantId: tenantID, DefaultLocale: "en", MfaPolicy: &registryv1.MfaPolicy{},
		Branding: &registryv1.TenantBranding{}, Smtp: &registryv1.SmtpSettings{}}
}

// get returns tenantID's settings. The answer is shared: callers must not modify it. NOT_FOUND from the
// registry is returned as is; other failures too (the caller decides whether sign-in can go on without).
func (c *signInSettingsCache) get(ctx context.Context, tenantID string) (*registryv1.SignInSettings, error) {
	if c.factors == nil {
		return defaultSignInSettings(tenantID), nil
	}
	now := c.now()
	c.mu.Lock()
	e, ok := c.m[tenantID]
	c.mu.Unlock()
	if ok && now.Sub(e.fetched) < signInSettingsTTL && now.Sub(e.fetched) >= 0 {
		return e.settings, nil
	}
	v, err, _ := c.group.Do(tenantID, func() (any, error) {
		// Detached from one caller's cancellation: the answer serves every caller waiting on it.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		resp, err := c.factors.GetSignInSettings(ctx, &registryv1.GetSignInSettingsRequest{TenantId: tenantID})
		if err != nil {
			return nil, err
		}
		st := resp.GetSettings()
		if st == nil {
			return nil, status.Error(codes.Internal, "registry answered no sign-in settings")
		}
		c.mu.Lock()
		if len(c.m) >= maxCachedSettings {
			clear(c.m)
		}
		c.m[tenantID] = cachedSettings{settings: st, fetched: c.now()}
		c.mu.Unlock()
		return st, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*registryv1.SignInSettings), nil
}

// forget drops tenantID's cached settings, so the next get asks the registry (after this service changed
// something they describe).
func (c *signInSettingsCache) forget(tenantID string) {
	c.mu.Lock()
	delete(c.m, tenantID)
	c.mu.Unlock()
}
