// Package bboltstore is the bbolt implementation of the token service's store (token.db).
package bboltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/authsuite/authsuite/internal/boltdb"
	"github.com/authsuite/authsuite/services/token"
)

// Store is a token.Store over one bbolt file.
type Store struct {
	db     *bolt.DB
	closed atomic.Bool
}

var _ token.Store = (*Store)(nil)

// Open opens or creates the bbolt file at path (internal/boltdb: it fails after boltdb.LockTimeout instead of
// waiting when another process holds the file, and fails when the file has a schema version this build
// neither reads nor migrates from).
func Open(path string) (*Store, error) {
	db, err := boltdb.Open(path, boltdb.Schema{Version: schemaVersion, Buckets: allBuckets, Migrate: migrations})
	if err != nil {
		return nil, fmt.Errorf("open token store: %w", err)
	}
	return &Store{db: db}, nil
}

// DB exposes the bbolt handle for tests (tx.Check) and backups.
func (s *Store) DB() *bolt.DB { return s.db }

// Close closes the file.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	return s.db.Close()
}

func (s *Store) check(ctx context.Context) error {
	if s.closed.Load() {
		return token.ErrClosed
	}
	return ctx.Err()
}

type storedKey struct {
	ID         string    `json:"id"`
	Alg        string    `json:"alg"`
	Private    []byte    `json:"private"`
	CreateTime time.Time `json:"create_time"`
	RetireTime time.Time `json:"retire_time,omitzero"`
}

func readKeys(tx *bolt.Tx) ([]token.SigningKey, error) {
	var keys []token.SigningKey
	err := tx.Bucket(bucketKeys).ForEach(func(k, v []byte) error {
		var sk storedKey
		if err := json.Unmarshal(v, &sk); err != nil { // Unmarshal copies out of the mmap
			return fmt.Errorf("signing key %q: %w", k, err)
		}
		keys = append(keys, token.SigningKey(sk))
		return nil
	})
	sort.SliceStable(keys, func(i, j int) bool { return keys[i].CreateTime.Before(keys[j].CreateTime) })
	return keys, err
}

// Keys implements token.Store.
func (s *Store) Keys(ctx context.Context) ([]token.SigningKey, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	var keys []token.SigningKey
	err := boltdb.View(ctx, s.db, func(tx *bolt.Tx) error {
		var err error
		keys, err = readKeys(tx)
		return err
	})
	return keys, err
}

// UpdateKeys implements token.Store.
func (s *Store) UpdateKeys(ctx context.Context, update func([]token.SigningKey) ([]token.SigningKey, error)) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	return boltdb.Update(ctx, s.db, func(tx *bolt.Tx) error {
		old, err := readKeys(tx)
		if err != nil {
			return err
		}
		next, err := update(old)
		if err != nil {
			return err
		}
		seen := map[string]bool{}
		for _, k := range next {
			if k.ID == "" || seen[k.ID] {
				return fmt.Errorf("signing keys: empty or duplicate id %q", k.ID)
			}
			seen[k.ID] = true
		}
		if err := tx.DeleteBucket(bucketKeys); err != nil {
			return err
		}
		b, err := tx.CreateBucket(bucketKeys)
		if err != nil {
			return err
		}
		for _, k := range next {
			v, err := json.Marshal(storedKey(k))
			if err != nil {
				return err
			}
			if err := b.Put([]byte(k.ID), v); err != nil {
				return err
			}
		}
		return nil
	})
}

// Revoke implements token.Store through bolt.DB.Batch, so concurrent revocations share one fsync.
func (s *Store) Revoke(ctx context.Context, r token.Revocation) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if r.JTI == "" {
		return errors.New("revoke: empty jti")
	}
	var v [8]byte
	binary.BigEndian.PutUint64(v[:], uint64(r.Expiry.Unix()))
	return s.db.Batch(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRevocations).Put([]byte(r.JTI), v[:])
	})
}

// Revocations implements token.Store.
func (s *Store) Revocations(ctx context.Context) ([]token.Revocation, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	var out []token.Revocation
	err := boltdb.View(ctx, s.db, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRevocations).ForEach(func(k, v []byte) error {
			if len(v) != 8 {
				return fmt.Errorf("revocation: bad value length %d", len(v))
			}
			out = append(out, token.Revocation{JTI: string(k), Expiry: time.Unix(int64(binary.BigEndian.Uint64(v)), 0)})
			return nil
		})
	})
	return out, err
}

// SweepRevocations implements token.Store.
func (s *Store) SweepRevocations(ctx context.Context, t time.Time) (int, error) {
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	n := 0
	err := boltdb.Update(ctx, s.db, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRevocations)
		var expired [][]byte
		err := b.ForEach(func(k, v []byte) error {
			if len(v) != 8 || time.Unix(int64(binary.BigEndian.Uint64(v)), 0).Before(t) {
				expired = append(expired, bytes.Clone(k))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range expired {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		n = len(expired)
		return nil
	})
	return n, err
}

// PutClientSnapshot implements token.Store.
func (s *Store) PutClientSnapshot(ctx context.Context, data []byte) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	return boltdb.Update(ctx, s.db, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketClients).Put(keyClientSnapshot, data)
	})
}

// ClientSnapshot implements token.Store.
func (s *Store) ClientSnapshot(ctx context.Context) ([]byte, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	var out []byte
	err := boltdb.View(ctx, s.db, func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketClients).Get(keyClientSnapshot); v != nil {
			out = bytes.Clone(v)
		}
		return nil
	})
	return out, err
}
