package bboltstore

import (
	"context"
	"encoding/binary"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/authsuite/authsuite/services/token"
)

// UseAssertionID implements token.Store. The check and the insert run in one read-write transaction,
// through bolt's Batch, so that concurrent authentications share one commit and one fsync. The record is the
// 8-byte big-endian expiry (Unix seconds) every expiring bucket starts with, swept by SweepExpired.
func (s *Store) UseAssertionID(ctx context.Context, clientID, jti string, expiry time.Time) (bool, error) {
	if err := s.check(ctx); err != nil {
		return false, err
	}
	key := token.AssertionKey(clientID, jti)
	if err := token.ValidKey(key); err != nil {
		return false, err
	}
	var v [8]byte
	binary.BigEndian.PutUint64(v[:], uint64(expiry.Unix()))
	fresh := false
	err := s.db.Batch(func(tx *bolt.Tx) error {
		fresh = false // Batch may run fn again, alone, when another call of its batch failed
		b := tx.Bucket(bucketAssertions)
		if b.Get(key) != nil {
			return nil
		}
		fresh = true
		return b.Put(key, v[:])
	})
	if err != nil {
		return false, err
	}
	return fresh, nil
}
