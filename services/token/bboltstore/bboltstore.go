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
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/authsuite/authsuite/internal/boltdb"
	"github.com/authsuite/authsuite/internal/changelog"
	"github.com/authsuite/authsuite/services/token"
)

// Store is a token.Store over one bbolt file.
//
// Revisions: the file keeps a revision counter, advanced in the transaction of every write that Watch reports
// (Revoke, UpdateKeys), so revisions keep growing across restarts. The history Watch replays is the last
// historyCommits commits of this process: a watcher asking for older ones gets changelog.ErrCompacted.
type Store struct {
	db     *bolt.DB
	closed atomic.Bool
	done   chan struct{} // closed by Close: ends running watches

	// wmu serializes the watched writes from their transaction to their log append, so that the log gets
	// commits in revision order.
	wmu sync.Mutex
	log *changelog.Log[token.Change]
	// pending are the revocations waiting for the next group commit (Revoke), guarded by pmu.
	pmu     sync.Mutex
	pending []*revokeReq
}

// historyCommits is how many recent commits Watch can replay.
const historyCommits = 4096

type revokeReq struct {
	r    token.Revocation
	done chan error // buffered: the committer never waits
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
	var rev int64
	if err := db.View(func(tx *bolt.Tx) error {
		rev, err = readRevision(tx)
		return err
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("open token store: %w", err)
	}
	return &Store{db: db, done: make(chan struct{}), log: changelog.New[token.Change](rev, historyCommits)}, nil
}

// readRevision returns the revision stored in the file (0 for a file written before revisions were kept).
func readRevision(tx *bolt.Tx) (int64, error) {
	v := tx.Bucket(bucketWatch).Get(keyRevision)
	if v == nil {
		return 0, nil
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("revision: bad value length %d", len(v))
	}
	return int64(binary.BigEndian.Uint64(v)), nil
}

// putRevision stores rev as the file's revision.
func putRevision(tx *bolt.Tx, rev int64) error {
	var v [8]byte
	binary.BigEndian.PutUint64(v[:], uint64(rev))
	return tx.Bucket(bucketWatch).Put(keyRevision, v[:])
}

// commitWatched runs fn in a read-write transaction that also stores the next revision, and, once it is
// committed, appends the changes fn returns to the log under that revision. A transaction whose fn returns
// no changes stores no revision and appends nothing.
func (s *Store) commitWatched(ctx context.Context, fn func(tx *bolt.Tx) ([]token.Change, error)) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	var changes []token.Change
	err := boltdb.Update(ctx, s.db, func(tx *bolt.Tx) error {
		var err error
		if changes, err = fn(tx); err != nil || len(changes) == 0 {
			return err
		}
		return putRevision(tx, s.log.Next())
	})
	if err == nil && len(changes) > 0 {
		s.log.Append(changes...)
	}
	return err
}

// Revision implements token.Store.
func (s *Store) Revision() int64 { return s.log.Revision() }

// Watch implements token.Store: it replays the commits of this process (see Store).
func (s *Store) Watch(ctx context.Context, from int64, fn func(changelog.Batch[token.Change]) error) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-s.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	err := s.log.Watch(ctx, from, fn)
	if s.closed.Load() && errors.Is(err, context.Canceled) {
		return token.ErrClosed
	}
	return err
}

// DB exposes the bbolt handle for tests (tx.Check) and backups.
func (s *Store) DB() *bolt.DB { return s.db }

// Close closes the file.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	close(s.done)
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
	return s.commitWatched(ctx, func(tx *bolt.Tx) ([]token.Change, error) {
		old, err := readKeys(tx)
		if err != nil {
			return nil, err
		}
		next, err := update(old)
		if err != nil {
			return nil, err
		}
		seen := map[string]bool{}
		for _, k := range next {
			if k.ID == "" || seen[k.ID] {
				return nil, fmt.Errorf("signing keys: empty or duplicate id %q", k.ID)
			}
			seen[k.ID] = true
		}
		if err := tx.DeleteBucket(bucketKeys); err != nil {
			return nil, err
		}
		b, err := tx.CreateBucket(bucketKeys)
		if err != nil {
			return nil, err
		}
		for _, k := range next {
			v, err := json.Marshal(storedKey(k))
			if err != nil {
				return nil, err
			}
			if err := b.Put([]byte(k.ID), v); err != nil {
				return nil, err
			}
		}
		return []token.Change{{KeysChanged: true}}, nil
	})
}

// Revoke implements token.Store with group commit, so concurrent revocations share one transaction (one
// fsync) and one revision, each reported as its own change. A revocation whose commit fails returns that
// error, as do the others of its group.
func (s *Store) Revoke(ctx context.Context, r token.Revocation) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if r.JTI == "" {
		return errors.New("revoke: empty jti")
	}
	if len(r.JTI) > bolt.MaxKeySize {
		return errors.New("revoke: jti too long")
	}
	req := &revokeReq{r: token.Revocation{JTI: r.JTI, Expiry: time.Unix(r.Expiry.Unix(), 0)}, done: make(chan error, 1)}
	s.pmu.Lock()
	s.pending = append(s.pending, req)
	s.pmu.Unlock()
	// Whoever holds the write lock next commits every pending revocation, this one included unless an
	// earlier holder already took it: while one group commits, the next group gathers.
	s.wmu.Lock()
	s.pmu.Lock()
	group := s.pending
	s.pending = nil
	s.pmu.Unlock()
	if len(group) > 0 {
		changes := make([]token.Change, len(group))
		err := s.db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketRevocations)
			for i, q := range group {
				var v [8]byte
				binary.BigEndian.PutUint64(v[:], uint64(q.r.Expiry.Unix()))
				if err := b.Put([]byte(q.r.JTI), v[:]); err != nil {
					return err
				}
				changes[i] = token.Change{Revocation: &q.r}
			}
			return putRevision(tx, s.log.Next())
		})
		if err == nil {
			s.log.Append(changes...)
		}
		for _, q := range group {
			q.done <- err
		}
	}
	s.wmu.Unlock()
	return <-req.done
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
