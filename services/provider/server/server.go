// Package server is the gRPC edge of the provider service (SPEC §5, seed 000): ProviderConfigService (the
// ThingWorx Flow configuration services, reached through the REST gateway), ConnectorService (connectors,
// /api/provider/v1) and ProviderInternalService (other services' access to connector tokens, guarded by the
// internal credential that grpcserver enforces by name).
//
// Authorization, per call from the bearer token (internal/bearer):
//   - providers are suite-wide: loading and deleting them, and DeleteOAuthTokens, need scope adminapi of
//     the system tenant; listing them needs scope adminapi of any tenant (no secrets are shown);
//   - connectors need any valid token; the owner is the token's user, or client:<client id> for a client's
//     own token, in the token's tenant (see Connector in the proto for session vs named semantics).
//
// Handlers return apierror values (and, for rejected loads, a status listing every problem); grpcserver's
// interceptor maps them. Nothing secret is logged.
package server

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"

	providerv1 "github.com/authsuite/authsuite/gen/authsuite/provider/v1"
	"github.com/authsuite/authsuite/internal/access"
	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/internal/bearer"
	"github.com/authsuite/authsuite/internal/suitekey"
	"github.com/authsuite/authsuite/services/provider"
)

// ReturnPath is the OAuth return (redirect) path registered at third parties (seed 000).
const ReturnPath = "/Thingworx/Oauths/oauth/return"

// Defaults of Deps.
const (
	// StateTTL is how long a started authorization may take before its state expires.
	StateTTL = 10 * time.Minute
	// DefaultHTTPTimeout bounds every outbound call to a provider.
	DefaultHTTPTimeout = 15 * time.Second
	// MaxResponseBytes bounds what is read from a provider's answer.
	MaxResponseBytes = 1 << 20
	// expirySkew: a token this close to expiry counts as expired, so callers never get one that dies in
	// flight.
	expirySkew = 30 * time.Second
)

// Deps are the server's dependencies. Store and Keyring are required. Auth verifies bearer tokens; when nil
// every public call answers UNAUTHENTICATED. PublicURL is the gateway's external base URL (e.g.
// "https://auth.example.com"); the redirect URI sent to providers is PublicURL+ReturnPath. ReturnOrigins are
// extra origins (scheme://host[:port]) a connector's returnTo may point at besides PublicURL's. Catalog
// defaults to provider.DefaultCatalog(), HTTPClient to a client with DefaultHTTPTimeout, Log to discarding,
// Now to time.Now.
type Deps struct {
	Store         provider.Store
	Keyring       *suitekey.Keyring
	Auth          bearer.Authenticator
	PublicURL     string
	ReturnOrigins []string
	Catalog       provider.Catalog
	HTTPClient    *http.Client
	Log           *slog.Logger
	Now           func() time.Time
}

// Server implements the provider service's gRPC services. It is safe for concurrent use.
type Server struct {
	store       provider.Store
	keys        *suitekey.Keyring
	auth        bearer.Authenticator
	catalog     provider.Catalog
	http        *http.Client
	log         *slog.Logger
	now         func() time.Time
	redirectURI string
	origins     map[string]bool

	loadMu  sync.Mutex // serializes loads, so "unchanged" decisions hold until the write
	flights flightGroup
	cacheMu sync.RWMutex
	cache   map[string]provider.Grant // connector id → its current grant, decrypted
	gen     uint64                    // bumped by every forget; puts read before a forget are dropped
}

// New builds a server from d. It panics if d.Store or d.Keyring is nil or d.PublicURL is not an absolute
// http(s) URL (programming or configuration errors, caught at start-up).
func New(d Deps) *Server {
	if d.Store == nil || d.Keyring == nil {
		panic("provider server: Deps.Store and Deps.Keyring are required")
	}
	pub, err := url.Parse(strings.TrimRight(d.PublicURL, "/"))
	if err != nil || (pub.Scheme != "http" && pub.Scheme != "https") || pub.Host == "" {
		panic("provider server: Deps.PublicURL must be an absolute http(s) URL")
	}
	if d.Catalog == nil {
		d.Catalog = provider.DefaultCatalog()
	}
	if d.HTTPClient == nil {
		d.HTTPClient = &http.Client{Timeout: DefaultHTTPTimeout}
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	origins := map[string]bool{pub.Scheme + "://" + pub.Host: true}
	for _, o := range d.ReturnOrigins {
		origins[strings.TrimRight(o, "/")] = true
	}
	return &Server{store: d.Store, keys: d.Keyring, auth: d.Auth, catalog: d.Catalog, http: d.HTTPClient,
		log: d.Log, now: d.Now, redirectURI: pub.String() + ReturnPath, origins: origins,
		cache: map[string]provider.Grant{}}
}

// Register adds ProviderConfigService, ConnectorService and ProviderInternalService to gs (a *grpc.Server).
func (s *Server) Register(gs grpc.ServiceRegistrar) {
	providerv1.RegisterProviderConfigServiceServer(gs, &configService{s: s})
	providerv1.RegisterConnectorServiceServer(gs, &connectorService{s: s})
	providerv1.RegisterProviderInternalServiceServer(gs, &internalService{s: s})
}

// RunSweeper deletes expired pending authorizations every interval until ctx ends.
func (s *Server) RunSweeper(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := s.store.SweepAuthStates(ctx, s.now()); err != nil {
				s.log.Warn("sweep expired authorization states", "err", err)
			} else if n > 0 {
				s.log.Info("swept expired authorization states", "count", n)
			}
		}
	}
}

// principal is the verified caller of a public call.
type principal struct {
	TenantID string
	Owner    string // user id, or client:<client id>
	Admin    bool   // scope adminapi
}

func (p principal) system() bool { return p.TenantID == access.SystemTenant }

func (s *Server) authenticate(ctx context.Context) (principal, error) {
	tok, err := bearer.FromContext(ctx)
	if err != nil {
		return principal{}, err
	}
	if s.auth == nil {
		return principal{}, apierror.Unauthenticated("no token verifier is configured")
	}
	info, err := s.auth.Authenticate(ctx, tok)
	if err != nil {
		return principal{}, err
	}
	owner := info.UserID
	if owner == "" {
		owner = "client:" + info.ClientID
	}
	return principal{TenantID: info.TenantID, Owner: owner, Admin: info.HasScope(access.ScopeAdminAPI)}, nil
}

// systemAdmin authorizes provider changes: scope adminapi of the system tenant (providers are suite-wide).
func (s *Server) systemAdmin(ctx context.Context) (principal, error) {
	p, err := s.authenticate(ctx)
	if err != nil {
		return p, err
	}
	if !p.Admin {
		return p, apierror.PermissionDenied("scope %s is required", access.ScopeAdminAPI)
	}
	if !p.system() {
		return p, apierror.PermissionDenied("OAuth providers are suite-wide: only administrators of the system tenant may change them")
	}
	return p, nil
}

func randomString(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func newID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// cacheGen returns the cache generation; pass it to cachePut after the store write. One counter for all
// connectors keeps memory bounded: a forget elsewhere only costs a put its caching (the next read goes to
// the store).
func (s *Server) cacheGen(string) uint64 {
	s.cacheMu.RLock()
	defer s.cacheMu.RUnlock()
	return s.gen
}

// cachePut caches g unless any connector was forgotten since gen was read.
func (s *Server) cachePut(id string, gen uint64, g provider.Grant) {
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	if s.gen == gen {
		s.cache[id] = g
	}
}

func (s *Server) cached(id string) (provider.Grant, bool) {
	s.cacheMu.RLock()
	defer s.cacheMu.RUnlock()
	g, ok := s.cache[id]
	return g, ok
}

// forget drops a connector's cached grant after its grant changed or went away in the store.
func (s *Server) forget(id string) {
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	delete(s.cache, id)
	s.gen++
}
