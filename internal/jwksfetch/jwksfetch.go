// Package jwksfetch reads the JWK Sets (RFC 7517 §5) that OAuth clients register for private_key_jwt and
// self_signed_tls_client_auth (RFC 7591 §2 jwks and jwks_uri): it parses a set, and fetches and caches the
// set behind a jwks_uri.
//
// Fetching follows the suite's rules for URLs chosen by tenants (internal/outbound: address checked at dial
// time, no proxy, no redirect), over https only, with a body of at most MaxBodyBytes and a time limit.
// Steady state makes no network call: a set is cached per URI for Options.TTL; a key id missing from the
// cached set (the client rotated its key) triggers a refetch, at most once per Options.MinRefetch per URI,
// and a failed fetch is not retried before that either, so a caller cannot make the server hammer a URI.
// Concurrent callers needing one URI share one fetch. The cache holds at most Options.MaxEntries URIs.
package jwksfetch

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/sync/singleflight"

	"github.com/authsuite/authsuite/internal/outbound"
)

// Bounds of a key set.
const (
	// MaxBodyBytes bounds a fetched set's body.
	MaxBodyBytes = 64 << 10
	// MaxKeys bounds the keys kept from one set; further keys are ignored.
	MaxKeys = 20
	// MinRSABits and MaxRSABits bound the modulus of RSA keys kept (the upper bound caps verification work).
	MinRSABits = 2048
	MaxRSABits = 8192
)

// Defaults of Options.
const (
	DefaultTTL        = 5 * time.Minute
	DefaultMinRefetch = 30 * time.Second
	DefaultMaxEntries = 1024
	DefaultTimeout    = 5 * time.Second
)

// ErrNotHTTPS is returned for a jwks_uri that is not an absolute https URL.
var ErrNotHTTPS = errors.New("jwks_uri must be an absolute https URL")

// ParseSet reads a JWK Set and returns its usable public keys, in order: EC keys on P-256, P-384 or P-521,
// RSA keys of MinRSABits to MaxRSABits, Ed25519 keys; at most MaxKeys. Keys it cannot use (another type, a
// private or symmetric key, a malformed member) are skipped, so one odd key does not disable the others
// (RFC 7517 §5: "implementations SHOULD ignore JWKs within a JWK Set that use kty values that are not
// understood"). It fails when raw is not a JWK Set or holds no usable key.
func ParseSet(raw []byte) ([]jose.JSONWebKey, error) {
	if len(raw) > MaxBodyBytes {
		return nil, fmt.Errorf("JWK Set larger than %d bytes", MaxBodyBytes)
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(raw, &set); err != nil || set.Keys == nil {
		return nil, errors.New(`not a JWK Set: want {"keys": [...]} (RFC 7517 §5)`)
	}
	var keys []jose.JSONWebKey
	for _, k := range set.Keys {
		if len(keys) == MaxKeys {
			break
		}
		var jwk jose.JSONWebKey
		if jwk.UnmarshalJSON(k) != nil || !jwk.Valid() || !jwk.IsPublic() || !usable(jwk.Key) {
			continue
		}
		if u := jwk.Use; u != "" && u != "sig" { // RFC 7517 §4.2: an encryption key does not sign
			continue
		}
		keys = append(keys, jwk)
	}
	if len(keys) == 0 {
		return nil, errors.New("the JWK Set holds no usable public signing key (EC P-256/P-384/P-521, RSA 2048-8192 bits or Ed25519)")
	}
	return keys, nil
}

func usable(k any) bool {
	switch k := k.(type) {
	case *ecdsa.PublicKey:
		return true // go-jose reads only P-256, P-384 and P-521
	case *rsa.PublicKey:
		n := k.N.BitLen()
		return n >= MinRSABits && n <= MaxRSABits
	case ed25519.PublicKey:
		return len(k) == ed25519.PublicKeySize
	}
	return false
}

// Options configure New.
type Options struct {
	// Client makes the requests. Default: outbound.New with DefaultTimeout and MaxBodyBytes (private
	// destinations refused).
	Client *http.Client
	// TTL is how long a fetched set is used without refetching (default DefaultTTL).
	TTL time.Duration
	// MinRefetch is the least time between two fetches of one URI (default DefaultMinRefetch).
	MinRefetch time.Duration
	// MaxEntries bounds the URIs cached (default DefaultMaxEntries); beyond it the least recently fetched
	// entry is dropped.
	MaxEntries int
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Fetcher fetches and caches jwks_uri sets. Its methods are safe for concurrent use.
type Fetcher struct {
	o     Options
	group singleflight.Group

	mu      sync.Mutex
	entries map[string]*entry
	fetches int64 // network fetches started, for tests and metrics
}

type entry struct {
	keys    []jose.JSONWebKey // the last good set; nil if none
	good    time.Time         // when keys were fetched
	attempt time.Time         // the last fetch, good or not
	err     error             // the last fetch's error, nil if it succeeded
}

// New returns a Fetcher.
func New(o Options) *Fetcher {
	if o.Client == nil {
		o.Client = outbound.New(outbound.Options{Timeout: DefaultTimeout, MaxResponseBytes: MaxBodyBytes})
	}
	if o.TTL <= 0 {
		o.TTL = DefaultTTL
	}
	if o.MinRefetch <= 0 {
		o.MinRefetch = DefaultMinRefetch
	}
	if o.MaxEntries <= 0 {
		o.MaxEntries = DefaultMaxEntries
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Fetcher{o: o, entries: map[string]*entry{}}
}

// Fetches reports how many network fetches the Fetcher started.
func (f *Fetcher) Fetches() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fetches
}

// Keys returns the keys of the set at uri, from the cache when it is younger than TTL and, when kid is not
// empty, holds a key with that id. Otherwise it fetches the set (sharing the fetch of concurrent callers),
// unless the last fetch is younger than MinRefetch: then it answers from the cache (or the last fetch's
// error). The keys returned must not be modified.
func (f *Fetcher) Keys(ctx context.Context, uri, kid string) ([]jose.JSONWebKey, error) {
	return f.keys(ctx, uri, kid, false)
}

// Refetch is Keys for a caller that looked for a key in the cached set by other means than its id (a
// certificate's public key, RFC 8705 §2.2) and did not find it: the set is fetched again unless the last
// fetch is younger than MinRefetch.
func (f *Fetcher) Refetch(ctx context.Context, uri string) ([]jose.JSONWebKey, error) {
	return f.keys(ctx, uri, "", true)
}

// keys answers from the cache or waits for the shared fetch, or for ctx to end: the fetch itself runs on,
// bounded by DefaultTimeout, for the other callers and the cache.
func (f *Fetcher) keys(ctx context.Context, uri, kid string, miss bool) ([]jose.JSONWebKey, error) {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.Fragment != "" {
		return nil, ErrNotHTTPS
	}
	now := f.o.Now()
	f.mu.Lock()
	e := f.entries[uri]
	if e != nil {
		fresh := e.keys != nil && now.Sub(e.good) < f.o.TTL && !miss && (kid == "" || hasKid(e.keys, kid))
		recent := now.Sub(e.attempt) < f.o.MinRefetch
		if fresh || recent {
			keys, err := e.keys, e.err
			f.mu.Unlock()
			if keys == nil {
				return nil, err
			}
			return keys, nil // kid may be missing: the caller's lookup fails
		}
	}
	f.mu.Unlock()
	ch := f.group.DoChan(uri, func() (any, error) { return f.fetch(uri) })
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.([]jose.JSONWebKey), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// fetch gets the set at uri and records the outcome.
func (f *Fetcher) fetch(uri string) ([]jose.JSONWebKey, error) {
	f.mu.Lock()
	f.fetches++
	f.mu.Unlock()
	// The fetch is shared by callers with their own deadlines: it runs on its own, bounded by the client's
	// timeout, so one caller leaving does not fail the others.
	ctx, cancel := context.WithTimeout(context.Background(), DefaultTimeout)
	defer cancel()
	keys, err := f.get(ctx, uri)
	now := f.o.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	e := f.entries[uri]
	if e == nil {
		if len(f.entries) >= f.o.MaxEntries {
			f.evictLocked()
		}
		e = &entry{}
		f.entries[uri] = e
	}
	e.attempt, e.err = now, err
	if err != nil {
		if e.keys == nil {
			return nil, err
		}
		// The URI failed: the keys fetched before stay in use until TTL past their fetch.
		if now.Sub(e.good) >= f.o.TTL {
			e.keys = nil
			return nil, err
		}
		return e.keys, nil
	}
	e.keys, e.good = keys, now
	return keys, nil
}

// evictLocked drops the entry attempted least recently.
func (f *Fetcher) evictLocked() {
	var oldest string
	var at time.Time
	for k, e := range f.entries {
		if oldest == "" || e.attempt.Before(at) {
			oldest, at = k, e.attempt
		}
	}
	delete(f.entries, oldest)
}

func (f *Fetcher) get(ctx context.Context, uri string) ([]jose.JSONWebKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return nil, fmt.Errorf("jwks_uri: %w", err)
	}
	req.Header.Set("Accept", "application/json, application/jwk-set+json")
	resp, err := f.o.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("jwks_uri: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("jwks_uri: answered %d, want 200", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBodyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("jwks_uri: %w", err)
	}
	if len(body) > MaxBodyBytes {
		return nil, fmt.Errorf("jwks_uri: the set is larger than %d bytes", MaxBodyBytes)
	}
	keys, err := ParseSet(body)
	if err != nil {
		return nil, fmt.Errorf("jwks_uri: %w", err)
	}
	return keys, nil
}

func hasKid(keys []jose.JSONWebKey, kid string) bool {
	for _, k := range keys {
		if k.KeyID == kid {
			return true
		}
	}
	return false
}
