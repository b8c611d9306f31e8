package bboltstore

import (
	"bytes"
	"context"

	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/authsuite/authsuite/internal/boltdb"
	"github.com/authsuite/authsuite/services/token"
)

// The device authorization buckets (RFC 8628), added without a schema step, as boltdb.Open creates them.
var (
	// bucketDeviceCodes maps SHA-256(device code) → 8-byte big-endian expiry, then the token.DeviceCode JSON.
	bucketDeviceCodes = []byte("device_codes")
	// bucketDeviceUsers maps a user code digest → 8-byte big-endian expiry, then deviceUserRecord: the user
	// code index, written in the transaction that writes the device code.
	bucketDeviceUsers = []byte("device_user_codes")
)

// deviceUserRecord is what the user code index holds: the device code's key.
type deviceUserRecord struct {
	Hash []byte `json:"h"`
}

func getDevice(b *bolt.Bucket, hash []byte) (token.DeviceCode, error) {
	var dc token.DeviceCode
	exp, err := getIn(b, hash, &dc)
	if err != nil {
		return token.DeviceCode{}, err
	}
	dc.Hash, dc.Expiry = bytes.Clone(hash), exp
	return dc, nil
}

// PutDeviceCode implements token.Store: the check for a live holder of the user code and both writes run in
// one read-write transaction.
func (s *Store) PutDeviceCode(ctx context.Context, dc token.DeviceCode, now time.Time) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if err := token.ValidKey(dc.Hash); err != nil {
		return err
	}
	if err := token.ValidKey(dc.UserCode); err != nil {
		return err
	}
	return boltdb.Update(ctx, s.db, func(tx *bolt.Tx) error {
		codes, users := tx.Bucket(bucketDeviceCodes), tx.Bucket(bucketDeviceUsers)
		var ur deviceUserRecord
		if _, err := getIn(users, dc.UserCode, &ur); err == nil {
			if held, err := getDevice(codes, ur.Hash); err == nil && held.Expiry.After(now) {
				return token.ErrUserCodeTaken
			}
		}
		if old, err := getDevice(codes, dc.Hash); err == nil && !bytes.Equal(old.UserCode, dc.UserCode) {
			if err := users.Delete(old.UserCode); err != nil {
				return err
			}
		}
		if err := putIn(codes, dc.Hash, dc.Expiry, dc); err != nil {
			return err
		}
		return putIn(users, dc.UserCode, dc.Expiry, deviceUserRecord{Hash: dc.Hash})
	})
}

// DeviceCode implements token.Store.
func (s *Store) DeviceCode(ctx context.Context, hash []byte) (token.DeviceCode, error) {
	if err := s.check(ctx); err != nil {
		return token.DeviceCode{}, err
	}
	var out token.DeviceCode
	err := boltdb.View(ctx, s.db, func(tx *bolt.Tx) error {
		var err error
		out, err = getDevice(tx.Bucket(bucketDeviceCodes), hash)
		return err
	})
	return out, err
}

// DeviceCodeByUserCode implements token.Store: two reads in one read transaction.
func (s *Store) DeviceCodeByUserCode(ctx context.Context, userCode []byte) (token.DeviceCode, error) {
	if err := s.check(ctx); err != nil {
		return token.DeviceCode{}, err
	}
	var out token.DeviceCode
	err := boltdb.View(ctx, s.db, func(tx *bolt.Tx) error {
		var ur deviceUserRecord
		if _, err := getIn(tx.Bucket(bucketDeviceUsers), userCode, &ur); err != nil {
			return err
		}
		dc, err := getDevice(tx.Bucket(bucketDeviceCodes), ur.Hash)
		if err != nil {
			return err
		}
		if !bytes.Equal(dc.UserCode, userCode) {
			return token.ErrNotFound
		}
		out = dc
		return nil
	})
	return out, err
}

// UpdateDeviceCode implements token.Store: update runs inside one read-write transaction.
func (s *Store) UpdateDeviceCode(ctx context.Context, hash []byte, update func(token.DeviceCode) (token.DeviceCode, error)) (token.DeviceCode, error) {
	if err := s.check(ctx); err != nil {
		return token.DeviceCode{}, err
	}
	var out token.DeviceCode
	err := boltdb.Update(ctx, s.db, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketDeviceCodes)
		old, err := getDevice(b, hash)
		if err != nil {
			return err
		}
		out = old.Clone()
		next, err := update(old)
		if err != nil {
			return err
		}
		next.Hash, next.UserCode, next.Expiry = out.Hash, out.UserCode, out.Expiry
		if err := putIn(b, hash, next.Expiry, next); err != nil {
			return err
		}
		out = next
		return nil
	})
	return out, err
}
