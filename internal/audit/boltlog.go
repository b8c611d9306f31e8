package audit

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/authsuite/authsuite/internal/boltdb"
)

// The buckets of the audit log in a service's bbolt file: the events by ID, and their count.
var (
	bucketAudit     = []byte("audit")
	bucketAuditMeta = []byte("audit_meta")
	keyAuditCount   = []byte("count")
)

// BoltLog is the Log of the bbolt backend, kept in two buckets of a service's own file (created on first
// use, so files of every schema version take it). An Append is one transaction: the events, the count, and
// the trim of the oldest.
type BoltLog struct {
	db  *bolt.DB
	max int
}

// NewBoltLog returns the audit log of db, keeping at most max events (MaxEvents when max < 1), and creates
// its buckets.
func NewBoltLog(db *bolt.DB, max int) (*BoltLog, error) {
	if max < 1 {
		max = MaxEvents
	}
	err := db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketAudit, bucketAuditMeta} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	return &BoltLog{db: db, max: max}, nil
}

// Append implements Log.
func (l *BoltLog) Append(ctx context.Context, events []Event, now time.Time) error {
	return boltdb.Update(ctx, l.db, func(tx *bolt.Tx) error {
		b, meta := tx.Bucket(bucketAudit), tx.Bucket(bucketAuditMeta)
		n := uint64(0)
		if v := meta.Get(keyAuditCount); len(v) == 8 {
			n = binary.BigEndian.Uint64(v)
		}
		for _, e := range events {
			v, err := json.Marshal(e)
			if err != nil {
				return err
			}
			if b.Get([]byte(e.ID)) == nil {
				n++
			}
			if err := b.Put([]byte(e.ID), v); err != nil {
				return err
			}
		}
		// Trim the oldest: beyond max, and older than MaxAge (IDs start with the time, in hex).
		horizon := []byte(newID(now.Add(-MaxAge), 0))
		c := b.Cursor()
		for k, _ := c.First(); k != nil && (n > uint64(l.max) || bytes.Compare(k, horizon) < 0); k, _ = c.First() {
			if err := c.Delete(); err != nil {
				return err
			}
			n--
		}
		return meta.Put(keyAuditCount, binary.BigEndian.AppendUint64(nil, n))
	})
}

// List implements Log.
func (l *BoltLog) List(ctx context.Context, q Query) (items []Event, next string, err error) {
	limit := q.EffectiveLimit()
	err = boltdb.View(ctx, l.db, func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketAudit).Cursor()
		var k, v []byte
		if q.Before == "" {
			k, v = c.Last()
		} else {
			k, v = c.Seek([]byte(q.Before))
			if k == nil {
				k, v = c.Last()
			}
			for k != nil && string(k) >= q.Before {
				k, v = c.Prev()
			}
		}
		for ; k != nil; k, v = c.Prev() {
			var e Event
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("audit log: decode %q: %w", k, err)
			}
			if !q.Match(e) {
				continue
			}
			if len(items) == limit {
				next = items[limit-1].ID
				return nil
			}
			items = append(items, e)
		}
		return nil
	})
	return items, next, err
}
