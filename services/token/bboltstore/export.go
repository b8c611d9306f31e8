package bboltstore

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/authsuite/authsuite/internal/boltdb"
	"github.com/authsuite/authsuite/services/token"
)

// Export returns every durable record of the store, read in one read transaction: a consistent snapshot even
// while the store is written. Expired records not yet swept are included (the importing store sweeps them as
// this one would). The client snapshot is left out (see token.Snapshot).
func (s *Store) Export(ctx context.Context) (token.Snapshot, error) {
	if err := s.check(ctx); err != nil {
		return token.Snapshot{}, err
	}
	var snap token.Snapshot
	err := boltdb.View(ctx, s.db, func(tx *bolt.Tx) error {
		snap = token.Snapshot{}
		var err error
		if snap.Keys, err = readKeys(tx); err != nil {
			return err
		}
		if err := tx.Bucket(bucketRevocations).ForEach(func(k, v []byte) error {
			if len(v) != 8 {
				return fmt.Errorf("revocation %q: bad value length %d", k, len(v))
			}
			snap.Revocations = append(snap.Revocations, token.Revocation{JTI: string(k), Expiry: time.Unix(int64(binary.BigEndian.Uint64(v)), 0)})
			return nil
		}); err != nil {
			return err
		}
		if err := exportBucket(tx, bucketInteractions, func(k []byte, exp time.Time, r interactionRecord) {
			snap.Interactions = append(snap.Interactions, r.domain(k, exp))
		}); err != nil {
			return err
		}
		if err := exportBucket(tx, bucketSessions, func(k []byte, exp time.Time, r sessionRecord) {
			snap.Sessions = append(snap.Sessions, r.domain(k, exp))
		}); err != nil {
			return err
		}
		if err := exportBucket(tx, bucketCodes, func(k []byte, exp time.Time, r codeRecord) {
			snap.Codes = append(snap.Codes, r.domain(k, exp))
		}); err != nil {
			return err
		}
		if err := exportBucket(tx, bucketRefresh, func(k []byte, exp time.Time, r refreshRecord) {
			snap.RefreshTokens = append(snap.RefreshTokens, r.domain(k, exp))
		}); err != nil {
			return err
		}
		if err := exportBucket(tx, bucketConsents, func(_ []byte, exp time.Time, r consentRecord) {
			snap.Consents = append(snap.Consents, r.domain(exp))
		}); err != nil {
			return err
		}
		if err := exportBucket(tx, bucketLoginFailures, func(k []byte, exp time.Time, r failuresRecord) {
			snap.LoginFailures = append(snap.LoginFailures, r.domain(string(k), exp))
		}); err != nil {
			return err
		}
		return exportBucket(tx, bucketDeviceCodes, func(k []byte, exp time.Time, r token.DeviceCode) {
			r.Hash, r.Expiry = k, exp
			snap.DeviceCodes = append(snap.DeviceCodes, r)
		})
	})
	if err != nil {
		return token.Snapshot{}, fmt.Errorf("token store export: %w", err)
	}
	return snap, nil
}

// exportBucket decodes every sign-in record of bucket and hands it to add with a copy of its key.
func exportBucket[R any](tx *bolt.Tx, bucket []byte, add func(key []byte, exp time.Time, r R)) error {
	return tx.Bucket(bucket).ForEach(func(k, v []byte) error {
		var r R
		exp, err := decodeRecord(v, &r)
		if err != nil {
			return fmt.Errorf("%s %x: %w", bucket, k, err)
		}
		add(append([]byte(nil), k...), exp, r)
		return nil
	})
}
