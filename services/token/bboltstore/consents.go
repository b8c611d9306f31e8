package bboltstore

import (
	"bytes"
	"context"
	"slices"

	bolt "go.etcd.io/bbolt"

	"github.com/authsuite/authsuite/internal/boltdb"
	"github.com/authsuite/authsuite/services/token"
)

// ListConsents implements token.Store: a cursor over the keys that start with tenant NUL user NUL (keys
// sort by client id within them), in one read transaction. A record whose own tenant or user differs (an
// id containing the separator) is skipped.
func (s *Store) ListConsents(ctx context.Context, tenantID, userID string) ([]token.Consent, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	prefix := consentKey(tenantID, userID, "")
	var out []token.Consent
	err := boltdb.View(ctx, s.db, func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketConsents).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && len(out) < token.MaxListConsents; k, v = c.Next() {
			var r consentRecord
			exp, err := decodeRecord(v, &r)
			if err != nil {
				return err
			}
			if r.TenantID == tenantID && r.UserID == userID {
				out = append(out, r.domain(exp))
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteConsent implements token.Store: the check and the deletion are one write transaction.
func (s *Store) DeleteConsent(ctx context.Context, tenantID, userID, clientID string) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	key := consentKey(tenantID, userID, clientID)
	if token.ValidKey(key) != nil {
		return token.ErrNotFound
	}
	return boltdb.Update(ctx, s.db, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketConsents)
		if b.Get(key) == nil {
			return token.ErrNotFound
		}
		return b.Delete(key)
	})
}

// ClientRefreshFamilies implements token.Store: one read transaction over the refresh tokens.
func (s *Store) ClientRefreshFamilies(ctx context.Context, tenantID, userID, clientID string) ([]string, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	var out []string
	err := boltdb.View(ctx, s.db, func(tx *bolt.Tx) error {
		out = nil
		seen := map[string]bool{}
		return tx.Bucket(bucketRefresh).ForEach(func(_, v []byte) error {
			var r refreshRecord
			if _, err := decodeRecord(v, &r); err != nil {
				return err
			}
			if r.TenantID == tenantID && r.UserID == userID && r.ClientID == clientID && !seen[r.FamilyID] {
				seen[r.FamilyID] = true
				out = append(out, r.FamilyID)
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(out)
	return out, nil
}
