// Package store defines what the token service persists in token.db: its signing keys, the revocation list
// and the last client snapshot received from the registry. Implementations must pass storetest.Run.
package store

import (
	"context"
	"errors"
	"time"
)

// ErrClosed is returned by every method after Close.
var ErrClosed = errors.New("token store: closed")

// SigningKey is a stored signing key. Private is the PKCS #8 private key sealed by the caller with the suite
// keyring (the store never sees it in clear).
type SigningKey struct {
	// ID is the key id ("kid"); unique.
	ID string
	// Alg is the JWS algorithm (ES256, EdDSA, RS256).
	Alg string
	// Private is the sealed private key.
	Private []byte
	// CreateTime is when the key was generated.
	CreateTime time.Time
	// RetireTime is when the key stopped signing; zero for the current key.
	RetireTime time.Time
}

// Revocation says that the access token with this jti is revoked until Expiry, when it would have expired
// anyway and the record may be swept.
type Revocation struct {
	JTI    string
	Expiry time.Time
}

// Store is the token service's persistence. All methods are safe for concurrent use, take ctx first and
// return data owned by the caller. A method that returns without error has made its change durable (fsync).
type Store interface {
	// Keys returns every stored signing key, ordered by CreateTime.
	Keys(ctx context.Context) ([]SigningKey, error)
	// UpdateKeys replaces the key set with what update returns, atomically: update runs inside one
	// transaction with the current keys (ordered by CreateTime) and may be called again if the transaction
	// retries. If update fails, nothing changes and its error is returned.
	UpdateKeys(ctx context.Context, update func(old []SigningKey) ([]SigningKey, error)) error

	// Revoke records a revocation (an existing one for the same jti is replaced). Concurrent calls share
	// fsyncs.
	Revoke(ctx context.Context, r Revocation) error
	// Revocations returns every recorded revocation, swept or not, in no particular order.
	Revocations(ctx context.Context) ([]Revocation, error)
	// SweepRevocations deletes revocations whose Expiry is before t and says how many it deleted.
	SweepRevocations(ctx context.Context, t time.Time) (int, error)

	// PutClientSnapshot replaces the saved client snapshot (opaque to the store; sealed by the caller).
	PutClientSnapshot(ctx context.Context, data []byte) error
	// ClientSnapshot returns the saved client snapshot, or nil and no error when none was saved.
	ClientSnapshot(ctx context.Context) ([]byte, error)

	// Close releases the store. Methods called afterwards return ErrClosed.
	Close() error
}
