package verifier

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"
	"google.golang.org/grpc"

	"github.com/authsuite/authsuite/services/token/jwt"
)

// Why Verify refuses a token. Every error Verify returns wraps exactly one of them; messages never contain
// the token.
var (
	// ErrNoToken: the request carries no bearer token (RFC 6750 §3.1: answer without an error code).
	ErrNoToken = errors.New("verifier: no bearer token")
	// ErrInvalidToken: malformed, not signed by the issuer, another issuer or audience, not yet valid,
	// expired, revoked, or bound to another client certificate (RFC 6750 §3.1 invalid_token).
	ErrInvalidToken = errors.New("verifier: invalid token")
	// ErrInsufficientScope: a valid token without a required scope (RFC 6750 §3.1 insufficient_scope).
	ErrInsufficientScope = errors.New("verifier: insufficient scope")
	// ErrNotReady: the verifier cannot tell yet (or any more) whether the token was revoked: the revocation
	// watch has not synced, or has been broken for longer than Config.MaxStale; or the keys or the
	// introspection endpoint cannot be reached. Answer 503 / UNAVAILABLE: the caller may retry.
	ErrNotReady = errors.New("verifier: not ready")
)

// Defaults of the optional Config fields.
const (
	DefaultLeeway          = 5 * time.Second
	DefaultCacheSize       = 10_000
	DefaultMaxStale        = 30 * time.Second
	DefaultKeyRefreshEvery = 5 * time.Second
	// MaxJWKSBytes bounds a JWKS document read over HTTP.
	MaxJWKSBytes = 1 << 20
)

// Config configures a Verifier. Issuer and Audience are required, and one key source: JWKSURL (default:
// the issuer's jwks_uri) or KeysConn.
type Config struct {
	// Issuer is authsuite's issuer URL, exactly as tokens carry it in iss (a trailing slash is removed).
	Issuer string
	// Audience is this service's identity: the API resource id (resourceId) tokens must name in aud
	// (RFC 8707; RFC 9068 §4).
	Audience string

	// JWKSURL is where the signing keys are fetched over HTTP(S) (default Issuer +
	// "/.well-known/openid-configuration/jwks", the issuer's jwks_uri). Ignored when KeysConn is set.
	JWKSURL string
	// HTTPClient fetches JWKSURL (default: a client with a 10 s timeout).
	HTTPClient *http.Client
	// KeysConn, when set, is a connection to the token service: keys come from OAuthService.GetJwks.
	KeysConn grpc.ClientConnInterface
	// KeyRefreshEvery bounds how often a token with an unknown kid triggers a key fetch (default 5 s).
	KeyRefreshEvery time.Duration

	// Revocations is a connection to the token service for RevocationService.WatchRevocations. When nil,
	// revocations are not checked: tokens are good until they expire. TokenSource is then unused.
	Revocations grpc.ClientConnInterface
	// TokenSource gives the bearer access token the watch authenticates with (an access token of this
	// issuer whose aud contains the issuer: for example x/oauth2 clientcredentials without a resource).
	// Required with Revocations. It is asked at every (re)connect; the stream ends when the token expires
	// or is revoked, so a caching source (oauth2.ReuseTokenSource, what clientcredentials.Config returns)
	// must hand out a new token by then: a revoked cached token keeps the watch out until it expires.
	TokenSource oauth2.TokenSource
	// AllowUnsynced accepts tokens (without revocation checks) before the revocation watch has received
	// the full state and while it has been broken longer than MaxStale. Default false: ErrNotReady.
	AllowUnsynced bool
	// MaxStale is how long after the watch broke the revocations held are still trusted (default 30 s).
	MaxStale time.Duration

	// Introspection, when set, replaces local validation by one introspection call per Verify (RFC 7662).
	// The other key and revocation fields are then ignored.
	Introspection *Introspection

	// Leeway is the clock skew allowed on exp and iat (default 5 s).
	Leeway time.Duration
	// CacheSize bounds the verified-signature cache: at most 2×CacheSize tokens (default 10000; negative
	// disables the cache).
	CacheSize int
	// Log receives operational logs (never tokens). Default: discard.
	Log *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Introspection configures per-request introspection at the token service's gRPC OAuthService.Introspect
// with the service's own client credentials (a confidential client).
type Introspection struct {
	Conn         grpc.ClientConnInterface
	ClientID     string
	ClientSecret string
}

// Token is a verified access token. Treat it as read-only; it may be shared between calls.
type Token struct {
	// Subject is sub: the user, or the client itself for a client_credentials token.
	Subject  string
	ClientID string
	Tenant   string
	// ID is jti.
	ID       string
	Audience []string
	Scopes   []string
	IssuedAt time.Time
	Expiry   time.Time
	// Actor is the act claim of a delegated token (RFC 8693 §4.1): the party acting for Subject, with the
	// party that acted before it in Actor.Actor.
	Actor *Actor
	// FamilyID is the refresh token family the token was issued from (fid), if any.
	FamilyID string
	// Parents are the jtis of the tokens this one was exchanged from (pjti), nearest first.
	Parents []string
	// CertThumbprint is the cnf x5t#S256 the token is bound to (RFC 8705 §3.1), if any.
	CertThumbprint string
	// Claims are every claim of the token as JSON values (roles, groups, mapped claims, ...).
	Claims map[string]any

	user bool // auth_time present: issued to a signed-in user
}

// Actor is one acting party of a delegation chain (RFC 8693 §4.1).
type Actor struct {
	ClientID string
	Subject  string
	Actor    *Actor
}

// HasScope reports whether the token carries scope.
func (t *Token) HasScope(scope string) bool { return slices.Contains(t.Scopes, scope) }

// Verifier checks access tokens. Create it with New.
type Verifier struct {
	cfg    Config
	issuer string
	now    func() time.Time
	log    *slog.Logger

	keys   *keySet
	cache  *tokenCache
	revs   *revocationSet
	watch  *watcher // nil without Config.Revocations
	intro  *introspector
	cancel context.CancelFunc
	done   sync.WaitGroup
	closed atomic.Bool
}

// New checks cfg, fetches the signing keys (unless Introspection is set; an unreachable key source is an
// error) and starts the revocation watch (when Revocations is set). Close stops it.
func New(ctx context.Context, cfg Config) (*Verifier, error) {
	issuer := strings.TrimSuffix(cfg.Issuer, "/")
	if u, err := url.Parse(issuer); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("verifier: Issuer %q: want an http(s) URL", cfg.Issuer)
	}
	if cfg.Audience == "" {
		return nil, errors.New("verifier: Audience is required (this service's API resource id)")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Leeway <= 0 {
		cfg.Leeway = DefaultLeeway
	}
	if cfg.CacheSize == 0 {
		cfg.CacheSize = DefaultCacheSize
	}
	if cfg.MaxStale <= 0 {
		cfg.MaxStale = DefaultMaxStale
	}
	if cfg.KeyRefreshEvery <= 0 {
		cfg.KeyRefreshEvery = DefaultKeyRefreshEvery
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.JWKSURL == "" {
		cfg.JWKSURL = issuer + "/.well-known/openid-configuration/jwks"
	}
	v := &Verifier{cfg: cfg, issuer: issuer, now: cfg.Now, log: cfg.Log, cache: newTokenCache(cfg.CacheSize), revs: newRevocationSet()}
	if in := cfg.Introspection; in != nil {
		if in.Conn == nil || in.ClientID == "" {
			return nil, errors.New("verifier: Introspection needs Conn and ClientID")
		}
		v.intro = newIntrospector(in)
		return v, nil
	}
	if cfg.Revocations != nil && cfg.TokenSource == nil {
		return nil, errors.New("verifier: Revocations needs a TokenSource for the watch's bearer token")
	}
	v.keys = newKeySet(cfg, cfg.Now)
	if err := v.keys.refresh(ctx, true); err != nil {
		return nil, fmt.Errorf("verifier: fetch signing keys: %w", err)
	}
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	v.cancel = cancel
	if cfg.Revocations != nil {
		v.watch = newWatcher(v, cfg.Revocations, cfg.TokenSource)
		v.done.Go(func() { v.watch.run(wctx) })
	}
	v.done.Go(func() { v.sweepLoop(wctx) })
	return v, nil
}

// Close stops the revocation watch and waits for it. Verify keeps working on what is held, but the
// revocations then age past MaxStale.
func (v *Verifier) Close() error {
	if v.closed.Swap(true) {
		return nil
	}
	if v.cancel != nil {
		v.cancel()
	}
	v.done.Wait()
	return nil
}

// sweepLoop drops expired revocations and cache entries every minute.
func (v *Verifier) sweepLoop(ctx context.Context) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			now := v.now().Unix()
			v.revs.sweep(now)
		}
	}
}

// Ready reports whether Verify can answer from local state: the revocation watch has received the full
// state and is connected, or was within MaxStale. Always true without Revocations and in introspection
// mode.
func (v *Verifier) Ready() bool {
	if v.watch == nil {
		return true
	}
	return v.watch.fresh(v.now())
}

// WaitSynced returns nil once the revocation watch has received the full state, or ctx.Err().
func (v *Verifier) WaitSynced(ctx context.Context) error {
	if v.watch == nil {
		return nil
	}
	return v.watch.applied.waitSynced(ctx)
}

// Revision is the token service revision the revocations held are current with (0 before the first sync).
func (v *Verifier) Revision() int64 {
	if v.watch == nil {
		return 0
	}
	return v.watch.applied.get()
}

// WaitRevision returns nil once the revocations held are current with revision n of the token service
// (as its revocation answers report it: the "token:<n>" of the Authsuite-Revision header or
// authsuite-revision metadata), or ctx.Err().
func (v *Verifier) WaitRevision(ctx context.Context, n int64) error {
	if v.watch == nil {
		return errors.New("verifier: no revocation watch")
	}
	return v.watch.applied.wait(ctx, n)
}

// Verify checks raw (the bearer token, without "Bearer ") and returns the token, or an error wrapping
// ErrNoToken, ErrInvalidToken, ErrInsufficientScope or ErrNotReady. peer is the caller's TLS client
// certificate, if any: a certificate-bound token needs it (RFC 8705 §3). Every scope of required must be
// granted. A token seen before is checked without signature verification, network call or allocation.
func (v *Verifier) Verify(ctx context.Context, raw string, peer *x509.Certificate, required ...string) (*Token, error) {
	if raw == "" {
		return nil, ErrNoToken
	}
	if len(raw) > jwt.MaxTokenSize {
		return nil, fmt.Errorf("%w: too long", ErrInvalidToken)
	}
	var (
		t   *Token
		err error
	)
	if v.intro != nil {
		t, err = v.intro.introspect(ctx, raw, v.cfg.Audience)
		if err != nil {
			return nil, err
		}
	} else {
		if t, err = v.local(ctx, raw); err != nil {
			return nil, err
		}
	}
	if err := v.checkBinding(t, peer); err != nil {
		return nil, err
	}
	for _, s := range required {
		if !t.HasScope(s) {
			return t, fmt.Errorf("%w: %s is required", ErrInsufficientScope, s)
		}
	}
	return t, nil
}

// local is Verify's local validation: cached or verified signature and claims, then time and revocations.
func (v *Verifier) local(ctx context.Context, raw string) (*Token, error) {
	h := hashToken(raw)
	t, ok := v.cache.get(h)
	if !ok {
		var err error
		if t, err = v.verifySignature(ctx, raw); err != nil {
			return nil, err
		}
		v.cache.put(h, t)
	}
	now := v.now()
	if !now.Before(t.Expiry.Add(v.cfg.Leeway)) {
		return nil, fmt.Errorf("%w: expired", ErrInvalidToken)
	}
	if t.IssuedAt.After(now.Add(v.cfg.Leeway)) {
		return nil, fmt.Errorf("%w: issued in the future", ErrInvalidToken)
	}
	if v.watch != nil {
		if !v.watch.fresh(now) && !v.cfg.AllowUnsynced {
			return nil, fmt.Errorf("%w: revocations are not synced", ErrNotReady)
		}
		if v.revs.revoked(t) {
			return nil, fmt.Errorf("%w: revoked", ErrInvalidToken)
		}
	}
	return t, nil
}

// hashToken is the SHA-256 of raw (at most jwt.MaxTokenSize bytes), hashed from a stack copy so the warm
// path does not allocate.
func hashToken(raw string) [32]byte {
	var buf [jwt.MaxTokenSize]byte
	n := copy(buf[:], raw)
	return sha256.Sum256(buf[:n])
}

// verifySignature verifies raw's signature with the issuer's keys, fetching them again once when its kid
// is unknown (rate-limited), then its issuer and audience, and returns the token.
func (v *Verifier) verifySignature(ctx context.Context, raw string) (*Token, error) {
	c, err := jwt.Verify(raw, v.keys.lookup)
	if errors.Is(err, jwt.ErrUnknownKey) && v.keys.refreshUnknown(ctx) {
		c, err = jwt.Verify(raw, v.keys.lookup)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	if c.Issuer != v.issuer {
		return nil, fmt.Errorf("%w: another issuer", ErrInvalidToken)
	}
	if !c.Audience.Contains(v.cfg.Audience) {
		return nil, fmt.Errorf("%w: not issued for this audience", ErrInvalidToken)
	}
	claims, err := payloadClaims(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	return tokenOf(c, claims), nil
}

// payloadClaims decodes the payload of a compact JWS whose signature was verified.
func payloadClaims(raw string) (map[string]any, error) {
	_, rest, _ := strings.Cut(raw, ".")
	p64, _, _ := strings.Cut(rest, ".")
	pb, err := base64.RawURLEncoding.DecodeString(p64)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(pb, &m); err != nil {
		return nil, err
	}
	return m, nil
}

func tokenOf(c *jwt.Claims, claims map[string]any) *Token {
	t := &Token{
		Subject: c.Subject, ClientID: c.ClientID, Tenant: c.Tenant, ID: c.ID, Audience: c.Audience,
		Scopes: strings.Fields(c.Scope), IssuedAt: time.Unix(c.IssuedAt, 0), Expiry: time.Unix(c.Expiry, 0),
		Actor: actorOf(c.Act), FamilyID: c.FamilyID, Parents: c.Parents, Claims: claims, user: c.AuthTime != 0,
	}
	if c.Confirmation != nil {
		t.CertThumbprint = c.Confirmation.X5tS256
	}
	return t
}

// maxActorDepth bounds the act chain kept from a token.
const maxActorDepth = 32

func actorOf(a *jwt.Actor) *Actor {
	var head *Actor
	next := &head
	for i := 0; a != nil && i < maxActorDepth; i++ {
		*next = &Actor{ClientID: a.ClientID, Subject: a.Subject}
		next = &(*next).Actor
		a = a.Act
	}
	return head
}

// checkBinding enforces RFC 8705 §3: a token with cnf x5t#S256 is accepted only with the client certificate
// whose SHA-256 thumbprint it names.
func (v *Verifier) checkBinding(t *Token, peer *x509.Certificate) error {
	if t.CertThumbprint == "" {
		return nil
	}
	if peer == nil {
		return fmt.Errorf("%w: certificate-bound token without a client certificate", ErrInvalidToken)
	}
	sum := sha256.Sum256(peer.Raw)
	var enc [43]byte
	base64.RawURLEncoding.Encode(enc[:], sum[:])
	if string(enc[:]) != t.CertThumbprint {
		return fmt.Errorf("%w: certificate-bound token with another client certificate", ErrInvalidToken)
	}
	return nil
}

// tokenCache remembers verified tokens by the SHA-256 of the token string in two generations of at most
// size entries: when the young one fills it becomes the old one and the previous old one is dropped, so a
// token used again stays (it is copied to the young generation) and the cache holds at most 2×size. Time
// and revocation are checked on every call, not cached.
type tokenCache struct {
	size       int
	mu         sync.RWMutex
	young, old map[[32]byte]*Token
}

func newTokenCache(size int) *tokenCache {
	if size < 0 {
		return &tokenCache{}
	}
	return &tokenCache{size: size, young: make(map[[32]byte]*Token, size)}
}

func (c *tokenCache) get(h [32]byte) (*Token, bool) {
	if c.size == 0 {
		return nil, false
	}
	c.mu.RLock()
	t, ok := c.young[h]
	if !ok {
		if t, ok = c.old[h]; ok {
			c.mu.RUnlock()
			c.put(h, t)
			return t, true
		}
	}
	c.mu.RUnlock()
	return t, ok
}

func (c *tokenCache) put(h [32]byte, t *Token) {
	if c.size == 0 {
		return
	}
	c.mu.Lock()
	if len(c.young) >= c.size {
		c.old, c.young = c.young, make(map[[32]byte]*Token, c.size)
	}
	c.young[h] = t
	c.mu.Unlock()
}
