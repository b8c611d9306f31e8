package bboltstore

import (
	"context"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/authsuite/authsuite/internal/boltdb"
	"github.com/authsuite/authsuite/services/token"
)

// UpdateLoginFailureSet implements token.Store in one bbolt read-write transaction.
func (s *Store) UpdateLoginFailureSet(ctx context.Context, keys []string, update func([]token.LoginFailures) ([]token.LoginFailures, error)) ([]token.LoginFailures, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if err := token.ValidLoginFailureKeys(keys); err != nil {
		return nil, err
	}
	var out []token.LoginFailures
	err := boltdb.Update(ctx, s.db, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketLoginFailures)
		old := make([]token.LoginFailures, len(keys))
		for i, k := range keys {
			var r failuresRecord
			exp, err := getIn(b, []byte(k), &r)
			switch {
			case errors.Is(err, token.ErrNotFound):
				old[i] = token.LoginFailures{Key: k}
			case err != nil:
				return err
			default:
				old[i] = r.domain(k, exp)
			}
		}
		next, err := update(old)
		if err != nil {
			return err
		}
		if len(next) != len(keys) {
			return fmt.Errorf("token store: login failure update returned %d records for %d keys", len(next), len(keys))
		}
		for i, k := range keys {
			next[i].Key = k
			if next[i].Count == 0 && next[i].LockedUntil.IsZero() {
				if err := b.Delete([]byte(k)); err != nil {
					return err
				}
				continue
			}
			if err := putIn(b, []byte(k), next[i].Expiry, failuresToRecord(next[i])); err != nil {
				return err
			}
		}
		out = next
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
