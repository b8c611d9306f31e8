package server

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/authsuite/authsuite/internal/suitekey"
	"github.com/authsuite/authsuite/services/token/jwt"
	"github.com/authsuite/authsuite/services/token/store"
)

// MaxAccessTokenLifetime caps every access token's lifetime.
const MaxAccessTokenLifetime = 365 * 24 * time.Hour

// RetiredKeyValidity is how long a retired key keeps verifying and stays in JWKS: the longest access token
// lifetime plus an hour of margin, so no token outlives its key.
const RetiredKeyValidity = MaxAccessTokenLifetime + time.Hour

// keyManager owns the signing keys: it generates the first key, rotates on schedule (or when the configured
// algorithm changes), drops keys once every token they signed has expired, and answers lookups by kid.
type keyManager struct {
	st       store.Store
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

// needsNew reports whether keys lack a usable current key of the configured algorithm younger than the
// rotation period.
func (m *keyManager) needsNew(keys []store.SigningKey, now time.Time) bool {
	for _, k := range keys {
		if k.RetireTime.IsZero() {
			return k.Alg != string(m.alg) || !now.Before(k.CreateTime.Add(m.rotation)) || m.open(k) == nil
		}
	}
	return true
}

// anyExpired reports whether a retired key has outlived every token it can have signed.
func (m *keyManager) anyExpired(keys []store.SigningKey, now time.Time) bool {
	for _, k := range keys {
		if !k.RetireTime.IsZero() && now.After(k.RetireTime.Add(RetiredKeyValidity)) {
			return true
		}
	}
	return false
}

func (m *keyManager) open(k store.SigningKey) *jwt.PrivateKey {
	der, err := m.kr.Open(k.Private, []byte(k.ID))
	if err != nil {
		m.log.Error("cannot open signing key (was the master key changed?)", "kid", k.ID, "err", err)
		return nil
	}
	alg, err := jwt.ParseAlg(k.Alg)
	if err != nil {
		m.log.Error("signing key has an unknown algorithm", "kid", k.ID, "alg", k.Alg)
		return nil
	}
	pk, err := jwt.ParsePrivateKey(alg, der)
	if err != nil || pk.KeyID() != k.ID {
		m.log.Error("signing key does not parse", "kid", k.ID, "err", err)
		return nil
	}
	return pk
}

// ensure brings the stored key set up to date (first key, rotation, expiry of old keys) and loads it.
func (m *keyManager) ensure(ctx context.Context) error {
	now := m.now()
	keys, err := m.st.Keys(ctx)
	if err != nil {
		return fmt.Errorf("signing keys: %w", err)
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
	err = m.st.UpdateKeys(ctx, func(old []store.SigningKey) ([]store.SigningKey, error) {
		var next []store.SigningKey
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
			next = append(next, store.SigningKey{
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

func (m *keyManager) load(keys []store.SigningKey) error {
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
