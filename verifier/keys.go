package verifier

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/sync/singleflight"
	"google.golang.org/protobuf/encoding/protojson"

	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/services/token/jwt"
)

// maxKeys bounds the keys taken from one JWKS.
const maxKeys = 64

// keySet is the issuer's signing keys by kid, replaced whole at every fetch.
type keySet struct {
	cfg Config
	now func() time.Time

	mu   sync.RWMutex
	keys map[string]*jwt.PublicKey
	last time.Time // of the last fetch attempt

	flight singleflight.Group
}

func newKeySet(cfg Config, now func() time.Time) *keySet {
	return &keySet{cfg: cfg, now: now, keys: map[string]*jwt.PublicKey{}}
}

func (k *keySet) lookup(kid string) (*jwt.PublicKey, bool) {
	k.mu.RLock()
	p, ok := k.keys[kid]
	k.mu.RUnlock()
	return p, ok
}

// refreshUnknown fetches the keys again for a token with an unknown kid, unless a fetch started less than
// KeyRefreshEvery ago (a flood of tokens with made-up kids costs one fetch per interval). Concurrent callers
// share one fetch. It reports whether the keys were fetched.
func (k *keySet) refreshUnknown(ctx context.Context) bool {
	return k.refresh(ctx, false) == nil
}

var errTooSoon = errors.New("keys fetched moments ago")

// refresh fetches the keys (single-flight); unless force, not more often than KeyRefreshEvery.
func (k *keySet) refresh(ctx context.Context, force bool) error {
	_, err, _ := k.flight.Do("jwks", func() (any, error) {
		k.mu.Lock()
		if !force && k.now().Sub(k.last) < k.cfg.KeyRefreshEvery {
			k.mu.Unlock()
			return nil, errTooSoon
		}
		k.last = k.now()
		k.mu.Unlock()
		keys, err := k.fetch(context.WithoutCancel(ctx))
		if err != nil {
			k.cfg.Log.Warn("verifier: fetching the issuer's signing keys failed", "err", err)
			return nil, err
		}
		k.mu.Lock()
		k.keys = keys
		k.mu.Unlock()
		return nil, nil
	})
	return err
}

// fetchTimeout bounds one key fetch.
const fetchTimeout = 10 * time.Second

func (k *keySet) fetch(ctx context.Context) (map[string]*jwt.PublicKey, error) {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	var doc []byte
	if k.cfg.KeysConn != nil {
		resp, err := tokenv1.NewOAuthServiceClient(k.cfg.KeysConn).GetJwks(ctx, &tokenv1.GetJwksRequest{})
		if err != nil {
			return nil, err
		}
		if doc, err = protojson.Marshal(resp); err != nil {
			return nil, err
		}
	} else {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.cfg.JWKSURL, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", "application/json")
		resp, err := k.cfg.HTTPClient.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("GET %s: %s", k.cfg.JWKSURL, resp.Status)
		}
		if doc, err = io.ReadAll(io.LimitReader(resp.Body, MaxJWKSBytes+1)); err != nil {
			return nil, err
		}
		if len(doc) > MaxJWKSBytes {
			return nil, fmt.Errorf("GET %s: JWKS larger than %d bytes", k.cfg.JWKSURL, MaxJWKSBytes)
		}
	}
	return parseJWKS(doc)
}

// parseJWKS reads a JWK Set (RFC 7517 §5) and returns its signature keys by kid. A key is taken when its
// use is sig (or absent), its alg is one authsuite signs with (ES256, EdDSA, RS256) and fits its key type,
// and its kid is its RFC 7638 thumbprint, as authsuite's kids are; other keys are skipped. At most maxKeys
// are taken. It fails when the document is not a JWK Set or no key is usable.
func parseJWKS(doc []byte) (map[string]*jwt.PublicKey, error) {
	var raw struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(doc, &raw); err != nil {
		return nil, fmt.Errorf("JWKS: %w", err)
	}
	keys := map[string]*jwt.PublicKey{}
	for _, r := range raw.Keys {
		if len(keys) == maxKeys {
			break
		}
		var j jose.JSONWebKey
		if err := j.UnmarshalJSON(r); err != nil || !j.Valid() || !j.IsPublic() {
			continue
		}
		if j.Use != "" && j.Use != "sig" {
			continue
		}
		alg, err := jwt.ParseAlg(j.Algorithm)
		if err != nil {
			continue
		}
		p, err := jwt.NewPublicKey(alg, j.Key)
		if err != nil || p.KeyID() != j.KeyID {
			continue
		}
		keys[p.KeyID()] = p
	}
	if len(keys) == 0 {
		return nil, errors.New("JWKS: no usable signature key")
	}
	return keys, nil
}
