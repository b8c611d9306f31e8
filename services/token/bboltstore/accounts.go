package bboltstore

import (
	"bytes"
	"context"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/authsuite/authsuite/internal/boltdb"
	"github.com/authsuite/authsuite/services/token"
)

// deleteMatching deletes, inside tx, every record of bucket that decodes into a fresh V (a record type) and
// satisfies match, handing keep each deleted record with its key and expiry. Keys are collected before
// deleting: deleting while a bolt cursor iterates skips keys.
func deleteMatching[V any](tx *bolt.Tx, bucket []byte, match func(*V) bool, keep func(key []byte, exp time.Time, v *V)) error {
	b := tx.Bucket(bucket)
	var doomed [][]byte
	err := b.ForEach(func(k, raw []byte) error {
		var v V
		exp, err := decodeRecord(raw, &v)
		if err != nil {
			return err
		}
		if match(&v) {
			doomed = append(doomed, bytes.Clone(k))
			keep(doomed[len(doomed)-1], exp, &v)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range doomed {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// DeleteAccountSessions implements token.AccountStore in one bbolt transaction.
func (s *Store) DeleteAccountSessions(ctx context.Context, accounts []token.Account) ([]token.Session, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if len(accounts) == 0 {
		return nil, nil
	}
	set := token.NewAccountSet(accounts)
	var out []token.Session
	err := boltdb.Update(ctx, s.db, func(tx *bolt.Tx) error {
		out = nil
		err := deleteMatching(tx, bucketSessions,
			func(r *sessionRecord) bool { return set.Has(r.TenantID, r.UserID, r.Incarnation) },
			func(k []byte, exp time.Time, r *sessionRecord) { out = append(out, r.domain(k, exp)) })
		if err != nil {
			return err
		}
		// Their SID index entries go with them.
		idx := tx.Bucket(bucketSessionSIDs)
		for _, se := range out {
			if err := dropListIndex(tx, sessionToRecord(se), se.ID); err != nil {
				return err
			}
			if v := idx.Get([]byte(se.SID)); se.SID != "" && len(v) >= 8 && bytes.Equal(v[8:], se.ID) {
				if err := idx.Delete([]byte(se.SID)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteAccountRefreshTokens implements token.AccountStore in one bbolt transaction.
func (s *Store) DeleteAccountRefreshTokens(ctx context.Context, accounts []token.Account) ([]string, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if len(accounts) == 0 {
		return nil, nil
	}
	set := token.NewAccountSet(accounts)
	var families []string
	err := boltdb.Update(ctx, s.db, func(tx *bolt.Tx) error {
		families = nil
		seen := map[string]bool{}
		return deleteMatching(tx, bucketRefresh,
			func(t *refreshRecord) bool { return set.Has(t.TenantID, t.UserID, t.Incarnation) },
			func(_ []byte, _ time.Time, t *refreshRecord) {
				if !seen[t.FamilyID] {
					seen[t.FamilyID] = true
					families = append(families, t.FamilyID)
				}
			})
	})
	if err != nil {
		return nil, err
	}
	return families, nil
}
