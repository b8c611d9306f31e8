package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/sync/singleflight"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
)

// Bounds of the upstream provider discovery cache.
const (
	// upstreamDiscoveryTTL is how long a provider's discovery document (OpenID Connect Discovery 1.0 §4) is
	// reused; its signing keys are refreshed by go-oidc on an unknown key id, independently of this.
	upstreamDiscoveryTTL = time.Hour
	// upstreamFailureTTL is how long a failed discovery is remembered, so a provider that is down costs one
	// attempt per this period, not one per click.
	upstreamFailureTTL = 10 * time.Second
	// upstreamCallTimeout bounds every call to a provider (discovery, token, userinfo).
	upstreamCallTimeout = 10 * time.Second
	// maxUpstreamDiscoveries bounds the cache; when full it is emptied (providers are at most 20 per tenant).
	maxUpstreamDiscoveries = 1000
)

// upstreamProviders caches the discovered upstream providers by (tenant, provider id, issuer): a changed
// issuer is a new entry, so an administrator's change takes effect at the next sign-in. Each key has at most
// one discovery in flight; a slow or failing provider delays only the sign-ins through it (every call is
// bounded by upstreamCallTimeout), never another provider's. The zero value is ready to use.
type upstreamProviders struct {
	group singleflight.Group
	mu    sync.Mutex
	m     map[string]upstreamDiscovery
}

type upstreamDiscovery struct {
	p       *upstreamOP
	err     error
	fetched time.Time
}

// upstreamOP is a discovered provider: go-oidc's Provider (endpoints, key set) and the discovery facts the
// callback checks.
type upstreamOP struct {
	*oidc.Provider
	// issParameter is authorization_response_iss_parameter_supported (RFC 9207 §3): the callback then
	// requires iss.
	issParameter bool
}

// errUpstreamUnavailable is wrapped by discovery failures.
var errUpstreamUnavailable = errors.New("the upstream provider is unavailable")

// get returns the discovered provider p of tenantID, discovering it with client when not cached (or cached
// longer ago than upstreamDiscoveryTTL). The issuer must be https, or http on a loopback address (the
// registry's rule, checked again here); the document's issuer must equal it exactly (Discovery §4.3) and
// its authorization endpoint must obey the same rule, since browsers are sent there.
func (c *upstreamProviders) get(ctx context.Context, client *http.Client, now time.Time, tenantID string, p *registryv1.UpstreamProvider) (*upstreamOP, error) {
	key := tenantID + "\x00" + p.GetProviderId() + "\x00" + p.GetIssuer()
	c.mu.Lock()
	e, ok := c.m[key]
	c.mu.Unlock()
	if ok && now.Sub(e.fetched) >= 0 && (e.err == nil && now.Sub(e.fetched) < upstreamDiscoveryTTL || e.err != nil && now.Sub(e.fetched) < upstreamFailureTTL) {
		return e.p, e.err
	}
	v, _, _ := c.group.Do(key, func() (any, error) {
		// Detached from one caller's cancellation: the answer serves every caller waiting on it.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), upstreamCallTimeout)
		defer cancel()
		op, err := discoverUpstream(dctx, client, p.GetIssuer())
		if err != nil {
			err = fmt.Errorf("%w: %v", errUpstreamUnavailable, err)
		}
		c.mu.Lock()
		if c.m == nil || len(c.m) >= maxUpstreamDiscoveries {
			c.m = map[string]upstreamDiscovery{}
		}
		c.m[key] = upstreamDiscovery{p: op, err: err, fetched: now}
		c.mu.Unlock()
		return upstreamDiscovery{p: op, err: err}, nil
	})
	d := v.(upstreamDiscovery)
	return d.p, d.err
}

func discoverUpstream(ctx context.Context, client *http.Client, issuer string) (*upstreamOP, error) {
	if err := checkUpstreamURL(issuer); err != nil {
		return nil, fmt.Errorf("issuer: %w", err)
	}
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, client), issuer)
	if err != nil {
		return nil, err
	}
	var extra struct {
		ISS bool `json:"authorization_response_iss_parameter_supported"`
	}
	if err := p.Claims(&extra); err != nil {
		return nil, err
	}
	ep := p.Endpoint()
	if err := checkUpstreamURL(ep.AuthURL); err != nil {
		return nil, fmt.Errorf("authorization_endpoint: %w", err)
	}
	if ep.TokenURL == "" {
		return nil, errors.New("the discovery document has no token_endpoint")
	}
	return &upstreamOP{Provider: p, issParameter: extra.ISS}, nil
}

// checkUpstreamURL accepts an absolute https URL, or an http one whose host is a loopback address or
// "localhost" (tests, and a provider on the same machine), without a fragment (RFC 6749 §3.1).
func checkUpstreamURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Fragment != "" || u.User != nil {
		return errors.New("not an absolute URL without fragment or user information")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if h := u.Hostname(); h == "localhost" || net.ParseIP(h) != nil && net.ParseIP(h).IsLoopback() {
			return nil
		}
	}
	return errors.New("not https (http is allowed only on a loopback address)")
}
