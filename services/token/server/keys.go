package server

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/authsuite/authsuite/internal/suitekey"
	"github.com/authsuite/authsuite/services/token"
	"github.com/authsuite/authsuite/services/token/jwt"
)

// MaxAccessTokenLifetime caps every access token's lifetime.
const MaxAccessTokenLifetime = 365 * 24 * time.Hour

// RetiredKeyValidity is how long a retired key keeps verifying and stays in JWKS: the longest access token
// lifetime plus an hour of margin, so no token outlives its key.
const RetiredKeyValidity = MaxAccessTokenLifetime + time.Hour

// keyManager owns the signing keys: it generates the first key, rotates on schedule (or when the configured
// algorithm changes), drops keys once every token they signed has expired, and answers lookups by kid.
type keyManager struct {
	st       token.Store
	kr       *suitekey.Keyring
	alg      jwt.Alg
	rotation time.Duration
	now      func() time.Time
	log      *slog.Logger

	mu      sync.RWMutex
	current *jwt.PrivateKey
	verify  map[string]*jwt.PublicKey
	jwks    []jwt.JWK // current first, then retired, newest first
}

// needsNew reports whether keys lack a current key of the configured algorithm younger than the rotation
// period. A current key that cannot be opened is not a reason to rotate: ensure refuses to start instead.
func (m *keyManager) needsNew(keys []token.SigningKey, now time.Time) bool {
	for _, k := range keys {
		if k.RetireTime.IsZero() {
			return k.Alg != string(m.alg) || !now.Before(k.CreateTime.Add(m.rotation))
		}
	}
	return true
}

// checkOpen fails when a stored key cannot be opened with the master keyring (a wrong or lost master key, or
// a damaged record). Replacing it would retire a key that still signs live tokens, for good: ensure changes
// nothing then.
func (m *keyManager) checkOpen(keys []token.SigningKey) error {
	for _, k := range keys {
		if _, err := m.parse(k); err != nil {
			return fmt.Errorf("signing keys: key %s %w; nothing was changed", k.ID, err)
		}
	}
	return nil
}

// anyExpired reports whether a retired key has outlived every token it can have signed.
func (m *keyManager) anyExpired(keys []token.SigningKey, now time.Time) bool {
	for _, k := range keys {
		if !k.RetireTime.IsZero() && now.After(k.RetireTime.Add(RetiredKeyValidity)) {
			return true
		}
	}
	return false
}

// open returns k's private key, or nil after logging why it is unusable.
func (m *keyManager) open(k token.SigningKey) *jwt.PrivateKey {
	pk, err := m.parse(k)
	if err != nil {
		m.log.Error("unusable signing key", "kid", k.ID, "err", err)
		return nil
	}
	return pk
}

// parse opens and parses k's sealed private key.
func (m *keyManager) parse(k token.SigningKey) (*jwt.PrivateKey, error) {
	der, err := m.kr.Open(k.Private, []byte(k.ID))
	if err != nil {
		return nil, fmt.Errorf("cannot be opened with master key id %s (a wrong master key?): %w", m.kr.PrimaryID(), err)
	}
	alg, err := jwt.ParseAlg(k.Alg)
	if err != nil {
		return nil, fmt.Errorf("unknown algorithm %q", k.Alg)
	}
	pk, err := jwt.ParsePrivateKey(alg, der)
	if err != nil {
		return nil, fmt.Errorf("does not parse: %w", err)
	}
	if pk.KeyID() != k.ID {
		return nil, fmt.Errorf("its key id is %s", pk.KeyID())
	}
	return pk, nil
}

// ensure brings the stored key set up to date (first key, rotation, expiry of old keys) and loads it.
func (m *keyManager) ensure(ctx context.Context) error {
	now := m.now()
	keys, err := m.st.Keys(ctx)
	if err != nil {
		return fmt.Errorf("signing keys: %w", err)
	}
	if err := m.checkOpen(keys); err != nil {
		return err
	}
	if !m.needsNew(keys, now) && !m.anyExpired(keys, now) {
		return m.load(keys) // nothing to change: no write
	}
	var candidate *jwt.PrivateKey
	if m.needsNew(keys, now) {
		// Generate outside the write transaction: RSA generation can take a while.
		if candidate, err = jwt.Generate(m.alg); err != nil {
			return err
		}
	}
	err = m.st.UpdateKeys(ctx, func(old []token.SigningKey) ([]token.SigningKey, error) {
		var next []token.SigningKey
		rotate := candidate != nil && m.needsNew(old, now)
		for _, k := range old {
			if !k.RetireTime.IsZero() && now.After(k.RetireTime.Add(RetiredKeyValidity)) {
				m.log.Info("dropping expired signing key", "kid", k.ID)
				continue
			}
			if rotate && k.RetireTime.IsZero() {
				k.RetireTime = now
				m.log.Info("retiring signing key", "kid", k.ID)
			}
			next = append(next, k)
		}
		if rotate {
			der, err := candidate.MarshalPKCS8()
			if err != nil {
				return nil, err
			}
			next = append(next, token.SigningKey{
				ID: candidate.KeyID(), Alg: string(candidate.Alg()), CreateTime: now,
				Private: m.kr.Seal(der, []byte(candidate.KeyID())),
			})
			m.log.Info("new signing key", "kid", candidate.KeyID(), "alg", candidate.Alg())
		}
		keys = next
		return next, nil
	})
	if err != nil {
		return fmt.Errorf("signing keys: %w", err)
	}
	return m.load(keys)
}

func (m *keyManager) load(keys []token.SigningKey) error {
	var current *jwt.PrivateKey
	verify := map[string]*jwt.PublicKey{}
	var retired []jwt.JWK
	for _, k := range keys {
		pk := m.open(k)
		if pk == nil {
			continue
		}
		verify[pk.KeyID()] = pk.Public()
		if k.RetireTime.IsZero() {
			current = pk
		} else {
			retired = append([]jwt.JWK{pk.Public().JWK()}, retired...)
		}
	}
	if current == nil {
		return fmt.Errorf("signing keys: no usable current key")
	}
	m.mu.Lock()
	m.current, m.verify = current, verify
	m.jwks = append([]jwt.JWK{current.Public().JWK()}, retired...)
	m.mu.Unlock()
	return nil
}

func (m *keyManager) signer() *jwt.PrivateKey {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.current
}

func (m *keyManager) lookup(kid string) (*jwt.PublicKey, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	k, ok := m.verify[kid]
	return k, ok
}

func (m *keyManager) publicKeys() []jwt.JWK {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.jwks
}
