// Package server is the token service: the core that issues and verifies access tokens (RFC 6749 §4.4
// client credentials, RFC 9068 JWT access tokens, RFC 7662 introspection, RFC 7009 revocation, the simple
// token API, docs/reference/simple-token-api.md) and its gRPC edge (tokenv1.OAuthService, SimpleTokenService, TokenInternalService).
//
// Issuing a client_credentials token and checking a token touch neither the network nor the disk: clients
// come from a change-fed local cache (package clients), revocations from an in-memory set loaded at start
// and kept current by the store's watch, signing keys from memory, reloaded on the watch's key changes.
// Revocations are written through to the store before they are acknowledged. Several replicas can share one
// store: each learns of the others' revocations and key changes through the watch, and a request can ask a
// replica to wait until it has seen a given write (the revision barrier, barrier.go).
package server

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/audit"
	"github.com/authsuite/authsuite/internal/changelog"
	"github.com/authsuite/authsuite/internal/jwksfetch"
	"github.com/authsuite/authsuite/internal/periodic"
	"github.com/authsuite/authsuite/internal/suitekey"
	"github.com/authsuite/authsuite/services/token"
	"github.com/authsuite/authsuite/services/token/clients"
	"github.com/authsuite/authsuite/services/token/jwt"
)

// Defaults of the optional Deps fields.
const (
	DefaultKeyRotation            = 90 * 24 * time.Hour
	DefaultSecretUseFlushInterval = 5 * time.Second
	DefaultMaintenanceInterval    = time.Hour
	DefaultSweepInterval          = time.Minute
	DefaultVerifyCacheSize        = 10_000
)

// Deps are the token service's dependencies and options. Store, Keyring, Registry and Issuer are required.
type Deps struct {
	// Store is token.db. The caller closes it after Run returned.
	Store token.Store
	// Keyring seals signing keys and the client snapshot, and verifies client secret digests.
	Keyring *suitekey.Keyring
	// Registry is the registry's internal API (the connection carries the internal credential).
	Registry registryv1.RegistryInternalServiceClient
	// Factors is the registry's factor API (second factors, self-service, federated identities; the
	// connection carries the internal credential). Nil: sign-in is password-only, with no tenant settings.
	Factors registryv1.FactorInternalServiceClient
	// Mailer sends password-reset and verification mails through a tenant's SMTP server. Default: SMTP
	// (internal/mail).
	Mailer Mailer
	// Issuer is the issuer URL (http or https, no query or fragment); tokens carry it as iss and aud, and
	// every discovery endpoint lives under it. A trailing slash is removed.
	Issuer string
	// Log receives operational logs; never secrets or tokens. Default: discard.
	Log *slog.Logger
	// Now is the clock. Default: time.Now.
	Now func() time.Time
	// Audit records sign-ins, sign-in failures, sudo checks and logouts (internal/audit). Default: a
	// recorder that writes their log lines to Log only.
	Audit *audit.Recorder
	// SigningAlg is the algorithm of new signing keys: ES256 (default), EdDSA or RS256. Changing it rotates
	// the key at the next start.
	SigningAlg string
	// KeyRotation is the age at which the signing key is replaced (default 90 days); checked at start and
	// every MaintenanceInterval.
	KeyRotation time.Duration
	// KeyPublishDelay is how long a replacement signing key is stored, for every replica to verify, before
	// it signs (default DefaultKeyPublishDelay; negative: at once, for a single replica).
	KeyPublishDelay time.Duration

	// SecretUseFlushInterval is how often secret uses are reported to the registry (default 5 s).
	SecretUseFlushInterval time.Duration
	// MaintenanceInterval is how often key rotation and the revocation sweep run (default 1 h).
	MaintenanceInterval time.Duration
	// SweepInterval is how often expired sign-in records (interactions, sessions, codes, …) are deleted
	// (default 1 min), so abandoned ones do not pile up between maintenance runs.
	SweepInterval time.Duration
	// ReconnectMin and ReconnectMax bound the backoff between attempts of the registry watch and of the
	// store watch (default 100 ms, 5 s).
	ReconnectMin, ReconnectMax time.Duration
	// CodeLifetime is how long an authorization code can be redeemed (default 60 s).
	CodeLifetime time.Duration
	// SessionLifetime is how long an SSO session lasts after its login (default 10 h).
	SessionLifetime time.Duration
	// HTTPClient sends back-channel logout tokens. Default: a client with BackChannelTimeout.
	HTTPClient *http.Client
	// VerifyCacheSize bounds the verified-token cache (default 10000 per generation, two generations;
	// negative disables it).
	VerifyCacheSize int
	// JWKSFetcher fetches the jwks_uri of clients that authenticate with keys (private_key_jwt,
	// self_signed_tls_client_auth). Default: jwksfetch.New with the outbound defaults (private destinations
	// refused).
	JWKSFetcher *jwksfetch.Fetcher
	// ClientCAs verifies the certificate chains of tls_client_auth clients (RFC 8705 §2.1); nil: that
	// method is refused and not advertised.
	ClientCAs *x509.CertPool
	// ClientCertificates says TLS client certificates can reach the service (the REST listener serves TLS
	// and asks for them): certificate authentication and certificate-bound tokens are advertised.
	ClientCertificates bool
}

// Server implements the token service's gRPC APIs. Create it with New, register it with Register, and keep
// Run running.
type Server struct {
	tokenv1.UnimplementedOAuthServiceServer
	tokenv1.UnimplementedSimpleTokenServiceServer
	tokenv1.UnimplementedTokenInternalServiceServer
	tokenv1.UnimplementedAuthorizeServiceServer
	tokenv1.UnimplementedRevocationServiceServer

	st      token.Store
	kr      *suitekey.Keyring
	reg     registryv1.RegistryInternalServiceClient
	factors registryv1.FactorInternalServiceClient
	// settings caches the tenants' sign-in settings (signin_settings.go).
	settings *signInSettingsCache
	issuer   string
	log      *slog.Logger
	now      func() time.Time
	deps     Deps
	keys     *keyManager
	cache    *clients.Cache
	uses     *clients.UseRecorder
	revoked  *revocationSet
	// applied is the store revision the revocation set and signing keys are current with (followStore).
	applied *changelog.Applied
	// barrierWaits holds one slot per request waiting at the revision barrier (maxBarrierWaits).
	barrierWaits chan struct{}
	// following is set while followStore watches the store; echoes are the revocations waiting for the
	// watch to report them (recordRevocation).
	following atomic.Bool
	echoes    revocationEchoes
	// clientsView is cache, as the barrier waits on it.
	clientsView revisionView
	vcache      *verifiedCache
	clientKeys  *clientKeys      // registered client keys: inline sets parsed once, jwks_uri sets cached
	revWatch    *revocationWatch // cutoffs and watchers of WatchRevocations
	discovery   *tokenv1.GetDiscoveryResponse
	mailq       *mailOutbox // self-service mails, sent after their requests are answered (self_service_mail.go)
	// devicePolls is when each pending device code last polled (device_poll.go), in this replica's memory.
	devicePolls devicePolls

	maintMu    sync.Mutex
	httpClient *http.Client
	upstreams  upstreamProviders // discovered upstream identity providers (upstream_discovery.go)
	bg         sync.WaitGroup    // back-channel logout sends in flight

	// upstreamStarts counts the upstream round trips started per address (upstream_limit.go).
	upstreamStarts upstreamStartLimit
}

// New validates deps, loads or creates the signing keys (rotating them when due), loads the revocation list
// and the persisted client snapshot. It makes no call to the registry; Run does.
func New(deps Deps) (*Server, error) {
	if deps.Store == nil || deps.Keyring == nil || deps.Registry == nil {
		return nil, errors.New("token server: Store, Keyring and Registry are required")
	}
	issuer, err := normalizeIssuer(deps.Issuer)
	if err != nil {
		return nil, err
	}
	if deps.Log == nil {
		deps.Log = slog.New(slog.DiscardHandler)
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.Audit == nil {
		deps.Audit = audit.NewRecorder(audit.Options{Service: "token", Logger: deps.Log, Now: deps.Now})
	}
	if deps.SigningAlg == "" {
		deps.SigningAlg = string(jwt.ES256)
	}
	alg, err := jwt.ParseAlg(deps.SigningAlg)
	if err != nil {
		return nil, fmt.Errorf("token server: %w", err)
	}
	if deps.ReconnectMin <= 0 {
		deps.ReconnectMin = 100 * time.Millisecond
	}
	if deps.ReconnectMax < deps.ReconnectMin {
		deps.ReconnectMax = max(5*time.Second, deps.ReconnectMin)
	}
	if deps.KeyRotation == 0 {
		deps.KeyRotation = DefaultKeyRotation
	}
	switch {
	case deps.KeyPublishDelay == 0:
		deps.KeyPublishDelay = DefaultKeyPublishDelay
	case deps.KeyPublishDelay < 0:
		deps.KeyPublishDelay = 0
	}
	if deps.KeyRotation < time.Minute {
		return nil, fmt.Errorf("token server: key rotation %v is shorter than a minute", deps.KeyRotation)
	}
	if deps.SecretUseFlushInterval <= 0 {
		deps.SecretUseFlushInterval = DefaultSecretUseFlushInterval
	}
	if deps.MaintenanceInterval <= 0 {
		deps.MaintenanceInterval = DefaultMaintenanceInterval
	}
	if deps.CodeLifetime <= 0 {
		deps.CodeLifetime = DefaultCodeLifetime
	}
	if deps.SessionLifetime <= 0 {
		deps.SessionLifetime = DefaultSessionLifetime
	}
	if deps.HTTPClient == nil {
		deps.HTTPClient = &http.Client{Timeout: BackChannelTimeout}
	}
	if deps.SweepInterval <= 0 {
		deps.SweepInterval = DefaultSweepInterval
	}
	if deps.VerifyCacheSize == 0 {
		deps.VerifyCacheSize = DefaultVerifyCacheSize
	}
	if deps.Mailer == nil {
		deps.Mailer = defaultMailer()
	}
	var s *Server
	s = &Server{
		st: deps.Store, kr: deps.Keyring, reg: deps.Registry, factors: deps.Factors, issuer: issuer, log: deps.Log, now: deps.Now, deps: deps,
		keys: &keyManager{st: deps.Store, kr: deps.Keyring, alg: alg, rotation: deps.KeyRotation, publishDelay: deps.KeyPublishDelay,
			now: deps.Now, log: deps.Log},
		cache: clients.NewCache(clients.Config{
			Registry: deps.Registry, Store: deps.Store, Keyring: deps.Keyring, Log: deps.Log,
			ReconnectMin: deps.ReconnectMin, ReconnectMax: deps.ReconnectMax,
			AccountsEnded: func(ctx context.Context, ended []token.Account) {
				s.cutoffAccounts(ended)
				s.endAccounts(ctx, ended)
			},
			ClientsDeleted: func(deleted []*clients.Client) { s.cutoffClients(deleted) },
		}),
		uses:         clients.NewUseRecorder(deps.Registry, deps.Log),
		revoked:      &revocationSet{m: map[string]int64{}},
		barrierWaits: make(chan struct{}, maxBarrierWaits),
		vcache:       newVerifiedCache(deps.VerifyCacheSize),
		clientKeys:   newClientKeys(deps.JWKSFetcher),
		revWatch:     newRevocationWatch(),
		settings:     newSignInSettingsCache(deps.Factors, deps.Now),
		httpClient:   deps.HTTPClient,
		mailq:        newMailOutbox(deps),
	}
	s.discovery = discoveryDocument(issuer, alg, deps.ClientCAs != nil, deps.ClientCertificates)
	s.clientsView = s.cache
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// The revision is noted before anything is read, so that following the store from it (Run) misses no
	// change made meanwhile.
	rev := deps.Store.Revision()
	if err := s.keys.ensure(ctx); err != nil {
		return nil, err
	}
	if err := s.loadRevocations(ctx); err != nil {
		return nil, err
	}
	s.applied = changelog.NewApplied(rev)
	if err := s.cache.Load(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

func normalizeIssuer(raw string) (string, error) {
	iss := strings.TrimSuffix(raw, "/")
	u, err := url.Parse(iss)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("token server: issuer %q: want an http(s) URL without query or fragment", raw)
	}
	return iss, nil
}

// Register adds OAuthService, SimpleTokenService, AuthorizeService, TokenInternalService,
// RevocationService and the admin APIs SigningKeyService and SessionService to g, every unary method
// behind the revision barrier (barrier.go).
func (s *Server) Register(g grpc.ServiceRegistrar) {
	g = barrierRegistrar{ServiceRegistrar: g, s: s}
	tokenv1.RegisterOAuthServiceServer(g, s)
	tokenv1.RegisterAuthorizeServiceServer(g, s)
	tokenv1.RegisterSimpleTokenServiceServer(g, s)
	tokenv1.RegisterTokenInternalServiceServer(g, s)
	tokenv1.RegisterRevocationServiceServer(g, s)
	tokenv1.RegisterSigningKeyServiceServer(g, signingKeys{s: s})
	tokenv1.RegisterSessionServiceServer(g, ssoSessions{s: s})
	tokenv1.RegisterAccountServiceServer(g, accountService{s: s})
	tokenv1.RegisterSelfServiceServiceServer(g, selfService{s: s})
	tokenv1.RegisterDeviceServiceServer(g, deviceService{s: s})
}

// Ready reports whether the service knows the clients: a snapshot was loaded from token.db or received from
// the registry. Before that, every client authentication fails with invalid_client.
func (s *Server) Ready() bool { return s.cache.Ready() }

// ReadyC is closed when Ready becomes true.
func (s *Server) ReadyC() <-chan struct{} { return s.cache.ReadyC() }

// Run runs the background work until ctx ends: the registry client watch (with reconnects), the store watch
// that brings other replicas' revocations and key changes (followStore), snapshot persistence, secret-use
// flushes, key rotation and the revocation sweep. It returns nil after ctx ended and
// the last pending snapshot and secret uses were written (best effort); then the caller may close the store.
func (s *Server) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Go(func() { s.cache.Run(ctx) })
	wg.Go(func() { s.followStore(ctx) })
	wg.Go(func() { s.uses.Run(ctx, s.deps.SecretUseFlushInterval) })
	wg.Go(func() {
		periodic.Run(ctx, s.deps.MaintenanceInterval, func(ctx context.Context) {
			if err := s.maintain(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("token maintenance", "err", err)
			}
		})
	})
	wg.Go(func() {
		periodic.Run(ctx, s.deps.SweepInterval, func(ctx context.Context) {
			if _, err := s.st.SweepExpired(ctx, s.now()); err != nil && ctx.Err() == nil {
				s.log.Error("sweep expired sign-in records", "err", err)
			}
		})
	})
	wg.Wait()
	s.mailq.Close() // self-service mails waiting or in flight are abandoned before the store closes
	s.bg.Wait()     // back-channel logout sends in flight (each bounded by BackChannelTimeout)
	return nil
}

// maintain rotates the signing key when due, drops keys no token can need any more, and sweeps expired
// revocations (from memory and the store) and expired sign-in records.
func (s *Server) maintain(ctx context.Context) error {
	s.maintMu.Lock()
	defer s.maintMu.Unlock()
	keyErr := s.keys.ensure(ctx)
	now := s.now()
	s.revoked.sweep(now)
	_, sweepErr := s.st.SweepRevocations(ctx, now)
	_, signinErr := s.st.SweepExpired(ctx, now)
	return errors.Join(keyErr, sweepErr, signinErr)
}
