package server

import (
	"crypto/sha256"
	"sync"
	"time"

	"github.com/authsuite/authsuite/services/token/jwt"
)

// revocationSet is the in-memory revocation list (jti → expiry, Unix seconds), loaded from the store at start
// and written through on every revocation.
type revocationSet struct {
	mu sync.RWMutex
	m  map[string]int64
}

func (r *revocationSet) add(jti string, exp int64) {
	r.mu.Lock()
	r.m[jti] = exp
	r.mu.Unlock()
}

func (r *revocationSet) has(jti string) bool {
	r.mu.RLock()
	_, ok := r.m[jti]
	r.mu.RUnlock()
	return ok
}

func (r *revocationSet) sweep(now time.Time) {
	r.mu.Lock()
	for jti, exp := range r.m {
		if exp < now.Unix() {
			delete(r.m, jti)
		}
	}
	r.mu.Unlock()
}

// verified is a token whose signature, issuer and audience were checked once.
type verified struct {
	claims *jwt.Claims
	scopes []string
}

// verifiedCache remembers verified tokens by the SHA-256 of the token string, so repeated checks skip the
// signature verification. It holds at most 2×size entries in two generations: when the young one fills, it
// becomes the old one and the previous old one is dropped. Expiry and revocation are not cached.
type verifiedCache struct {
	size     int
	mu       sync.RWMutex
	young    map[[32]byte]*verified
	old      map[[32]byte]*verified
	disabled bool
}

func newVerifiedCache(size int) *verifiedCache {
	return &verifiedCache{size: size, young: map[[32]byte]*verified{}, disabled: size <= 0}
}

func tokenHash(token string) [32]byte { return sha256.Sum256([]byte(token)) }

func (c *verifiedCache) get(h [32]byte) (*verified, bool) {
	if c.disabled {
		return nil, false
	}
	c.mu.RLock()
	v, ok := c.young[h]
	if !ok {
		v, ok = c.old[h]
	}
	c.mu.RUnlock()
	return v, ok
}

func (c *verifiedCache) put(h [32]byte, v *verified) {
	if c.disabled {
		return
	}
	c.mu.Lock()
	if len(c.young) >= c.size {
		c.old, c.young = c.young, make(map[[32]byte]*verified, c.size)
	}
	c.young[h] = v
	c.mu.Unlock()
}
