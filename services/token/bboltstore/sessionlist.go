package bboltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/authsuite/authsuite/internal/boltdb"
	"github.com/authsuite/authsuite/services/token"
)

// The session list index (token.Store.ListSessions), bucketSessionList: tenant id NUL user id NUL SID →
// expiry and the session's key. PutSession and UpdateSession write the entry, dropSIDIndex (called before
// every rewrite and deletion of a session) drops it, and the sweep drops it with the session, as it does
// the SID index entry. Files written before schema 4 get it filled by indexSessionList on open.

// listIndexKey is the key of a session in bucketSessionList; nil for a session that is not indexed.
func listIndexKey(tenantID, userID, sid string) []byte {
	k, ok := token.SessionListKey(tenantID, userID, sid)
	if !ok {
		return nil
	}
	return []byte(tenantID + "\x00" + k)
}

// putListIndex points the index entry of the session (tenant, user, sid) at id.
func putListIndex(tx *bolt.Tx, tenantID, userID, sid string, id []byte, exp time.Time) error {
	k := listIndexKey(tenantID, userID, sid)
	if k == nil {
		return nil
	}
	v := make([]byte, 8, 8+len(id))
	binary.BigEndian.PutUint64(v, uint64(exp.Unix()))
	return tx.Bucket(bucketSessionList).Put(k, append(v, id...))
}

// dropListIndex deletes the index entry of the stored session record se under id, if it still points at id.
func dropListIndex(tx *bolt.Tx, se sessionRecord, id []byte) error {
	k := listIndexKey(se.TenantID, se.UserID, se.SID)
	if k == nil {
		return nil
	}
	b := tx.Bucket(bucketSessionList)
	if v := b.Get(k); len(v) >= 8 && bytes.Equal(v[8:], id) {
		return b.Delete(k)
	}
	return nil
}

// indexSessionList fills bucketSessionList from the sessions already stored (the 3 → 4 schema step).
func indexSessionList(tx *bolt.Tx) error {
	return tx.Bucket(bucketSessions).ForEach(func(k, v []byte) error {
		var se sessionRecord
		exp, err := decodeRecord(v, &se)
		if err != nil {
			return nil // an undecodable record cannot be listed; reading it fails as before
		}
		return putListIndex(tx, se.TenantID, se.UserID, se.SID, k, exp)
	})
}

// ListSessions implements token.Store: a cursor walk of the tenant's (or user's) index range, each entry's
// session read in the same transaction. An entry whose session is gone or no longer matches is skipped.
func (s *Store) ListSessions(ctx context.Context, q token.SessionQuery) (token.SessionPage, error) {
	if err := s.check(ctx); err != nil {
		return token.SessionPage{}, err
	}
	limit, err := token.CheckSessionQuery(q)
	if err != nil {
		return token.SessionPage{}, err
	}
	tenant := []byte(q.TenantID + "\x00")
	prefix := append(bytes.Clone(tenant), token.SessionListPrefix(q)...)
	var page token.SessionPage
	err = boltdb.View(ctx, s.db, func(tx *bolt.Tx) error {
		page = token.SessionPage{}
		sessions := tx.Bucket(bucketSessions)
		c := tx.Bucket(bucketSessionList).Cursor()
		k, v := c.Seek(prefix)
		if q.After != "" {
			after := append(bytes.Clone(tenant), q.After...)
			if k, v = c.Seek(after); bytes.Equal(k, after) {
				k, v = c.Next()
			}
		}
		var last []byte
		for ; k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			if len(page.Sessions) == limit {
				page.Next = string(last[len(tenant):])
				break
			}
			if len(v) <= 8 {
				continue
			}
			id := bytes.Clone(v[8:])
			var r sessionRecord
			exp, err := getIn(sessions, id, &r)
			if err != nil || !bytes.Equal(listIndexKey(r.TenantID, r.UserID, r.SID), k) {
				continue // stale entry
			}
			page.Sessions = append(page.Sessions, r.domain(id, exp))
			last = k
		}
		return nil
	})
	if err != nil {
		return token.SessionPage{}, err
	}
	return page, nil
}
