// Package server is the gRPC edge of the provider service (docs/reference/providers.md): ProviderConfigService (the
// ThingWorx Flow configuration services, reached through the REST gateway), ConnectorService (connectors,
// /api/provider/v1) and ProviderInternalService (other services' access to connector tokens, guarded by the
// internal credential that grpcserver enforces by name).
//
// Authorization, per call, is the suite's one rule (internal/access, through bearer.Resolve, with the
// registry as directory); sudo is applied, never ignored: the call acts as the selected user.
//   - providers are suite-wide: loading and deleting them, and DeleteOAuthTokens, need an admin of the
//     system tenant; listing them needs an admin of any tenant (no secrets are shown);
//   - connectors need any valid token; the owner is the (impersonated) user, or client:<client id> for a
//     client's own token, in that tenant (see Connector in the proto for session vs named semantics); a
//     user sees and deletes its own, an admin of a tenant that tenant's, an admin of the system tenant all.
//
// Handlers return apierror values (and, for rejected loads, a status listing every problem); grpcserver's
// interceptor maps them. Nothing secret is logged.
//
// Replicas: any number of servers may share one store (etcd). A server keeps nothing another needs: its
// cache of decrypted grants is trusted only while Run follows the store's watch, which drops a connector's
// grant at every change any replica makes; a refresh is done by the one server that takes the store's
// refresh lease for the connector, and the others wait for the change it stores (or the lease's end).
package server

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	providerv1 "github.com/authsuite/authsuite/gen/authsuite/provider/v1"
	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/access"
	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/internal/bearer"
	"github.com/authsuite/authsuite/internal/periodic"
	"github.com/authsuite/authsuite/internal/returnto"
	"github.com/authsuite/authsuite/internal/suitekey"
	"github.com/authsuite/authsuite/services/provider"
)

// ReturnPath is the OAuth return (redirect) path registered at third parties (docs/reference/providers.md#return-url).
const ReturnPath = "/Thingworx/Oauths/oauth/return"

// Defaults of Deps.
const (
	// StateTTL is how long a started authorization may take before its state expires.
	StateTTL = 10 * time.Minute
	// DefaultHTTPTimeout bounds every outbound call to a provider.
	DefaultHTTPTimeout = 15 * time.Second
	// MaxResponseBytes bounds what is read from a provider's answer.
	MaxResponseBytes = 1 << 20
	// DefaultRefreshLease is how long one replica may hold a connector's refresh before another may take
	// it over: the outbound timeout and a margin for the store writes around it.
	DefaultRefreshLease = DefaultHTTPTimeout + 15*time.Second
	// expirySkew: a token this close to expiry counts as expired, so callers never get one that dies in
	// flight.
	expirySkew = 30 * time.Second
)

// SessionResolver resolves a browser's authsuite SSO session cookie to its user within a tenant (the token
// service's ResolveSession). ok is false, with a nil error, when the cookie names no live session of that
// tenant; an error means the answer is unknown (the token service is unreachable).
type SessionResolver interface {
	ResolveSession(ctx context.Context, tenantID, cookie string) (userID string, ok bool, err error)
}

// TokenSessions is a SessionResolver backed by TokenInternalService.ResolveSession (the connection must
// carry the internal credential).
func TokenSessions(client tokenv1.TokenInternalServiceClient) SessionResolver {
	return tokenSessions{client}
}

type tokenSessions struct {
	c tokenv1.TokenInternalServiceClient
}

func (t tokenSessions) ResolveSession(ctx context.Context, tenantID, cookie string) (string, bool, error) {
	resp, err := t.c.ResolveSession(ctx, &tokenv1.ResolveSessionRequest{SessionCookie: cookie, TenantId: tenantID})
	switch status.Code(err) {
	case codes.OK:
		return resp.GetUserId(), resp.GetUserId() != "", nil
	case codes.Unauthenticated, codes.InvalidArgument, codes.NotFound:
		return "", false, nil
	case codes.Canceled, codes.DeadlineExceeded:
		return "", false, err
	}
	return "", false, fmt.Errorf("resolve the browser's session: %w", apierror.ErrUnavailable)
}

// Deps are the server's dependencies. Store and Keyring are required. Auth verifies bearer tokens; when nil
// every public call answers UNAUTHENTICATED. Sessions resolves the SSO session of a user connector's
// owner at the start and return steps; when nil no user's connector can be started. PublicURL is the
// gateway's external base URL (e.g. "https://auth.example.com"); the redirect URI sent to providers is
// PublicURL+ReturnPath, and connectors start at PublicURL/api/provider/v1/connectors/{id}/start.
// ReturnOrigins are extra origins (scheme://host[:port]) a connector's returnTo may point at besides
// PublicURL's (see internal/returnto). Catalog
// defaults to provider.DefaultCatalog(), HTTPClient to a client with DefaultHTTPTimeout, Log to discarding,
// Now to time.Now, RefreshLease to DefaultRefreshLease (every replica on one store should use the same).
type Deps struct {
	Store         provider.Store
	Keyring       *suitekey.Keyring
	Auth          bearer.Authenticator
	Directory     access.Directory // users and tenants for the authorization rule; nil refuses user admins and sudo
	Sessions      SessionResolver
	PublicURL     string
	ReturnOrigins []string
	Catalog       provider.Catalog
	HTTPClient    *http.Client
	Log           *slog.Logger
	Now           func() time.Time
	RefreshLease  time.Duration
}

// Server implements the provider service's gRPC services. It is safe for concurrent use.
type Server struct {
	store       provider.Store
	keys        *suitekey.Keyring
	auth        bearer.Authenticator
	dir         access.Directory
	catalog     provider.Catalog
	http        *http.Client
	log         *slog.Logger
	now         func() time.Time
	sessions    SessionResolver
	redirectURI string
	startURL    string // PublicURL/api/provider/v1/connectors/; + id + "/start"
	secure      bool   // PublicURL is https: binding cookies are Secure and "__Secure-" prefixed
	returnTo    *returnto.Policy

	loadMu   sync.Mutex // serializes loads, so "unchanged" decisions hold until the write
	flights  flightGroup
	cache    *grantCache
	lease    time.Duration
	instance string        // this server's part of every refresh lease holder id
	claims   atomic.Uint64 // numbers this server's lease claims
	waits    atomic.Uint64 // counts the waits for another holder's refresh
}

// New builds a server from d. It panics if d.Store or d.Keyring is nil, d.PublicURL is not an absolute
// http(s) URL or a ReturnOrigins entry is not an origin (programming or configuration errors, caught at
// start-up).
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
	if d.RefreshLease <= 0 {
		d.RefreshLease = DefaultRefreshLease
	}
	policy, err := returnto.New(append([]string{pub.Scheme + "://" + pub.Host}, d.ReturnOrigins...)...)
	if err != nil {
		panic("provider server: Deps.ReturnOrigins: " + err.Error())
	}
	return &Server{store: d.Store, keys: d.Keyring, auth: d.Auth, dir: d.Directory, sessions: d.Sessions, catalog: d.Catalog, http: d.HTTPClient,
		log: d.Log, now: d.Now, redirectURI: pub.String() + ReturnPath, startURL: pub.String() + "/api/provider/v1/connectors/",
		secure: pub.Scheme == "https", returnTo: policy, cache: newGrantCache(), lease: d.RefreshLease, instance: newID()}
}

// Register adds ProviderConfigService, ConnectorService and ProviderInternalService to gs (a *grpc.Server).
func (s *Server) Register(gs grpc.ServiceRegistrar) {
	providerv1.RegisterProviderConfigServiceServer(gs, &configService{s: s})
	providerv1.RegisterConnectorServiceServer(gs, &connectorService{s: s})
	providerv1.RegisterProviderInternalServiceServer(gs, &internalService{s: s})
}

// RunSweeper deletes expired pending authorizations, and pending connectors older than
// provider.PendingTTL, every interval until ctx ends.
func (s *Server) RunSweeper(ctx context.Context, every time.Duration) {
	periodic.Run(ctx, every, s.Sweep)
}

// Sweep deletes expired pending authorizations and expired pending connectors once (see RunSweeper).
func (s *Server) Sweep(ctx context.Context) {
	now := s.now()
	if n, err := s.store.SweepAuthStates(ctx, now); err != nil {
		s.log.Warn("sweep expired authorization states", "err", err)
	} else if n > 0 {
		s.log.Info("swept expired authorization states", "count", n)
	}
	gone, err := s.store.SweepPendingConnectors(ctx, now.Add(-provider.PendingTTL))
	if err != nil {
		s.log.Warn("sweep expired pending connectors", "err", err)
		return
	}
	for _, c := range gone {
		s.cache.drop(c.ID)
		s.log.Info("expired pending connector deleted", "connector_id", c.ID, "connector_type", c.Provider.Type, "oauth_provider", c.Provider.Name)
	}
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
