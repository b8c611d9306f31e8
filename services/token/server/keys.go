package server

import (
	"context"
	"errors"
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

// DefaultKeyPublishDelay is how long a new signing key is published (stored, so every replica verifies
// it) before any replica signs with it. Replicas learn of a key change within a second (they follow the
// store's watch); the margin covers a slow watch and some clock skew between replicas.
const DefaultKeyPublishDelay = 3 * time.Second

// errKeysUnchanged aborts a key update that would change nothing, so no replica reloads for it.
var errKeysUnchanged = errors.New("signing keys unchanged")

// keyManager owns the signing keys: it generates the first key, rotates on schedule (or when the configured
// algorithm changes), drops keys once every token they signed has expired, and answers lookups by kid.
//
// Several replicas share one key set in the store. Exactly one of them creates or rotates it: UpdateKeys is
// a compare-and-swap whose update function decides again on the keys it is given, so a replica that lost
// the race finds the new key there and changes nothing. A rotation publishes the new key publishDelay ahead
// of its use: the stored set gets the new key with CreateTime = now+publishDelay and the old key's
// RetireTime the same instant, and every replica signs with the old key until then (signer). So no replica
// signs with a key that another cannot verify yet, as long as every replica loads the set (reload, on the
// store's KeysChanged) within publishDelay. The first key of an empty store is used at once: no token
// exists that another replica could fail to verify.
type keyManager struct {
	st           token.Store
	kr           *suitekey.Keyring
	alg          jwt.Alg
	rotation     time.Duration
	publishDelay time.Duration
	now          func() time.Time
	log          *slog.Logger

	mu sync.RWMutex
	// current is the newest key (no RetireTime); it signs from currentFrom on, and previous (the key it
	// replaces, nil if none) before that.
	current     *jwt.PrivateKey
	currentFrom time.Time
	previous    *jwt.PrivateKey
	verify      map[string]*jwt.PublicKey
	jwks        []jwt.JWK // current first, then retired, newest first
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

// ensure brings the stored key set up to date (first key, rotation, expiry of old keys) and loads it. Of
// several replicas ensuring at once, one changes the set; the others load what it stored.
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
	rotate := func(old []token.SigningKey) bool { return m.needsNew(old, now) }
	keys, _, err = m.update(ctx, now, m.needsNew(keys, now), rotate)
	if err != nil {
		return err
	}
	return m.load(keys)
}

// update is the one compare-and-swap of the key set, for the schedule (ensure) and for a rotation on
// demand (rotateNow): in one UpdateKeys it drops the retired keys every token they signed has outlived
// and, when generate is set and rotate says so of the keys it finds there, retires the current key and
// adds a new one (publishDelay ahead of its use, except for the first key). It returns the stored key set
// and the new key, nil when this call added none (nothing was due, or another replica rotated first).
func (m *keyManager) update(ctx context.Context, now time.Time, generate bool, rotate func(old []token.SigningKey) bool) ([]token.SigningKey, *jwt.PrivateKey, error) {
	var candidate *jwt.PrivateKey
	var err error
	if generate {
		// Generate outside the write transaction: RSA generation can take a while.
		if candidate, err = jwt.Generate(m.alg); err != nil {
			return nil, nil, err
		}
	}
	// The update function decides on the keys it is given (it may run more than once, and another replica
	// may have rotated since the caller read them); it logs nothing, since only its last run counts.
	var keys []token.SigningKey
	var dropped, retired []string
	added := false
	err = m.st.UpdateKeys(ctx, func(old []token.SigningKey) ([]token.SigningKey, error) {
		next := make([]token.SigningKey, 0, len(old)+1)
		dropped, retired, added = nil, nil, false
		rotating := candidate != nil && rotate(old)
		// The first key signs at once; a replacement only after every replica has had time to load it.
		from := now
		if len(old) > 0 {
			from = now.Add(m.publishDelay)
		}
		for _, k := range old {
			if !k.RetireTime.IsZero() && now.After(k.RetireTime.Add(RetiredKeyValidity)) {
				dropped = append(dropped, k.ID)
				continue
			}
			if rotating && k.RetireTime.IsZero() {
				k.RetireTime = from
				retired = append(retired, k.ID)
			}
			next = append(next, k)
		}
		if !rotating && len(dropped) == 0 {
			keys = old
			return nil, errKeysUnchanged
		}
		if rotating {
			der, err := candidate.MarshalPKCS8()
			if err != nil {
				return nil, err
			}
			next = append(next, token.SigningKey{
				ID: candidate.KeyID(), Alg: string(candidate.Alg()), CreateTime: from,
				Private: m.kr.Seal(der, []byte(candidate.KeyID())),
			})
			added = true
		}
		keys = next
		return next, nil
	})
	switch {
	case errors.Is(err, errKeysUnchanged):
		// Another replica rotated or dropped first: use what it stored.
		return keys, nil, nil
	case err != nil:
		return nil, nil, fmt.Errorf("signing keys: %w", err)
	}
	for _, kid := range dropped {
		m.log.Info("dropping expired signing key", "kid", kid)
	}
	for _, kid := range retired {
		m.log.Info("retiring signing key", "kid", kid)
	}
	if !added {
		return keys, nil, nil
	}
	m.log.Info("new signing key", "kid", candidate.KeyID(), "alg", candidate.Alg())
	return keys, candidate, nil
}

// reload loads the stored key set, after another replica changed it.
func (m *keyManager) reload(ctx context.Context) error {
	keys, err := m.st.Keys(ctx)
	if err != nil {
		return fmt.Errorf("signing keys: %w", err)
	}
	return m.load(keys)
}

// load makes keys (ordered by CreateTime) the verification set and picks the signers: the key without a
// RetireTime, from its CreateTime on, and before that the key retired last. An error (no usable current
// key) leaves the loaded set as it was.
func (m *keyManager) load(keys []token.SigningKey) error {
	var current, previous *jwt.PrivateKey
	var currentFrom, previousUntil time.Time
	verify := map[string]*jwt.PublicKey{}
	var retired []jwt.JWK
	for _, k := range keys {
		pk := m.open(k)
		if pk == nil {
			continue
		}
		verify[pk.KeyID()] = pk.Public()
		if k.RetireTime.IsZero() {
			current, currentFrom = pk, k.CreateTime
			continue
		}
		retired = append([]jwt.JWK{pk.Public().JWK()}, retired...)
		if !k.RetireTime.Before(previousUntil) {
			previous, previousUntil = pk, k.RetireTime
		}
	}
	if current == nil {
		return fmt.Errorf("signing keys: no usable current key")
	}
	m.mu.Lock()
	m.current, m.currentFrom, m.previous, m.verify = current, currentFrom, previous, verify
	m.jwks = append([]jwt.JWK{current.Public().JWK()}, retired...)
	m.mu.Unlock()
	return nil
}

// signer is the key that signs now: the current key once its publish delay has passed, the key it replaces
// before.
func (m *keyManager) signer() *jwt.PrivateKey {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.previous != nil && m.now().Before(m.currentFrom) {
		return m.previous
	}
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
